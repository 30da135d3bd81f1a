//! The `astra.v1` protobuf contract: every message that crosses a process boundary.
//!
//! Types derive serde through pbjson, so `serde_json` gives canonical proto3 JSON
//! (lowerCamelCase names, RFC 3339 timestamps, enums by name, 64-bit integers as strings).

#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/astra.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/astra.v1.serde.rs"));
}

/// Encoded `FileDescriptorSet` of the contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/astra_descriptor.bin"));

mod timestamp;
pub use timestamp::Timestamp;
