//! Command-line flags (each also an environment variable) of the event-worker.

use crate::rules::Settings;
use astra_platform::grpc_security::GrpcSecurityArgs;
use astra_platform::nats::NatsArgs;
use astra_platform::telemetry::TelemetryArgs;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, clap::Parser)]
#[command(
    name = "event-worker",
    version,
    about = "Astra event worker: partitions with leases, one actor per device, fleet alerts"
)]
pub struct Config {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Admin HTTP address (/metrics, /healthz, /readyz).
    #[arg(long, env = "ASTRA_EVENT_WORKER_ADMIN", default_value = "0.0.0.0:9104")]
    pub admin_addr: SocketAddr,
    /// gRPC address of the `astra.v1.Fleet` service.
    #[arg(
        long = "grpc",
        env = "ASTRA_EVENT_WORKER_GRPC",
        default_value = "0.0.0.0:50104"
    )]
    pub grpc_addr: SocketAddr,
    #[command(flatten)]
    pub grpc_tls: GrpcSecurityArgs,
    /// Number of partitions devices are spread over: fixed once per cluster.
    #[arg(long, env = "ASTRA_PARTITIONS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: u32,
    /// This worker's name in the leases (default: `<host name>-<process id>`).
    #[arg(long, env = "ASTRA_WORKER_ID")]
    pub worker_id: Option<String>,
    /// A dead worker's partitions are taken over after this long (e.g. `10s`).
    #[arg(long, env = "ASTRA_LEASE_TTL", default_value = "10s", value_parser = parse_duration)]
    pub lease_ttl: Duration,
    /// How often device timers (offline, stopped, long idle) are checked.
    #[arg(long, env = "ASTRA_TICK", default_value = "1s", value_parser = parse_duration)]
    pub tick: Duration,
    /// Work messages pulled per batch and partition.
    #[arg(long, env = "ASTRA_EVENT_BATCH", default_value_t = 256)]
    pub batch: usize,
    /// Redelivery time of unacknowledged work.
    #[arg(long, env = "ASTRA_EVENT_ACK_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub ack_wait: Duration,
    /// Longest a graceful shutdown (hand partitions back) may take.
    #[arg(long, env = "ASTRA_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    #[command(flatten)]
    pub rules: Settings,
}

/// `250ms`, `10s`, `5m` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (use e.g. 250ms, 10s, 5m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
