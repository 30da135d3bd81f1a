//! The event-worker: owns partitions of devices (leases in KV `astra-partitions`), runs one actor
//! per device that turns positions and session changes into alerts (DESIGN §4–§5), checkpoints
//! device state to KV `astra-state`, and serves the `astra.v1.Fleet` gRPC API.
