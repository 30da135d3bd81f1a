//! Command-line flags of the event-worker. Each is a long flag with an `ASTRA_*` environment twin
//! named by the platform rule (`--admin-addr` ↔ `ASTRA_ADMIN_ADDR`) and a key of the optional
//! `--config` TOML file; durations take the platform syntax (`500ms`, `10s`, `1m30s`, `1d`, or
//! bare seconds). Renamed flags keep their old name as a hidden alias so existing scripts work.

use crate::rules::Settings;
use astra_platform::duration::parse_duration;
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
    pub(crate) nats: NatsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Admin HTTP address (/metrics, /healthz, /readyz).
    #[arg(
        long = "admin-addr",
        env = "ASTRA_ADMIN_ADDR",
        default_value = "0.0.0.0:9104",
        help_heading = "Admin and gRPC"
    )]
    pub(crate) admin_addr: SocketAddr,
    /// gRPC address of the `astra.v1.Fleet` service.
    #[arg(
        long = "grpc-addr",
        alias = "grpc",
        env = "ASTRA_GRPC_ADDR",
        default_value = "0.0.0.0:50104",
        help_heading = "Admin and gRPC"
    )]
    pub(crate) grpc_addr: SocketAddr,
    #[command(flatten)]
    pub(crate) grpc_tls: GrpcSecurityArgs,
    /// This worker's name in the leases (default: `<host name>-<process id>`).
    #[arg(
        long = "instance-id",
        alias = "worker-id",
        env = "ASTRA_INSTANCE_ID",
        help_heading = "Partitions and leases"
    )]
    pub(crate) instance_id: Option<String>,
    /// A dead worker's partitions are taken over after this long.
    #[arg(
        long = "lease-ttl",
        env = "ASTRA_LEASE_TTL",
        default_value = "10s",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = "Partitions and leases"
    )]
    pub(crate) lease_ttl: Duration,
    /// Longest a graceful shutdown (hand partitions back) may take.
    #[arg(
        long = "shutdown-timeout",
        env = "ASTRA_SHUTDOWN_TIMEOUT",
        default_value = "20s",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = "Partitions and leases"
    )]
    pub(crate) shutdown_timeout: Duration,
    /// Messages of a partition (positions and session events together) applied and
    /// acknowledged as one batch; also the size of each pull request.
    #[arg(
        long = "batch",
        env = "ASTRA_BATCH",
        default_value_t = 256,
        help_heading = "Consumer"
    )]
    pub(crate) batch: usize,
    /// Redelivery time of unacknowledged work.
    #[arg(
        long = "ack-wait",
        env = "ASTRA_ACK_WAIT",
        default_value = "10s",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = "Consumer"
    )]
    pub(crate) ack_wait: Duration,
    /// How long a partition's batch gathers after its first message: at low load one batch
    /// (one checkpoint per device, one ack per stream) then carries what arrived meanwhile.
    #[arg(
        long = "linger",
        env = "ASTRA_LINGER",
        default_value = "5ms",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = "Consumer"
    )]
    pub(crate) linger: Duration,
    /// How often device timers (offline, stopped, long idle) are checked.
    #[arg(
        long = "tick",
        env = "ASTRA_TICK",
        default_value = "1s",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = "Event rules"
    )]
    pub(crate) tick: Duration,
    #[command(flatten)]
    pub(crate) rules: Settings,
}

#[cfg(test)]
mod tests {
    use super::Config;
    use astra_platform::config::{rule_violations, try_parse_from};
    use clap::CommandFactory;
    use std::ffi::OsString;
    use std::time::Duration;

    /// Parses `args`; the environment is the test process's own (clap reads it directly), so
    /// these tests set no variables and check the names through the command instead.
    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        try_parse_from(args.iter().copied(), |_| None)
    }

    /// The environment variable of the flag `--long`.
    fn env_of(long: &str) -> Option<String> {
        Config::command()
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
    }

    /// A TOML file under the temp directory, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(text: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            // Tests run in parallel threads of one process: each file needs its own name.
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "astra-event-worker-config-{}-{}.toml",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, text).expect("temp file");
            Self(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().expect("UTF-8 temp path")
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn every_flag_follows_the_env_rule() {
        assert_eq!(rule_violations(&Config::command()), Vec::<String>::new());
        Config::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let c = parse(&["event-worker"]).unwrap();
        assert_eq!(c.admin_addr.to_string(), "0.0.0.0:9104");
        assert_eq!(c.grpc_addr.to_string(), "0.0.0.0:50104");
        assert_eq!(c.nats.partitions, 64);
        assert_eq!(c.instance_id, None);
        assert_eq!(c.lease_ttl, Duration::from_secs(10));
        assert_eq!(c.tick, Duration::from_secs(1));
        assert_eq!(c.batch, 256);
        assert_eq!(c.ack_wait, Duration::from_secs(10));
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(c.rules, crate::rules::Settings::default());
    }

    #[test]
    fn partitions_come_from_the_nats_settings() {
        // One flag for every service (the stored subjects of ASTRA_RAW carry the partition too).
        let c = parse(&["event-worker", "--partitions", "8"]).unwrap();
        assert_eq!(c.nats.partitions, 8);
        assert_eq!(c.nats.layout().partitions, 8);
        for out_of_range in ["0", "4097"] {
            assert!(
                parse(&["event-worker", "--partitions", out_of_range]).is_err(),
                "{out_of_range}"
            );
        }
        assert!(parse(&["event-worker", "--partitions", "4096"]).is_ok());
    }

    #[test]
    fn old_flag_names_still_work() {
        let c = parse(&[
            "event-worker",
            "--grpc",
            "127.0.0.1:1",
            "--worker-id",
            "w-1",
            "--offline-after-s",
            "30",
            "--stopped-after-s=40",
            "--overspeed-min-s",
            "5",
            "--long-idle-after-s",
            "60",
        ])
        .unwrap();
        assert_eq!(c.grpc_addr.to_string(), "127.0.0.1:1");
        assert_eq!(c.instance_id.as_deref(), Some("w-1"));
        assert_eq!(c.rules.offline_after_s, 30);
        assert_eq!(c.rules.stopped_after_s, 40);
        assert_eq!(c.rules.overspeed_min_s, 5);
        assert_eq!(c.rules.long_idle_after_s, 60);
    }

    #[test]
    fn rule_thresholds_are_durations() {
        let c = parse(&[
            "event-worker",
            "--offline-after",
            "1m30s",
            "--stopped-after",
            "2m",
            "--long-idle-after",
            "1h",
            "--overspeed-min",
            "7",
        ])
        .unwrap();
        assert_eq!(c.rules.offline_after_s, 90);
        assert_eq!(c.rules.stopped_after_s, 120);
        assert_eq!(c.rules.long_idle_after_s, 3600);
        assert_eq!(c.rules.overspeed_min_s, 7);
        // The rules count whole seconds: a fraction is refused, not rounded away.
        let err = parse(&["event-worker", "--offline-after", "1500ms"]).unwrap_err();
        assert!(err.to_string().contains("whole number of seconds"), "{err}");
        assert!(parse(&["event-worker", "--offline-after", "soon"]).is_err());
    }

    #[test]
    fn renamed_environment_variables() {
        for (long, env) in [
            ("admin-addr", "ASTRA_ADMIN_ADDR"),
            ("grpc-addr", "ASTRA_GRPC_ADDR"),
            ("instance-id", "ASTRA_INSTANCE_ID"),
            ("batch", "ASTRA_BATCH"),
            ("ack-wait", "ASTRA_ACK_WAIT"),
            ("linger", "ASTRA_LINGER"),
            ("offline-after", "ASTRA_OFFLINE_AFTER"),
            ("stopped-after", "ASTRA_STOPPED_AFTER"),
            ("overspeed-min", "ASTRA_OVERSPEED_MIN"),
            ("long-idle-after", "ASTRA_LONG_IDLE_AFTER"),
            ("grpc-token", "ASTRA_GRPC_TOKEN"),
            ("partitions", "ASTRA_PARTITIONS"),
        ] {
            assert_eq!(env_of(long).as_deref(), Some(env), "--{long}");
        }
    }

    #[test]
    fn config_file_sets_defaults_below_flags() {
        let file = TempFile::new(
            "grpc-addr = \"127.0.0.1:50999\"\n\
             instance-id = \"from-file\"\n\
             partitions = 8\n\
             lease-ttl = \"1m30s\"\n\
             offline-after = \"5m\"\n\
             speed-limit-kmh = 90.5\n\
             nats-url = \"nats://10.0.0.1:4222\"\n",
        );
        let c = parse(&["event-worker", "--config", file.path()]).unwrap();
        assert_eq!(c.grpc_addr.to_string(), "127.0.0.1:50999");
        assert_eq!(c.instance_id.as_deref(), Some("from-file"));
        assert_eq!(c.nats.partitions, 8);
        assert_eq!(c.lease_ttl, Duration::from_secs(90));
        assert_eq!(c.rules.offline_after_s, 300);
        assert_eq!(c.rules.speed_limit_kmh, Some(90.5));
        assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
        // The command line beats the file; ASTRA_CONFIG names a file as --config does.
        let c: Config = try_parse_from(["event-worker", "--partitions", "4"], |name| {
            (name == "ASTRA_CONFIG").then(|| OsString::from(file.path()))
        })
        .unwrap();
        assert_eq!(c.nats.partitions, 4);
        assert_eq!(c.instance_id.as_deref(), Some("from-file"));
        assert_eq!(c.lease_ttl, Duration::from_secs(90));
    }

    #[test]
    fn config_file_refuses_unknown_keys() {
        let file = TempFile::new("worker-idd = \"x\"\n");
        let err = parse(&["event-worker", "--config", file.path()]).unwrap_err();
        assert!(
            err.to_string().contains("unknown key `worker-idd`"),
            "{err}"
        );
    }
}
