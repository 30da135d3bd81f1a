//! Errors of the Fleet API and the gRPC status each one becomes.

use super::validate::DeviceError;
use crate::geofence::GeofenceError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Geofence(#[from] GeofenceError),
    #[error("at most {max} imeis per watch, got {got}")]
    TooManyImeis { max: usize, got: usize },
    #[error("device {0} not found")]
    DeviceNotFound(String),
    #[error("geofence {0:?} not found")]
    GeofenceNotFound(String),
    #[error("no state recorded for device {0}")]
    NoState(String),
    #[error("KV {bucket}: entry {key:?} cannot be decoded: {message}")]
    Corrupt {
        bucket: &'static str,
        key: String,
        message: String,
    },
    #[error("KV {bucket}: {message}")]
    Store {
        bucket: &'static str,
        message: String,
    },
    #[error("NATS subscribe to {subject}: {message}")]
    Subscribe { subject: String, message: String },
}

impl From<FleetError> for Status {
    fn from(e: FleetError) -> Status {
        let message = e.to_string();
        match e {
            FleetError::Device(_) | FleetError::Geofence(_) | FleetError::TooManyImeis { .. } => {
                Status::invalid_argument(message)
            }
            FleetError::DeviceNotFound(_)
            | FleetError::GeofenceNotFound(_)
            | FleetError::NoState(_) => Status::not_found(message),
            FleetError::Corrupt { .. } => Status::internal(message),
            FleetError::Store { .. } | FleetError::Subscribe { .. } => Status::unavailable(message),
        }
    }
}
