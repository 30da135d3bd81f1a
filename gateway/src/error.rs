//! Errors of the gateway's own set-up and of its per-connection work. Each keeps the error it
//! comes from (the async-nats error with its kind, the I/O error, …) so a caller can tell a
//! timeout from a refusal. As in `astra_platform`, the cause is written into the message rather
//! than exposed as a `source`: one-line logs (`error = %e`) then still say why, and the chained
//! print of a failed service (`{:#}` in `boot::run`) does not say it twice.

use astra_platform::admin::AdminError;
use astra_platform::grpc::GrpcServeError;
use astra_platform::grpc_security::GrpcSecurityError;
use astra_platform::nats::NatsSetupError;
use astra_platform::streams::StreamSetupError;
use async_nats::jetstream::kv;
use std::net::SocketAddr;

/// Why the gateway could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot bind {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The NATS settings are unusable or the server could not be reached at start.
    #[error("{0}")]
    Nats(NatsSetupError),
    /// A stream or KV bucket of DESIGN §3.1 could not be created or found.
    #[error("{0}")]
    Stream(StreamSetupError),
    #[error("cannot subscribe to {subject}: {error}")]
    Subscribe {
        subject: &'static str,
        error: async_nats::SubscribeError,
    },
    #[error("metrics: {0}")]
    Metrics(prometheus::Error),
    #[error("{0}")]
    GrpcSecurity(GrpcSecurityError),
    #[error("{0}")]
    Grpc(GrpcServeError),
    #[error("{0}")]
    Admin(AdminError),
    /// A server task (`admin endpoint`, `gRPC server`) ended although nothing asked it to.
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    /// A server task panicked or was cancelled.
    #[error("{what} task failed: {error}")]
    Task {
        what: &'static str,
        error: tokio::task::JoinError,
    },
}

/// Why a device is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    #[error("IMEI {0} is not registered in KV astra-devices")]
    NotRegistered(String),
    /// `registered` policy without the bucket (cannot happen when started by `server::run`).
    #[error("device registry unavailable: no registry bucket")]
    NoBucket,
    /// Reading KV `astra-devices` failed (timed out, …): refused now, asked again next time.
    #[error("device registry unavailable: {0}")]
    Unavailable(kv::EntryError),
}
