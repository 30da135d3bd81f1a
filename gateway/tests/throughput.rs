//! A rough throughput measurement (ignored by default; run with
//! `cargo test --release -p gateway --test throughput -- --ignored --nocapture`): many devices
//! pipelining K frames, measuring frames acked per second end to end (store in JetStream, then
//! ack).

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement, not a check"]
async fn frames_acked_per_second() {
    let devices: u32 = std::env::var("DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let frames: u32 = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let nats = NatsServer::start();
    let gw = Gateway::start(
        &nats.url(),
        &["--max-bytes-per-sec=0", "--max-in-flight=64"],
    )
    .await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..devices)
        .map(|d| {
            let port = gw.port;
            tokio::spawn(async move {
                let mut dev = Device::connect(port).await;
                let id = imei(1000 + d);
                let all: Vec<u8> = (0..frames).flat_map(|i| k_frame(&id, i)).collect();
                let (mut r, mut w) = dev.stream.split();
                let send = async {
                    tokio::io::AsyncWriteExt::write_all(&mut w, &all)
                        .await
                        .unwrap();
                };
                let recv = async {
                    let mut got = 0usize;
                    let mut buf = [0u8; 4096];
                    while got < frames as usize {
                        let n = tokio::time::timeout(
                            Duration::from_secs(30),
                            tokio::io::AsyncReadExt::read(&mut r, &mut buf),
                        )
                        .await
                        .expect("acks")
                        .unwrap();
                        assert!(n > 0);
                        got += n;
                    }
                };
                tokio::join!(send, recv);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let took = start.elapsed();
    let total = f64::from(devices * frames);
    println!(
        "{devices} devices x {frames} frames: {total} acked in {took:?} = {:.0} frames/s",
        total / took.as_secs_f64()
    );
    println!(
        "{}",
        gw.metrics()
            .await
            .lines()
            .filter(
                |l| l.starts_with("astra_gateway_publish_latency_seconds_sum")
                    || l.starts_with("astra_gateway_publish_latency_seconds_count")
            )
            .collect::<Vec<_>>()
            .join("\n")
    );
}
