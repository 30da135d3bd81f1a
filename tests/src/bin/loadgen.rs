//! Load generator: many simulated devices against a running gateway. Each device opens its own
//! TCP connection and sends K frames one after another, waiting for each 0x06 as a real tracker
//! does; the report gives acknowledged frames and records per second and ack latency
//! percentiles. Speed is measured here, never asserted in CI.
//!
//!   cargo run --release -p astra-tests --bin loadgen -- --gateway 127.0.0.1:5103 --devices 200 --frames 50

use astra_tests::simulator::{Device, imei, k_frame};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Args {
    gateway: SocketAddr,
    devices: u32,
    frames: u32,
    records: u8,
    first_device: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gateway: SocketAddr::from(([127, 0, 0, 1], 5103)),
        devices: 100,
        frames: 50,
        records: 4,
        first_device: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--gateway" => args.gateway = value.parse().map_err(|e| bad(&e))?,
            "--devices" => args.devices = value.parse().map_err(|e| bad(&e))?,
            "--frames" => args.frames = value.parse().map_err(|e| bad(&e))?,
            "--records" => args.records = value.parse().map_err(|e| bad(&e))?,
            "--first-device" => args.first_device = value.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn run_device(args: &Args, n: u32) -> Result<Vec<Duration>, String> {
    let id = imei(args.first_device + n);
    let mut device = Device::connect(args.gateway, None).map_err(|e| format!("{id}: {e}"))?;
    let mut latencies = Vec::with_capacity(args.frames as usize);
    let t0 = 1_700_000_000 + i64::from(n) * 100_000;
    for f in 0..args.frames {
        let seq = (f as u8).wrapping_mul(args.records);
        let frame = k_frame(&id, seq, args.records, t0 + i64::from(f) * 30);
        let start = Instant::now();
        match device.send_and_wait(&frame, Duration::from_secs(30)) {
            Ok(true) => latencies.push(start.elapsed()),
            Ok(false) => return Err(format!("{id}: no ack for frame {f}")),
            Err(e) => return Err(format!("{id}: {e}")),
        }
    }
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.devices)
            .map(|n| {
                let args = &args;
                s.spawn(move || run_device(args, n))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("device thread panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for r in results {
        match r {
            Ok(l) => latencies.extend(l),
            Err(e) => {
                failures += 1;
                eprintln!("{e}");
            }
        }
    }
    latencies.sort_unstable();
    let frames = latencies.len() as f64;
    println!(
        "devices {} frames acked {} ({} records each) in {:.2}s: {:.0} frames/s, {:.0} records/s; \
         ack latency p50 {:?} p99 {:?} max {:?}; failed devices {failures}",
        args.devices,
        latencies.len(),
        args.records,
        elapsed.as_secs_f64(),
        frames / elapsed.as_secs_f64(),
        frames * f64::from(args.records) / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
