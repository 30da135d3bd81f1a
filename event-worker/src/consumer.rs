//! One actor per owned partition: it pulls its partition of the work stream in batches, hands
//! each device its messages in order (device actors run concurrently), and acknowledges the
//! batch only once every device has published its events and checkpointed its state.

use crate::device::{Apply, DeviceActor, DeviceError, Shared, Stop};
use crate::work::{self, WorkItem};
use actix::prelude::*;
use astra_platform::trace;
use async_nats::jetstream::context::{ConsumerInfoError, ConsumerInfoErrorKind};
use async_nats::jetstream::stream::ConsumerError as StreamConsumerError;
use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Why a partition could not bind its consumer or apply a batch (both are retried). The NATS
/// variants keep async-nats' errors, whose kinds tell a timeout from a refusal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsumerError {
    #[error("cannot read consumer {name}: {source}")]
    Info {
        name: String,
        source: ConsumerInfoError,
    },
    #[error("cannot delete consumer {name} to rebind it: {source}")]
    Delete {
        name: String,
        source: StreamConsumerError,
    },
    #[error("cannot create consumer {name}: {source}")]
    Create {
        name: String,
        source: StreamConsumerError,
    },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("device actor of {imei} is gone: {source}")]
    Mailbox {
        imei: String,
        source: actix::MailboxError,
    },
}

/// Settings of the partition consumers.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSettings {
    pub(crate) batch: usize,
    pub(crate) ack_wait: Duration,
}

pub(crate) struct PartitionConsumer {
    pub(crate) partition: u32,
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: ConsumerSettings,
    /// Devices with state in KV that get an actor at once, so their timers run.
    pub(crate) resident: Vec<String>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) done: Option<oneshot::Sender<()>>,
}

impl Actor for PartitionConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let run = run(
            self.partition,
            self.stream.clone(),
            self.shared.clone(),
            self.settings.clone(),
            std::mem::take(&mut self.resident),
            self.stop.clone(),
        );
        ctx.spawn(run.into_actor(self).map(|(), act, ctx| {
            if let Some(done) = act.done.take() {
                let _ = done.send(());
            }
            ctx.stop();
        }));
    }
}

fn consumer_name(partition: u32) -> String {
    format!("partition-{partition}")
}

/// Binds the partition's durable consumer so that delivery restarts right after its ack floor.
/// A previous owner that died left messages pending that JetStream would only redeliver after
/// the ack wait, behind newer ones; a device must see its work in stream order, so the consumer
/// is recreated from the floor instead (what the previous owner applied but did not acknowledge
/// comes again and is skipped by the checkpoint's `applied_seq`).
async fn bind(
    stream: &jetstream::stream::Stream,
    partition: u32,
    settings: &ConsumerSettings,
) -> Result<jetstream::consumer::PullConsumer, ConsumerError> {
    let name = consumer_name(partition);
    let deliver_policy = match stream.consumer_info(&name).await {
        Ok(info) => {
            stream
                .delete_consumer(&name)
                .await
                .map_err(|source| ConsumerError::Delete {
                    name: name.clone(),
                    source,
                })?;
            DeliverPolicy::ByStartSequence {
                start_sequence: info.ack_floor.stream_sequence + 1,
            }
        }
        Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => DeliverPolicy::All,
        // Anything else (a timeout, JetStream unavailable) says nothing about the consumer:
        // starting it over from the beginning could reorder work, so the bind is retried.
        Err(source) => return Err(ConsumerError::Info { name, source }),
    };
    let config = pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: work::partition_filter(partition),
        ack_policy: AckPolicy::Explicit,
        deliver_policy,
        ack_wait: settings.ack_wait,
        max_ack_pending: 100_000,
        ..Default::default()
    };
    stream
        .create_consumer(config)
        .await
        .map_err(|source| ConsumerError::Create { name, source })
}

async fn run(
    partition: u32,
    stream: jetstream::stream::Stream,
    shared: Arc<Shared>,
    settings: ConsumerSettings,
    resident: Vec<String>,
    stop: watch::Receiver<bool>,
) {
    let mut devices: HashMap<String, Addr<DeviceActor>> = HashMap::new();
    for imei in resident {
        let actor = DeviceActor::new(imei.clone(), shared.clone()).start();
        shared.metrics.devices.inc();
        devices.insert(imei, actor);
    }
    let mut consumer = None;
    while !*stop.borrow() {
        let c = match &consumer {
            Some(c) => c,
            None => match bind(&stream, partition, &settings).await {
                Ok(c) => consumer.insert(c),
                Err(e) => {
                    tracing::warn!(partition, error = %e, "cannot bind partition consumer; retrying");
                    pause(&stop, Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let batch = c
            .fetch()
            .max_messages(settings.batch.max(1))
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let messages: Vec<jetstream::Message> = match batch {
            Ok(stream) => stream.filter_map(|m| async { m.ok() }).collect().await,
            Err(e) => {
                tracing::warn!(partition, error = %e, "cannot pull partition; retrying");
                consumer = None;
                pause(&stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(last) = messages.last() else {
            continue;
        };
        // A failed batch is retried as it is, never skipped past: newer work for a device must
        // not overtake older work. Devices that already applied part of it skip that part.
        let mut applied = false;
        while !*stop.borrow() {
            match process(&messages, &mut devices, &shared).await {
                Ok(()) => {
                    applied = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "batch not applied; retrying");
                    pause(&stop, Duration::from_secs(1)).await;
                }
            }
        }
        if !applied {
            break;
        }
        let (head, _) = messages.split_at(messages.len() - 1);
        for m in head {
            let _ = m.ack().await;
        }
        if let Err(e) = last.double_ack().await {
            tracing::warn!(partition, error = %e, "batch ack failed; it will be redelivered and skipped");
        }
    }
    for (_, actor) in devices.drain() {
        actor.do_send(Stop);
        shared.metrics.devices.dec();
    }
}

async fn process(
    messages: &[jetstream::Message],
    devices: &mut HashMap<String, Addr<DeviceActor>>,
    shared: &Arc<Shared>,
) -> Result<(), ConsumerError> {
    let mut per_device: Vec<(String, Vec<WorkItem>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for m in messages {
        let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
        match work::parse(&m.subject, seq, &m.payload) {
            Ok(item) if item.imei == "unknown" => {}
            Ok(mut item) => {
                // Only the trace context is read from the headers, and only for events.
                item.headers = m
                    .headers
                    .as_ref()
                    .filter(|h| h.get(trace::TRACEPARENT).is_some())
                    .cloned();
                let slot = *index.entry(item.imei.clone()).or_insert_with(|| {
                    per_device.push((item.imei.clone(), Vec::new()));
                    per_device.len() - 1
                });
                if let Some((_, items)) = per_device.get_mut(slot) {
                    items.push(item);
                }
            }
            Err(e) => {
                shared.metrics.bad_messages.inc();
                tracing::warn!(error = %e, "work message skipped");
            }
        }
    }
    let mut imeis = Vec::with_capacity(per_device.len());
    let mut pending = Vec::with_capacity(per_device.len());
    for (imei, items) in per_device {
        let actor = devices.entry(imei.clone()).or_insert_with(|| {
            shared.metrics.devices.inc();
            DeviceActor::new(imei.clone(), shared.clone()).start()
        });
        pending.push(actor.send(Apply(items)));
        imeis.push(imei);
    }
    // Every device finishes its share; the last failure (if any) fails the whole batch.
    let mut failure = None;
    for (imei, result) in imeis
        .into_iter()
        .zip(futures::future::join_all(pending).await)
    {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(ConsumerError::Device(e)),
            Err(source) => failure = Some(ConsumerError::Mailbox { imei, source }),
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn pause(stop: &watch::Receiver<bool>, d: Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        () = tokio::time::sleep(d) => {},
        _ = stop.wait_for(|s| *s) => {},
    }
}
