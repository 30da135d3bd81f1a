//! `astra-watch`: follow what the cluster publishes — positions (`astra.position.<imei>`),
//! events (`astra.event.<imei>.<type>`) or session events (`astra.session.<imei>`) — decode the
//! protobuf and print one canonical proto3 JSON object per line, or a readable table.
//!
//! ```sh
//! astra-watch positions                              # every device, JSON lines
//! astra-watch events --format table                  # every event as it happens
//! astra-watch events --type overspeed --type alarm   # only some event types
//! astra-watch sessions --imei 357322040090012        # one device (repeat --imei for more)
//! astra-watch positions --from-start --count 100     # replay ASTRA_POSITIONS from its start
//! ```
//!
//! Live messages come from plain subscriptions; `--from-start` replays the stream
//! (`ASTRA_POSITIONS`, `ASTRA_EVENTS`, `ASTRA_SESSIONS`) through a JetStream ordered consumer and
//! then keeps following it. The replay filters on the stored subjects: `ASTRA_POSITIONS` and
//! `ASTRA_SESSIONS` store `astra.position.<imei>` as `astra.position.<partition>.<imei>` (and
//! sessions likewise), so a device's replay filter is `astra.position.*.<imei>`.

use astra_proto::v1::{DeviceConfig, Event, EventType, Position, SessionEvent, Transport};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use futures::stream::BoxStream;
use prost::Message;
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Subject and payload of a message, whichever way it came.
type Payload = (String, Vec<u8>);

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    /// Decoded positions (astra.v1.Position), stream ASTRA_POSITIONS.
    Positions,
    /// Alerts (astra.v1.Event), stream ASTRA_EVENTS.
    Events,
    /// Device sessions from the gateways (astra.v1.SessionEvent), stream ASTRA_SESSIONS.
    Sessions,
}

impl What {
    fn stream(self) -> &'static str {
        match self {
            Self::Positions => "ASTRA_POSITIONS",
            Self::Events => "ASTRA_EVENTS",
            Self::Sessions => "ASTRA_SESSIONS",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One canonical proto3 JSON object per line.
    Json,
    /// Aligned columns for people.
    Table,
}

#[derive(Parser)]
#[command(
    name = "astra-watch",
    version,
    about = "Print the positions, events or sessions the Astra cluster publishes"
)]
struct Cli {
    what: What,
    /// Only these devices (repeat, or comma separated).
    #[arg(long, value_delimiter = ',')]
    imei: Vec<String>,
    /// Events only: only these types (e.g. overspeed, geofence_enter, ALARM; repeatable).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// NATS server URL(s), comma separated.
    #[arg(long, env = "ASTRA_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Replay the stream from its first message (JetStream ordered consumer), then follow it.
    #[arg(long)]
    from_start: bool,
    /// Exit after this many messages.
    #[arg(long)]
    count: Option<u64>,
}

/// A subject token from user input: no wildcards, dots or spaces.
fn token(s: &str, what: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!("{what} {s:?} is not a plain subject token"));
    }
    Ok(t.to_owned())
}

/// `overspeed`, `OVERSPEED`, `EVENT_TYPE_OVERSPEED` → `overspeed` (the subject's last token).
fn event_token(s: &str) -> Result<String, String> {
    let upper = s.trim().to_ascii_uppercase();
    let name = if upper.starts_with("EVENT_TYPE_") {
        upper
    } else {
        format!("EVENT_TYPE_{upper}")
    };
    EventType::from_str_name(&name)
        .filter(|t| *t != EventType::Unspecified)
        .map(|_| name.trim_start_matches("EVENT_TYPE_").to_ascii_lowercase())
        .ok_or_else(|| format!("unknown event type {s:?}"))
}

fn subjects(cli: &Cli) -> Result<Vec<String>, String> {
    let imeis: Vec<String> = cli
        .imei
        .iter()
        .map(|i| token(i, "IMEI"))
        .collect::<Result<_, _>>()?;
    let types: Vec<String> = cli
        .types
        .iter()
        .map(|t| event_token(t))
        .collect::<Result<_, _>>()?;
    if !types.is_empty() && cli.what != What::Events {
        return Err("--type applies to events only".into());
    }
    let devices: Vec<&str> = if imeis.is_empty() {
        vec!["*"]
    } else {
        imeis.iter().map(String::as_str).collect()
    };
    let mut out = Vec::new();
    for d in devices {
        match cli.what {
            What::Positions => out.push(format!("astra.position.{d}")),
            What::Sessions => out.push(format!("astra.session.{d}")),
            What::Events if types.is_empty() => out.push(format!("astra.event.{d}.*")),
            What::Events => out.extend(types.iter().map(|t| format!("astra.event.{d}.{t}"))),
        }
    }
    Ok(out)
}

/// RFC 3339 to the millisecond at most (the table's columns stay aligned).
fn ts(t: Option<astra_proto::Timestamp>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| {
            let millis = astra_proto::Timestamp {
                seconds: t.seconds,
                nanos: t.nanos - t.nanos % 1_000_000,
            };
            millis.to_string()
        },
    )
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn header(what: What) -> String {
    match what {
        What::Positions => format!(
            "{:<20} {:<15} {:<18} {:<2} {:>3} {:>10} {:>11} {:>5} {:>4} {:<3} {:<3} {:<28} {}",
            "DEVICE TIME",
            "IMEI",
            "NAME",
            "P",
            "SEQ",
            "LAT",
            "LON",
            "KM/H",
            "CRS",
            "IGN",
            "STO",
            "REASONS",
            "ADDRESS"
        ),
        What::Events => format!(
            "{:<24} {:<15} {:<18} {:<16} {}",
            "OCCURRED", "IMEI", "NAME", "TYPE", "DETAILS"
        ),
        What::Sessions => format!(
            "{:<24} {:<15} {:<18} {:<10} {:<4} {:<22} {:<16} {}",
            "TIME", "IMEI", "NAME", "KIND", "TR", "REMOTE", "GATEWAY", "REASON"
        ),
    }
}

fn reason_names(p: &Position) -> String {
    let names: Vec<String> = p
        .reasons()
        .filter(|r| *r != astra_proto::v1::Reason::Unspecified)
        .map(|r| {
            r.as_str_name()
                .trim_start_matches("REASON_")
                .to_ascii_lowercase()
        })
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

fn position_row(p: &Position, name: &str) -> String {
    let yes = |b: bool| if b { "on" } else { "off" };
    format!(
        "{:<20} {:<15} {:<18} {:<2} {:>3} {:>10} {:>11} {:>5} {:>4} {:<3} {:<3} {:<28} {}",
        ts(p.device_time.or(p.fix_time)),
        p.imei,
        name,
        p.protocol,
        p.sequence,
        opt(p.latitude.map(|v| format!("{v:.5}"))),
        opt(p.longitude.map(|v| format!("{v:.5}"))),
        opt(p.speed_kmh.map(|v| format!("{v:.0}"))),
        opt(p.course_deg.map(|v| format!("{v:.0}"))),
        yes(p.ignition),
        if p.stored { "yes" } else { "" },
        reason_names(p),
        p.address
            .as_ref()
            .map(|a| a.formatted.clone())
            .unwrap_or_default(),
    )
}

fn event_row(e: &Event, name: &str) -> String {
    let kind = e.r#type().as_str_name().trim_start_matches("EVENT_TYPE_");
    let mut details = Vec::new();
    if !e.alarm.is_empty() {
        details.push(format!("alarm={}", e.alarm));
    }
    if !e.geofence_id.is_empty() {
        details.push(format!("geofence={} ({})", e.geofence_id, e.geofence_name));
    }
    if let Some(i) = e.device_geofence_index {
        details.push(format!("device geofence #{i}"));
    }
    if let Some(s) = e.speed_kmh {
        details.push(format!("speed={s:.0} km/h"));
    }
    if let Some(l) = e.speed_limit_kmh {
        details.push(format!("limit={l:.0} km/h"));
    }
    if let Some(d) = e.duration_s {
        details.push(format!("duration={d}s"));
    }
    if !e.reason.is_empty() {
        details.push(format!("by/reason={}", e.reason));
    }
    if let Some(p) = &e.position
        && let (Some(lat), Some(lon)) = (p.latitude, p.longitude)
    {
        details.push(format!("at {lat:.5},{lon:.5}"));
    }
    format!(
        "{:<24} {:<15} {:<18} {:<16} {}",
        ts(e.occurred_at),
        e.imei,
        name,
        kind,
        details.join("  ")
    )
}

fn session_row(s: &SessionEvent, name: &str) -> String {
    let kind = s
        .kind()
        .as_str_name()
        .trim_start_matches("SESSION_EVENT_KIND_")
        .to_owned();
    let transport = match s.transport() {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        _ => "-",
    };
    format!(
        "{:<24} {:<15} {:<18} {:<10} {:<4} {:<22} {:<16} {}",
        ts(s.time),
        if s.imei.is_empty() { "-" } else { &s.imei },
        name,
        kind,
        transport,
        s.remote_addr,
        s.gateway_id,
        s.reason
    )
}

/// A decoded message.
enum Msg {
    Position(Box<Position>),
    Event(Box<Event>),
    Session(Box<SessionEvent>),
}

impl Msg {
    fn decode(what: What, payload: &[u8]) -> Result<Self, String> {
        let bad = |e: prost::DecodeError| format!("undecodable message: {e}");
        Ok(match what {
            What::Positions => Self::Position(Box::new(Position::decode(payload).map_err(bad)?)),
            What::Events => Self::Event(Box::new(Event::decode(payload).map_err(bad)?)),
            What::Sessions => Self::Session(Box::new(SessionEvent::decode(payload).map_err(bad)?)),
        })
    }

    fn imei(&self) -> &str {
        match self {
            Self::Position(p) => &p.imei,
            Self::Event(e) => &e.imei,
            Self::Session(s) => &s.imei,
        }
    }

    fn json(&self) -> Result<String, String> {
        match self {
            Self::Position(p) => serde_json::to_string(p),
            Self::Event(e) => serde_json::to_string(e),
            Self::Session(s) => serde_json::to_string(s),
        }
        .map_err(|e| e.to_string())
    }

    fn row(&self, name: &str) -> String {
        match self {
            Self::Position(p) => position_row(p, name),
            Self::Event(e) => event_row(e, name),
            Self::Session(s) => session_row(s, name),
        }
    }
}

/// Device names from KV `astra-devices` (`DeviceConfig.name`) for the table, cached; an
/// unknown device is asked again after a while (it may be registered later).
struct Names {
    kv: Option<async_nats::jetstream::kv::Store>,
    cache: HashMap<String, (String, Instant)>,
}

impl Names {
    async fn new(client: &async_nats::Client) -> Self {
        let js = async_nats::jetstream::new(client.clone());
        let kv = tokio::time::timeout(Duration::from_secs(2), js.get_key_value("astra-devices"))
            .await
            .ok()
            .and_then(Result::ok);
        Self {
            kv,
            cache: HashMap::new(),
        }
    }

    async fn name(&mut self, imei: &str) -> String {
        if imei.is_empty() {
            return String::new();
        }
        if let Some((name, at)) = self.cache.get(imei)
            && (!name.is_empty() || at.elapsed() < Duration::from_secs(30))
        {
            return name.clone();
        }
        let mut name = String::new();
        if let Some(kv) = &self.kv
            && let Ok(Ok(Some(bytes))) =
                tokio::time::timeout(Duration::from_secs(1), kv.get(imei)).await
            && let Ok(config) = DeviceConfig::decode(bytes)
        {
            name = config.name;
        }
        self.cache
            .insert(imei.to_owned(), (name.clone(), Instant::now()));
        name
    }
}

async fn connect(cli: &Cli) -> Result<async_nats::Client, String> {
    let urls: Vec<async_nats::ServerAddr> = cli
        .nats
        .split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("NATS URL {:?}: {e}", cli.nats))?;
    let client = async_nats::ConnectOptions::new()
        .name("astra-watch")
        .connection_timeout(Duration::from_secs(5))
        .connect(urls)
        .await
        .map_err(|e| format!("connect to {}: {e}", cli.nats))?;
    Ok(client)
}

async fn messages(
    cli: &Cli,
    client: async_nats::Client,
    subjects: Vec<String>,
) -> Result<BoxStream<'static, Result<Payload, String>>, String> {
    if !cli.from_start {
        let mut subs = Vec::new();
        for s in subjects {
            let sub = client
                .subscribe(s.clone())
                .await
                .map_err(|e| format!("subscribe {s}: {e}"))?;
            subs.push(sub.map(|m| Ok((m.subject.to_string(), m.payload.to_vec()))));
        }
        return Ok(futures::stream::select_all(subs).boxed());
    }
    let js = async_nats::jetstream::new(client);
    let name = cli.what.stream();
    let subjects = subjects.iter().map(|s| stored_subject(s)).collect();
    let stream = js
        .get_stream(name)
        .await
        .map_err(|e| format!("stream {name}: {e}"))?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subjects: subjects,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("ordered consumer on {name}: {e}"))?;
    let ordered = consumer
        .messages()
        .await
        .map_err(|e| format!("ordered consumer on {name}: {e}"))?;
    Ok(ordered
        .map(|m| match m {
            Ok(m) => Ok((m.subject.to_string(), m.payload.to_vec())),
            Err(e) => Err(e.to_string()),
        })
        .boxed())
}

/// The stored form of a public subject: positions and session events are stored with their
/// partition after the kind (the streams' subject transforms); events as published.
fn stored_subject(subject: &str) -> String {
    for kind in ["astra.position.", "astra.session."] {
        if let Some(device) = subject.strip_prefix(kind) {
            return format!("{kind}*.{device}");
        }
    }
    subject.to_owned()
}

async fn watch(cli: Cli) -> Result<(), String> {
    let subjects = subjects(&cli)?;
    let client = connect(&cli).await?;
    let mut names = match cli.format {
        Format::Table => Some(Names::new(&client).await),
        Format::Json => None,
    };
    let mut input = messages(&cli, client, subjects).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let closed = |e: std::io::Error| format!("stdout: {e}");
    if cli.format == Format::Table {
        writeln!(out, "{}", header(cli.what)).map_err(closed)?;
        out.flush().map_err(closed)?;
    }
    let mut seen = 0u64;
    while cli.count.is_none_or(|n| seen < n) {
        let Some(next) = input.next().await else {
            return Err("subscription ended (NATS connection closed)".into());
        };
        let (subject, payload) = match next {
            Ok(m) => m,
            Err(e) => {
                eprintln!("astra-watch: {e}");
                continue;
            }
        };
        let line = match Msg::decode(cli.what, &payload) {
            Ok(msg) => match names.as_mut() {
                Some(names) => Ok(msg.row(&names.name(msg.imei()).await)),
                None => msg.json(),
            },
            Err(e) => Err(e),
        };
        match line {
            Ok(line) => {
                writeln!(out, "{line}").map_err(closed)?;
                out.flush().map_err(closed)?;
                seen += 1;
            }
            Err(e) => eprintln!("astra-watch: {subject}: {e}"),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("astra-watch: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(watch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (e.g. `| head`): not an error worth a message.
        Err(e) if e.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("astra-watch: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stored_subject;

    #[test]
    fn replays_filter_on_the_stored_subjects() {
        assert_eq!(stored_subject("astra.position.*"), "astra.position.*.*");
        assert_eq!(stored_subject("astra.position.1"), "astra.position.*.1");
        assert_eq!(stored_subject("astra.session.1"), "astra.session.*.1");
        assert_eq!(stored_subject("astra.event.1.*"), "astra.event.1.*");
    }
}
