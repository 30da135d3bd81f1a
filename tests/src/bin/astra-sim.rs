//! `astra-sim`: simulated Astra trackers against a running gateway (library: `astra_tests::sim`).
//!
//! ```sh
//! astra-sim run --devices 50 --protocols k,x6,z6 --transport mixed --interval 10s --speedup 6
//! astra-sim run --route route.json --devices 5 --speedup 20        # route playback, looped
//! astra-sim demo --setup --nats nats://127.0.0.1:4222 --speedup 10  # the demo fleet of run.sh
//! astra-sim setup-demo --nats nats://127.0.0.1:4222                 # only its devices/geofences
//! ```
//!
//! Devices behave like real ones (one packet in flight, re-send after the ack timeout, buffer
//! while disconnected, reconnect with backoff). Counters go to stderr every `--stats-every` and
//! at the end; Ctrl-C or SIGTERM stops every device and closes its connection.
//!
//! A route file is JSON: either waypoints `[[lat, lon, speed_kmh], …]` (driven in order and back
//! to the first), or `{"start": [lat, lon], "parked": false, "loop": true, "segments": [...]}`
//! with segments `{"drive": [lat, lon], "speed_kmh": 40}`, `{"tow": [lat, lon], "speed_kmh":
//! 20}`, `{"stay_s": 120, "ignition": false}`, `{"reasons": 16}` (reason bits on the next
//! report; 16 = panic) and `{"offline_s": 300}` (network loss, device seconds).

use astra_platform::duration::parse_duration;
use astra_platform::shutdown;
use astra_tests::device::imei;
use astra_tests::sim::{
    self, Behaviour, Counters, Point, RandomWalk, Route, Segment, SimConfig, SimDevice,
    SimProtocol, Stop, Transport, demo,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "astra-sim", about = "Simulated Astra GPS trackers", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run N devices: a mix of protocols and transports, random walks or a route file.
    Run(RunArgs),
    /// Run the demo fleet (every kind of event within a minute or two at --speedup 10).
    Demo(DemoArgs),
    /// Write the demo's devices and geofences to KV and exit.
    SetupDemo(NatsArgs),
}

#[derive(Args, Clone)]
struct NatsArgs {
    /// NATS server URL(s), comma separated.
    #[arg(long, env = "ASTRA_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Replicas of the KV buckets if they have to be created (3 on a 3-node cluster).
    #[arg(long, env = "ASTRA_STREAM_REPLICAS", default_value_t = 1)]
    stream_replicas: usize,
}

#[derive(Args)]
struct Common {
    /// Gateway address(es) devices connect to (repeat, or comma separated); devices are spread
    /// over them and fail over to the next.
    #[arg(
        long = "gateway",
        env = "ASTRA_SIM_GATEWAY",
        value_delimiter = ',',
        default_value = "127.0.0.1:5103"
    )]
    gateways: Vec<String>,
    /// Device time runs this many times faster than the wall clock.
    #[arg(long, env = "ASTRA_SIM_SPEEDUP")]
    speedup: Option<f64>,
    /// Time between reports, device time (`15s`, `1m`, `500ms`, `1m30s`, or seconds).
    #[arg(long, env = "ASTRA_SIM_INTERVAL", value_parser = parse_duration)]
    interval: Option<Duration>,
    /// Wall time to wait for the 0x06 before re-sending a packet.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ack_timeout: Duration,
    /// Re-sends of one packet before dropping the connection (TCP).
    #[arg(long, default_value_t = 3)]
    max_resends: u32,
    /// Reports a device buffers while disconnected (oldest dropped beyond).
    #[arg(long, default_value_t = 1000)]
    buffer: usize,
    /// Most reports per packet when sending a backlog.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// First reconnect delay (doubles up to --backoff-max).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    backoff_min: Duration,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    backoff_max: Duration,
    /// Stop after this long (wall time); default: until Ctrl-C / SIGTERM.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Print counters to stderr this often (0 = only at the end).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    stats_every: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TransportMix {
    Tcp,
    Udp,
    /// Every fourth device on UDP (those whose protocol needs no login).
    Mixed,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Number of devices.
    #[arg(long, default_value_t = 10)]
    devices: u32,
    /// IMEIs are numbered from here (Luhn-valid, 35732204nnnnnnC).
    #[arg(long, default_value_t = 0)]
    first_device: u32,
    /// Protocol variants, assigned in turn: k, m, v, c, x4, x6, z4, z6 (x = x6, z = z6).
    #[arg(long, value_delimiter = ',', default_value = "k,m,v,c,x4,x6,z4,z6")]
    protocols: Vec<SimProtocol>,
    #[arg(long, value_enum, default_value_t = TransportMix::Tcp)]
    transport: TransportMix,
    /// `random` (random walks), or a JSON route file played in a loop (devices spread along it).
    #[arg(long, default_value = "random")]
    route: String,
    /// Centre of the random walks, `lat,lon`.
    #[arg(long, default_value = "51.5074,-0.1278", value_parser = point)]
    center: Point,
    #[arg(long, default_value_t = 3000.0)]
    radius_m: f64,
    #[arg(long, default_value_t = 20.0)]
    min_speed_kmh: f64,
    #[arg(long, default_value_t = 70.0)]
    max_speed_kmh: f64,
    /// Seed of the random walks (with the IMEI).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    common: Common,
    /// Write the demo's devices and geofences to KV first (see `setup-demo`).
    #[arg(long)]
    setup: bool,
    #[command(flatten)]
    nats: NatsArgs,
}

fn point(s: &str) -> Result<Point, String> {
    let (lat, lon) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?} is not lat,lon"))?;
    let lat: f64 = lat.trim().parse().map_err(|e| format!("latitude: {e}"))?;
    let lon: f64 = lon.trim().parse().map_err(|e| format!("longitude: {e}"))?;
    if lat.abs() > 85.0 || lon.abs() > 180.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Point::new(lat, lon))
}

fn resolve(gateways: &[String]) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for g in gateways.iter().filter(|g| !g.trim().is_empty()) {
        let addr = g
            .trim()
            .to_socket_addrs()
            .map_err(|e| format!("gateway {g:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("gateway {g:?}: no address"))?;
        out.push(addr);
    }
    if out.is_empty() {
        return Err("no gateway address".into());
    }
    Ok(out)
}

fn json_point(v: &Value, what: &str) -> Result<Point, String> {
    let pair = v
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or_else(|| format!("{what}: expected [lat, lon]"))?;
    let num = |i: usize| {
        pair.get(i)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{what}: expected numbers"))
    };
    point(&format!("{},{}", num(0)?, num(1)?))
}

fn json_f64(v: &Value, key: &str, what: &str) -> Result<f64, String> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("{what}: missing number {key:?}"))
}

/// Reads a route file (see the module documentation for the format).
fn load_route(path: &str) -> Result<Route, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("route {path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("route {path}: {e}"))?;
    if let Some(points) = v.as_array() {
        let mut wps = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let what = format!("waypoint {i}");
            let at = json_point(p, &what)?;
            let speed = p
                .get(2)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("{what}: expected [lat, lon, speed_kmh]"))?;
            wps.push((at.lat, at.lon, speed));
        }
        if wps.len() < 2 {
            return Err(format!("route {path}: needs at least two waypoints"));
        }
        return Ok(Route::waypoints(&wps));
    }
    let start = json_point(v.get("start").unwrap_or(&Value::Null), "start")?;
    let list = v
        .get("segments")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("route {path}: missing \"segments\""))?;
    let mut segments = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let what = format!("segment {i}");
        let segment = if let Some(to) = s.get("drive").or_else(|| s.get("tow")) {
            let to = json_point(to, &what)?;
            Segment::Drive {
                to,
                speed_kmh: json_f64(s, "speed_kmh", &what)?,
                ignition: s.get("drive").is_some(),
            }
        } else if s.get("stay_s").is_some() {
            let ignition = s.get("ignition").and_then(Value::as_bool).unwrap_or(false);
            Segment::stay(json_f64(s, "stay_s", &what)?, ignition)
        } else if let Some(r) = s.get("reasons") {
            let bits = r
                .as_u64()
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| format!("{what}: reasons must be a u32"))?;
            Segment::flag(bits)
        } else if s.get("offline_s").is_some() {
            Segment::offline(json_f64(s, "offline_s", &what)?)
        } else {
            return Err(format!(
                "{what}: expected drive, tow, stay_s, reasons or offline_s"
            ));
        };
        segments.push(segment);
    }
    let mut route = Route::new(start, segments);
    route.looped = v.get("loop").and_then(Value::as_bool).unwrap_or(true);
    route.ignition = !v.get("parked").and_then(Value::as_bool).unwrap_or(false);
    Ok(route)
}

fn apply_common(c: SimConfig, common: &Common, speedup: f64, interval: Duration) -> SimConfig {
    let mut c = c
        .speedup(speedup)
        .report_interval(interval)
        .ack_timeout(common.ack_timeout)
        .max_resends(common.max_resends)
        .buffer_capacity(common.buffer)
        .batch(common.batch)
        .backoff(common.backoff_min, common.backoff_max);
    c.duration = common.duration;
    c
}

fn run_configs(args: &RunArgs) -> Result<Vec<SimConfig>, String> {
    let gateways = resolve(&args.common.gateways)?;
    let speedup = args.common.speedup.unwrap_or(1.0);
    let interval = args.common.interval.unwrap_or(Duration::from_secs(30));
    if args.protocols.is_empty() {
        return Err("--protocols is empty".into());
    }
    let route = if args.route == "random" {
        None
    } else {
        Some(load_route(&args.route)?)
    };
    let mut out = Vec::new();
    for i in 0..args.devices {
        let n = args
            .first_device
            .checked_add(i)
            .ok_or("device number overflow")?;
        let protocol = *args
            .protocols
            .get(i as usize % args.protocols.len())
            .ok_or("--protocols is empty")?;
        let transport = match args.transport {
            TransportMix::Tcp => Transport::Tcp,
            TransportMix::Udp if protocol.logs_in() => Transport::Tcp,
            TransportMix::Udp => Transport::Udp,
            TransportMix::Mixed if i % 4 == 3 && !protocol.logs_in() => Transport::Udp,
            TransportMix::Mixed => Transport::Tcp,
        };
        let behaviour = match &route {
            Some(r) => Behaviour::Route(r.clone()),
            None => Behaviour::RandomWalk(RandomWalk {
                center: args.center,
                radius_m: args.radius_m,
                min_speed_kmh: args.min_speed_kmh,
                max_speed_kmh: args.max_speed_kmh,
                stop_chance: 0.25,
                seed: args.seed,
            }),
        };
        let mut gws = gateways.clone();
        gws.rotate_left(i as usize % gateways.len());
        let first = *gws.first().ok_or("no gateway address")?;
        let mut c = SimConfig::new(imei(n), protocol, first)
            .gateways(gws)
            .transport(transport)
            .behaviour(behaviour);
        // Devices on one route start spread along it.
        if let Some(r) = &route {
            c.phase_s = r.duration_s() * f64::from(i) / f64::from(args.devices.max(1));
        }
        out.push(apply_common(c, &args.common, speedup, interval));
    }
    Ok(out)
}

fn demo_configs(args: &DemoArgs) -> Result<Vec<SimConfig>, String> {
    let gateways = resolve(&args.common.gateways)?;
    let speedup = args.common.speedup.unwrap_or(10.0);
    let interval = args.common.interval.unwrap_or(Duration::from_secs(15));
    Ok(demo::fleet(&gateways, speedup, interval)
        .into_iter()
        .map(|c| {
            let mut c = c;
            c.max_resends = args.common.max_resends;
            c.buffer_capacity = args.common.buffer;
            c.batch = args.common.batch;
            c.backoff_min = args.common.backoff_min;
            c.backoff_max = args.common.backoff_max;
            c.duration = args.common.duration;
            c
        })
        .collect())
}

/// Runs the devices until a signal, their duration, or all of them ending; prints counters.
fn simulate(
    rt: &tokio::runtime::Runtime,
    configs: Vec<SimConfig>,
    stats_every: Duration,
) -> ExitCode {
    let mut devices = Vec::new();
    // One line per device for small fleets; a summary for large ones.
    let verbose = configs.len() <= 20;
    if !verbose {
        eprintln!("astra-sim: {} devices", configs.len());
    }
    for c in configs {
        if verbose {
            eprintln!(
                "astra-sim: {:<20} imei {} {:>2}/{} -> {}",
                c.name,
                c.imei,
                c.protocol,
                c.transport,
                c.gateways
                    .first()
                    .map_or_else(|| "-".to_owned(), ToString::to_string)
            );
        }
        match SimDevice::new(c) {
            Ok(d) => devices.push(d),
            Err(e) => {
                eprintln!("astra-sim: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let stop = Stop::new();
    let running = sim::spawn(devices, &stop);
    let started = Instant::now();
    rt.block_on(async {
        let mut signal = Box::pin(shutdown::signal());
        let mut last_stats = Instant::now();
        loop {
            tokio::select! {
                _ = &mut signal => {
                    eprintln!("astra-sim: stopping");
                    break;
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            if running.is_finished() {
                break;
            }
            if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
                last_stats = Instant::now();
                eprintln!(
                    "astra-sim: {:>5.0}s {}",
                    started.elapsed().as_secs_f64(),
                    running.totals()
                );
            }
        }
    });
    stop.stop();
    let handles = running.join();
    let mut total = Counters::default();
    for h in &handles {
        let c = h.stats.counters();
        total += c;
        if !verbose {
            continue;
        }
        let error = h
            .stats
            .last_error()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        eprintln!(
            "astra-sim: {:<20} sent {} acked {} resent {} buffered {} dropped {}{error}",
            h.name,
            c.frames_sent,
            c.frames_acked,
            c.frames_resent,
            c.reports_buffered,
            c.reports_dropped
        );
    }
    eprintln!(
        "astra-sim: total after {:.0}s: {total}",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("astra-sim: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::SetupDemo(nats) => {
            let fleet = demo::fleet(
                &[SocketAddr::from(([127, 0, 0, 1], 5103))],
                1.0,
                Duration::from_secs(15),
            );
            match rt.block_on(demo::setup(&nats.nats, nats.stream_replicas, &fleet)) {
                Ok(summary) => {
                    eprintln!("astra-sim: {summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("astra-sim: setup-demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo(args) => {
            let configs = match demo_configs(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("astra-sim: {e}");
                    return ExitCode::from(2);
                }
            };
            if args.setup {
                match rt.block_on(demo::setup(
                    &args.nats.nats,
                    args.nats.stream_replicas,
                    &configs,
                )) {
                    Ok(summary) => eprintln!("astra-sim: {summary}"),
                    Err(e) => {
                        eprintln!("astra-sim: setup: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            simulate(&rt, configs, args.common.stats_every)
        }
        Command::Run(args) => match run_configs(&args) {
            Ok(configs) => simulate(&rt, configs, args.common.stats_every),
            Err(e) => {
                eprintln!("astra-sim: {e}");
                ExitCode::from(2)
            }
        },
    }
}
