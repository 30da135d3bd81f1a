//! The simulated devices against an in-process fake gateway that splits the stream, decodes each
//! frame with the real decoder and acks it (or, on request, withholds an ack or drops the
//! connection): what a device reports as acked is what the decoder saw, for every variant.

use super::*;
use crate::wait::wait_until_blocking;
use astra_codec::frame::{self, FrameKind};
use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, decode_frame};
use astra_proto::Timestamp;
use astra_proto::v1::Position;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Do not ack the first frame (the device must re-send it).
    SkipFirstAck,
    /// Close the connection instead of acking the second frame.
    CloseOnSecond,
}

#[derive(Default)]
struct Seen {
    positions: Mutex<Vec<Position>>,
    frames: AtomicUsize,
    logins: AtomicUsize,
}

fn fake_tcp(fault: Fault) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = Vec::new();
            let mut login = None;
            'conn: loop {
                let mut chunk = [0u8; 4096];
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                while let Ok(Some((kind, len))) = frame::check(&buf, 4096) {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    match kind {
                        FrameKind::Line => {
                            login = Some(parse_login(frame::line_text(&bytes)).unwrap());
                            s.logins.fetch_add(1, Ordering::SeqCst);
                            conn.write_all(&[0x06]).unwrap();
                        }
                        FrameKind::Binary(_) => {
                            let n = s.frames.fetch_add(1, Ordering::SeqCst);
                            if (fault == Fault::SkipFirstAck && n == 0)
                                || (fault == Fault::CloseOnSecond && n == 1)
                            {
                                if fault == Fault::CloseOnSecond {
                                    break 'conn;
                                }
                                continue;
                            }
                            let opts = DecodeOptions::default();
                            let decoded = decode_frame(&bytes, login.as_ref(), &opts).unwrap();
                            s.positions.lock().unwrap().extend(decoded);
                            conn.write_all(&[0x06]).unwrap();
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    (addr, seen)
}

fn fake_udp() -> (SocketAddr, Arc<Seen>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            s.frames.fetch_add(1, Ordering::SeqCst);
            let decoded = decode_frame(&buf[..n], None, &DecodeOptions::default()).unwrap();
            s.positions.lock().unwrap().extend(decoded);
            socket.send_to(&[0x06], from).unwrap();
        }
    });
    (addr, seen)
}

/// The fields a report and its decoding must agree on.
fn key(p: &Position) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {} {} {} {}",
        p.device_time.or(p.fix_time),
        p.latitude,
        p.longitude,
        p.speed_kmh,
        p.course_deg,
        p.ignition,
        p.stored,
        p.reason_flags,
        p.sequence
    )
}

fn script(n: u8) -> Vec<Position> {
    (0..n)
        .map(|i| Position {
            sequence: u32::from(i),
            device_time: Some(Timestamp::from_unix(1_700_000_000 + i64::from(i) * 30)),
            fix_time: Some(Timestamp::from_unix(1_700_000_000 + i64::from(i) * 30)),
            latitude: Some(51.5 + f64::from(i) / 1000.0),
            longitude: Some(-0.12),
            speed_kmh: Some(40.0),
            course_deg: Some(90.0),
            status_flags: 1,
            ignition: true,
            valid: true,
            reason_flags: 1,
            module_mask: report::X_MODULES,
            ..Default::default()
        })
        .collect()
}

#[test]
fn every_variant_over_a_route_is_acked_as_decoded() {
    for protocol in SimProtocol::ALL {
        let (addr, seen) = fake_tcp(Fault::None);
        let config = SimConfig::new(crate::device::imei(7), protocol, addr)
            .report_interval(Duration::from_secs(30))
            .speedup(600.0)
            .duration(Duration::from_millis(600));
        let device = SimDevice::new(config).unwrap();
        let stats = device.stats();
        run(vec![device], &Stop::new());
        let acked = stats.acked();
        assert!(acked.len() >= 5, "{protocol}: {}", stats.counters());
        let decoded = seen.positions.lock().unwrap().clone();
        let want: Vec<String> = acked.iter().map(key).collect();
        let got: Vec<String> = decoded.iter().map(key).collect();
        assert_eq!(got[..want.len()], want[..], "{protocol}");
        let logins = seen.logins.load(Ordering::SeqCst);
        assert_eq!(logins, usize::from(protocol.logs_in()), "{protocol}");
    }
}

#[test]
fn one_frame_in_flight_and_resend_after_ack_timeout() {
    let (addr, seen) = fake_tcp(Fault::SkipFirstAck);
    let config = SimConfig::new(crate::device::imei(8), SimProtocol::K, addr)
        .behaviour(Behaviour::reports(script(4)))
        .ack_timeout(Duration::from_millis(200))
        .batch(1);
    let device = SimDevice::new(config).unwrap();
    let stats = device.stats();
    run(vec![device], &Stop::new());
    let c = stats.counters();
    assert_eq!((c.frames_sent, c.frames_acked, c.frames_resent), (4, 4, 1));
    assert_eq!(seen.frames.load(Ordering::SeqCst), 5);
    assert_eq!(stats.acked().len(), 4);
    assert_eq!(
        seen.positions
            .lock()
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>(),
        stats.acked().iter().map(key).collect::<Vec<_>>()
    );
}

#[test]
fn reconnects_and_resends_after_the_connection_drops() {
    let (addr, seen) = fake_tcp(Fault::CloseOnSecond);
    let config = SimConfig::new(crate::device::imei(9), SimProtocol::X6, addr)
        .behaviour(Behaviour::reports(script(3)))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .batch(1);
    let device = SimDevice::new(config).unwrap();
    let stats = device.stats();
    run(vec![device], &Stop::new());
    let c = stats.counters();
    assert_eq!((c.frames_acked, c.frames_resent, c.connects), (3, 1, 2));
    assert_eq!(seen.logins.load(Ordering::SeqCst), 2, "logs in again");
    let seqs: Vec<u32> = stats.acked().iter().map(|p| p.sequence).collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn reports_made_offline_are_buffered_marked_stored_and_bundled() {
    let (addr, seen) = fake_tcp(Fault::None);
    let reports = script(6);
    let mut steps = vec![Step::report(reports[0].clone()), Step::Flush];
    steps.push(Step::Disconnect(Duration::from_millis(300)));
    steps.extend(reports[1..].iter().cloned().map(Step::report));
    let config = SimConfig::new(crate::device::imei(10), SimProtocol::M, addr)
        .behaviour(Behaviour::Script(steps))
        .backoff(Duration::from_millis(20), Duration::from_millis(50))
        .batch(8);
    let device = SimDevice::new(config).unwrap();
    let stats = device.stats();
    let stop = Stop::new();
    let running = spawn(vec![device], &stop);
    wait_until_blocking(Duration::from_secs(10), "the script", || {
        running.is_finished()
    });
    let acked = stats.acked();
    assert_eq!(acked.len(), 6);
    assert!(!acked[0].stored);
    assert!(
        acked[1..]
            .iter()
            .all(|p| p.stored && p.status_flags & 0x20 != 0)
    );
    let c = stats.counters();
    assert_eq!(
        (c.frames_sent, c.reports_buffered, c.disconnects),
        (2, 5, 1)
    );
    let decoded = seen.positions.lock().unwrap().clone();
    assert!(decoded[1..].iter().all(|p| p.stored));
}

#[test]
fn udp_devices_get_their_acks_by_datagram() {
    let (addr, seen) = fake_udp();
    let config = SimConfig::new(crate::device::imei(11), SimProtocol::C, addr)
        .transport(Transport::Udp)
        .behaviour(Behaviour::reports(script(3)))
        .batch(1);
    let device = SimDevice::new(config).unwrap();
    let stats = device.stats();
    run(vec![device], &Stop::new());
    assert_eq!(stats.acked().len(), 3);
    assert_eq!(seen.frames.load(Ordering::SeqCst), 3);
}

#[test]
fn x6_over_udp_is_refused() {
    let addr: SocketAddr = "127.0.0.1:5103".parse().unwrap();
    let config =
        SimConfig::new(crate::device::imei(12), SimProtocol::X6, addr).transport(Transport::Udp);
    assert!(SimDevice::new(config).is_err());
}

#[test]
fn stop_ends_route_devices_promptly() {
    let (addr, _seen) = fake_tcp(Fault::None);
    let stop = Stop::new();
    let devices = (0..5)
        .map(|n| {
            SimDevice::new(
                SimConfig::new(crate::device::imei(20 + n), SimProtocol::Z6, addr)
                    .report_interval(Duration::from_secs(1)),
            )
            .unwrap()
        })
        .collect();
    let running = spawn(devices, &stop);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    stop.stop();
    let handles = running.join();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(handles.iter().all(|h| h.stats.counters().frames_acked >= 1));
}

#[test]
fn route_pauses_that_overflow_the_clock_are_refused() {
    use super::motion::{Behaviour, Point, Route, Segment};
    let route = |segment| {
        Behaviour::Route(Route {
            start: Point {
                lat: 51.5,
                lon: -0.1,
            },
            ignition: false,
            segments: vec![segment],
            looped: false,
        })
    };
    assert!(route(Segment::Offline { secs: 1e20 }).validate().is_err());
    assert!(
        route(Segment::Offline { secs: f64::NAN })
            .validate()
            .is_err()
    );
    assert!(
        route(Segment::Stay {
            secs: f64::INFINITY,
            ignition: true
        })
        .validate()
        .is_err()
    );
    assert_eq!(route(Segment::Offline { secs: 60.0 }).validate(), Ok(()));
}
