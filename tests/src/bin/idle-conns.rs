//! How many concurrent idle device connections one gateway holds, and its memory per
//! connection. Opens connections in steps (`--steps 10k,30k,60k,100k`), spread over loopback
//! source addresses 127.0.0.2, .3, … (each gives ~28k ephemeral ports). Each connection is a K
//! device that sends one frame (so the gateway identifies it, as a logged-in tracker that then
//! stays quiet) and waits for its ack, or with `--hello none` sends nothing (the gateway then
//! needs a long `--login-deadline`). After each step it waits `--settle`, checks that the
//! connections are still open, and reads the resident memory (`VmRSS`) of the processes given
//! with `--pid name=PID`: growth over the baseline ÷ connections is the memory per connection.
//! The last line on stdout is the result as JSON. Raise `ulimit -n` (this tool raises its own
//! soft limit; the gateway needs its own limit and `--max-connections` /
//! `--max-connections-per-ip` raised).
//!
//!   cargo run --release -p astra-tests --bin idle-conns -- --gateway 127.0.0.1:5103 \
//!       --steps 10k,30k --pid gateway=$(pgrep -n gateway)

use astra_platform::duration::parse_duration;
use astra_tests::bench::{connect_from, parse_count, raise_nofile, rss_kib, source_ip};
use astra_tests::device::{AsyncDevice, imei, k_frame};
use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(
    name = "idle-conns",
    about = "Concurrent idle connections one gateway holds, and its memory per connection"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:5103")]
    gateway: SocketAddr,
    /// Connection counts to reach one after the other.
    #[arg(long, default_value = "10k,30k,60k,100k", value_delimiter = ',', value_parser = parse_count)]
    steps: Vec<u64>,
    /// Loopback source addresses (0: one per 25 000 connections of the largest step).
    #[arg(long, default_value_t = 0)]
    sources: usize,
    /// Last byte of the first source address (127.0.0.<base>).
    #[arg(long, default_value_t = 2)]
    source_base: u8,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Number of the first device (IMEIs are made from it).
    #[arg(long, default_value_t = 200_000)]
    first_device: u32,
    /// `frame`: each connection sends one K frame and waits for its ack; `none`: nothing.
    #[arg(long, default_value = "frame")]
    hello: String,
    /// Processes whose memory to follow, `name=pid` (repeatable).
    #[arg(long = "pid", value_parser = parse_pid)]
    pids: Vec<(String, u32)>,
    /// Pause after each step before measuring.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// Stop (at once, abandoning the connections still being opened) when more than this share
    /// of a step's new connections failed (at least 50).
    #[arg(long, default_value_t = 0.01)]
    max_failure: f64,
    /// How long a connection waits for the ack of its frame.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    ack_timeout: Duration,
    #[arg(long, default_value = "")]
    label: String,
}

fn parse_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected name=pid")?;
    Ok((
        name.to_owned(),
        pid.parse().map_err(|e| format!("{s}: {e}"))?,
    ))
}

async fn open(args: &Args, sources: usize, i: u64) -> Result<TcpStream, String> {
    let n = args.first_device + i as u32;
    let src = source_ip(i as usize, sources, args.source_base);
    let mut stream = connect_from(src, args.gateway)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    if args.hello == "frame" {
        let frame = k_frame(&imei(n), 0, 1, 1_767_225_600);
        let mut device = AsyncDevice::new(stream);
        device
            .send(&frame)
            .await
            .map_err(|e| format!("write: {e}"))?;
        match device.wait_ack(args.ack_timeout).await {
            Ok(true) => {}
            Ok(false) => return Err(format!("no ack within {:?}", args.ack_timeout)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err("closed by the gateway".into());
            }
            Err(e) => return Err(format!("read: {e}")),
        }
        stream = device.stream;
    }
    Ok(stream)
}

fn memory(pids: &[(String, u32)]) -> BTreeMap<String, Option<u64>> {
    pids.iter()
        .map(|(name, pid)| (name.clone(), rss_kib(*pid)))
        .collect()
}

/// Connections still open: a read would block (no EOF, no reset).
fn alive(held: &[TcpStream]) -> usize {
    let mut buf = [0u8; 16];
    held.iter()
        .filter(|s| match s.try_read(&mut buf) {
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            Ok(n) => n > 0,
        })
        .count()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if !matches!(args.hello.as_str(), "frame" | "none") {
        eprintln!("idle-conns: --hello is frame or none");
        std::process::exit(2);
    }
    let max = args.steps.iter().copied().max().unwrap_or(0);
    let (soft, hard) = raise_nofile(max + 1024);
    let sources = if args.sources > 0 {
        args.sources
    } else {
        (max as usize).div_ceil(25_000).max(1)
    };
    eprintln!(
        "idle-conns: RLIMIT_NOFILE {soft} (hard {hard}); {sources} source address(es) from 127.0.0.{}",
        args.source_base
    );
    let baseline = memory(&args.pids);
    let mut held: Vec<TcpStream> = Vec::with_capacity(max as usize);
    let mut steps = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    for &target in &args.steps {
        let from = held.len() as u64;
        if target <= from {
            continue;
        }
        let t = Instant::now();
        let mut opened = futures::stream::iter(from..target)
            .map(|i| open(&args, sources, i))
            .buffer_unordered(args.concurrency.max(1));
        let mut failed = 0u64;
        let give_up = ((args.max_failure * (target - from) as f64) as u64).max(50);
        while let Some(r) = opened.next().await {
            match r {
                Ok(s) => held.push(s),
                Err(e) => {
                    failed += 1;
                    *errors.entry(e).or_default() += 1;
                    if failed > give_up {
                        break;
                    }
                }
            }
        }
        drop(opened);
        let ramp_s = t.elapsed().as_secs_f64();
        tokio::time::sleep(args.settle).await;
        let open_now = alive(&held);
        let mem = memory(&args.pids);
        let per_connection: BTreeMap<String, Option<f64>> = mem
            .iter()
            .map(|(name, now)| {
                let before = baseline.get(name).copied().flatten();
                let per = match (now, before) {
                    (Some(now), Some(before)) if open_now > 0 => {
                        Some(((*now as f64 - before as f64) * 1024.0 / open_now as f64).round())
                    }
                    _ => None,
                };
                (name.clone(), per)
            })
            .collect();
        eprintln!(
            "idle-conns: step {target}: {} opened ({failed} failed) in {ramp_s:.1}s, {open_now} open; RSS KiB {mem:?}; bytes/connection {per_connection:?}",
            held.len()
        );
        steps.push(json!({
            "target": target,
            "held": held.len(),
            "open": open_now,
            "failed": failed,
            "ramp_s": ramp_s,
            "rss_kib": mem,
            "bytes_per_connection": per_connection,
        }));
        if failed > give_up {
            eprintln!("idle-conns: too many failures, stopping at {}", held.len());
            break;
        }
    }
    let max_open = steps
        .iter()
        .filter_map(|s| s["open"].as_u64())
        .max()
        .unwrap_or(0);
    let result: Value = json!({
        "label": args.label,
        "hello": args.hello,
        "sources": sources,
        "nofile": {"soft": soft, "hard": hard},
        "baseline_rss_kib": baseline,
        "steps": steps,
        "max_open": max_open,
        "errors": errors,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{result}");
}
