//! `event-worker`: turns positions and session changes into fleet alerts (see the library docs).

use astra_events::config::Config;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    actix_rt::System::with_tokio_rt(|| runtime).block_on(astra_events::run::run(config))
}
