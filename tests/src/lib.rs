//! Test support for the Astra cluster: an encoder for every protocol variant, a simulated device
//! that drives it over real sockets, a real nats-server, and helpers to run the service binaries
//! as processes.

pub mod bench;
pub mod cluster;
pub mod encoder;
pub mod journey;
pub mod nats;
pub mod nats_cluster;
pub mod pki;
pub mod process;
pub mod sim;
pub mod simulator;
