//! The Astra gateway: terminates device sockets (TCP and UDP, port 5103), splits and checks
//! frames, identifies devices, stores every valid frame in JetStream (`ASTRA_RAW`) and acks the
//! device with 0x06 only after that, in arrival order; reports sessions to `ASTRA_SESSIONS`;
//! and delivers commands routed over NATS from the gRPC `astra.v1.Commands` service.
//!
//! Actors (actix): a `Listener` per TCP address, a `UdpListener` per UDP address, a `Session`
//! per connection. See `docs/gateway.md`. The binary uses [`Cli`] and [`server::run`]; every
//! other module is private to the crate.

mod command; // commands to devices: the per-session NATS inbox and reply matching
pub mod config; // the command line and the plain settings read by the rest
mod connection; // the read side of a TCP socket: whole frames, byte rate, idle timeout
mod error; // errors of set-up (GatewayError) and of the device policy
mod events; // SessionEvent publishing to ASTRA_SESSIONS
mod fd_limit; // the descriptor limit, raised to the hard one at start
mod grpc; // the astra.v1.Commands gRPC service
mod limits; // connection limits per source IP and in total
mod listener; // the TCP Listener actor: accepts connections and starts sessions
mod messages; // messages sent to a session (Command, TakeOver): the leaf that breaks cycles
mod metrics; // Prometheus metrics
mod outbox; // what a session still owes its device, in order (acks, command lines)
mod policy; // which IMEIs may connect (open, or registered in KV astra-devices)
mod publisher; // the ordered, pipelined JetStream publish queue
mod raw; // the RawFrame of a frame and its Nats-Msg-Id
mod registry; // IMEI → the local session holding it
pub mod server; // wiring and lifetime of one gateway process
mod session; // the Session actor of one TCP connection
mod shared; // what every actor of the process shares
mod takeover; // closing a session when its device logs in elsewhere
mod throttle; // the per-connection byte-rate token bucket
mod udp; // the UdpListener actor: one frame per datagram

pub use config::{Cli, Config};
pub use error::GatewayError;
