//! The event-worker: owns partitions of devices (leases in KV `astra-partitions`), runs one actor
//! per device that turns positions and session changes into alerts (DESIGN §4–§5), checkpoints
//! device state to KV `astra-state`, and serves the `astra.v1.Fleet` gRPC API.
//!
//! Data path: `work` (the partitioned work stream) → `manager` (leases, `lease`) →
//! `consumer` (one actor per partition) → `device` (one actor per device) → `rules`.

pub mod config;
pub mod consumer;
pub mod device;
pub mod devices;
pub mod fleet;
pub mod geofence;
pub mod lease;
mod lookup;
pub mod manager;
pub mod metrics;
pub mod partition;
pub mod rules;
pub mod run;
pub mod work;
