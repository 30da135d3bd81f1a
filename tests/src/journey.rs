//! A scripted journey every protocol can carry, the events it must raise, and a device that
//! delivers it the way a tracker does: one packet in flight, re-sent after an ack timeout or a
//! lost connection, reconnecting (to the next gateway address, if there are several) until
//! every packet is acknowledged.

use crate::device::{Device, Transport};
use crate::encoder::{EncodeOptions, Protocol, XMode, encode, login_line};
use astra_proto::Timestamp;
use astra_proto::v1::{Position, Reason};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;
pub const REPORTS: u32 = 6;

/// How a simulated device talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub protocol: Protocol,
    pub mode: XMode,
    pub udp: bool,
}

impl Kind {
    pub const fn tcp(protocol: Protocol) -> Self {
        Self {
            protocol,
            mode: XMode::Mode6,
            udp: false,
        }
    }

    pub const fn mode4(protocol: Protocol) -> Self {
        Self {
            protocol,
            mode: XMode::Mode4,
            udp: false,
        }
    }

    pub const fn udp(protocol: Protocol) -> Self {
        Self {
            protocol,
            mode: XMode::Mode4,
            udp: true,
        }
    }

    /// Every protocol over TCP (X and Z in both modes), and K, C and X over UDP.
    pub fn all() -> Vec<Kind> {
        vec![
            Kind::tcp(Protocol::K),
            Kind::tcp(Protocol::M),
            Kind::tcp(Protocol::V),
            Kind::tcp(Protocol::C),
            Kind::mode4(Protocol::X),
            Kind::tcp(Protocol::X),
            Kind::tcp(Protocol::Z),
            Kind::udp(Protocol::K),
            Kind::udp(Protocol::C),
            Kind::udp(Protocol::X),
        ]
    }

    fn logs_in(self) -> bool {
        self.protocol.is_modular() && self.mode == XMode::Mode6
    }

    pub fn login(self, imei: &str) -> Option<Vec<u8>> {
        self.logs_in()
            .then(|| login_line(self.protocol, imei, "AT240", "7.0.22.0"))
    }
}

/// Report `k` of device `n`: a drive with overspeed (limit 100 km/h), a panic press, a journey
/// stop, and ignition off.
pub fn report(n: u32, k: u32) -> Position {
    let (speed, metres, ignition, reason) = match k {
        0 => (0.0, 0.0, true, None),
        1 => (40.0, 300.0, true, None),
        2 => (120.0, 1300.0, true, None),
        3 => (60.0, 1800.0, true, Some(Reason::PanicSwitchActivated)),
        4 => (0.0, 1900.0, true, Some(Reason::JourneyStop)),
        _ => (0.0, 1900.0, false, None),
    };
    let t = Timestamp::from_unix(T0 + i64::from(k) * 30);
    // Whole micro-degrees, so every protocol carries the latitude exactly.
    let lat = (51.0 + f64::from(n) * 0.01 + metres / 111_195.0) * 1e6;
    Position {
        sequence: k,
        device_time: Some(t),
        fix_time: Some(t),
        valid: true,
        latitude: Some(lat.round() / 1e6),
        longitude: Some(-1.3),
        speed_kmh: Some(speed),
        status_flags: u32::from(ignition),
        reason_flags: reason.map_or(0, |r| 1 << (r as u32 - 1)),
        ..Default::default()
    }
}

/// The journey's events other than online / offline, in order.
pub const EVENTS: [&str; 5] = [
    "device_moving",
    "overspeed",
    "alarm",
    "device_stopped",
    "ignition_off",
];

/// One frame per report.
pub fn frames(imei: &str, n: u32, kind: Kind) -> Vec<Vec<u8>> {
    let opts = EncodeOptions {
        mode: kind.mode,
        ..EncodeOptions::default()
    };
    (0..REPORTS)
        .map(|k| {
            let mut r = report(n, k);
            if kind.protocol.is_modular() {
                // Module 1: GPS data (position, speed).
                r.module_mask = 1 << 1;
            }
            encode(kind.protocol, imei, &[r], &opts)
        })
        .collect()
}

/// Delivers `frames` to the first reachable address in `gateways`, as a tracker does. Returns
/// once all are acknowledged, or with an error at `deadline`. The TCP connection is closed at
/// the end (the gateway then reports the session closed).
pub fn deliver(
    gateways: &[SocketAddr],
    kind: Kind,
    imei: &str,
    frames: &[Vec<u8>],
    pace: Duration,
    deadline: Duration,
) -> io::Result<()> {
    let until = Instant::now() + deadline;
    let mut device: Option<Device> = None;
    let mut attempt = 0usize;
    for frame in frames {
        loop {
            if Instant::now() > until {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "not acknowledged"));
            }
            if device.is_none() {
                let Some(&addr) = gateways.get(attempt % gateways.len().max(1)) else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "no gateway address",
                    ));
                };
                attempt += 1;
                match open(addr, kind, imei) {
                    Ok(d) => device = Some(d),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                }
            }
            let acked = device
                .as_mut()
                .map(|d| d.send_and_wait(frame, Duration::from_secs(3)));
            match acked {
                Some(Ok(true)) => break,
                _ => {
                    // Lost connection or no ack: reconnect (maybe elsewhere) and re-send.
                    device = None;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        std::thread::sleep(pace);
    }
    Ok(())
}

/// A device of this kind at `addr`: a TCP connection (logged in if the kind does), or a UDP
/// socket (a fresh one, so a new source port, after each failure).
fn open(addr: SocketAddr, kind: Kind, imei: &str) -> io::Result<Device> {
    if kind.udp {
        return Device::open(Transport::Udp, addr, None, Duration::from_secs(5));
    }
    Device::connect(addr, kind.login(imei).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use astra_codec::login::parse_login;
    use astra_codec::{DecodeOptions, decode_frame};

    #[test]
    fn every_kind_carries_the_journey_exactly() {
        let imei = crate::device::imei(9);
        for kind in Kind::all() {
            let login = kind
                .login(&imei)
                .map(|l| parse_login(l.trim_ascii_end()).unwrap());
            for (k, frame) in frames(&imei, 3, kind).iter().enumerate() {
                let p = decode_frame(frame, login.as_ref(), &DecodeOptions::default()).unwrap();
                let want = report(3, k as u32);
                assert_eq!(p.len(), 1, "{kind:?}");
                assert_eq!(p[0].imei, imei);
                assert_eq!(p[0].latitude, want.latitude, "{kind:?} report {k}");
                assert_eq!(p[0].speed_kmh, want.speed_kmh, "{kind:?} report {k}");
                assert_eq!(p[0].ignition, want.status_flags == 1, "{kind:?}");
                assert_eq!(
                    p[0].reason_flags & want.reason_flags,
                    want.reason_flags,
                    "{kind:?}"
                );
            }
        }
    }
}
