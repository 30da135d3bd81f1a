//! Configuration: the command line (every flag also an environment variable) and the plain
//! structs the rest of the gateway reads. Durations accept `500ms`, `1s`, `30m`, `2h` or a bare
//! number of seconds.

use astra_codec::frame::DEFAULT_MAX_FRAME;
use astra_platform::grpc_security::GrpcSecurityArgs;
use astra_platform::nats::NatsArgs;
use astra_platform::telemetry::TelemetryArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Command line of the `gateway` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gateway", version, about = "Astra Telematics device gateway")]
pub struct Cli {
    /// Device listener address(es), comma separated; each gets a TCP and a UDP socket. Bind a
    /// specific address (not 0.0.0.0) on multi-homed hosts so UDP acks leave from the address
    /// the device sent to.
    #[arg(
        long = "listen",
        env = "ASTRA_GATEWAY_LISTEN",
        default_value = "0.0.0.0:5103",
        value_delimiter = ','
    )]
    pub listen: Vec<SocketAddr>,
    /// Disable the UDP listener(s).
    #[arg(long = "no-udp", env = "ASTRA_GATEWAY_NO_UDP")]
    pub no_udp: bool,
    /// Admin HTTP address: /metrics, /healthz, /readyz.
    #[arg(
        long = "admin",
        env = "ASTRA_GATEWAY_ADMIN",
        default_value = "0.0.0.0:9103"
    )]
    pub admin: SocketAddr,
    /// gRPC address of the `astra.v1.Commands` service (plus health and reflection).
    #[arg(
        long = "grpc",
        env = "ASTRA_GATEWAY_GRPC",
        default_value = "0.0.0.0:50103"
    )]
    pub grpc: SocketAddr,
    #[command(flatten)]
    pub grpc_tls: GrpcSecurityArgs,
    /// Identity of this gateway in RawFrame / SessionEvent (default: $HOSTNAME or gateway-<pid>).
    #[arg(long = "gateway-id", env = "ASTRA_GATEWAY_ID")]
    pub gateway_id: Option<String>,

    /// Largest accepted frame (binary length field or ASCII line), bytes.
    #[arg(long = "max-frame", env = "ASTRA_GATEWAY_MAX_FRAME", default_value_t = DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
    /// Close a TCP connection that has neither logged in nor sent an IMEI-carrying frame by then.
    #[arg(long = "login-deadline", env = "ASTRA_GATEWAY_LOGIN_DEADLINE", default_value = "60s", value_parser = parse_duration)]
    pub login_deadline: Duration,
    /// Close a TCP connection that sends nothing for this long.
    #[arg(long = "idle-timeout", env = "ASTRA_GATEWAY_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// TCP keep-alive: idle time before the first probe (0 = keep-alive off).
    #[arg(long = "tcp-keepalive", env = "ASTRA_GATEWAY_TCP_KEEPALIVE", default_value = "120s", value_parser = parse_duration)]
    pub tcp_keepalive: Duration,
    /// TCP keep-alive: interval between probes.
    #[arg(long = "tcp-keepalive-interval", env = "ASTRA_GATEWAY_TCP_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub tcp_keepalive_interval: Duration,
    /// Most simultaneous TCP connections from one source IP (0 = unlimited).
    #[arg(
        long = "max-connections-per-ip",
        env = "ASTRA_GATEWAY_MAX_CONNECTIONS_PER_IP",
        default_value_t = 100
    )]
    pub max_connections_per_ip: usize,
    /// Most simultaneous TCP connections in total (0 = unlimited).
    #[arg(
        long = "max-connections",
        env = "ASTRA_GATEWAY_MAX_CONNECTIONS",
        default_value_t = 100_000
    )]
    pub max_connections: usize,
    /// Read rate limit per connection, bytes per second (0 = unlimited); reading is throttled.
    #[arg(
        long = "max-bytes-per-sec",
        env = "ASTRA_GATEWAY_MAX_BYTES_PER_SEC",
        default_value_t = 65_536
    )]
    pub max_bytes_per_sec: u64,
    /// Frames of one TCP connection published but not yet acknowledged by JetStream; reading
    /// pauses when reached.
    #[arg(
        long = "max-in-flight",
        env = "ASTRA_GATEWAY_MAX_IN_FLIGHT",
        default_value_t = 32
    )]
    pub max_in_flight: usize,
    /// Frames of the UDP listener published but not yet acknowledged: every UDP device shares
    /// it, so it is a window for all of them (a device re-sends after a few seconds unacked).
    #[arg(
        long = "udp-max-in-flight",
        env = "ASTRA_GATEWAY_UDP_MAX_IN_FLIGHT",
        default_value_t = 1024
    )]
    pub udp_max_in_flight: usize,

    /// Device policy: `open` accepts every IMEI, `registered` only IMEIs that are keys of KV
    /// `astra-devices`.
    #[arg(
        long = "device-policy",
        env = "ASTRA_GATEWAY_DEVICE_POLICY",
        default_value = "open"
    )]
    pub device_policy: PolicyMode,
    /// How long a positive registry answer is cached.
    #[arg(long = "policy-cache", env = "ASTRA_GATEWAY_POLICY_CACHE", default_value = "60s", value_parser = parse_duration)]
    pub policy_cache: Duration,

    /// How long to wait for JetStream to acknowledge a publish before retrying it.
    #[arg(long = "publish-timeout", env = "ASTRA_GATEWAY_PUBLISH_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub publish_timeout: Duration,
    /// Pause before re-publishing after a failed publish.
    #[arg(long = "publish-retry", env = "ASTRA_GATEWAY_PUBLISH_RETRY", default_value = "500ms", value_parser = parse_duration)]
    pub publish_retry: Duration,

    /// Reply timeout of a command when the request gives none.
    #[arg(long = "command-timeout", env = "ASTRA_GATEWAY_COMMAND_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub command_timeout: Duration,
    /// Longest reply timeout a command request may ask for.
    #[arg(long = "command-max-timeout", env = "ASTRA_GATEWAY_COMMAND_MAX_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub command_max_timeout: Duration,

    /// On SIGTERM: how long to finish in-flight publishes and acks before exiting anyway.
    #[arg(long = "shutdown-deadline", env = "ASTRA_GATEWAY_SHUTDOWN_DEADLINE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_deadline: Duration,

    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Which IMEIs may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyMode {
    Open,
    Registered,
}

/// Everything the gateway needs, without the clap machinery.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub udp: bool,
    pub admin: SocketAddr,
    pub grpc: SocketAddr,
    pub grpc_tls: GrpcSecurityArgs,
    pub gateway_id: String,
    pub limits: Limits,
    pub policy: PolicyConfig,
    pub publish: PublishConfig,
    pub commands: CommandConfig,
    pub shutdown_deadline: Duration,
    pub stream_replicas: usize,
}

/// Per-connection and global limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_frame: usize,
    pub login_deadline: Duration,
    pub idle_timeout: Duration,
    pub tcp_keepalive: Option<(Duration, Duration)>,
    pub max_connections_per_ip: usize,
    pub max_connections: usize,
    pub max_bytes_per_sec: u64,
    pub max_in_flight: usize,
    pub udp_max_in_flight: usize,
}

#[derive(Debug, Clone)]
pub struct PolicyConfig {
    pub mode: PolicyMode,
    pub cache: Duration,
}

#[derive(Debug, Clone)]
pub struct PublishConfig {
    pub timeout: Duration,
    pub retry: Duration,
}

#[derive(Debug, Clone)]
pub struct CommandConfig {
    pub default_timeout: Duration,
    pub max_timeout: Duration,
}

impl Cli {
    pub fn config(&self) -> Config {
        let gateway_id = self.gateway_id.clone().unwrap_or_else(|| {
            std::env::var("HOSTNAME").unwrap_or_else(|_| format!("gateway-{}", std::process::id()))
        });
        Config {
            listen: self.listen.clone(),
            udp: !self.no_udp,
            admin: self.admin,
            grpc: self.grpc,
            grpc_tls: self.grpc_tls.clone(),
            gateway_id,
            limits: Limits {
                max_frame: self.max_frame.max(astra_codec::frame::MIN_FRAME),
                login_deadline: self.login_deadline,
                idle_timeout: self.idle_timeout,
                tcp_keepalive: (!self.tcp_keepalive.is_zero())
                    .then_some((self.tcp_keepalive, self.tcp_keepalive_interval)),
                max_connections_per_ip: self.max_connections_per_ip,
                max_connections: self.max_connections,
                max_bytes_per_sec: self.max_bytes_per_sec,
                // Semaphore::new panics above MAX_PERMITS.
                max_in_flight: self
                    .max_in_flight
                    .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                udp_max_in_flight: self
                    .udp_max_in_flight
                    .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            },
            policy: PolicyConfig {
                mode: self.device_policy,
                cache: self.policy_cache,
            },
            publish: PublishConfig {
                timeout: self.publish_timeout,
                retry: self.publish_retry,
            },
            commands: CommandConfig {
                default_timeout: self.command_timeout,
                max_timeout: self.command_max_timeout,
            },
            shutdown_deadline: self.shutdown_deadline,
            stream_replicas: self.nats.stream_replicas,
        }
    }
}

/// `500ms`, `1s`, `30m`, `2h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
