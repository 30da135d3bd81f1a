//! The [`Publisher`]: an ordered, pipelined JetStream publish queue. Messages are sent in the
//! order they were queued with at most `max_in_flight` awaiting their JetStream ack; each is
//! reported stored (through `on_stored`) in queue order. When an ack fails (timeout during a
//! NATS outage, no stream …) nothing after it is reported: the failed message and everything
//! behind it are re-published with the same `Nats-Msg-Id` (so copies that did reach the stream
//! collapse) until they succeed or the publisher is dropped. No message is ever skipped.

use async_nats::jetstream::{
    self, context::PublishError, message::PublishMessage, publish::PublishAck,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use prometheus::{Histogram, IntCounter};
use std::collections::VecDeque;
use std::future::IntoFuture;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One message to store, with a tag handed back once it is stored.
pub(crate) struct Outgoing<T> {
    pub(crate) subject: String,
    pub(crate) msg_id: String,
    pub(crate) payload: Bytes,
    /// Extra headers (the frame's `traceparent`).
    pub(crate) headers: Option<async_nats::HeaderMap>,
    pub(crate) tag: T,
}

/// Settings of a publish pipeline.
#[derive(Clone)]
pub(crate) struct PipelineConfig {
    pub(crate) max_in_flight: usize,
    pub(crate) retry: Duration,
    pub(crate) latency: Option<Histogram>,
    pub(crate) retries: IntCounter,
}

#[derive(Debug, thiserror::Error)]
#[error("publisher stopped")]
pub(crate) struct PublisherClosed;

/// Handle to a running pipeline; dropping it aborts the pipeline (use [`Publisher::finish`]
/// to let it drain first).
pub(crate) struct Publisher<T> {
    // Boxed: the channel allocates its first block of 32 slots up front, per session, and an
    // `Outgoing` is ~140 bytes (4.4 KiB per idle device connection; a box is 8).
    tx: Option<mpsc::UnboundedSender<Box<Outgoing<T>>>>,
    task: Option<JoinHandle<()>>,
}

type AckFuture = BoxFuture<'static, Result<PublishAck, PublishError>>;

impl<T: Send + Sync + 'static> Publisher<T> {
    pub(crate) fn spawn(
        js: jetstream::Context,
        config: PipelineConfig,
        on_stored: impl FnMut(T) + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(js, config, rx, on_stored));
        Self {
            tx: Some(tx),
            task: Some(task),
        }
    }

    pub(crate) fn publish(&self, message: Outgoing<T>) -> Result<(), PublisherClosed> {
        self.tx
            .as_ref()
            .ok_or(PublisherClosed)?
            .send(Box::new(message))
            .map_err(|_| PublisherClosed)
    }

    /// Stops taking messages; the returned task ends once everything queued is stored.
    pub(crate) fn finish(mut self) -> Option<JoinHandle<()>> {
        self.tx = None;
        self.task.take()
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct InFlight<T> {
    message: Box<Outgoing<T>>,
    since: Instant,
}

async fn run<T: Sync>(
    js: jetstream::Context,
    config: PipelineConfig,
    mut rx: mpsc::UnboundedReceiver<Box<Outgoing<T>>>,
    mut on_stored: impl FnMut(T),
) {
    let mut queue: VecDeque<InFlight<T>> = VecDeque::new();
    let mut acks: FuturesOrdered<AckFuture> = FuturesOrdered::new();
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            Some(result) = acks.next(), if !acks.is_empty() => match result {
                Ok(_) => {
                    if let Some(done) = queue.pop_front() {
                        if let Some(h) = &config.latency {
                            h.observe(done.since.elapsed().as_secs_f64());
                        }
                        on_stored(done.message.tag);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, pending = queue.len(), "publish not acknowledged; retrying");
                    acks = republish(&js, &config, &queue).await;
                }
            },
            message = rx.recv(), if open && queue.len() < config.max_in_flight => match message {
                Some(message) => {
                    let sent = send(&js, &message).await;
                    queue.push_back(InFlight { message, since: Instant::now() });
                    match sent {
                        Ok(ack) => acks.push_back(ack),
                        Err(e) => {
                            tracing::warn!(error = %e, pending = queue.len(), "publish failed; retrying");
                            acks = republish(&js, &config, &queue).await;
                        }
                    }
                }
                None => open = false,
            },
            else => break,
        }
    }
}

/// Sends one message; the returned future resolves with JetStream's ack.
async fn send<T: Sync>(
    js: &jetstream::Context,
    m: &Outgoing<T>,
) -> Result<AckFuture, PublishError> {
    // Headers first: `headers()` replaces the map, and with it a `Nats-Msg-Id` set before.
    let publish = PublishMessage::build()
        .payload(m.payload.clone())
        .headers(m.headers.clone().unwrap_or_default())
        .message_id(m.msg_id.as_str());
    let ack = js.send_publish(m.subject.clone(), publish).await?;
    Ok(Box::pin(ack.into_future()))
}

/// After a failure: waits, then sends everything still unacknowledged again, in order, until
/// every send is accepted by the client.
async fn republish<T: Sync>(
    js: &jetstream::Context,
    config: &PipelineConfig,
    queue: &VecDeque<InFlight<T>>,
) -> FuturesOrdered<AckFuture> {
    'retry: loop {
        config.retries.inc();
        tokio::time::sleep(config.retry).await;
        let mut acks = FuturesOrdered::new();
        for item in queue {
            match send(js, &item.message).await {
                Ok(ack) => acks.push_back(ack),
                Err(e) => {
                    tracing::warn!(error = %e, "re-publish failed; retrying");
                    continue 'retry;
                }
            }
        }
        return acks;
    }
}
