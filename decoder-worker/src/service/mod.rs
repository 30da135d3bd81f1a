//! The scale-out decoding service (DESIGN §2, §4): `run` consumes ASTRA_RAW through one durable
//! consumer shared by every replica, decodes on a pool of actix actors, publishes positions to
//! ASTRA_POSITIONS (or the frame to ASTRA_DLQ) and acks the raw frame only after JetStream
//! acknowledged all of it; `replay` re-decodes the DLQ or a range of ASTRA_RAW after a fix.

pub mod config;
pub mod consumer;
pub mod dlq;
pub mod enrich;
pub mod error;
pub mod grpc;
pub mod ids;
pub mod metrics;
pub mod pool;
pub mod process;
pub mod publisher;
pub mod replay;
pub mod run;
pub mod runtime;
pub mod shutdown;

pub use config::{ReplayArgs, RunArgs};

/// `decoder-worker run`; returns the process exit code.
pub fn run_command(args: RunArgs) -> anyhow::Result<i32> {
    runtime::block_on(run::run(args))??;
    Ok(0)
}

/// `decoder-worker replay`; returns the process exit code (1 if frames still fail).
pub fn replay_command(args: ReplayArgs) -> anyhow::Result<i32> {
    runtime::block_on(replay::replay(args))?
}
