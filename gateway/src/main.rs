//! `gateway`: the device-facing service of the Astra cluster. Reads its settings (flags,
//! `ASTRA_*` environment, optional `--config` file) and runs [`gateway::server::run`] through
//! `astra_platform::boot`, which provides the actix system on a multi-threaded tokio runtime,
//! telemetry and the exit codes every service shares (0 ok, 1 failed, 2 bad configuration).

use gateway::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: Cli = astra_platform::config::parse();
    let config = cli.config();
    let nats = cli.nats;
    astra_platform::boot::run("gateway", &cli.telemetry, move || async move {
        gateway::server::run(config, &nats).await?;
        Ok(ExitCode::SUCCESS)
    })
}
