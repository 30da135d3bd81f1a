//! The command line of the `decoder-worker` binary: [`Cli`] and its subcommands (`decode`,
//! `run`, `replay`), parsed by `astra_platform::config::parse` so every flag also reads its
//! `ASTRA_*` environment twin and the `--config` file. It lives in the library so tests can hold
//! the whole command to the configuration rule.

pub mod decode;

use crate::service::{ReplayArgs, RunArgs};

#[derive(Debug, clap::Parser)]
#[command(
    name = "decoder-worker",
    version,
    about = "Astra Telematics frame decoder"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up: the size of the service variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Decode frames given as hex or a raw file and print one JSON Position per line.
    Decode(decode::DecodeArgs),
    /// Run a decoder replica: consume ASTRA_RAW, publish positions, DLQ undecodable frames.
    Run(RunArgs),
    /// Re-decode the DLQ or a range of ASTRA_RAW after a decoder fix.
    Replay(ReplayArgs),
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command};
    use crate::service::config::ReplaySource;
    use astra_codec::Layout;
    use astra_platform::config::{rule_violations, try_parse_with_env};
    use clap::CommandFactory;
    use std::time::Duration;

    /// Parses `args`; the config-file lookup sees only `env`.
    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, clap::Error> {
        try_parse_with_env(args, env)
    }

    #[test]
    fn every_flag_has_its_env_twin_by_the_rule() {
        Cli::command().debug_assert();
        let violations = rule_violations(&Cli::command());
        assert!(violations.is_empty(), "{violations:#?}");
    }

    #[test]
    fn config_file_sets_defaults_below_the_command_line() {
        let path =
            std::env::temp_dir().join(format!("astra-decoder-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "consumer = \"decoder-blue\"\nbatch = 50\nack-wait = \"1m30s\"\nlayout = \"current\"\n",
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let cli = parse(
            &["decoder-worker", "run", "--config", file, "--batch", "7"],
            &[],
        );
        let _ = std::fs::remove_file(&path);
        let Command::Run(run) = cli.unwrap().command else {
            panic!("not run");
        };
        assert_eq!(run.consumer, "decoder-blue");
        assert_eq!(run.batch, 7, "the command line beats the file");
        assert_eq!(run.ack_wait, Duration::from_secs(90));
        assert_eq!(run.common.layout, Layout::Current);

        // One file for every subcommand: a key of a flag only `run` has is not refused by replay.
        std::fs::write(
            &path,
            "consumer = \"decoder-blue\"\nimei = [\"357322043523841\", \"860873041761486\"]\n",
        )
        .unwrap();
        let cli = parse(
            &["decoder-worker", "replay", "dlq"],
            &[("ASTRA_CONFIG", file)],
        );
        let _ = std::fs::remove_file(&path);
        let Command::Replay(replay) = cli.unwrap().command else {
            panic!("not replay");
        };
        let ReplaySource::Dlq(dlq) = replay.source else {
            panic!("not dlq");
        };
        assert_eq!(dlq.filter.imei, ["357322043523841", "860873041761486"]);

        // An unknown key is refused with its name.
        std::fs::write(&path, "consumr = \"x\"\n").unwrap();
        let err = parse(&["decoder-worker", "run", "--config", file], &[]).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(err.to_string().contains("unknown key `consumr`"), "{err}");
    }
}
