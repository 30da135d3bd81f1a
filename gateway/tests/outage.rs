//! NATS outage: nats-server is killed and restarted (same port and store) while simulated
//! devices keep sending and re-send unacknowledged frames like real devices. While NATS is
//! down nothing is acknowledged and `/readyz` fails; afterwards publishing resumes without a
//! gateway restart, and every frame acknowledged to a device is in `ASTRA_RAW` exactly once.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const DEVICES: u32 = 5;
const FRAMES: u32 = 40;

/// A device that sends frame i, waits up to `ack_wait` for its ack and re-sends it until acked;
/// reconnects when the gateway closes the connection. Returns the frames it saw acked.
async fn device(
    port: u16,
    n: u32,
    acks_during_outage: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
) -> Vec<Vec<u8>> {
    let id = imei(100 + n);
    let mut acked = Vec::new();
    let mut dev = Device::connect(port).await;
    for i in 0..FRAMES {
        let frame = k_frame(&id, i);
        loop {
            dev.send(&frame).await;
            match dev.read_some(Duration::from_millis(700)).await {
                Read::Bytes(b) => {
                    // Like a device, any ack acknowledges the packet in flight.
                    assert!(b.iter().all(|&x| x == 0x06), "only acks expected: {b:?}");
                    if down.load(Ordering::SeqCst) {
                        acks_during_outage.fetch_add(1, Ordering::SeqCst);
                    }
                    acked.push(frame.clone());
                    break;
                }
                Read::Nothing => continue, // no ack: re-send, as a device does
                Read::Closed => dev = Device::connect(port).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acked
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_acks_nothing_and_loses_nothing() {
    let mut nats = NatsServer::start();
    let gw = Gateway::start(
        &nats.url(),
        &["--publish-timeout=1s", "--publish-retry=200ms"],
    )
    .await;
    let during = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let devices: Vec<_> = (0..DEVICES)
        .map(|n| tokio::spawn(device(gw.port, n, Arc::clone(&during), Arc::clone(&down))))
        .collect();

    tokio::time::sleep(Duration::from_millis(700)).await;
    nats.kill();
    // Acks already on the wire may still arrive for a moment; then nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    down.store(true, Ordering::SeqCst);
    let not_ready = eventually(5 * SEC, || async {
        (http_status(gw.admin, "/readyz").await == Some(503)).then_some(())
    })
    .await;
    assert!(not_ready.is_some(), "/readyz must fail while NATS is down");
    assert_eq!(http_status(gw.admin, "/healthz").await, Some(200));
    tokio::time::sleep(Duration::from_secs(2)).await;
    down.store(false, Ordering::SeqCst);
    nats.restart();
    let ready = eventually(15 * SEC, || async {
        (http_status(gw.admin, "/readyz").await == Some(200)).then_some(())
    })
    .await;
    assert!(ready.is_some(), "/readyz must recover: {}", gw.logs());

    let mut acked = Vec::new();
    for d in devices {
        acked.extend(
            tokio::time::timeout(Duration::from_secs(40), d)
                .await
                .expect("devices finish")
                .unwrap(),
        );
    }
    assert_eq!(
        during.load(Ordering::SeqCst),
        0,
        "nothing may be acked while NATS is down"
    );
    assert_eq!(acked.len(), (DEVICES * FRAMES) as usize);

    let (_c, js) = jetstream(&nats).await;
    // Everything acked is stored exactly once; nothing is stored twice.
    let check = eventually(10 * SEC, || async {
        let stored = raw_frames(&js).await;
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        for f in &stored {
            *counts.entry(f.frame.clone()).or_default() += 1;
        }
        let all_acked_once = acked.iter().all(|f| counts.get(f).copied() == Some(1));
        (all_acked_once && stored.len() == acked.len()).then_some(())
    })
    .await;
    if check.is_none() {
        let stored = raw_frames(&js).await;
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        for f in &stored {
            *counts.entry(f.frame.clone()).or_default() += 1;
        }
        let missing = acked.iter().filter(|f| !counts.contains_key(*f)).count();
        let dups = counts.values().filter(|&&n| n > 1).count();
        panic!(
            "stored {} for {} acked; {missing} acked frames missing, {dups} duplicated",
            stored.len(),
            acked.len()
        );
    }
    let retries = gw.metric("astra_gateway_publish_retries_total").await;
    assert!(retries >= 1.0, "publishes were retried during the outage");
}
