//! The scale-out decoding service (DESIGN §2, §4): `run` divides ASTRA_RAW's partitions between
//! the replicas by lease and reads each partition through its own consumer, one device's frames
//! strictly in stream order; it decodes on a pool of actix actors, publishes positions to
//! ASTRA_POSITIONS (or the frame to ASTRA_DLQ) and acks raw frames, a batch at a time, only
//! after JetStream acknowledged all of that; `replay` re-decodes the DLQ or a range of
//! ASTRA_RAW after a fix.
//! Both run inside `astra_platform::boot::run` (runtime, telemetry, exit codes).

pub(crate) mod acks; // which deliveries of a partition may be acked (cumulative acks)
pub(crate) mod config; // flags of `run` and `replay` (and their environment twins)
pub(crate) mod dlq; // the dead-letter queue entry and its headers
pub(crate) mod enrich; // accuracy and address added before publishing
pub(crate) mod error; // failures of the machinery around decoding (NATS, the pool)
pub(crate) mod grpc; // `astra.v1.Decoder/Decode`
pub(crate) mod ids; // deduplication ids and subject tokens
pub(crate) mod metrics; // Prometheus metrics of the service
pub(crate) mod partition; // one leased partition: its consumer, device order, batched acks
pub(crate) mod partitions; // the partitions held here, for the lease loop; the lag poller
pub(crate) mod pool; // decoding on actix `SyncArbiter` actors
pub(crate) mod process; // one raw frame: decode, publish, retry in place
pub(crate) mod publisher; // publishing positions with their dedup ids
pub(crate) mod replay; // `decoder-worker replay`
pub(crate) mod run; // `decoder-worker run`: wiring and ordered shutdown

pub use config::{ReplayArgs, RunArgs};
pub use replay::replay;
pub use run::run;
