//! The `astra.v1.Fleet` gRPC API of the event-worker (DESIGN §3.3): devices, geofences, device
//! state and live position / event watches, served by `astra_platform::grpc` with
//! `grpc.health.v1` and reflection; TLS and the bearer token as `platform::grpc_security` says
//! (health stays open).
//!
//! Rules: IMEIs are 15 digits with a valid Luhn check digit; device settings and geofences are
//! validated before they are stored (INVALID_ARGUMENT naming the field); unknown devices,
//! geofences and states are NOT_FOUND; an undecodable stored value is INTERNAL; NATS trouble is
//! UNAVAILABLE. A geofence without an id is rejected, not given a generated one.

mod error; // Fleet errors and the gRPC status of each
mod service; // the Fleet service over KV and core NATS
mod stream; // live watches: NATS subscriptions as one gRPC stream
mod validate; // IMEIs and device settings

pub use service::FleetService;

use astra_platform::grpc::{self, GrpcServeError};
use astra_platform::grpc_security::GrpcSecurity;
use astra_proto::v1::fleet_server::FleetServer;
use std::future::Future;
use tokio::net::TcpListener;

/// Serves Fleet on `listener` (bind it with [`grpc::bind`]; tests bind port 0) with the
/// platform's health, reflection, TLS and bearer token, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    service: FleetService,
    security: GrpcSecurity,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcServeError> {
    // Graceful shutdown waits for every open call, and watches never finish on their own.
    let stopper = service.watch_stopper();
    let shutdown = async move {
        shutdown.await;
        stopper.send_replace(true);
    };
    grpc::serve(listener, FleetServer::new(service), &security, shutdown).await
}
