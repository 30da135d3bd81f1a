//! `decoder-worker`: decodes Astra frames. `decode` is the offline black-box contract and needs
//! no runtime; `run` (the scale-out service) and `replay` boot through `astra_platform::boot`,
//! whose exit codes they share (0 ok, 1 failed, 2 configuration; `replay` also exits 1 when
//! frames still fail to decode).

use astra_decoder::cli::{self, Cli, Command};
use astra_decoder::service;
use astra_platform::{boot, config};
use std::process::ExitCode;

/// The service name in logs, traces and the NATS connection.
const SERVICE: &str = "decoder-worker";

fn main() -> ExitCode {
    let cli: Cli = config::parse();
    match cli.command {
        Command::Decode(args) => cli::decode::run(args),
        Command::Run(args) => {
            let telemetry = args.common.telemetry.clone();
            boot::run(SERVICE, &telemetry, || service::run(args))
        }
        Command::Replay(args) => {
            let telemetry = args.telemetry().clone();
            boot::run(SERVICE, &telemetry, || service::replay(args))
        }
    }
}
