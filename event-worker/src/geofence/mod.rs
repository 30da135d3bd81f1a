//! Geofences for the event rules (DESIGN §5): validation of `astra.v1.Geofence`, compiled shapes
//! (circle, polygon with holes, corridor), an R-tree index answering "which fences contain this
//! fix for this device", and a watcher that keeps the index in step with KV `astra-geofences`.

mod error;
mod index;
mod shape;
pub mod watch;

pub use error::{GeofenceError, MAX_DWELL_S, MAX_POINTS, RingRole};
pub use index::GeofenceIndex;
pub use shape::{EARTH_RADIUS_M, Fence, haversine_m, segment_distance_m, validate, validate_id};
pub use watch::{LoadReport, start, watch};

/// The index shared between the watcher (writer) and the device actors (readers).
pub type SharedIndex = std::sync::Arc<std::sync::RwLock<GeofenceIndex>>;

#[cfg(test)]
mod tests;
