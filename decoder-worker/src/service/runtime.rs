//! The runtime of the service: an actix `System` on a multi-threaded tokio runtime, so actix
//! actors (the decoding pool) and `tokio::spawn`ed tasks (NATS, HTTP, gRPC) live together.

use std::future::Future;

/// Runs `fut` to completion inside a fresh actix system.
pub fn block_on<F: Future>(fut: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(actix_rt::System::with_tokio_rt(|| runtime).block_on(fut))
}
