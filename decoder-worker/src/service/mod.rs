//! The scale-out decoding service (DESIGN §2, §4): `run` consumes ASTRA_RAW through one durable
//! consumer shared by every replica, decodes on a pool of actix actors, publishes positions to
//! ASTRA_POSITIONS (or the frame to ASTRA_DLQ) and acks the raw frame only after JetStream
//! acknowledged all of it; `replay` re-decodes the DLQ or a range of ASTRA_RAW after a fix.
//! Both run inside `astra_platform::boot::run` (runtime, telemetry, exit codes).

pub(crate) mod config; // flags of `run` and `replay` (and their environment twins)
pub(crate) mod consumer; // the shared durable pull consumer, the pull loop, the lag poller
pub(crate) mod dlq; // the dead-letter queue entry and its headers
pub(crate) mod enrich; // accuracy and address added before publishing
pub(crate) mod error; // failures of the machinery around decoding (NATS, the pool)
pub(crate) mod grpc; // `astra.v1.Decoder/Decode`
pub(crate) mod ids; // deduplication ids and subject tokens
pub(crate) mod metrics; // Prometheus metrics of the service
pub(crate) mod pool; // decoding on actix `SyncArbiter` actors
pub(crate) mod process; // one raw message: decode, publish, ack
pub(crate) mod publisher; // publishing positions with their dedup ids
pub(crate) mod replay; // `decoder-worker replay`
pub(crate) mod run; // `decoder-worker run`: wiring and ordered shutdown

pub use config::{ReplayArgs, RunArgs};
pub use replay::replay;
pub use run::run;
