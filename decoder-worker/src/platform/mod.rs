//! What every service of the cluster shares: NATS connection settings, the streams and KV
//! buckets of DESIGN §3.1, logging/tracing set-up, the admin HTTP endpoint (`/metrics`,
//! `/healthz`, `/readyz`) and the security of the gRPC servers (TLS, bearer token). It lives in
//! this library because every service already links it for the codec.

pub mod admin;
pub mod grpc_security;
pub mod nats;
pub mod streams;
pub mod telemetry;
pub mod trace;
