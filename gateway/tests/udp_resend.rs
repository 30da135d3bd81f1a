//! UDP re-sends while NATS is frozen: Astra acks carry no sequence, so a device that re-sends a
//! packet it has no ack for must get exactly one 0x06 for it once it is stored — an extra ack
//! would be taken as the ack of its next packet, which may not be stored yet. A re-send after
//! the ack (the device lost it) is acked again.

mod common;

use common::*;
use std::time::Duration;
use tokio::net::UdpSocket;

/// Process id of the test's nats-server, read from the name of the ports file it writes
/// (`nats-server_<pid>.ports` in its `ports` directory).
fn nats_pid(nats: &NatsServer) -> i32 {
    std::fs::read_dir(nats.dir().join("ports"))
        .expect("ports dir")
        .filter_map(Result::ok)
        .find_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("nats-server_")?
                .strip_suffix(".ports")?
                .parse()
                .ok()
        })
        .expect("nats-server ports file")
}

/// Sends `signal` to `pid` (our own nats-server child).
fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: sending a signal to a process this test started.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

/// Resumes the server if the test ends (or fails) while it is stopped.
struct Resume(i32);

impl Drop for Resume {
    fn drop(&mut self) {
        // SAFETY: as in `signal`; SIGCONT on a running process does nothing.
        unsafe {
            libc::kill(self.0, libc::SIGCONT);
        }
    }
}

/// Every byte that arrives on `dev` within `wait` (from any sender).
async fn received_within(dev: &UdpSocket, wait: Duration) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, dev.recv_from(&mut buf)).await {
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn resent_datagram_is_acked_once_while_pending_and_again_after_its_ack() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let dev = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gw_addr = format!("127.0.0.1:{}", gw.port);
    let frame = k_frame(&imei(17), 1);

    let pid = nats_pid(&nats);
    let resume = Resume(pid);
    signal(pid, libc::SIGSTOP);
    // The device gets no ack, so it re-sends the same packet, 1 s apart.
    for _ in 0..3 {
        dev.send_to(&frame, &gw_addr).await.unwrap();
        let early = received_within(&dev, SEC).await;
        assert!(early.is_empty(), "acked while NATS is frozen: {early:?}");
    }
    signal(pid, libc::SIGCONT);
    drop(resume);

    // One ack for the packet, however many copies arrived while it was pending.
    let acks = received_within(&dev, 8 * SEC).await;
    assert_eq!(
        acks,
        vec![0x06],
        "one ack for 3 copies of one pending packet: {}",
        gw.logs()
    );
    let frames = raw_frames(&js).await;
    assert_eq!(frames.len(), 1, "stored once");
    assert_eq!(frames[0].frame, frame);
    assert_eq!(
        gw.metric("astra_gateway_resends_collapsed_total").await,
        2.0
    );

    // The device lost that ack and re-sends: it is acked again (and still stored once).
    dev.send_to(&frame, &gw_addr).await.unwrap();
    let again = received_within(&dev, 3 * SEC).await;
    assert_eq!(again, vec![0x06], "one ack for a re-send after the ack");
    assert_eq!(raw_frames(&js).await.len(), 1, "still stored once");
    assert_eq!(
        gw.metric("astra_gateway_frames_acked_total{transport=\"udp\"}")
            .await,
        2.0
    );
}
