//! Configuration: the command line (every flag also an environment variable, `ASTRA_` + the
//! flag, and a key of the optional `--config` file) and the plain structs the rest of the
//! gateway reads. Durations take the platform's one syntax (`500ms`, `1m30s`, `2h`, `1d`, or a
//! bare number of seconds).

use astra_codec::frame::DEFAULT_MAX_FRAME;
use astra_platform::duration::parse_duration;
use astra_platform::grpc_security::GrpcSecurityArgs;
use astra_platform::instance::instance_id;
use astra_platform::nats::NatsArgs;
use astra_platform::telemetry::TelemetryArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Command line of the `gateway` binary. Every flag has its environment twin by the rule of
/// `astra_platform::config` (`--admin-addr` ↔ `ASTRA_ADMIN_ADDR`) and may also come from the
/// `--config` file; flags renamed by that rule keep their old name as a hidden alias.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gateway", version, about = "Astra Telematics device gateway")]
pub struct Cli {
    /// Device listener address(es), comma separated; each gets a TCP and a UDP socket. Bind a
    /// specific address (not 0.0.0.0) on multi-homed hosts so UDP acks leave from the address
    /// the device sent to.
    #[arg(
        long = "listen",
        env = "ASTRA_LISTEN",
        default_value = "0.0.0.0:5103",
        value_delimiter = ',',
        help_heading = "Listeners"
    )]
    pub(crate) listen: Vec<SocketAddr>,
    /// Disable the UDP listener(s).
    #[arg(long = "no-udp", env = "ASTRA_NO_UDP", help_heading = "Listeners")]
    pub(crate) no_udp: bool,
    /// TCP keep-alive: idle time before the first probe (0 = keep-alive off).
    #[arg(long = "tcp-keepalive", env = "ASTRA_TCP_KEEPALIVE", default_value = "120s", value_parser = parse_duration, help_heading = "Listeners")]
    pub(crate) tcp_keepalive: Duration,
    /// TCP keep-alive: interval between probes.
    #[arg(long = "tcp-keepalive-interval", env = "ASTRA_TCP_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = parse_duration, help_heading = "Listeners")]
    pub(crate) tcp_keepalive_interval: Duration,

    /// Largest accepted frame (binary length field or ASCII line), bytes.
    #[arg(long = "max-frame", env = "ASTRA_MAX_FRAME", default_value_t = DEFAULT_MAX_FRAME, help_heading = "Limits")]
    pub(crate) max_frame: usize,
    /// Close a TCP connection that has neither logged in nor sent an IMEI-carrying frame by then.
    #[arg(long = "login-deadline", env = "ASTRA_LOGIN_DEADLINE", default_value = "60s", value_parser = parse_duration, help_heading = "Limits")]
    pub(crate) login_deadline: Duration,
    /// Close a TCP connection that sends nothing for this long.
    #[arg(long = "idle-timeout", env = "ASTRA_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration, help_heading = "Limits")]
    pub(crate) idle_timeout: Duration,
    /// Most simultaneous TCP connections from one source IP (0 = unlimited).
    #[arg(
        long = "max-connections-per-ip",
        env = "ASTRA_MAX_CONNECTIONS_PER_IP",
        default_value_t = 100,
        help_heading = "Limits"
    )]
    pub(crate) max_connections_per_ip: usize,
    /// Most simultaneous TCP connections in total (0 = unlimited).
    #[arg(
        long = "max-connections",
        env = "ASTRA_MAX_CONNECTIONS",
        default_value_t = 100_000,
        help_heading = "Limits"
    )]
    pub(crate) max_connections: usize,
    /// Read rate limit per connection, bytes per second (0 = unlimited); reading is throttled.
    #[arg(
        long = "max-bytes-per-sec",
        env = "ASTRA_MAX_BYTES_PER_SEC",
        default_value_t = 65_536,
        help_heading = "Limits"
    )]
    pub(crate) max_bytes_per_sec: u64,
    /// Frames of one TCP connection published but not yet acknowledged by JetStream; reading
    /// pauses when reached.
    #[arg(
        long = "max-in-flight",
        env = "ASTRA_MAX_IN_FLIGHT",
        default_value_t = 32,
        help_heading = "Limits"
    )]
    pub(crate) max_in_flight: usize,
    /// Frames of the UDP listener published but not yet acknowledged: every UDP device shares
    /// it, so it is a window for all of them (a device re-sends after a few seconds unacked).
    #[arg(
        long = "udp-max-in-flight",
        env = "ASTRA_UDP_MAX_IN_FLIGHT",
        default_value_t = 1024,
        help_heading = "Limits"
    )]
    pub(crate) udp_max_in_flight: usize,

    /// Device policy: `open` accepts every IMEI, `registered` only IMEIs that are keys of KV
    /// `astra-devices`.
    #[arg(
        long = "device-policy",
        env = "ASTRA_DEVICE_POLICY",
        default_value = "open",
        help_heading = "Device policy"
    )]
    pub(crate) device_policy: PolicyMode,
    /// How long a positive registry answer is cached.
    #[arg(long = "policy-cache", env = "ASTRA_POLICY_CACHE", default_value = "60s", value_parser = parse_duration, help_heading = "Device policy")]
    pub(crate) policy_cache: Duration,

    /// How long to wait for JetStream to acknowledge a publish before retrying it.
    #[arg(long = "publish-timeout", env = "ASTRA_PUBLISH_TIMEOUT", default_value = "5s", value_parser = parse_duration, help_heading = "Publishing")]
    pub(crate) publish_timeout: Duration,
    /// Pause before re-publishing after a failed publish.
    #[arg(long = "publish-retry", env = "ASTRA_PUBLISH_RETRY", default_value = "500ms", value_parser = parse_duration, help_heading = "Publishing")]
    pub(crate) publish_retry: Duration,

    /// Reply timeout of a command when the request gives none.
    #[arg(long = "command-timeout", env = "ASTRA_COMMAND_TIMEOUT", default_value = "30s", value_parser = parse_duration, help_heading = "Commands")]
    pub(crate) command_timeout: Duration,
    /// Longest reply timeout a command request may ask for.
    #[arg(long = "command-max-timeout", env = "ASTRA_COMMAND_MAX_TIMEOUT", default_value = "300s", value_parser = parse_duration, help_heading = "Commands")]
    pub(crate) command_max_timeout: Duration,

    /// Admin HTTP address: /metrics, /healthz, /readyz.
    #[arg(
        long = "admin-addr",
        alias = "admin",
        env = "ASTRA_ADMIN_ADDR",
        default_value = "0.0.0.0:9103",
        help_heading = "Admin and gRPC"
    )]
    pub(crate) admin_addr: SocketAddr,
    /// gRPC address of the `astra.v1.Commands` service (plus health and reflection).
    #[arg(
        long = "grpc-addr",
        alias = "grpc",
        env = "ASTRA_GRPC_ADDR",
        default_value = "0.0.0.0:50103",
        help_heading = "Admin and gRPC"
    )]
    pub(crate) grpc_addr: SocketAddr,
    #[command(flatten)]
    pub(crate) grpc_tls: GrpcSecurityArgs,

    /// Identity of this gateway in RawFrame / SessionEvent (default: `<host>-<pid>`, the host
    /// being $HOSTNAME, e.g. the pod name).
    #[arg(
        long = "instance-id",
        alias = "gateway-id",
        env = "ASTRA_INSTANCE_ID",
        help_heading = "Process"
    )]
    pub(crate) instance_id: Option<String>,
    /// On SIGTERM: how long to finish in-flight publishes and acks before exiting anyway.
    #[arg(long = "shutdown-deadline", env = "ASTRA_SHUTDOWN_DEADLINE", default_value = "20s", value_parser = parse_duration, help_heading = "Process")]
    pub(crate) shutdown_deadline: Duration,

    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Which IMEIs may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PolicyMode {
    Open,
    Registered,
}

/// Everything the gateway needs, without the clap machinery.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: Vec<SocketAddr>,
    pub(crate) udp: bool,
    pub(crate) admin_addr: SocketAddr,
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) grpc_tls: GrpcSecurityArgs,
    pub(crate) gateway_id: String,
    pub(crate) limits: Limits,
    pub(crate) policy: PolicyConfig,
    pub(crate) publish: PublishConfig,
    pub(crate) commands: CommandConfig,
    pub(crate) shutdown_deadline: Duration,
    /// Replicas and partition count of the streams this gateway creates.
    pub(crate) streams: astra_platform::streams::Layout,
}

/// Per-connection and global limits.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
    pub(crate) login_deadline: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) tcp_keepalive: Option<(Duration, Duration)>,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_bytes_per_sec: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) udp_max_in_flight: usize,
}

/// Who may connect, and how long a positive registry answer counts.
#[derive(Debug, Clone)]
pub(crate) struct PolicyConfig {
    pub(crate) mode: PolicyMode,
    pub(crate) cache: Duration,
}

/// JetStream publish timing.
#[derive(Debug, Clone)]
pub(crate) struct PublishConfig {
    pub(crate) timeout: Duration,
    pub(crate) retry: Duration,
}

/// Reply timeouts of commands.
#[derive(Debug, Clone)]
pub(crate) struct CommandConfig {
    pub(crate) default_timeout: Duration,
    pub(crate) max_timeout: Duration,
}

impl Cli {
    /// The settings the gateway runs with (limits clamped to what the runtime allows).
    pub fn config(&self) -> Config {
        let gateway_id = instance_id(self.instance_id.as_deref(), "gateway");
        Config {
            listen: self.listen.clone(),
            udp: !self.no_udp,
            admin_addr: self.admin_addr,
            grpc_addr: self.grpc_addr,
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
            streams: self.nats.layout(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astra_platform::config::{rule_violations, try_parse_from};
    use clap::CommandFactory;
    use std::ffi::OsString;

    /// Parses `args` with no environment but the `--config` file they name.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        try_parse_from(args.iter().copied(), |_| None::<OsString>)
    }

    #[test]
    fn every_flag_follows_the_env_rule() {
        assert_eq!(rule_violations(&Cli::command()), Vec::<String>::new());
    }

    #[test]
    fn durations_take_the_platform_syntax() {
        let cli = parse(&[
            "gateway",
            "--publish-retry=500ms",
            "--login-deadline=1s",
            "--idle-timeout=30m",
            "--shutdown-deadline=2",
            "--command-max-timeout=1m30s",
            "--policy-cache=1d",
        ])
        .unwrap();
        assert_eq!(cli.publish_retry, Duration::from_millis(500));
        assert_eq!(cli.login_deadline, Duration::from_secs(1));
        assert_eq!(cli.idle_timeout, Duration::from_secs(1800));
        assert_eq!(cli.shutdown_deadline, Duration::from_secs(2));
        assert_eq!(cli.command_max_timeout, Duration::from_secs(90));
        assert_eq!(cli.policy_cache, Duration::from_secs(86_400));
        assert!(parse(&["gateway", "--publish-retry=x"]).is_err());
        assert!(parse(&["gateway", "--publish-retry=5q"]).is_err());
    }

    #[test]
    fn old_flag_names_still_work() {
        let cli = parse(&[
            "gateway",
            "--admin=127.0.0.1:1",
            "--grpc=127.0.0.1:2",
            "--gateway-id=gw-7",
            "--nats=nats://10.0.0.1:4222",
        ])
        .unwrap();
        let config = cli.config();
        assert_eq!(config.admin_addr, "127.0.0.1:1".parse().unwrap());
        assert_eq!(config.grpc_addr, "127.0.0.1:2".parse().unwrap());
        assert_eq!(config.gateway_id, "gw-7");
        assert_eq!(cli.nats.url, "nats://10.0.0.1:4222");
    }

    #[test]
    fn config_file_keys_are_the_long_flags() {
        let path =
            std::env::temp_dir().join(format!("astra-gateway-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            concat!(
                "listen = [\"127.0.0.1:5103\", \"127.0.0.2:5103\"]\n",
                "no-udp = true\n",
                "admin-addr = \"127.0.0.1:9\"\n",
                "instance-id = \"gw-file\"\n",
                "max-in-flight = 8\n",
                "device-policy = \"registered\"\n",
                "shutdown-deadline = \"1m30s\"\n",
                "nats-url = \"nats://10.0.0.1:4222\"\n",
            ),
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let parsed = parse(&["gateway", "--config", file, "--max-in-flight=16"]);
        let refused = {
            std::fs::write(&path, "admin = \"127.0.0.1:9\"\n").unwrap();
            parse(&["gateway", "--config", file])
        };
        let _ = std::fs::remove_file(&path);

        let config = parsed.unwrap().config();
        assert_eq!(
            config.listen,
            [
                "127.0.0.1:5103".parse::<SocketAddr>().unwrap(),
                "127.0.0.2:5103".parse().unwrap()
            ]
        );
        assert!(!config.udp);
        assert_eq!(config.admin_addr, "127.0.0.1:9".parse().unwrap());
        assert_eq!(config.gateway_id, "gw-file");
        // The command line beats the file.
        assert_eq!(config.limits.max_in_flight, 16);
        assert_eq!(config.policy.mode, PolicyMode::Registered);
        assert_eq!(config.shutdown_deadline, Duration::from_secs(90));
        // Keys are the long flags themselves, not their hidden aliases.
        let err = refused.unwrap_err().to_string();
        assert!(err.contains("unknown key `admin`"), "{err}");
    }

    #[test]
    fn limits_are_clamped() {
        let config = parse(&[
            "gateway",
            "--max-in-flight=0",
            "--tcp-keepalive=0",
            "--max-frame=1",
        ])
        .unwrap()
        .config();
        assert_eq!(config.limits.max_in_flight, 1);
        assert_eq!(config.limits.tcp_keepalive, None);
        assert_eq!(config.limits.max_frame, astra_codec::frame::MIN_FRAME);
    }
}
