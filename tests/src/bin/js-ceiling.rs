//! The NATS ceiling: raw JetStream publish-with-ack throughput of a nats-server from this
//! machine, with the same client (async-nats) and a stream configured like `ASTRA_RAW` (file
//! storage, 2-minute duplicate window, one subject per device), so every other figure can be
//! stated as a fraction of it. Messages are published asynchronously with a window of
//! outstanding acks, once without and once with a `Nats-Msg-Id` (the gateway sets one on every
//! frame). The last line on stdout is the result as JSON.
//!
//!   cargo run --release -p astra-tests --bin js-ceiling -- --nats nats://127.0.0.1:4222

use astra_tests::bench::{parse_count, summarize};
use async_nats::jetstream::{self, context::PublishAckFuture, stream};
use bytes::Bytes;
use clap::Parser;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "js-ceiling",
    about = "JetStream publish-with-ack throughput ceiling"
)]
struct Args {
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Messages per run (`200k` …).
    #[arg(long, default_value = "200k", value_parser = parse_count)]
    messages: u64,
    /// Outstanding acks per publisher, comma separated: one run per value.
    #[arg(long, default_value = "1024", value_delimiter = ',')]
    window: Vec<usize>,
    /// Concurrent publishers (tasks) on the one connection; the window is per publisher.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    publishers: u16,
    /// Payload bytes (a gateway RawFrame with a one-record frame is about 150).
    #[arg(long, default_value_t = 150)]
    payload: usize,
    /// Distinct subjects (devices) the messages are spread over.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    subjects: u64,
    /// Modes, comma separated: `plain` (no Nats-Msg-Id), `msgid`.
    #[arg(long, default_value = "plain,msgid", value_delimiter = ',')]
    modes: Vec<String>,
    #[arg(long, default_value = "")]
    label: String,
}

const STREAM: &str = "BENCH_CEILING";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(&args).await {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("js-ceiling: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: &Args) -> Result<Value, async_nats::Error> {
    let client = async_nats::connect(&args.nats).await?;
    let js = jetstream::new(client);
    let mut runs = Vec::new();
    for &window in &args.window {
        for mode in &args.modes {
            let with_id = match mode.as_str() {
                "plain" => false,
                "msgid" => true,
                other => return Err(format!("unknown mode {other}").into()),
            };
            let _ = js.delete_stream(STREAM).await;
            js.create_stream(stream::Config {
                name: STREAM.to_owned(),
                subjects: vec!["bench.ceiling.>".to_owned()],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await?;
            let start = Instant::now();
            let per = args.messages / u64::from(args.publishers);
            let mut tasks = Vec::new();
            for p in 0..u64::from(args.publishers) {
                let js = js.clone();
                let payload = make_payload(args.payload, p);
                let subjects = args.subjects;
                tasks.push(tokio::spawn(async move {
                    publish(&js, p, per, window, subjects, with_id, payload).await
                }));
            }
            let mut latencies = Vec::new();
            for t in tasks {
                latencies.extend(t.await??);
            }
            let took = start.elapsed().as_secs_f64();
            let total = per * u64::from(args.publishers);
            let rate = total as f64 / took;
            eprintln!(
                "js-ceiling: {mode:5} window {window:5} × {} publisher(s): {total} msgs in {took:.2}s = {rate:.0} msgs/s",
                args.publishers
            );
            runs.push(json!({
                "mode": mode,
                "msg_id": with_id,
                "window": window,
                "publishers": args.publishers,
                "messages": total,
                "seconds": took,
                "msgs_per_s": rate.round(),
                "ack_ms": summarize(latencies),
            }));
        }
    }
    let _ = js.delete_stream(STREAM).await;
    Ok(json!({
        "label": args.label,
        "payload_bytes": args.payload,
        "subjects": args.subjects,
        "runs": runs,
    }))
}

/// Publishes `count` messages with at most `window` acks outstanding; returns each message's
/// publish → ack time in µs.
async fn publish(
    js: &jetstream::Context,
    publisher: u64,
    count: u64,
    window: usize,
    subjects: u64,
    with_id: bool,
    payload: Bytes,
) -> Result<Vec<u64>, async_nats::Error> {
    let mut pending: VecDeque<(Instant, PublishAckFuture)> = VecDeque::with_capacity(window);
    let mut latencies = Vec::with_capacity(count as usize);
    for i in 0..count {
        let subject = format!("bench.ceiling.{}", 357_322_040_000_000 + i % subjects);
        let mut message = jetstream::message::PublishMessage::build().payload(payload.clone());
        if with_id {
            // Like the gateway's ids: 32 hex digits, unique per message.
            message = message.message_id(format!("{:016x}{:016x}", publisher, i));
        }
        let ack = js.send_publish(subject, message).await?;
        pending.push_back((Instant::now(), ack));
        if pending.len() >= window
            && let Some((t, ack)) = pending.pop_front()
        {
            ack.into_future().await?;
            latencies.push(t.elapsed().as_micros() as u64);
        }
    }
    while let Some((t, ack)) = pending.pop_front() {
        ack.into_future().await?;
        latencies.push(t.elapsed().as_micros() as u64);
    }
    Ok(latencies)
}

/// `len` bytes that do not compress to nothing.
fn make_payload(len: usize, seed: u64) -> Bytes {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8)
        .collect();
    Bytes::from(bytes)
}
