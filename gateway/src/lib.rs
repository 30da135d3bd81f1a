//! The Astra gateway: terminates device sockets (TCP and UDP, port 5103), splits and checks
//! frames, identifies devices, stores every valid frame in JetStream (`ASTRA_RAW`) and acks the
//! device with 0x06 only after that, in arrival order; reports sessions to `ASTRA_SESSIONS`;
//! and delivers commands routed over NATS from the gRPC `astra.v1.Commands` service.
//!
//! Actors (actix): a [`listener::Listener`] per TCP address, a [`udp::UdpListener`] per UDP
//! address, a [`session::Session`] per connection. See `docs/gateway.md`.

pub mod command;
pub mod config;
pub mod connection;
pub mod error;
pub mod events;
pub mod fd_limit;
pub mod grpc;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod policy;
pub mod publisher;
pub mod raw;
pub mod registry;
pub mod server;
pub mod session;
pub mod shared;
pub mod takeover;
pub mod throttle;
pub mod udp;

pub use config::{Cli, Config};
pub use error::GatewayError;
