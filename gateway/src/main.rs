//! `gateway`: the device-facing service of the Astra cluster. Parses the command line, sets up
//! logging, and runs [`gateway::server::run`] inside an actix system on a multi-threaded tokio
//! runtime (actors need the actix system; NATS and I/O tasks use the tokio pool).

use clap::Parser;
use gateway::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config();
    let system =
        actix_rt::System::with_tokio_rt(|| {
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the tokio runtime: {e}");
                    std::process::exit(2);
                }
            }
        });
    system.block_on(async move {
        let _telemetry = match astra_platform::telemetry::init("gateway", &cli.telemetry) {
            Ok(guard) => guard,
            Err(e) => {
                eprintln!("error: telemetry: {e:#}");
                return ExitCode::from(2);
            }
        };
        match gateway::server::run(config, &cli.nats).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "gateway failed");
                ExitCode::FAILURE
            }
        }
    })
}
