//! The whole pipeline as processes for end-to-end and fault tests: gateways, decoder-workers and
//! event-workers started against one NATS URL (or a cluster's URLs), each on free ports, each
//! killable (SIGKILL) or stoppable (SIGTERM) on its own.

use crate::process::{Service, free_port, local, wait_listening};
use std::net::SocketAddr;
use std::time::Duration;

/// Settings shared by the services a test starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub nats: String,
    pub stream_replicas: u32,
    /// Extra flags for every event-worker (rule thresholds…).
    pub event_worker_args: Vec<String>,
}

impl Options {
    pub fn new(nats: String) -> Self {
        Self {
            nats,
            stream_replicas: 1,
            event_worker_args: vec!["--speed-limit-kmh".into(), "100".into()],
        }
    }

    fn common(&self) -> Vec<String> {
        vec![
            "--nats-url".into(),
            self.nats.clone(),
            "--stream-replicas".into(),
            self.stream_replicas.to_string(),
            // The partition count is one per cluster: every service gets the same.
            "--partitions=8".into(),
        ]
    }
}

pub struct Gateway {
    pub service: Service,
    /// TCP and UDP device address.
    pub devices: SocketAddr,
}

/// Starts a gateway; `devices` picks its device port (None: a free one).
pub fn gateway(o: &Options, id: &str, devices: Option<SocketAddr>) -> Gateway {
    let devices = devices.unwrap_or_else(|| local(free_port()));
    let mut args = o.common();
    args.extend([
        format!("--listen={devices}"),
        format!("--admin-addr={}", local(free_port())),
        format!("--grpc-addr={}", local(free_port())),
        format!("--instance-id={id}"),
        "--publish-timeout=2s".into(),
    ]);
    let service = Service::spawn("gateway", &args);
    assert!(
        wait_listening(devices, Duration::from_secs(30)),
        "gateway {id} did not listen"
    );
    Gateway { service, devices }
}

pub fn decoder(o: &Options) -> Service {
    let admin = local(free_port());
    let mut args = vec!["run".to_owned()];
    args.extend(o.common());
    args.extend([
        format!("--admin-addr={admin}"),
        format!("--grpc-addr={}", local(free_port())),
        "--geocoder=none".into(),
        "--lease-ttl=2s".into(),
    ]);
    let service = Service::spawn("decoder-worker", &args);
    assert!(
        wait_listening(admin, Duration::from_secs(30)),
        "decoder-worker did not start"
    );
    service
}

pub fn event_worker(o: &Options, id: &str) -> Service {
    let admin = local(free_port());
    let mut args = o.common();
    args.extend([
        format!("--instance-id={id}"),
        format!("--admin-addr={admin}"),
        format!("--grpc-addr={}", local(free_port())),
        "--lease-ttl=2s".into(),
        "--ack-wait=3s".into(),
    ]);
    args.extend(o.event_worker_args.iter().cloned());
    let service = Service::spawn("event-worker", &args);
    assert!(
        wait_listening(admin, Duration::from_secs(30)),
        "event-worker {id} did not start"
    );
    service
}
