//! `event-worker`: turns positions and session changes into fleet alerts (see the library docs).
//! Flags come through the platform's configuration rule and the process boots, logs and exits
//! (0 ok, 1 failed, 2 bad configuration) as every service does.

use astra_events::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config: Config = astra_platform::config::parse();
    // boot::run installs telemetry before `run` takes the whole configuration.
    let telemetry = config.telemetry.clone();
    astra_platform::boot::run("event-worker", &telemetry, move || {
        astra_events::run::run(config)
    })
}
