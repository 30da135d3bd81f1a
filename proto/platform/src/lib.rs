//! What every service of the cluster shares, one implementation each: how a process boots and
//! exits, its configuration rule, shutdown, the NATS connection and the streams and buckets of
//! DESIGN §3.1, the admin endpoint, logs and traces, gRPC servers and their security, instance
//! ids and the partition hash.

pub mod admin; // `/metrics`, `/healthz`, `/readyz` over HTTP
pub mod boot; // runtime, telemetry and exit codes of a service process
pub mod config; // flags, their `ASTRA_*` twins and the optional TOML file
pub mod duration; // the one duration syntax of every flag
pub mod grpc; // a gRPC server with health, reflection and security
pub mod grpc_security; // TLS, mutual TLS and bearer tokens of gRPC servers
pub mod instance; // the id of a replica
pub mod lease; // partitions divided between replicas by leases in KV
pub mod nats; // NATS connection settings, authentication, TLS
pub mod partition; // the partition of a device (FNV-1a, as NATS' `partition()`)
pub mod shutdown; // SIGTERM and the graceful-shutdown flag
pub mod streams; // streams and KV buckets and their subjects
pub mod telemetry; // logs (text/JSON) and OTLP traces
pub mod trace; // W3C trace context across NATS hops
