//! One actor per owned partition. It reads the partition of `ASTRA_POSITIONS` and of
//! `ASTRA_SESSIONS` through two durable pull consumers (`partition-<n>`, `sessions-<n>`,
//! `AckPolicy::All`: only the lease holder reads them), gathers a batch, hands each device its
//! share in order (device actors run concurrently), and acknowledges once per consumer and batch
//! only after every device of the batch has published its events and checkpointed its state.
//!
//! * **Pulls.** Each consumer has one continuous pull (a request serves up to `--batch`
//!   messages, renewed by the client), so at low load there is no round trip per message. A
//!   batch starts with the first message of either stream and gathers what arrives within
//!   `--linger`, up to `--batch` messages.
//! * **Acks.** Acking stream sequence S of a consumer acknowledges all its messages up to S, so
//!   one ack (of the batch's last message of that stream) covers the batch. A failed batch is
//!   retried as it is, never skipped past: newer work of a device must not overtake older work.
//! * **Take-over.** Consumers are bound from their ack floor (see [`bind`]); what the previous
//!   owner applied but did not acknowledge comes again and is skipped by the device's
//!   checkpointed `applied_seq` / `applied_session_seq`.
//! * **Lost deliveries.** Every delivery takes the consumer's next delivery sequence; a jump
//!   means a message this worker never saw may lie before the next one, and acking past it
//!   would skip it. The unapplied batch is then dropped and both consumers are bound again from
//!   their ack floors.

use crate::device::{Apply, DeviceActor, DeviceError, Shared, Stop};
use crate::input::{self, Source, WorkItem};
use actix::prelude::*;
use astra_platform::{streams, trace};
use async_nats::jetstream::consumer::pull::{self, MessagesErrorKind};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::{ConsumerInfoError, ConsumerInfoErrorKind};
use async_nats::jetstream::stream::{ConsumerError as StreamConsumerError, ConsumerErrorKind};
use async_nats::jetstream::{self, ErrorCode};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// Idle heartbeat of a pull request: two missed ones mean the request is gone (a server
/// restart or a consumer leader change), and a new one is sent.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Lifetime of a pull request; the client renews it.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// Pause before a failed bind or batch is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Why a partition could not bind its consumers, pull, or apply a batch (all are retried). The
/// NATS variants keep async-nats' errors, whose kinds tell a timeout from a refusal.
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
    #[error("cannot pull from consumer {name}: {source}")]
    Pull {
        name: String,
        source: jetstream::consumer::StreamError,
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
    /// Messages per batch (both streams together), and per pull request.
    pub(crate) batch: usize,
    pub(crate) ack_wait: Duration,
    /// How long a batch gathers after its first message.
    pub(crate) linger: Duration,
    /// Pause before rebinding a consumer deleted under this worker: by then, if another worker
    /// took the partition, this one has been told to stop.
    pub(crate) lease_ttl: Duration,
}

/// The two streams a partition reads.
#[derive(Clone)]
pub(crate) struct Streams {
    pub(crate) positions: jetstream::stream::Stream,
    pub(crate) sessions: jetstream::stream::Stream,
}

pub(crate) struct PartitionConsumer {
    pub(crate) partition: u32,
    pub(crate) streams: Streams,
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
            self.streams.clone(),
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

/// Durable consumer name of a partition in a stream (the positions' name is the one the work
/// stream's consumers had).
fn consumer_name(source: Source, partition: u32) -> String {
    match source {
        Source::Positions => format!("partition-{partition}"),
        Source::Sessions => format!("sessions-{partition}"),
    }
}

fn filter(source: Source, partition: u32) -> String {
    match source {
        Source::Positions => streams::position_partition_filter(partition),
        Source::Sessions => streams::session_partition_filter(partition),
    }
}

/// Binds a partition's durable consumer on one stream so that delivery restarts right after
/// its ack floor. A previous owner that died left messages pending that JetStream would only
/// redeliver after the ack wait, behind newer ones; a device must see its work in stream order,
/// so the consumer is recreated from the floor instead. `DeliverPolicy::All` only when the
/// server says the consumer does not exist: any other answer (a timeout, JetStream unavailable)
/// says nothing about it, and starting over from the beginning is not what it means.
async fn bind(
    stream: &jetstream::stream::Stream,
    source: Source,
    partition: u32,
    settings: &ConsumerSettings,
) -> Result<PullConsumer, ConsumerError> {
    let name = consumer_name(source, partition);
    let deliver_policy = match stream.consumer_info(&name).await {
        Ok(info) => {
            if let Err(e) = stream.delete_consumer(&name).await {
                let gone = matches!(
                    e.kind(),
                    ConsumerErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND
                );
                if !gone {
                    return Err(ConsumerError::Delete { name, source: e });
                }
            }
            DeliverPolicy::ByStartSequence {
                start_sequence: info.ack_floor.stream_sequence + 1,
            }
        }
        Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => DeliverPolicy::All,
        Err(source) => return Err(ConsumerError::Info { name, source }),
    };
    let config = pull::Config {
        durable_name: Some(name.clone()),
        description: Some(format!(
            "event-worker: partition {partition}, read by the worker holding its lease"
        )),
        filter_subject: filter(source, partition),
        ack_policy: AckPolicy::All,
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

/// A bound consumer and its continuous pull.
struct Reader {
    source: Source,
    name: String,
    consumer: PullConsumer,
    messages: Option<pull::Stream>,
    /// The consumer sequence the next delivery must carry.
    next_delivery: u64,
}

impl Reader {
    async fn open(
        stream: &jetstream::stream::Stream,
        source: Source,
        partition: u32,
        settings: &ConsumerSettings,
    ) -> Result<Self, ConsumerError> {
        let consumer = bind(stream, source, partition, settings).await?;
        let next_delivery = consumer
            .cached_info()
            .delivered
            .consumer_sequence
            .saturating_add(1);
        let mut reader = Self {
            source,
            name: consumer_name(source, partition),
            consumer,
            messages: None,
            next_delivery,
        };
        reader.pull(settings).await?;
        Ok(reader)
    }

    /// (Re)opens the continuous pull.
    async fn pull(&mut self, settings: &ConsumerSettings) -> Result<(), ConsumerError> {
        self.messages = None;
        let messages = self
            .consumer
            .stream()
            .max_messages_per_batch(settings.batch.max(1))
            .heartbeat(HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|source| ConsumerError::Pull {
                name: self.name.clone(),
                source,
            })?;
        self.messages = Some(messages);
        Ok(())
    }

    async fn next(&mut self) -> Option<Result<jetstream::Message, pull::MessagesError>> {
        match &mut self.messages {
            Some(m) => m.next().await,
            None => std::future::pending().await,
        }
    }
}

/// A partition's two readers.
struct Readers {
    positions: Reader,
    sessions: Reader,
}

/// What the gathering of a batch ended with, besides its messages.
enum Gathered {
    /// A batch to apply: the linger ran out, or the batch is full.
    Batch,
    /// The partition is being stopped: the unapplied messages are left to the next owner.
    Stop,
    /// A pull request was lost: pull again on that reader and keep gathering (a message lost
    /// with it shows as a gap in the delivery sequence, which rebinds).
    Repull(Source),
    /// The consumers must be bound again after this pause; the unapplied batch is dropped.
    Rebind(Duration),
}

/// A batch being gathered: messages per stream, in delivery order.
#[derive(Default)]
struct Batch {
    positions: Vec<jetstream::Message>,
    sessions: Vec<jetstream::Message>,
}

impl Batch {
    fn len(&self) -> usize {
        self.positions.len() + self.sessions.len()
    }

    fn of(&mut self, source: Source) -> &mut Vec<jetstream::Message> {
        match source {
            Source::Positions => &mut self.positions,
            Source::Sessions => &mut self.sessions,
        }
    }
}

async fn run(
    partition: u32,
    streams: Streams,
    shared: Arc<Shared>,
    settings: ConsumerSettings,
    resident: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut devices: HashMap<String, Addr<DeviceActor>> = HashMap::new();
    for imei in resident {
        let actor = DeviceActor::new(imei.clone(), shared.clone()).start();
        shared.metrics.devices.inc();
        devices.insert(imei, actor);
    }
    let mut readers: Option<Readers> = None;
    let mut batch = Batch::default();
    while !*stop.borrow() {
        let r = match &mut readers {
            Some(r) => r,
            None => match open(&streams, partition, &settings).await {
                Ok(r) => readers.insert(r),
                Err(e) => {
                    tracing::warn!(partition, error = %e, "cannot bind partition consumers; retrying");
                    pause(&stop, RETRY).await;
                    continue;
                }
            },
        };
        match gather(r, &mut batch, &settings, &mut stop, partition).await {
            Gathered::Batch => {}
            Gathered::Stop => break,
            Gathered::Repull(source) => {
                let reader = match source {
                    Source::Positions => &mut r.positions,
                    Source::Sessions => &mut r.sessions,
                };
                if let Err(e) = reader.pull(&settings).await {
                    tracing::warn!(partition, error = %e, "cannot pull again; rebinding");
                    batch = Batch::default();
                    readers = None;
                    pause(&stop, RETRY).await;
                }
                continue;
            }
            Gathered::Rebind(after) => {
                batch = Batch::default();
                readers = None;
                pause(&stop, after).await;
                continue;
            }
        }
        if batch.len() == 0 {
            continue;
        }
        let items = items(&batch, &shared);
        let mut applied = false;
        while !*stop.borrow() {
            match process(items.clone(), &mut devices, &shared).await {
                Ok(()) => {
                    applied = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "batch not applied; retrying");
                    pause(&stop, RETRY).await;
                }
            }
        }
        if !applied {
            break;
        }
        // When stopping, the acks are confirmed so the next owner starts right after them.
        let confirm = *stop.borrow();
        for (source, messages) in [
            (Source::Positions, &batch.positions),
            (Source::Sessions, &batch.sessions),
        ] {
            // The highest sequence covers the batch (a redelivery may come after newer ones).
            let Some(last) = messages
                .iter()
                .max_by_key(|m| m.info().map_or(0, |i| i.stream_sequence))
            else {
                continue;
            };
            let result = if confirm {
                last.double_ack().await
            } else {
                last.ack().await
            };
            if let Err(e) = result {
                tracing::warn!(partition, stream = source.stream(), error = %e, "batch ack failed; it will be redelivered and skipped");
            }
        }
        batch = Batch::default();
    }
    for (_, actor) in devices.drain() {
        actor.do_send(Stop);
        shared.metrics.devices.dec();
    }
}

async fn open(
    streams: &Streams,
    partition: u32,
    settings: &ConsumerSettings,
) -> Result<Readers, ConsumerError> {
    Ok(Readers {
        positions: Reader::open(&streams.positions, Source::Positions, partition, settings).await?,
        sessions: Reader::open(&streams.sessions, Source::Sessions, partition, settings).await?,
    })
}

/// Gathers a batch: waits for a first message from either consumer, then takes what arrives
/// within the linger, up to `--batch` messages.
async fn gather(
    readers: &mut Readers,
    batch: &mut Batch,
    settings: &ConsumerSettings,
    stop: &mut watch::Receiver<bool>,
    partition: u32,
) -> Gathered {
    let limit = settings.batch.max(1);
    let mut deadline: Option<Instant> = None;
    while batch.len() < limit {
        let (source, item) = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return Gathered::Stop,
            () = sleep_until(deadline) => return Gathered::Batch,
            item = readers.positions.next() => (Source::Positions, item),
            item = readers.sessions.next() => (Source::Sessions, item),
        };
        let reader = match source {
            Source::Positions => &mut readers.positions,
            Source::Sessions => &mut readers.sessions,
        };
        let msg = match item {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => match e.kind() {
                MessagesErrorKind::MissingHeartbeat => {
                    tracing::warn!(partition, consumer = %reader.name, "pull request lost; pulling again");
                    return Gathered::Repull(source);
                }
                MessagesErrorKind::ConsumerDeleted => {
                    // Another worker took the partition (this one will be stopped), or an
                    // operator deleted the consumer: rebind once a lease round has passed.
                    tracing::warn!(partition, consumer = %reader.name, "consumer deleted under this worker");
                    return Gathered::Rebind(settings.lease_ttl);
                }
                _ => {
                    tracing::warn!(partition, consumer = %reader.name, error = %e, "pull error");
                    continue;
                }
            },
            None => {
                tracing::warn!(partition, consumer = %reader.name, "pull stream ended; rebinding");
                return Gathered::Rebind(RETRY);
            }
        };
        let consumer_sequence = match msg.info() {
            Ok(i) => i.consumer_sequence,
            Err(e) => {
                // Cannot happen on a pull consumer; without a sequence it cannot be ordered.
                tracing::warn!(partition, error = %e, "delivery without JetStream metadata; rebinding");
                return Gathered::Rebind(RETRY);
            }
        };
        if consumer_sequence != reader.next_delivery {
            tracing::warn!(
                partition,
                consumer = %reader.name,
                expected = reader.next_delivery,
                got = consumer_sequence,
                "deliveries lost; rebinding from the ack floors"
            );
            return Gathered::Rebind(Duration::ZERO);
        }
        reader.next_delivery = reader.next_delivery.saturating_add(1);
        batch.of(reader.source).push(msg);
        if deadline.is_none() {
            deadline = Some(Instant::now() + settings.linger);
        }
    }
    Gathered::Batch
}

/// The batch's work per device: its positions and its session events, each in stream order,
/// merged by receive time (`input::merge`).
fn items(batch: &Batch, shared: &Shared) -> Vec<(String, Vec<WorkItem>)> {
    let mut per_device: Vec<(String, Vec<WorkItem>, Vec<WorkItem>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (source, messages) in [
        (Source::Positions, &batch.positions),
        (Source::Sessions, &batch.sessions),
    ] {
        for m in messages {
            let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
            match input::parse(source, &m.subject, seq, &m.payload) {
                Ok(item) if item.imei == "unknown" => {}
                Ok(mut item) => {
                    // Only the trace context is read from the headers, and only for events.
                    item.headers = m
                        .headers
                        .as_ref()
                        .filter(|h| h.get(trace::TRACEPARENT).is_some())
                        .cloned();
                    let slot = *index.entry(item.imei.clone()).or_insert_with(|| {
                        per_device.push((item.imei.clone(), Vec::new(), Vec::new()));
                        per_device.len() - 1
                    });
                    if let Some((_, positions, sessions)) = per_device.get_mut(slot) {
                        match source {
                            Source::Positions => positions.push(item),
                            Source::Sessions => sessions.push(item),
                        }
                    }
                }
                Err(e) => {
                    shared.metrics.bad_messages.inc();
                    tracing::warn!(error = %e, "work message skipped");
                }
            }
        }
    }
    per_device
        .into_iter()
        .map(|(imei, positions, sessions)| (imei, input::merge(positions, sessions)))
        .collect()
}

async fn process(
    per_device: Vec<(String, Vec<WorkItem>)>,
    devices: &mut HashMap<String, Addr<DeviceActor>>,
    shared: &Arc<Shared>,
) -> Result<(), ConsumerError> {
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn pause(stop: &watch::Receiver<bool>, d: Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        () = tokio::time::sleep(d) => {},
        _ = stop.wait_for(|s| *s) => {},
    }
}
