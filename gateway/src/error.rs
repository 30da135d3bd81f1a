//! Errors of the gateway's own set-up and of its per-connection work.

use std::net::SocketAddr;

/// Why the gateway could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("NATS: {0}")]
    Nats(String),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Platform(#[from] anyhow::Error),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// Why a device is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    #[error("IMEI {0} is not registered in KV astra-devices")]
    NotRegistered(String),
    #[error("device registry unavailable: {0}")]
    Unavailable(String),
}
