//! What every actor of one gateway process shares: configuration, the NATS client and
//! JetStream context, metrics, the device [`Registry`], the [`DevicePolicy`], the session
//! event publisher and the connection limits.

use crate::command::InboxConfig;
use crate::config::Config;
use crate::events::SessionEvents;
use crate::limits::ConnectionLimits;
use crate::metrics::Metrics;
use crate::policy::DevicePolicy;
use crate::publisher::PipelineConfig;
use crate::registry::Registry;
use async_nats::jetstream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Shared by every actor of the process (behind an `Arc`).
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) metrics: Metrics,
    pub(crate) registry: Registry,
    pub(crate) policy: DevicePolicy,
    pub(crate) events: SessionEvents,
    pub(crate) limits: Arc<ConnectionLimits>,
    session_counter: AtomicU64,
    started: u64,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        client: async_nats::Client,
        js: jetstream::Context,
        metrics: Metrics,
        policy: DevicePolicy,
        events: SessionEvents,
    ) -> Self {
        let limits = ConnectionLimits::new(
            config.limits.max_connections_per_ip,
            config.limits.max_connections,
        );
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            config,
            client,
            js,
            metrics,
            registry: Registry::default(),
            policy,
            events,
            limits,
            session_counter: AtomicU64::new(0),
            started,
        }
    }

    /// A session id unique across gateways and restarts: `<gateway>-<start>-<n>`.
    pub(crate) fn new_session_id(&self) -> String {
        let n = self.session_counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{:x}-{n}", self.config.gateway_id, self.started)
    }

    /// Publish pipeline settings for raw frames.
    pub(crate) fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            max_in_flight: self.config.limits.max_in_flight,
            retry: self.config.publish.retry,
            latency: Some(self.metrics.publish_latency.clone()),
            retries: self.metrics.publish_retries.clone(),
        }
    }

    /// Settings of a session's command inbox.
    pub(crate) fn inbox_config(&self) -> InboxConfig {
        InboxConfig {
            default_timeout: self.config.commands.default_timeout,
            max_timeout: self.config.commands.max_timeout,
            outcomes: self.metrics.commands.clone(),
        }
    }
}
