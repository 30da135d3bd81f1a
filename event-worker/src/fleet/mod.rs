//! The `astra.v1.Fleet` gRPC API of the event-worker (DESIGN §3.3): devices, geofences, device
//! state and live position / event watches, served with `grpc.health.v1` and reflection; TLS
//! and the bearer token as `platform::grpc_security` says (health stays open).
//!
//! Rules: IMEIs are 15 digits with a valid Luhn check digit; device settings and geofences are
//! validated before they are stored (INVALID_ARGUMENT naming the field); unknown devices,
//! geofences and states are NOT_FOUND; an undecodable stored value is INTERNAL; NATS trouble is
//! UNAVAILABLE. A geofence without an id is rejected, not given a generated one.

mod error;
mod service;
mod stream;
mod validate;

pub use error::FleetError;
pub use service::{FleetService, MAX_WATCH_IMEIS};
pub use validate::{DeviceError, validate_device, validate_imei};

use astra_platform::grpc_security::GrpcSecurity;
use astra_proto::v1::fleet_server::FleetServer;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

/// Binds `addr` and serves Fleet, health and reflection until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    service: FleetService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_secured(addr, service, GrpcSecurity::none(), shutdown).await
}

/// [`serve`] with TLS and/or a bearer token.
pub async fn serve_secured(
    addr: SocketAddr,
    service: FleetService,
    security: GrpcSecurity,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_on(listener, service, security, shutdown).await
}

/// [`serve_secured`] on a listener the caller bound (tests bind port 0 to avoid races).
pub async fn serve_on(
    listener: TcpListener,
    service: FleetService,
    security: GrpcSecurity,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "Fleet gRPC listening");
    security.log("astra.v1.Fleet");
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<FleetServer<FleetService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(astra_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // Graceful shutdown waits for every open call, and watches never finish on their own.
    let stopper = service.watch_stopper();
    let shutdown = async move {
        shutdown.await;
        stopper.send_replace(true);
    };
    let auth = security.interceptor();
    security
        .server()?
        .add_service(health)
        .add_service(InterceptedService::new(reflection, auth.clone()))
        .add_service(FleetServer::with_interceptor(service, auth))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await?;
    Ok(())
}
