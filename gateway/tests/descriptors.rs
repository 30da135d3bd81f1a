//! The gateway at its descriptor limit: connections past it wait in the backlog while the
//! listener pauses (it neither spins nor floods the log), and it serves devices again once
//! descriptors are free.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn out_of_descriptors_pauses_accepting_and_recovers() {
    let nats = NatsServer::start();
    let gw = Gateway::start_with_nofile(
        &nats.url(),
        &["--max-connections=0", "--max-connections-per-ip=0"],
        Some(128),
    )
    .await;
    // More connections than the gateway has descriptors: the kernel completes the handshakes
    // and the surplus waits in the listen backlog.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(gw.connect().await);
    }
    // The admin endpoint needs descriptors too, so the log is what is watched meanwhile.
    eventually(10 * SEC, || async {
        gw.logs().contains("accept failed").then_some(())
    })
    .await
    .expect("accept() ran out of descriptors");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let warnings = gw.logs().matches("accept failed").count();
    assert_eq!(warnings, 1, "one warning per 5 s: {warnings}");

    // Free the descriptors: the backlog drains and a new device is served.
    drop(idle);
    let mut dev = gw.connect().await;
    dev.send(&k_frame(&imei(1), 1)).await;
    dev.expect_acks(1, 15 * SEC).await;

    // About 2.5 s out of descriptors at 100 ms between attempts: a spinning listener made
    // thousands of failed accepts here.
    let failed = gw
        .metric("astra_gateway_connections_total{outcome=\"accept_error\"}")
        .await;
    assert!((1.0..=60.0).contains(&failed), "{failed} failed accepts");
    let accepted = gw
        .metric("astra_gateway_connections_total{outcome=\"accepted\"}")
        .await;
    assert!(accepted > 100.0, "{accepted} accepted");
}
