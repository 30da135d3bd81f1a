//! Geofences for the event rules (DESIGN §5): validation of `astra.v1.Geofence`, compiled shapes
//! (circle, polygon with holes, corridor), an R-tree index answering "which fences contain this
//! fix for this device", and a watcher that keeps the index in step with KV `astra-geofences`.

mod error; // why a geofence is rejected
mod index; // the live fences and an R-tree over their boxes
mod shape; // validation and compiled shapes on the sphere
mod watch; // keeps the index equal to KV astra-geofences

pub(crate) use error::GeofenceError;
pub use index::GeofenceIndex;
pub use shape::Fence;
pub(crate) use shape::{validate, validate_id};
pub use watch::{LoadReport, start, watch};

/// The index shared between the watcher (writer) and the device actors (readers).
pub type SharedIndex = std::sync::Arc<std::sync::RwLock<GeofenceIndex>>;

#[cfg(test)]
mod tests;
