//! The event-worker's Prometheus metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub(crate) struct Metrics {
    /// Positions by outcome: applied, late, duplicate, ignored, redelivered.
    pub(crate) positions: IntCounterVec,
    /// Session events by outcome.
    pub(crate) sessions: IntCounterVec,
    /// Events published, by type.
    pub(crate) events: IntCounterVec,
    pub(crate) partitions_owned: IntGauge,
    pub(crate) devices: IntGauge,
    /// Checkpoints refused because another owner wrote the device's state first.
    pub(crate) kv_conflicts: IntCounter,
    /// Undecodable work messages (acknowledged and skipped).
    pub(crate) bad_messages: IntCounter,
    /// Gateway receive time → event-worker processing, per position.
    pub(crate) lag: Histogram,
}

impl Metrics {
    pub(crate) fn new(registry: &Registry) -> anyhow::Result<Self> {
        let m = Self {
            positions: IntCounterVec::new(
                Opts::new(
                    "astra_event_worker_positions_total",
                    "Positions processed, by outcome",
                ),
                &["outcome"],
            )?,
            sessions: IntCounterVec::new(
                Opts::new(
                    "astra_event_worker_session_events_total",
                    "Session events processed, by outcome",
                ),
                &["outcome"],
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "astra_event_worker_events_total",
                    "Events published, by type",
                ),
                &["type"],
            )?,
            partitions_owned: IntGauge::new(
                "astra_event_worker_partitions_owned",
                "Partitions this worker holds the lease of",
            )?,
            devices: IntGauge::new("astra_event_worker_devices", "Device actors running")?,
            kv_conflicts: IntCounter::new(
                "astra_event_worker_kv_conflicts_total",
                "State checkpoints refused by a revision check",
            )?,
            bad_messages: IntCounter::new(
                "astra_event_worker_bad_messages_total",
                "Undecodable work messages skipped",
            )?,
            lag: Histogram::with_opts(
                HistogramOpts::new(
                    "astra_event_worker_processing_lag_seconds",
                    "From the gateway receiving a frame to its position being processed",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
                ]),
            )?,
        };
        registry.register(Box::new(m.positions.clone()))?;
        registry.register(Box::new(m.sessions.clone()))?;
        registry.register(Box::new(m.events.clone()))?;
        registry.register(Box::new(m.partitions_owned.clone()))?;
        registry.register(Box::new(m.devices.clone()))?;
        registry.register(Box::new(m.kv_conflicts.clone()))?;
        registry.register(Box::new(m.bad_messages.clone()))?;
        registry.register(Box::new(m.lag.clone()))?;
        Ok(m)
    }
}
