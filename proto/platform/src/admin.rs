//! The admin HTTP endpoint of a service: Prometheus `/metrics`, liveness `/healthz` and
//! readiness `/readyz` (for Kubernetes probes and load balancers).

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
pub use prometheus::Registry;
use prometheus::{Encoder, TextEncoder};
use std::net::SocketAddr;
use std::sync::Arc;

/// Says whether the service can do its work right now (e.g. NATS connected).
pub type Readiness = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
struct AdminState {
    registry: Registry,
    ready: Readiness,
}

/// Why the admin endpoint could not serve.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot bind admin address {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("admin endpoint: {0}")]
    Serve(std::io::Error),
}

/// Serves the admin endpoint until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
    ready: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    tracing::info!(%addr, "admin endpoint listening");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AdminState { registry, ready });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(AdminError::Serve)
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&s.registry.gather(), &mut buf) {
        Ok(()) => (StatusCode::OK, buf).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if (s.ready)() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
