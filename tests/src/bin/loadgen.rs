//! Load generator: many simulated devices against a running gateway, on one tokio runtime (one
//! task per device, so 10k+ connections are cheap). Each device opens its own TCP connection
//! (or UDP socket), bound to one of several loopback source addresses (127.0.0.2, .3, …: each
//! gives ~28k ephemeral ports, so >64k connections are possible), logs in if its kind does, and
//! sends frames one at a time, waiting for each 0x06 as a real tracker does. The devices mix
//! protocols (`--mix`). They send as fast as acks allow, or at a total offered load (`--rate`
//! frames/s, each device on its own schedule; a device whose ack comes late sends its next frame
//! at once).
//!
//! It reports acknowledged frames per second and ack latency percentiles over the measurement
//! window (after `--warmup`); with `--nats` it also subscribes (core NATS) to
//! `astra.position.>` and `astra.event.>`, matches each position and event to the frame that
//! caused it (IMEI + device time), and reports frame → position and frame → event latencies.
//! The last line on stdout is the whole result as JSON. Speed is measured here, never asserted
//! in CI.
//!
//!   cargo run --release -p astra-tests --bin loadgen -- --gateway 127.0.0.1:5103 --devices 1000 \
//!       --mix all --rate 5000 --duration 15s --nats nats://127.0.0.1:4222

use astra_platform::duration::parse_duration;
use astra_tests::bench::observe::{Observer, Seen};
use astra_tests::bench::traffic::{Link, frame, kind_name, parse_mix};
use astra_tests::bench::{now_us, raise_nofile, source_ip, summarize};
use astra_tests::device::imei;
use astra_tests::journey::Kind;
use clap::Parser;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Simulated devices against a gateway; acked frames/s, ack and end-to-end latency"
)]
struct Args {
    /// Gateway device address (TCP and UDP).
    #[arg(long, default_value = "127.0.0.1:5103")]
    gateway: SocketAddr,
    /// Concurrent devices (each its own connection or UDP socket).
    #[arg(long, default_value_t = 100)]
    devices: u32,
    /// Device kinds, assigned round robin: `all`, `tcp`, `udp`, or a list such as `K,X6,C/udp`.
    #[arg(long, default_value = "all")]
    mix: String,
    /// Offered load in frames/s over all devices; 0 = as fast as acks allow.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Measurement window (after the warm-up).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Load before the measurement window starts (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Frames per device at most (0: until the window ends).
    #[arg(long, default_value_t = 0)]
    frames: u32,
    /// Loopback source addresses to spread connections over (0: one per 20 000 devices).
    #[arg(long, default_value_t = 0)]
    sources: usize,
    /// Last byte of the first source address (127.0.0.<base>).
    #[arg(long, default_value_t = 2)]
    source_base: u8,
    /// Number of the first device (its IMEI is made from it; keep runs apart).
    #[arg(long, default_value_t = 0)]
    first_device: u32,
    /// NATS URL: also measure frame → position and frame → event latency.
    #[arg(long)]
    nats: Option<String>,
    /// After the load, how long to wait at most for the last positions and events.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    drain: Duration,
    /// Connections being opened at once during the ramp-up.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// A frame not acknowledged within this ends its device (counted as failed).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    ack_timeout: Duration,
    /// Free text copied into the JSON result.
    #[arg(long, default_value = "")]
    label: String,
}

struct Sample {
    frame: u32,
    sent_us: u64,
    ack_us: u32,
}

struct DeviceResult {
    kind: Kind,
    samples: Vec<Sample>,
    error: Option<String>,
}

struct Shared {
    args: Args,
    mix: Vec<Kind>,
    sources: usize,
    connect: Semaphore,
    settled: AtomicUsize,
    start: watch::Receiver<Option<tokio::time::Instant>>,
}

async fn run_device(shared: Arc<Shared>, local: u32) -> DeviceResult {
    let args = &shared.args;
    let n = args.first_device + local;
    let kind = shared.mix[local as usize % shared.mix.len()];
    let id = imei(n);
    let src = source_ip(local as usize, shared.sources, args.source_base);
    let opened = {
        let _permit = shared.connect.acquire().await;
        Link::open(args.gateway, src, kind, &id).await
    };
    shared.settled.fetch_add(1, Ordering::Relaxed);
    let mut link = match opened {
        Ok(l) => l,
        Err(e) => {
            return DeviceResult {
                kind,
                samples: Vec::new(),
                error: Some(format!("{id} connect: {e}")),
            };
        }
    };
    let mut start_rx = shared.start.clone();
    let start = loop {
        if let Some(s) = *start_rx.borrow_and_update() {
            break s;
        }
        if start_rx.changed().await.is_err() {
            return DeviceResult {
                kind,
                samples: Vec::new(),
                error: Some("start never came".into()),
            };
        }
    };
    let end = start + args.warmup + args.duration;
    let interval = if args.rate > 0.0 {
        Duration::from_secs_f64(f64::from(args.devices) / args.rate)
    } else {
        Duration::ZERO
    };
    // Spread the devices' schedules evenly over one interval.
    let mut next = start + interval.mul_f64(f64::from(local) / f64::from(args.devices));
    let mut samples = Vec::new();
    let mut error = None;
    let mut idx = 0u32;
    loop {
        if !interval.is_zero() && next > tokio::time::Instant::now() {
            tokio::time::sleep_until(next).await;
        }
        if tokio::time::Instant::now() >= end || (args.frames > 0 && idx >= args.frames) {
            break;
        }
        let bytes = frame(kind, &id, n, idx);
        let sent_us = now_us();
        let t = Instant::now();
        match link.send(&bytes, args.ack_timeout).await {
            Ok(()) => samples.push(Sample {
                frame: idx,
                sent_us,
                ack_us: t.elapsed().as_micros() as u32,
            }),
            Err(e) => {
                error = Some(format!("{id} frame {idx}: {e}"));
                break;
            }
        }
        idx += 1;
        next += interval;
    }
    link.close().await;
    DeviceResult {
        kind,
        samples,
        error,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("loadgen: {e}");
        std::process::exit(2);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mix = parse_mix(&args.mix)?;
    if args.devices == 0 {
        return Err("--devices must be at least 1".into());
    }
    let (soft, hard) = raise_nofile(u64::from(args.devices) + 1024);
    if soft < u64::from(args.devices) + 64 {
        eprintln!(
            "loadgen: RLIMIT_NOFILE is {soft} (hard {hard}), too low for {} devices: raise `ulimit -n`",
            args.devices
        );
    }
    let sources = if args.sources > 0 {
        args.sources
    } else {
        (args.devices as usize).div_ceil(20_000)
    };
    let first = args.first_device;
    let observer = match &args.nats {
        Some(url) => Some(
            Observer::start(url, first..first + args.devices)
                .await
                .map_err(|e| format!("NATS {url}: {e}"))?,
        ),
        None => None,
    };
    let (start_tx, start_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        connect: Semaphore::new(args.connect_concurrency.max(1)),
        args,
        mix,
        sources,
        settled: AtomicUsize::new(0),
        start: start_rx,
    });
    let args = &shared.args;
    let ramp = Instant::now();
    let tasks: Vec<_> = (0..args.devices)
        .map(|local| tokio::spawn(run_device(shared.clone(), local)))
        .collect();
    while shared.settled.load(Ordering::Relaxed) < args.devices as usize {
        if ramp.elapsed() > Duration::from_secs(300) {
            return Err("devices still connecting after 300 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = ramp.elapsed().as_secs_f64();
    let (now, now_wall) = (tokio::time::Instant::now(), now_us());
    let start = now + Duration::from_millis(100);
    let start_us = now_wall + 100_000;
    let _ = start_tx.send(Some(start));
    eprintln!(
        "loadgen: {} devices connected in {ramp_s:.1}s from {sources} source address(es); measuring {:?} after {:?} warm-up",
        args.devices, args.duration, args.warmup
    );

    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.map_err(|e| format!("device task: {e}"))?);
    }
    let sending_done_us = now_us();
    let w0 = start_us + args.warmup.as_micros() as u64;
    let w1 = w0 + args.duration.as_micros() as u64;
    let window_s = args.duration.as_secs_f64();

    let mut errors: Vec<String> = Vec::new();
    let mut acks = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut sent_at: HashMap<u64, u64> = HashMap::new();
    let mut total_acked = 0u64;
    let mut last_sent_us = w0;
    for (local, r) in results.iter().enumerate() {
        if let Some(e) = &r.error {
            errors.push(e.clone());
        }
        total_acked += r.samples.len() as u64;
        for s in &r.samples {
            last_sent_us = last_sent_us.max(s.sent_us);
            if s.sent_us >= w0 && s.sent_us < w1 {
                acks.push(u64::from(s.ack_us));
                by_kind
                    .entry(kind_name(r.kind))
                    .or_default()
                    .push(u64::from(s.ack_us));
                let device = first + local as u32;
                sent_at.insert(key(device, s.frame), s.sent_us);
            }
        }
    }
    let acked_in_window = acks.len() as u64;
    // When the devices could not keep up with the window (e.g. stalled), the effective window
    // is shorter than asked: frames per second over the window as asked is what was achieved.
    let acked_per_s = acked_in_window as f64 / window_s;

    let mut e2e = Value::Null;
    if let Some(observer) = observer {
        // Wait until the positions of every acked frame arrived and the events stopped coming.
        let drain_start = Instant::now();
        let mut last = observer.counts();
        let mut quiet_since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = observer.counts();
            if now != last {
                last = now;
                quiet_since = Instant::now();
            }
            let all_positions = now.0 >= total_acked;
            let quiet = quiet_since.elapsed();
            if (all_positions && quiet > Duration::from_millis(1500))
                || quiet > Duration::from_secs(5)
                || drain_start.elapsed() > args.drain
            {
                break;
            }
        }
        let drained_us = now_us();
        let (positions, events) = observer.stop().await;
        e2e = end_to_end(
            &positions,
            &events,
            &sent_at,
            (w0, w1),
            window_s,
            sending_done_us,
            drained_us,
        );
    }

    let kinds: BTreeMap<String, Value> = by_kind
        .into_iter()
        .map(|(k, v)| (k, summarize(v)))
        .collect();
    let failed = errors.len();
    for e in errors.iter().take(5) {
        eprintln!("loadgen: {e}");
    }
    let result = json!({
        "label": args.label,
        "devices": args.devices,
        "mix": args.mix,
        "sources": sources,
        "rate_offered": args.rate,
        "warmup_s": args.warmup.as_secs_f64(),
        "window_s": window_s,
        "ramp_s": ramp_s,
        "nofile": {"soft": soft, "hard": hard},
        "failed_devices": failed,
        "acked_total": total_acked,
        "acked_in_window": acked_in_window,
        "acked_per_s": acked_per_s.round(),
        "ack_ms": summarize(acks),
        "ack_ms_by_kind": kinds,
        "end_to_end": e2e,
    });
    eprintln!(
        "loadgen: {} devices ({}), offered {}: {:.0} frames/s acked; ack p50 {} p99 {} p99.9 {} ms; failed devices {failed}",
        args.devices,
        args.mix,
        if args.rate > 0.0 {
            format!("{} frames/s", args.rate)
        } else {
            "as fast as acks allow".into()
        },
        acked_per_s,
        result["ack_ms"]["p50"],
        result["ack_ms"]["p99"],
        result["ack_ms"]["p999"],
    );
    if !result["end_to_end"].is_null() {
        let e = &result["end_to_end"];
        eprintln!(
            "loadgen: frame→position p50 {} p99 {} ms ({} of {}); frame→event p50 {} p99 {} ms ({} events)",
            e["position_ms"]["p50"],
            e["position_ms"]["p99"],
            e["positions_matched"],
            e["frames"],
            e["event_ms"]["p50"],
            e["event_ms"]["p99"],
            e["events_matched"],
        );
    }
    println!("{result}");
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn key(device: u32, frame: u32) -> u64 {
    (u64::from(device) << 32) | u64::from(frame)
}

/// Joins what the subscriber saw with the send times of the frames of the window.
fn end_to_end(
    positions: &[Seen],
    events: &[Seen],
    sent_at: &HashMap<u64, u64>,
    (w0, w1): (u64, u64),
    window_s: f64,
    sending_done_us: u64,
    drained_us: u64,
) -> Value {
    let mut seen = HashSet::new();
    let mut to_position = Vec::new();
    let mut to_gateway = Vec::new();
    let mut gateway_to_position = Vec::new();
    let mut in_window = 0u64;
    let mut last_position_us = 0;
    for p in positions {
        if p.at_us >= w0 && p.at_us < w1 {
            in_window += 1;
        }
        let k = key(p.device, p.frame);
        let Some(&sent) = sent_at.get(&k) else {
            continue;
        };
        if !seen.insert(k) {
            continue;
        }
        last_position_us = last_position_us.max(p.at_us);
        to_position.push(p.at_us.saturating_sub(sent));
        if p.gateway_us > 0 {
            to_gateway.push(p.gateway_us.saturating_sub(sent));
            gateway_to_position.push(p.at_us.saturating_sub(p.gateway_us));
        }
    }
    let mut event_seen = HashSet::new();
    let mut to_event = Vec::new();
    let mut to_overspeed = Vec::new();
    let mut by_type: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut events_in_window = 0u64;
    for e in events {
        if e.at_us >= w0 && e.at_us < w1 {
            events_in_window += 1;
        }
        let k = key(e.device, e.frame);
        let Some(&sent) = sent_at.get(&k) else {
            continue;
        };
        if !event_seen.insert((k, e.event.clone())) {
            continue;
        }
        *types.entry(e.event.clone()).or_default() += 1;
        let latency = e.at_us.saturating_sub(sent);
        // Session- and timer-caused events (online, offline on close) carry the last position
        // but were not caused by it: they are listed by type, not counted as frame latency.
        if e.from_frame {
            to_event.push(latency);
        }
        if e.event == "overspeed" {
            to_overspeed.push(latency);
        }
        by_type.entry(e.event.clone()).or_default().push(latency);
    }
    json!({
        "frames": sent_at.len(),
        "positions_matched": seen.len(),
        "positions_missing": sent_at.len() - seen.len(),
        "positions_per_s_in_window": (in_window as f64 / window_s).round(),
        "events_per_s_in_window": (events_in_window as f64 / window_s).round(),
        "positions_seen_total": positions.len(),
        "events_seen_total": events.len(),
        "events_matched": to_event.len(),
        "events_by_type": types,
        "position_ms": summarize(to_position),
        "frame_to_gateway_ms": summarize(to_gateway),
        "gateway_to_position_ms": summarize(gateway_to_position),
        "event_ms": summarize(to_event),
        "overspeed_ms": summarize(to_overspeed),
        "event_ms_by_type": by_type
            .into_iter()
            .map(|(kind, latencies)| (kind, summarize(latencies)))
            .collect::<BTreeMap<_, _>>(),
        "last_position_after_sending_s": (last_position_us.saturating_sub(sending_done_us)) as f64 / 1e6,
        "drain_s": (drained_us.saturating_sub(sending_done_us)) as f64 / 1e6,
    })
}
