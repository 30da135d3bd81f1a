//! Graceful shutdown on SIGTERM: stop accepting, finish in-flight publishes and acks, close
//! sessions (DISCONNECTED "gateway shutdown"), exit 0 within the deadline, and exit within the
//! deadline even when in-flight publishes cannot finish.

mod common;

use astra_proto::v1::SessionEventKind;
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_exits() {
    let nats = NatsServer::start();
    let mut gw = Gateway::start(&nats.url(), &["--shutdown-deadline=5s"]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut dev = gw.connect().await;
    let id = imei(11);
    let burst: Vec<u8> = (0..100).flat_map(|i| k_frame(&id, i)).collect();
    dev.send(&burst).await;
    dev.expect_acks(1, 5 * SEC).await;
    gw.sigterm();
    // Read acks until the gateway closes the connection.
    let mut acked = 1;
    loop {
        match dev.read_some(5 * SEC).await {
            Read::Bytes(b) => {
                assert!(b.iter().all(|&x| x == 0x06));
                acked += b.len();
            }
            Read::Closed => break,
            Read::Nothing => panic!("connection not closed on shutdown"),
        }
    }
    let code = gw.wait_exit(6 * SEC).await;
    assert_eq!(code, Some(0), "{}", gw.logs());
    // Every acked frame is stored, in order.
    let frames = raw_frames(&js).await;
    assert!(
        frames.len() >= acked,
        "{} stored < {acked} acked",
        frames.len()
    );
    for (i, f) in frames.iter().take(acked).enumerate() {
        assert_eq!(f.frame, k_frame(&id, i as u32));
    }
    let events = session_events(&js).await;
    let last = events.last().expect("events");
    assert_eq!(last.kind, i32::from(SessionEventKind::Disconnected));
    assert_eq!(last.reason, "gateway shutdown");
    // No longer accepting.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_deadline_bounds_exit_when_nats_is_down() {
    let mut nats = NatsServer::start();
    let mut gw = Gateway::start(&nats.url(), &["--shutdown-deadline=1s"]).await;
    let mut dev = gw.connect().await;
    dev.send(&hex(K2)).await;
    dev.expect_acks(1, 5 * SEC).await;
    nats.kill();
    dev.send(&k_frame(K2_IMEI, 1)).await; // cannot be stored now
    assert_eq!(
        dev.read_some(Duration::from_millis(300)).await,
        Read::Nothing
    );
    let start = Instant::now();
    gw.sigterm();
    let code = gw.wait_exit(5 * SEC).await;
    assert!(code.is_some(), "gateway did not exit");
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    // The unstored frame was never acked.
    assert_ne!(dev.read_some(SEC).await, Read::Bytes(vec![0x06]));
}
