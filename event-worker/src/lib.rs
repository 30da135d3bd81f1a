//! The event-worker: owns partitions of devices (leases in KV `astra-partitions`), runs one actor
//! per device that turns positions and session changes into alerts (DESIGN §4–§5), checkpoints
//! device state to KV `astra-state`, and serves the `astra.v1.Fleet` gRPC API.
//!
//! Data path: `input` (`ASTRA_POSITIONS` and `ASTRA_SESSIONS`, stored by partition) →
//! `manager` (the partitions that the platform's lease loop gives this worker) → `consumer` (one
//! actor per partition, one consumer per stream) → `device` (one actor per device) → `rules`. What every service shares (NATS, streams, admin, gRPC,
//! shutdown, partition leases, the partition hash) comes from `astra_platform`.

pub mod config; // command-line flags, their ASTRA_* twins and the config file
mod consumer; // one actor per owned partition: pulls both streams, dispatches, acknowledges
mod device; // one actor per device: rule state, timer, events, checkpoint in KV astra-state
mod devices; // per-device settings followed live from KV astra-devices
pub mod fleet; // the astra.v1.Fleet gRPC API (devices, geofences, state, watches)
pub mod geofence; // geofence shapes, their R-tree index and the KV astra-geofences watcher
mod input; // the partitioned positions and session events as work items
mod lookup; // the live geofence index as the rules' FenceLookup
mod manager; // starts and stops partition consumers as the platform lease loop wins or loses them
mod metrics; // the worker's Prometheus metrics
mod rules; // the event rules of DESIGN §5 as a pure state machine
pub mod run; // wiring of the service and its orderly shutdown
