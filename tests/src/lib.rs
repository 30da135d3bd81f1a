//! Test support for the Astra cluster: an encoder for every protocol variant (it also drives the
//! device simulator) and a real nats-server for integration tests.

pub mod encoder;
pub mod nats;
