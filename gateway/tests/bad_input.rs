//! Every kind of bad input gets a clear, logged, counted outcome and never takes the gateway
//! down: bad CRC (no ack, connection kept), unknown leading byte and oversized length (closed,
//! logged with the remote address and the first bytes in hex), login deadline, idle timeout,
//! connection limits, byte-rate limit, invalid login, and the `registered` device policy.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn bad_crc_is_not_acked_and_connection_stays() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut dev = gw.connect().await;
    let mut bad = hex(K2);
    bad[20] ^= 0xff;
    dev.send(&bad).await;
    assert_eq!(
        dev.read_some(Duration::from_millis(500)).await,
        Read::Nothing
    );
    // Same connection, good frame: acked.
    dev.send(&hex(K2)).await;
    dev.expect_acks(1, 5 * SEC).await;
    assert_eq!(raw_frames(&js).await.len(), 1);
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"bad_crc\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_leading_byte_closes_and_logs_hex() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let mut dev = gw.connect().await;
    dev.send(&hex(K2)).await;
    dev.expect_acks(1, 5 * SEC).await;
    let local = dev.stream.local_addr().unwrap().to_string();
    dev.send(&[0x00, 0xde, 0xad, 0xbe, 0xef]).await;
    assert!(dev.closed_within(3 * SEC).await);
    let logs = eventually(3 * SEC, || async {
        let l = gw.logs();
        l.contains("session closed").then_some(l)
    })
    .await
    .expect("close logged");
    assert!(logs.contains("00deadbeef"), "first bytes in hex: {logs}");
    assert!(logs.contains(&local), "remote address: {logs}");
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"unknown_leading_byte\"}")
            .await,
        1.0
    );
    // The gateway is still serving.
    let mut dev2 = gw.connect().await;
    dev2.send(&hex(K2)).await;
    dev2.expect_acks(1, 5 * SEC).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn length_above_max_frame_closes() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--max-frame=256"]).await;
    let mut dev = gw.connect().await;
    dev.send(&[b'X', 0x01, 0x01, 0, 0, 0]).await; // 257 > 256
    assert!(dev.closed_within(3 * SEC).await);
    // A line without CR LF longer than the maximum too.
    let mut dev = gw.connect().await;
    let mut long = b"$".to_vec();
    long.extend(std::iter::repeat_n(b'A', 300));
    dev.send(&long).await;
    assert!(dev.closed_within(3 * SEC).await);
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"bad_length\"}")
            .await,
        1.0
    );
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"line_too_long\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_deadline_and_invalid_login() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--login-deadline=1s"]).await;
    // Silent connection.
    let mut silent = gw.connect().await;
    let start = Instant::now();
    assert!(silent.closed_within(4 * SEC).await);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    // Only bad frames (nothing identifies the device) → also closed.
    let mut noisy = gw.connect().await;
    let mut bad = hex(K2);
    bad[20] ^= 1;
    noisy.send(&bad).await;
    assert!(noisy.closed_within(4 * SEC).await);
    // Invalid login line → closed at once, no ack.
    let mut dev = gw.connect().await;
    dev.send(b"$ASTRA;AT240;123;;7.0;X;1\r\n").await;
    assert_eq!(dev.read_some(2 * SEC).await, Read::Closed);
    assert_eq!(
        gw.metric("astra_gateway_sessions_closed_total{reason=\"login_deadline\"}")
            .await,
        2.0
    );
    assert_eq!(
        gw.metric("astra_gateway_sessions_closed_total{reason=\"invalid_login\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_closes() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--idle-timeout=1s"]).await;
    let mut dev = gw.connect().await;
    dev.send(&hex(K2)).await;
    dev.expect_acks(1, 5 * SEC).await;
    let start = Instant::now();
    assert!(dev.closed_within(4 * SEC).await);
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        gw.metric("astra_gateway_sessions_closed_total{reason=\"idle_timeout\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limits_per_ip_and_total() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--max-connections-per-ip=2"]).await;
    let mut a = gw.connect().await;
    let mut b = gw.connect().await;
    let mut c = gw.connect().await;
    assert!(
        c.closed_within(3 * SEC).await,
        "third connection from one IP refused"
    );
    a.send(&k_frame(&imei(1), 1)).await;
    a.expect_acks(1, 5 * SEC).await;
    b.send(&k_frame(&imei(2), 1)).await;
    b.expect_acks(1, 5 * SEC).await;
    drop(a);
    let ok = eventually(3 * SEC, || async {
        let mut d = gw.connect().await;
        d.send(&k_frame(&imei(3), 1)).await;
        (d.read_n(1, SEC).await == vec![0x06]).then_some(())
    })
    .await;
    assert!(ok.is_some(), "slot freed after a connection closed");
    // At least the third connection; a retry above may also have raced the close of `a`.
    assert!(
        gw.metric("astra_gateway_connections_total{outcome=\"per_ip_limit\"}")
            .await
            >= 1.0
    );

    let gw2 = Gateway::start(&nats.url(), &["--max-connections=1"]).await;
    let _x = gw2.connect().await;
    let mut y = gw2.connect().await;
    assert!(y.closed_within(3 * SEC).await, "over the total limit");
    assert_eq!(
        gw2.metric("astra_gateway_connections_total{outcome=\"total_limit\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_per_second_are_throttled() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--max-bytes-per-sec=2000"]).await;
    let mut dev = gw.connect().await;
    let id = imei(4);
    // 100 frames × 50 bytes = 5000 bytes at 2000 B/s (1 s burst) → at least ~1.5 s.
    let all: Vec<u8> = (0..100).flat_map(|i| k_frame(&id, i)).collect();
    let start = Instant::now();
    dev.send(&all).await;
    dev.expect_acks(100, 10 * SEC).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "not throttled: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registered_policy_rejects_unknown_devices() {
    let nats = NatsServer::start();
    let (_c, js) = jetstream(&nats).await;
    let gw = Gateway::start(&nats.url(), &["--device-policy=registered"]).await;
    let kv = js
        .get_key_value("astra-devices")
        .await
        .expect("bucket created by the gateway");
    kv.put(K2_IMEI, "{}".into()).await.unwrap();
    // Registered: accepted.
    let mut ok = gw.connect().await;
    ok.send(&hex(K2)).await;
    ok.expect_acks(1, 5 * SEC).await;
    // Not registered (K frame): disconnected without ack.
    let mut k = gw.connect().await;
    k.send(&k_frame(&imei(9), 1)).await;
    assert_eq!(k.read_some(3 * SEC).await, Read::Closed);
    // Not registered (login): no login ack.
    let mut x = gw.connect().await;
    x.send(LOGIN.as_bytes()).await;
    assert_eq!(x.read_some(3 * SEC).await, Read::Closed);
    assert_eq!(raw_frames(&js).await.len(), 1);
    assert_eq!(
        gw.metric("astra_gateway_sessions_closed_total{reason=\"not_registered\"}")
            .await,
        2.0
    );
}
