//! Errors of the Fleet API and the gRPC status each one becomes.

use super::validate::DeviceError;
use crate::geofence::GeofenceError;
use async_nats::jetstream::kv;
use tonic::Status;

/// A failed KV operation. The NATS variants keep async-nats' errors, whose kinds tell a timeout
/// from a refusal; their messages are what the client sees after `KV <bucket>: `.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KvError {
    #[error(transparent)]
    Read(#[from] kv::EntryError),
    #[error(transparent)]
    Write(#[from] kv::PutError),
    #[error(transparent)]
    ListKeys(#[from] kv::HistoryError),
    #[error(transparent)]
    NextKey(#[from] kv::WatcherError),
    #[error(transparent)]
    Delete(#[from] kv::DeleteError),
    #[error("{0:?} kept changing while being deleted")]
    KeptChanging(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FleetError {
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
    #[error("KV {bucket}: entry {key:?} cannot be decoded: {source}")]
    Corrupt {
        bucket: &'static str,
        key: String,
        source: prost::DecodeError,
    },
    #[error("KV {bucket}: {source}")]
    Store {
        bucket: &'static str,
        source: KvError,
    },
    #[error("NATS subscribe to {subject}: {source}")]
    Subscribe {
        subject: String,
        source: async_nats::SubscribeError,
    },
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
