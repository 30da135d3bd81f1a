//! The one way a service serves gRPC: its own service plus `grpc.health.v1` (open, for probes)
//! and server reflection of the `astra.v1` contract, both of the latter behind the same TLS and
//! the service and reflection behind the bearer token of [`GrpcSecurity`].

use crate::grpc_security::GrpcSecurity;
use std::convert::Infallible;
use std::future::Future;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;

/// Why a gRPC server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum GrpcServeError {
    #[error("gRPC security: {0}")]
    Security(#[from] crate::grpc_security::GrpcSecurityError),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot bind gRPC address {addr}: {error}")]
    Bind {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
}

/// Binds `addr` for a gRPC server (so a taken port stops the service at start).
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, GrpcServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| GrpcServeError::Bind { addr, error })
}

/// Serves `service` (with health and reflection) on `listener` until `shutdown` resolves.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    security: &GrpcSecurity,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GrpcServeError>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<S>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(astra_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let auth = security.interceptor();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, service = S::NAME, "gRPC listening");
    }
    security.log(S::NAME);
    security
        .server()?
        .add_service(health)
        .add_service(InterceptedService::new(reflection, auth.clone()))
        .add_service(InterceptedService::new(service, auth))
        // As `Server::serve(addr)` does (its default): no Nagle delay on small replies.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    Ok(())
}
