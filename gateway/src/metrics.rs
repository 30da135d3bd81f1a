//! Prometheus metrics of the gateway (served on the admin port at `/metrics`).

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    /// Open connections by transport (`tcp`).
    pub(crate) connections: IntGaugeVec,
    /// Connection attempts by outcome (`accepted`, `per_ip_limit`, `total_limit`, `accept_error`).
    pub(crate) connections_total: IntCounterVec,
    /// Sessions closed, by reason.
    pub(crate) sessions_closed: IntCounterVec,
    /// Valid frames received, by transport.
    pub(crate) frames_in: IntCounterVec,
    /// Frames acknowledged to a device (after JetStream stored them), by transport.
    pub(crate) frames_acked: IntCounterVec,
    /// Frames or lines refused, by reason.
    pub(crate) frames_rejected: IntCounterVec,
    /// Bytes read from devices, by transport.
    pub(crate) bytes_in: IntCounterVec,
    /// Time from first publish attempt to JetStream acknowledgement.
    pub(crate) publish_latency: Histogram,
    /// Publishes that failed (timeout, no JetStream) and were retried.
    pub(crate) publish_retries: IntCounter,
    /// Re-sent copies of a frame that was still awaiting its ack (answered by that one ack).
    pub(crate) resends_collapsed: IntCounter,
    /// Commands by outcome (`ok`, `timeout`, `not_connected`, `error`).
    pub(crate) commands: IntCounterVec,
    /// Devices currently identified on this gateway.
    pub(crate) devices: IntGauge,
}

impl Metrics {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("astra_gateway".into()), None)?;
        let m = Self {
            connections: IntGaugeVec::new(
                Opts::new("connections", "Open device connections"),
                &["transport"],
            )?,
            connections_total: IntCounterVec::new(
                Opts::new("connections_total", "Connection attempts by outcome"),
                &["outcome"],
            )?,
            sessions_closed: IntCounterVec::new(
                Opts::new("sessions_closed_total", "Sessions closed by reason"),
                &["reason"],
            )?,
            frames_in: IntCounterVec::new(
                Opts::new("frames_in_total", "Valid frames received"),
                &["transport"],
            )?,
            frames_acked: IntCounterVec::new(
                Opts::new("frames_acked_total", "Frames acknowledged to devices"),
                &["transport"],
            )?,
            frames_rejected: IntCounterVec::new(
                Opts::new(
                    "frames_rejected_total",
                    "Frames or lines refused, by reason",
                ),
                &["reason"],
            )?,
            bytes_in: IntCounterVec::new(
                Opts::new("bytes_in_total", "Bytes read from devices"),
                &["transport"],
            )?,
            publish_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "publish_latency_seconds",
                    "JetStream publish latency (first attempt to ack)",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
                ]),
            )?,
            publish_retries: IntCounter::new("publish_retries_total", "Publishes retried")?,
            resends_collapsed: IntCounter::new(
                "resends_collapsed_total",
                "Re-sent copies of a frame still awaiting its ack",
            )?,
            commands: IntCounterVec::new(
                Opts::new("commands_total", "Commands by outcome"),
                &["outcome"],
            )?,
            devices: IntGauge::new("devices", "Devices identified on this gateway")?,
            registry,
        };
        m.registry.register(Box::new(m.connections.clone()))?;
        m.registry.register(Box::new(m.connections_total.clone()))?;
        m.registry.register(Box::new(m.sessions_closed.clone()))?;
        m.registry.register(Box::new(m.frames_in.clone()))?;
        m.registry.register(Box::new(m.frames_acked.clone()))?;
        m.registry.register(Box::new(m.frames_rejected.clone()))?;
        m.registry.register(Box::new(m.bytes_in.clone()))?;
        m.registry.register(Box::new(m.publish_latency.clone()))?;
        m.registry.register(Box::new(m.publish_retries.clone()))?;
        m.registry.register(Box::new(m.resends_collapsed.clone()))?;
        m.registry.register(Box::new(m.commands.clone()))?;
        m.registry.register(Box::new(m.devices.clone()))?;
        Ok(m)
    }

    pub(crate) fn reject(&self, reason: &str) {
        self.frames_rejected.with_label_values(&[reason]).inc();
    }
}
