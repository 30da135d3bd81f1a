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

pub struct Shared {
    pub config: Config,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub metrics: Metrics,
    pub registry: Registry,
    pub policy: DevicePolicy,
    pub events: SessionEvents,
    pub limits: Arc<ConnectionLimits>,
    session_counter: AtomicU64,
    started: u64,
}

impl Shared {
    pub fn new(
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
    pub fn new_session_id(&self) -> String {
        let n = self.session_counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{:x}-{n}", self.config.gateway_id, self.started)
    }

    /// Publish pipeline settings for raw frames.
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            max_in_flight: self.config.limits.max_in_flight,
            retry: self.config.publish.retry,
            latency: Some(self.metrics.publish_latency.clone()),
            retries: self.metrics.publish_retries.clone(),
        }
    }

    pub fn inbox_config(&self) -> InboxConfig {
        InboxConfig {
            default_timeout: self.config.commands.default_timeout,
            max_timeout: self.config.commands.max_timeout,
            outcomes: self.metrics.commands.clone(),
        }
    }
}
