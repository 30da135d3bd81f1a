//! TCP sessions against the real binary and a real nats-server: framing of fragmented and
//! coalesced input, ack after store and in order, deduplication of re-sent frames, mode-6
//! login, and session events.

mod common;

use astra_proto::v1::{SessionEventKind, Transport};
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn fragmented_frame_is_stored_then_acked() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut dev = gw.connect().await;
    let frame = hex(K2);
    for b in &frame {
        dev.send(&[*b]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    dev.expect_acks(1, 5 * SEC).await;
    // The ack came after the store: the frame is in the stream now.
    let frames = raw_frames(&js).await;
    assert_eq!(frames.len(), 1);
    let f = &frames[0];
    assert_eq!(f.imei, K2_IMEI);
    assert_eq!(f.protocol, "K");
    assert_eq!(f.transport, i32::from(Transport::Tcp));
    assert_eq!(f.frame, frame);
    assert_eq!(f.gateway_id, gw.id);
    assert!(!f.session_id.is_empty());
    assert_eq!(f.remote_addr, dev.stream.local_addr().unwrap().to_string());
    assert!(f.received_time.is_some());
    assert!(f.login.is_none());
    // Published to astra.raw.<imei>, stored as astra.raw.<partition>.<imei> (64 partitions by
    // default; FNV-1a of the IMEI, as NATS' partition()).
    let s = js.get_stream("ASTRA_RAW").await.unwrap();
    let m = s.get_raw_message(1).await.unwrap();
    let p = astra_platform::partition::partition_of(K2_IMEI, 64);
    assert_eq!(m.subject.as_str(), format!("astra.raw.{p}.{K2_IMEI}"));
    // Re-sending the same packet (as after a lost ack) is acked again but stored once.
    dev.send(&frame).await;
    dev.expect_acks(1, 5 * SEC).await;
    assert_eq!(raw_frames(&js).await.len(), 1);
    assert_eq!(
        gw.metric("astra_gateway_frames_acked_total{transport=\"tcp\"}")
            .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn coalesced_frames_are_pipelined_and_acked_in_order() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &["--max-in-flight=8"]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut dev = gw.connect().await;
    let id = imei(1);
    let n = 200u32;
    // All frames in one write, with a split in the middle of one frame for good measure.
    let mut all: Vec<u8> = (0..n).flat_map(|i| k_frame(&id, i)).collect();
    let tail = all.split_off(all.len() / 2 + 7);
    dev.send(&all).await;
    dev.send(&tail).await;
    dev.expect_acks(n as usize, 10 * SEC).await;
    let frames = raw_frames(&js).await;
    assert_eq!(frames.len(), n as usize);
    // Stored in arrival order, each acked exactly once.
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.frame, k_frame(&id, i as u32), "frame {i} out of order");
    }
    assert!(matches!(
        dev.read_some(Duration::from_millis(200)).await,
        Read::Nothing
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn mode6_login_is_acked_and_frames_carry_login_info() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut dev = gw.connect().await;
    // Login and frame in pieces.
    let (a, b) = LOGIN.split_at(10);
    dev.send(a.as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    dev.send(b.as_bytes()).await;
    dev.expect_acks(1, 5 * SEC).await;
    // Mode-6 X frame has no IMEI; the session's login identifies it.
    let x = hex(X_MODE6);
    dev.send(&x).await;
    dev.expect_acks(1, 5 * SEC).await;
    let frames = raw_frames(&js).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].imei, LOGIN_IMEI);
    assert_eq!(frames[0].protocol, "X");
    let login = frames[0].login.clone().expect("login info");
    assert_eq!(login.imei, LOGIN_IMEI);
    assert_eq!(login.model, "AT240");
    assert_eq!(login.protocol, "X");
    assert_eq!(login.line, LOGIN.trim_end());
    drop(dev);

    // connect (unknown) → logged in → disconnected, with the same session id.
    let events = eventually(5 * SEC, || async {
        let ev = session_events(&js).await;
        (ev.len() >= 3).then_some(ev)
    })
    .await
    .expect("three session events");
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            i32::from(SessionEventKind::Connected),
            i32::from(SessionEventKind::LoggedIn),
            i32::from(SessionEventKind::Disconnected)
        ]
    );
    assert_eq!(events[0].imei, "");
    assert_eq!(events[1].imei, LOGIN_IMEI);
    assert_eq!(
        events[1].login.as_ref().map(|l| l.model.as_str()),
        Some("AT240")
    );
    assert_eq!(events[2].reason, "closed by device");
    assert!(events.iter().all(|e| e.session_id == frames[0].session_id));
    assert!(events.iter().all(|e| e.gateway_id == gw.id));
    // Stored as astra.session.<partition>.<imei> (the stream's subject transform).
    let s = js.get_stream("ASTRA_SESSIONS").await.unwrap();
    let stored = |subject: &str, imei: &str| {
        let mut t = subject.split('.');
        let ok = (t.next(), t.next()) == (Some("astra"), Some("session"))
            && t.next().is_some_and(|p| p.parse::<u32>().is_ok())
            && t.next() == Some(imei)
            && t.next().is_none();
        assert!(ok, "{subject} is not astra.session.<partition>.{imei}");
    };
    stored(
        s.get_raw_message(1).await.unwrap().subject.as_str(),
        "unknown",
    );
    stored(
        s.get_raw_message(2).await.unwrap().subject.as_str(),
        LOGIN_IMEI,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn x_frame_without_login_is_not_acked() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let mut dev = gw.connect().await;
    dev.send(&hex(X_MODE6)).await;
    assert_eq!(
        dev.read_some(Duration::from_millis(500)).await,
        Read::Nothing
    );
    assert_eq!(
        gw.metric("astra_gateway_frames_rejected_total{reason=\"no_imei\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnect_to_same_gateway_closes_older_session() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;
    let mut old = gw.connect().await;
    old.send(&k_frame(&imei(7), 1)).await;
    old.expect_acks(1, 5 * SEC).await;
    let mut new = gw.connect().await;
    new.send(&k_frame(&imei(7), 2)).await;
    new.expect_acks(1, 5 * SEC).await;
    assert!(
        old.closed_within(3 * SEC).await,
        "older session must be closed"
    );
    let reason = eventually(5 * SEC, || async {
        session_events(&js)
            .await
            .into_iter()
            .find(|e| e.kind == i32::from(SessionEventKind::Disconnected))
            .map(|e| e.reason)
    })
    .await
    .expect("disconnect event");
    assert!(reason.starts_with("taken over by session"), "{reason}");
    // The new session still works.
    new.send(&k_frame(&imei(7), 3)).await;
    new.expect_acks(1, 5 * SEC).await;
}
