//! Command-line configuration of `decoder-worker run` and `decoder-worker replay`. Every flag
//! is a long flag with its environment twin by the rule of `astra_platform::config`
//! (`--admin-addr` ↔ `ASTRA_ADMIN_ADDR`), and may come from the `--config` file; defaults let a
//! bare `decoder-worker run` work against a local NATS.

use super::ids::subject_token;
use astra_codec::Layout;
use astra_platform::duration::parse_duration;
use astra_platform::grpc_security::GrpcSecurityArgs;
use astra_platform::instance::instance_id;
use astra_platform::nats::NatsArgs;
use astra_platform::telemetry::TelemetryArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings that `run` and `replay` share.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Layout of X modules 9 and 44: `legacy` (deployed firmware) or `current` (since 2025-09).
    #[arg(long, value_enum, default_value_t = Layout::Legacy, env = "ASTRA_LAYOUT", help_heading = "Decoding")]
    pub layout: Layout,
    /// Decoding actors (one OS thread each); 0 = one per CPU core.
    #[arg(
        long,
        env = "ASTRA_DECODER_THREADS",
        default_value_t = 0,
        help_heading = "Decoding"
    )]
    pub decoder_threads: usize,
    /// Name of this replica: its member name in the partition leases of `run` (so unique per
    /// replica) and the `Astra-Decoder-Instance` header of what it publishes.
    /// Default: `<hostname>-<pid>`.
    #[arg(long, env = "ASTRA_INSTANCE_ID", help_heading = "Decoding")]
    pub instance_id: Option<String>,
    #[command(flatten)]
    pub geocode: GeocodeArgs,
}

/// Which reverse geocoder fills in `Position.address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GeocoderKind {
    /// Built in: the nearest populated place (locality, region, country), no network.
    Offline,
    /// A Nominatim-compatible server (`--geocoder-url`): street addresses.
    Nominatim,
    /// A Photon server (`--geocoder-url`): street addresses.
    Photon,
    /// No addresses.
    None,
}

/// Reverse geocoding and its caches (docs/decoder-worker.md, "Addresses and accuracy").
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Geocoding")]
pub struct GeocodeArgs {
    /// Reverse geocoder: `offline` (built in), `nominatim`, `photon` or `none`.
    #[arg(long, value_enum, env = "ASTRA_GEOCODER", default_value_t = GeocoderKind::Offline)]
    pub geocoder: GeocoderKind,
    /// Base URL of the Nominatim or Photon server (`/reverse` is appended), e.g.
    /// `http://nominatim:8080`.
    #[arg(long, env = "ASTRA_GEOCODER_URL")]
    pub geocoder_url: Option<String>,
    /// Longest a position waits for its address; after that it is published without one.
    #[arg(long, env = "ASTRA_GEOCODER_TIMEOUT", default_value = "300ms", value_parser = parse_duration)]
    pub geocoder_timeout: Duration,
    /// Preferred language of names (Nominatim `accept-language`, Photon `lang`), e.g. `en`.
    #[arg(long, env = "ASTRA_GEOCODER_LANGUAGE")]
    pub geocoder_language: Option<String>,
    /// User-Agent of requests to the geocoding server (public servers require one naming your
    /// application and a contact).
    #[arg(long, env = "ASTRA_GEOCODER_USER_AGENT")]
    pub geocoder_user_agent: Option<String>,
    /// Size of the grid cells addresses are cached by, metres: positions in one cell share the
    /// address of its centre.
    #[arg(long, env = "ASTRA_GEOCODE_CELL_M", default_value_t = 50.0, value_parser = parse_cell_m)]
    pub geocode_cell_m: f64,
    /// Grid cells kept in each replica's memory.
    #[arg(long, env = "ASTRA_GEOCODE_CACHE_SIZE", default_value_t = 100_000)]
    pub geocode_cache_size: usize,
    /// How long addresses stay in the shared KV bucket `astra-geocode` (set when the bucket is
    /// created).
    #[arg(long, env = "ASTRA_GEOCODE_KV_TTL", default_value = "30d", value_parser = parse_duration)]
    pub geocode_kv_ttl: Duration,
    /// Do not share addresses between replicas through KV (memory cache only).
    #[arg(long, env = "ASTRA_NO_GEOCODE_KV")]
    pub no_geocode_kv: bool,
}

/// A lease TTL: at least a second (a bucket max age of 0 would mean leases never expire).
fn parse_lease_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl < Duration::from_secs(1) {
        return Err(format!("lease TTL {text:?} is below 1s"));
    }
    Ok(ttl)
}

fn parse_cell_m(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(m) if (1.0..=100_000.0).contains(&m) => Ok(m),
        _ => Err(format!("invalid cell size {text:?}: metres, 1 to 100000")),
    }
}

impl CommonArgs {
    /// Number of decoding actors to start.
    pub fn threads(&self) -> usize {
        if self.decoder_threads > 0 {
            self.decoder_threads
        } else {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }
    }

    /// This replica's name, by the one rule of every service (`--instance-id`, else
    /// `<host>-<pid>`).
    pub fn instance(&self) -> String {
        instance_id(self.instance_id.as_deref(), "decoder")
    }
}

/// `decoder-worker run`: the scale-out decoding service.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Name prefix of the durable consumers on ASTRA_RAW: partition `n` is read through
    /// `<consumer>-<n>` by whichever replica holds its lease.
    #[arg(
        long,
        env = "ASTRA_CONSUMER",
        default_value = "decoder",
        help_heading = "Consumer"
    )]
    pub consumer: String,
    /// Messages requested per pull of a partition; also how many finished frames of a
    /// partition are acknowledged at once without waiting for `--ack-linger`.
    #[arg(
        long,
        env = "ASTRA_BATCH",
        default_value_t = 200,
        help_heading = "Consumer"
    )]
    pub batch: usize,
    /// Frames decoded and published concurrently by this replica (over all its partitions; a
    /// device's frames always go one after another).
    #[arg(
        long,
        env = "ASTRA_IN_FLIGHT",
        default_value_t = 256,
        help_heading = "Consumer"
    )]
    pub in_flight: usize,
    /// Unacknowledged messages a partition's consumer hands out (set each time a replica
    /// takes the partition).
    #[arg(
        long,
        env = "ASTRA_MAX_ACK_PENDING",
        default_value_t = 4096,
        help_heading = "Consumer"
    )]
    pub max_ack_pending: i64,
    /// How long a delivered frame may stay unacknowledged before JetStream delivers it again
    /// (set each time a replica takes the partition; redeliveries of frames still held here
    /// are ignored).
    #[arg(long, env = "ASTRA_ACK_WAIT", default_value = "30s", value_parser = parse_duration, help_heading = "Consumer")]
    pub ack_wait: Duration,
    /// Longest a finished frame waits for its acknowledgement, so that one ack covers the
    /// frames finished meanwhile (acks are cumulative per partition).
    #[arg(long, env = "ASTRA_ACK_LINGER", default_value = "5ms", value_parser = parse_duration, help_heading = "Consumer")]
    pub ack_linger: Duration,
    /// First pause before a frame that failed on a transient NATS error is tried again (in
    /// place: a device's later frames wait for it); doubles per attempt.
    #[arg(long, env = "ASTRA_RETRY_DELAY", default_value = "500ms", value_parser = parse_duration, help_heading = "Consumer")]
    pub retry_delay: Duration,
    /// Longest pause between two attempts of a failing frame.
    #[arg(long, env = "ASTRA_RETRY_DELAY_MAX", default_value = "30s", value_parser = parse_duration, help_heading = "Consumer")]
    pub retry_delay_max: Duration,
    /// How often the consumer lag gauges are refreshed.
    #[arg(long, env = "ASTRA_LAG_INTERVAL", default_value = "5s", value_parser = parse_duration, help_heading = "Consumer")]
    pub lag_interval: Duration,
    /// Lifetime of a partition lease (the max age of KV bucket `astra-decoder-partitions`, set
    /// when the bucket is created): a dead replica's partitions move to the others within it.
    /// Leases are renewed every third of it.
    #[arg(long, env = "ASTRA_LEASE_TTL", default_value = "10s", value_parser = parse_lease_ttl, help_heading = "Partitions and leases")]
    pub lease_ttl: Duration,
    /// Admin HTTP address (/metrics, /healthz, /readyz).
    #[arg(
        long,
        env = "ASTRA_ADMIN_ADDR",
        default_value = "0.0.0.0:9102",
        help_heading = "Admin and gRPC"
    )]
    pub admin_addr: SocketAddr,
    /// gRPC address (astra.v1.Decoder, grpc.health.v1, reflection).
    #[arg(
        long,
        env = "ASTRA_GRPC_ADDR",
        default_value = "0.0.0.0:50053",
        help_heading = "Admin and gRPC"
    )]
    pub grpc_addr: SocketAddr,
    /// Do not serve gRPC.
    #[arg(long, env = "ASTRA_NO_GRPC", help_heading = "Admin and gRPC")]
    pub no_grpc: bool,
    #[command(flatten)]
    pub grpc_tls: GrpcSecurityArgs,
}

/// `decoder-worker replay`: re-decode frames after a decoder fix.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    pub source: ReplaySource,
}

impl ReplayArgs {
    /// Logging and tracing settings, whichever the source.
    pub fn telemetry(&self) -> &TelemetryArgs {
        match &self.source {
            ReplaySource::Dlq(a) => &a.filter.common.telemetry,
            ReplaySource::Raw(a) => &a.filter.common.telemetry,
        }
    }
}

/// Where `replay` reads frames from.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReplaySource {
    /// Re-decode entries of ASTRA_DLQ; those that now decode are published and removed.
    Dlq(DlqReplayArgs),
    /// Re-decode a range of ASTRA_RAW (by stream sequence or received time).
    Raw(RawReplayArgs),
}

/// Filters and options shared by both replay sources.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayFilter {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Only frames of these IMEIs (repeat the flag or separate with commas).
    #[arg(
        long,
        env = "ASTRA_IMEI",
        value_delimiter = ',',
        value_parser = parse_imei,
        help_heading = "Replay"
    )]
    pub imei: Vec<String>,
    /// Only frames the gateway received at or after this time (RFC 3339).
    #[arg(long, env = "ASTRA_SINCE", value_parser = parse_time, help_heading = "Replay")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only frames the gateway received before this time (RFC 3339).
    #[arg(long, env = "ASTRA_UNTIL", value_parser = parse_time, help_heading = "Replay")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Decode and report only: publish nothing, remove nothing.
    #[arg(long, env = "ASTRA_DRY_RUN", help_heading = "Replay")]
    pub dry_run: bool,
    /// Frames decoded and published concurrently.
    #[arg(
        long,
        env = "ASTRA_IN_FLIGHT",
        default_value_t = 64,
        help_heading = "Replay"
    )]
    pub in_flight: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DlqReplayArgs {
    #[command(flatten)]
    pub filter: ReplayFilter,
    /// Keep DLQ entries that now decode (only report them) instead of removing them.
    #[arg(long, env = "ASTRA_KEEP", help_heading = "Replay")]
    pub keep: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RawReplayArgs {
    #[command(flatten)]
    pub filter: ReplayFilter,
    /// First ASTRA_RAW stream sequence to replay.
    #[arg(long, env = "ASTRA_FROM_SEQ", help_heading = "Replay")]
    pub from_seq: Option<u64>,
    /// Last ASTRA_RAW stream sequence to replay (inclusive).
    #[arg(long, env = "ASTRA_TO_SEQ", help_heading = "Replay")]
    pub to_seq: Option<u64>,
    /// Send frames that still fail to ASTRA_DLQ (default: only report them).
    #[arg(long, env = "ASTRA_DLQ", help_heading = "Replay")]
    pub dlq: bool,
}

/// An IMEI usable as a subject token (so a bad one is a usage error, exit code 2).
fn parse_imei(text: &str) -> Result<String, String> {
    subject_token(text)
        .map(str::to_owned)
        .ok_or_else(|| format!("{text:?} is not a valid IMEI"))
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("invalid time {text:?} (RFC 3339, e.g. 2025-01-31T12:00:00Z): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own checks of the whole command line (unique names, valid defaults).
    #[test]
    fn command_lines_are_valid() {
        use clap::{CommandFactory, Parser};
        #[derive(Parser)]
        struct Run {
            #[command(flatten)]
            args: RunArgs,
        }
        #[derive(Parser)]
        struct Replay {
            #[command(flatten)]
            args: ReplayArgs,
        }
        Run::command().debug_assert();
        Replay::command().debug_assert();
        let run = Run::try_parse_from(["run"]).unwrap().args.common.geocode;
        assert_eq!(run.geocoder, GeocoderKind::Offline);
        assert_eq!(run.geocoder_timeout, Duration::from_millis(300));
        assert!((run.geocode_cell_m - 50.0).abs() < f64::EPSILON);
        assert_eq!(run.geocode_kv_ttl, Duration::from_secs(30 * 86400));
        let run = Run::try_parse_from([
            "run",
            "--geocoder",
            "nominatim",
            "--geocoder-url",
            "http://nominatim:8080",
            "--geocode-cell-m",
            "25",
        ])
        .unwrap()
        .args
        .common
        .geocode;
        assert_eq!(run.geocoder, GeocoderKind::Nominatim);
        assert_eq!(run.geocoder_url.as_deref(), Some("http://nominatim:8080"));
        assert!(Run::try_parse_from(["run", "--geocode-cell-m", "0"]).is_err());

        let run = Run::try_parse_from(["run"]).unwrap().args;
        assert_eq!(run.lease_ttl, Duration::from_secs(10));
        assert_eq!(run.ack_linger, Duration::from_millis(5));
        assert_eq!(run.consumer, "decoder");
        let run = Run::try_parse_from(["run", "--lease-ttl", "3s", "--ack-linger", "0"])
            .unwrap()
            .args;
        assert_eq!(run.lease_ttl, Duration::from_secs(3));
        assert_eq!(run.ack_linger, Duration::ZERO);
        assert!(Run::try_parse_from(["run", "--lease-ttl", "500ms"]).is_err());
    }
}
