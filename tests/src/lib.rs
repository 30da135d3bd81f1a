//! Test support for the Astra cluster: an encoder for every protocol variant, one simulated
//! device on real sockets, a simulator that runs fleets of them, a real nats-server, helpers to
//! run the service binaries as processes, and the one way to wait for something in a test.

pub mod bench; // shared pieces of the benchmark tools (loadgen, js-ceiling, idle-conns)
pub mod cluster; // the whole pipeline as processes: gateways, decoder-workers, event-workers
pub mod device; // the one simulated tracker connection: log in, send frames, read 0x06 acks
pub mod encoder; // frames of every protocol variant, the decoder's inverse
pub mod journey; // a scripted journey every protocol carries, and its delivery by a device
pub mod nats; // a real nats-server with JetStream on a free port
pub mod nats_cluster; // a real 3-node NATS cluster for fault tests
pub mod pki; // a test CA and the certificates TLS tests need
pub mod process; // service binaries as child processes, free ports, local addresses
pub mod sim; // fleets of devices with routes, buffers and reconnects (astra-sim's library)
pub mod wait; // poll a check until it holds or a deadline passes
