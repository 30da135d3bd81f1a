//! How every service process starts and ends: an actix `System` on a multi-threaded tokio
//! runtime (actors and `tokio::spawn`ed tasks live together), logging and tracing installed
//! inside it, the service's main future run to its end, and one set of exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the service ended normally (e.g. after SIGTERM) |
//! | 1 | the service failed: it could not start its work (NATS unreachable, a port taken) or its work failed |
//! | 2 | bad configuration: the command line, a config file, telemetry or the runtime itself |
//!
//! clap's own refusals also exit with 2.

use crate::telemetry::{self, TelemetryArgs};
use std::future::Future;
use std::process::ExitCode;

/// Exit code of a service that failed while starting or running.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of bad configuration.
pub const EXIT_CONFIG: u8 = 2;

/// Runs `main` inside a fresh actix system with telemetry for `service` installed; an error is
/// logged with its causes and exits with [`EXIT_FAILED`].
pub fn run<F, Fut>(service: &'static str, telemetry: &TelemetryArgs, main: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    actix_rt::System::with_tokio_rt(|| runtime).block_on(async move {
        let _telemetry = match telemetry::init(service, telemetry) {
            Ok(guard) => guard,
            Err(e) => {
                eprintln!("error: telemetry: {e:#}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        match main().await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "{service} failed");
                ExitCode::from(EXIT_FAILED)
            }
        }
    })
}

/// Runs `fut` to completion inside a fresh actix system, without telemetry (tools and tests).
pub fn block_on<F: Future>(fut: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(actix_rt::System::with_tokio_rt(|| runtime).block_on(fut))
}
