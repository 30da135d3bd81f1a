//! The shared durable pull consumer on ASTRA_RAW: every replica binds the same consumer, so
//! JetStream hands each batch to exactly one of them and redelivers what a dead replica held
//! after `ack_wait`. The pull loop keeps up to `in_flight` frames in progress; a lag poller
//! exports the consumer's pending counts.

use super::error::ServiceError;
use super::metrics::Metrics;
use super::process::Worker;
use astra_platform::shutdown::Shutdown;
use astra_platform::streams;
use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt;
use std::time::Duration;

/// Consumer settings applied when the consumer is first created.
pub struct ConsumerSettings {
    pub name: String,
    pub ack_wait: Duration,
    pub max_ack_pending: i64,
}

/// Finds or creates the shared durable consumer.
pub async fn bind(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
) -> Result<jetstream::consumer::PullConsumer, ServiceError> {
    let stream = js
        .get_stream(streams::RAW)
        .await
        .map_err(ServiceError::GetStream)?;
    let config = pull::Config {
        durable_name: Some(settings.name.clone()),
        description: Some("decoder-worker: shared by every replica".to_owned()),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: settings.ack_wait,
        max_ack_pending: settings.max_ack_pending,
        ..Default::default()
    };
    stream
        .get_or_create_consumer(&settings.name, config)
        .await
        .map_err(|source| ServiceError::BindConsumer {
            name: settings.name.clone(),
            source,
        })
}

/// Pulls and handles messages until `stop` fires; in-flight frames are finished first.
pub async fn run_loop(
    consumer: &jetstream::consumer::PullConsumer,
    worker: &Worker,
    batch: usize,
    in_flight: usize,
    mut stop: Shutdown,
) {
    while !stop.is_shutdown() {
        let messages = match consumer
            .stream()
            .max_messages_per_batch(batch.max(1))
            // Short pull requests: after a server restart forgets them, pulling resumes soon.
            .heartbeat(Duration::from_secs(3))
            .expires(Duration::from_secs(10))
            .messages()
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull from ASTRA_RAW; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {},
                    () = stop.recv() => {},
                }
                continue;
            }
        };
        messages
            .take_until(stop.clone().wait())
            .for_each_concurrent(in_flight.max(1), |m| async move {
                match m {
                    Ok(msg) => worker.handle(msg).await,
                    Err(e) => tracing::warn!(error = %e, "pull error"),
                }
            })
            .await;
        if !stop.is_shutdown() {
            tracing::warn!("message stream ended; pulling again");
        }
    }
}

/// Refreshes the lag gauges from the consumer info every `interval` until `stop` fires.
pub async fn poll_lag(
    consumer: jetstream::consumer::PullConsumer,
    metrics: Metrics,
    interval: Duration,
    mut stop: Shutdown,
) {
    while !stop.is_shutdown() {
        match consumer.get_info().await {
            Ok(info) => {
                metrics
                    .consumer_pending
                    .set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                metrics
                    .consumer_ack_pending
                    .set(i64::try_from(info.num_ack_pending).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::debug!(error = %e, "consumer info unavailable"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {},
            () = stop.recv() => {},
        }
    }
}
