//! One partition of ASTRA_RAW while this replica holds its lease (`partitions.rs` starts and
//! stops it). The partition is read through its own durable pull consumer `<prefix>-<n>`
//! (filter `astra.raw.<n>.*`, `AckPolicy::All`), and only here, so:
//!
//! * **Order.** Frames arrive in stream order. A device's frame is handed to the worker only
//!   when the device's previous frame is done (its positions acknowledged by JetStream); until
//!   then it waits in the device's queue. Different devices run concurrently, bounded by the
//!   replica's `--in-flight` slots.
//! * **Acks.** Acking S acknowledges the whole partition up to S, so the loop acks the highest
//!   sequence below which every frame is done ([`AckTracker`]), at most once per
//!   `--ack-linger` or when `--batch` frames are ready: one ack per batch, not per frame.
//! * **Take-over.** On acquisition the consumer is bound from its ack floor: an existing one
//!   (left by a previous owner, dead or not) is deleted and created again starting at
//!   `ack_floor + 1`, so frames the previous owner had not acknowledged come first, in stream
//!   order, instead of after `ack_wait` behind newer ones. What it had published already is
//!   published again and collapses on the positions' dedup ids; a device's done frames always
//!   precede its undone ones, so the stored order stays the frames' order.
//! * **Stop.** Stopping (hand-over, shutdown) ends pulling, lets the frames in progress finish
//!   (a failing one is abandoned), sends the final ack and waits for its confirmation.
//! * **Lost deliveries.** A gap in the consumer's delivery sequence (a pull answer lost in a
//!   reconnect) stops pulling; the frames held are finished and acked, and the consumer is
//!   bound again from its ack floor, so nothing is acked past a frame never seen.

use super::acks::{AckTracker, Delivery};
use super::metrics::Metrics;
use super::process::{Outcome, Worker};
use astra_platform::shutdown::Shutdown;
use astra_platform::streams;
use async_nats::jetstream::consumer::pull::{self, MessagesErrorKind};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::{ConsumerInfoError, ConsumerInfoErrorKind};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::ConsumerError;
use async_nats::jetstream::{self, Message};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Idle heartbeat of a pull request: two missed ones mean the request is gone (a server
/// restart or a consumer leader change), and a new one is sent.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Lifetime of a pull request; the client renews it.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// Pause before a failed bind is tried again, or before rebinding after lost deliveries.
const RETRY: Duration = Duration::from_secs(1);

/// Why binding a partition's consumer, or pulling from it, failed (retried). Keeps async-nats'
/// errors, whose kinds tell a timeout from a refusal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BindError {
    #[error("cannot read consumer {name}: {source}")]
    Info {
        name: String,
        source: ConsumerInfoError,
    },
    #[error("cannot delete consumer {name} to rebind it: {source}")]
    Delete { name: String, source: ConsumerError },
    #[error("cannot create consumer {name}: {source}")]
    Create { name: String, source: ConsumerError },
    #[error("cannot pull from consumer {name}: {source}")]
    Pull {
        name: String,
        source: async_nats::jetstream::consumer::StreamError,
    },
}

/// Settings of every partition of a replica.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Consumer names are `<prefix>-<partition>`.
    pub(crate) prefix: String,
    pub(crate) batch: usize,
    pub(crate) ack_wait: Duration,
    pub(crate) max_ack_pending: i64,
    pub(crate) ack_linger: Duration,
    /// How long to wait before rebinding a consumer deleted under this replica: by then, if
    /// another replica took the partition, this one has been told to stop.
    pub(crate) lease_ttl: Duration,
}

/// The consumers of the partitions bound here, for the lag gauges.
pub(crate) type Bound = Arc<Mutex<BTreeMap<u32, PullConsumer>>>;

/// What every partition of a replica shares.
pub(crate) struct Context {
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) worker: Worker,
    /// `--in-flight`: frames in progress over all partitions.
    pub(crate) slots: Semaphore,
    pub(crate) settings: Settings,
    pub(crate) bound: Bound,
}

fn consumer_name(prefix: &str, partition: u32) -> String {
    format!("{prefix}-{partition}")
}

/// Runs partition `partition` until `stop` fires: bind, consume, rebind when needed.
pub(crate) async fn run(partition: u32, ctx: Arc<Context>, mut stop: Shutdown) {
    let name = consumer_name(&ctx.settings.prefix, partition);
    while !stop.is_shutdown() {
        let consumer = match bind(&ctx.stream, &name, partition, &ctx.settings).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(partition, error = %e, "cannot bind partition consumer; retrying");
                pause(&mut stop, RETRY).await;
                continue;
            }
        };
        if let Ok(mut bound) = ctx.bound.lock() {
            bound.insert(partition, consumer.consumer.clone());
        }
        tracing::debug!(partition, from = consumer.floor + 1, "partition bound");
        let rebind_after = Partition::new(partition, &name, &ctx, consumer, stop.clone())
            .consume()
            .await;
        if let Some(after) = rebind_after {
            pause(&mut stop, after).await;
        }
    }
    if let Ok(mut bound) = ctx.bound.lock() {
        bound.remove(&partition);
    }
}

/// A bound consumer and where it starts.
struct Consumer {
    consumer: PullConsumer,
    /// Every message of the partition up to this stream sequence is done.
    floor: u64,
    /// Highest stream sequence the previous consumer delivered: frames up to it may have been
    /// handled before (counted as redelivered).
    handled_before: u64,
}

/// Binds the partition's durable consumer so that delivery starts right after its ack floor
/// (see the module documentation). `DeliverPolicy::All` only when the server says the consumer
/// does not exist: any other answer (a timeout, JetStream unavailable) says nothing about it,
/// and starting over from the beginning would publish old frames after newer ones.
async fn bind(
    stream: &jetstream::stream::Stream,
    name: &str,
    partition: u32,
    settings: &Settings,
) -> Result<Consumer, BindError> {
    let (deliver_policy, floor, handled_before) = match stream.consumer_info(name).await {
        Ok(info) => {
            if let Err(source) = stream.delete_consumer(name).await {
                let gone = matches!(
                    source.kind(),
                    async_nats::jetstream::stream::ConsumerErrorKind::JetStream(ref e)
                        if e.error_code() == async_nats::jetstream::ErrorCode::CONSUMER_NOT_FOUND
                );
                if !gone {
                    return Err(BindError::Delete {
                        name: name.to_owned(),
                        source,
                    });
                }
            }
            let floor = info.ack_floor.stream_sequence;
            (
                DeliverPolicy::ByStartSequence {
                    start_sequence: floor + 1,
                },
                floor,
                info.delivered.stream_sequence,
            )
        }
        Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => (DeliverPolicy::All, 0, 0),
        Err(source) => {
            return Err(BindError::Info {
                name: name.to_owned(),
                source,
            });
        }
    };
    let config = pull::Config {
        durable_name: Some(name.to_owned()),
        description: Some(format!(
            "decoder-worker: partition {partition}, read by the replica holding its lease"
        )),
        filter_subject: streams::raw_partition_filter(partition),
        ack_policy: AckPolicy::All,
        deliver_policy,
        ack_wait: settings.ack_wait,
        max_ack_pending: settings.max_ack_pending,
        ..Default::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|source| BindError::Create {
            name: name.to_owned(),
            source,
        })?;
    Ok(Consumer {
        consumer,
        floor,
        handled_before,
    })
}

/// A frame being handled: the device it belongs to, its stream sequence, how it ended.
type Running<'a> = Pin<Box<dyn Future<Output = (String, u64, Outcome)> + Send + 'a>>;

/// One bound consumer being read.
struct Partition<'a> {
    partition: u32,
    name: &'a str,
    ctx: &'a Context,
    consumer: Consumer,
    tracker: AckTracker<Acker>,
    /// Devices with a frame in progress, and their frames waiting for it (stream order).
    devices: HashMap<String, VecDeque<(u64, Message)>>,
    /// When the ready frames are acked at the latest.
    ack_due: Option<Instant>,
    /// The partition's stop signal.
    stop: Shutdown,
}

impl<'a> Partition<'a> {
    fn new(
        partition: u32,
        name: &'a str,
        ctx: &'a Context,
        consumer: Consumer,
        stop: Shutdown,
    ) -> Self {
        let next_delivery = consumer
            .consumer
            .cached_info()
            .delivered
            .consumer_sequence
            .saturating_add(1);
        Self {
            partition,
            name,
            ctx,
            tracker: AckTracker::new(consumer.floor, next_delivery),
            consumer,
            devices: HashMap::new(),
            ack_due: None,
            stop,
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.ctx.worker.metrics
    }

    /// Consumes until `stop` fires (returns `None`) or the consumer must be bound again
    /// (returns the pause before that). Either way the frames in progress are finished and the
    /// final ack is confirmed first.
    async fn consume(mut self) -> Option<Duration> {
        let mut stop = self.stop.clone();
        let window = self.ctx.settings.batch.max(1).saturating_mul(2);
        let mut running: FuturesUnordered<Running<'a>> = FuturesUnordered::new();
        let mut messages: Option<pull::Stream> = None;
        // Set once pulling has ended for good.
        let mut ended: Option<Ending> = None;
        loop {
            if ended.is_none() && messages.is_none() {
                match self.open().await {
                    Ok(m) => messages = Some(m),
                    Err(e) => {
                        tracing::warn!(partition = self.partition, error = %e, "cannot pull; rebinding");
                        ended = Some(Ending::Rebind(RETRY));
                    }
                }
            }
            if ended.is_some() && running.is_empty() {
                break;
            }
            let stopping = matches!(ended, Some(Ending::Stop));
            let pulling = ended.is_none() && self.tracker.held() < window;
            let ack_due = self.ack_due;
            tokio::select! {
                biased;
                () = stop.recv(), if !stopping => {
                    messages = None;
                    ended = Some(Ending::Stop);
                }
                Some((device, sequence, outcome)) = running.next(), if !running.is_empty() => {
                    if let Some(next) = self.finished(device, sequence, outcome, stopping) {
                        running.push(next);
                    }
                    if outcome == Outcome::Abandoned && !stopping {
                        // Only a stopping partition abandons frames; if one is given up anyway
                        // the device's later frames must not run before it: rebind.
                        messages = None;
                        ended = Some(Ending::Rebind(RETRY));
                    }
                    self.schedule_ack().await;
                }
                () = sleep_until(ack_due), if ack_due.is_some() => {
                    self.ack_due = None;
                    self.send_ack().await;
                }
                item = next_message(&mut messages), if pulling => {
                    match self.delivered(item) {
                        Step::Continue(started) => running.extend(started),
                        Step::Repull => messages = None,
                        Step::Rebind(after) => {
                            messages = None;
                            ended = Some(Ending::Rebind(after));
                        }
                        Step::Ack(acker) => {
                            if acker.ack().await.is_err() {
                                self.metrics().ack_failures.inc();
                            }
                        }
                    }
                }
            }
        }
        drop(messages);
        self.final_ack().await;
        match ended {
            Some(Ending::Rebind(after)) => Some(after),
            _ => None,
        }
    }

    /// A pull stream on the consumer.
    async fn open(&self) -> Result<pull::Stream, BindError> {
        self.consumer
            .consumer
            .stream()
            .max_messages_per_batch(self.ctx.settings.batch.max(1))
            .heartbeat(HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|source| BindError::Pull {
                name: self.name.to_owned(),
                source,
            })
    }

    /// Handles what the pull stream yielded.
    fn delivered(
        &mut self,
        item: Option<Result<Message, pull::MessagesError>>,
    ) -> Step<Running<'a>> {
        let partition = self.partition;
        let msg = match item {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                return match e.kind() {
                    MessagesErrorKind::MissingHeartbeat => {
                        tracing::warn!(partition, "pull request lost; pulling again");
                        Step::Repull
                    }
                    MessagesErrorKind::ConsumerDeleted => {
                        // Another replica took the partition (this one will be stopped), or an
                        // operator deleted the consumer: rebind once a lease round has passed.
                        tracing::warn!(partition, "consumer deleted under this replica");
                        Step::Rebind(self.ctx.settings.lease_ttl)
                    }
                    _ => {
                        tracing::warn!(partition, error = %e, "pull error");
                        Step::Continue(None)
                    }
                };
            }
            None => {
                tracing::warn!(partition, "pull stream ended; rebinding");
                return Step::Rebind(RETRY);
            }
        };
        let (stream_sequence, consumer_sequence, delivered) = match msg.info() {
            Ok(i) => (i.stream_sequence, i.consumer_sequence, i.delivered),
            Err(e) => {
                // Cannot happen on a pull consumer; without a sequence it cannot be ordered.
                tracing::warn!(partition, error = %e, "delivery without JetStream metadata; rebinding");
                return Step::Rebind(RETRY);
            }
        };
        let acker = Acker::new(msg.context.clone(), msg.message.reply.clone());
        match self
            .tracker
            .deliver(stream_sequence, consumer_sequence, acker)
        {
            Delivery::New => {}
            Delivery::Held => return Step::Continue(None),
            Delivery::Acked(acker) => return Step::Ack(Box::new(acker)),
            Delivery::OutOfStep { expected, got } => {
                tracing::warn!(
                    partition,
                    expected,
                    got,
                    "deliveries lost; finishing what is held, then rebinding from the ack floor"
                );
                return Step::Rebind(Duration::ZERO);
            }
        }
        let redelivered = delivered > 1 || stream_sequence <= self.consumer.handled_before;
        let device = msg.subject.as_str().to_owned();
        match self.devices.get_mut(&device) {
            Some(waiting) => {
                waiting.push_back((stream_sequence, msg));
                Step::Continue(None)
            }
            None => {
                self.devices.insert(device.clone(), VecDeque::new());
                Step::Continue(Some(self.start(device, stream_sequence, msg, redelivered)))
            }
        }
    }

    /// A frame done (or abandoned): marks it and returns the device's next frame to start,
    /// unless the partition is stopping.
    fn finished(
        &mut self,
        device: String,
        sequence: u64,
        outcome: Outcome,
        stopping: bool,
    ) -> Option<Running<'a>> {
        if outcome == Outcome::Done {
            self.tracker.done(sequence);
        }
        if stopping || outcome == Outcome::Abandoned {
            self.devices.remove(&device);
            return None;
        }
        let next = self.devices.get_mut(&device).and_then(VecDeque::pop_front);
        match next {
            Some((sequence, msg)) => {
                let redelivered = msg.info().map(|i| i.delivered > 1).unwrap_or(false)
                    || sequence <= self.consumer.handled_before;
                Some(self.start(device, sequence, msg, redelivered))
            }
            None => {
                self.devices.remove(&device);
                None
            }
        }
    }

    /// Starts handling a frame once one of the replica's slots is free.
    fn start(&self, device: String, sequence: u64, msg: Message, redelivered: bool) -> Running<'a> {
        let ctx = self.ctx;
        // The handler's own view of the stop signal: it abandons only a failing frame, or one
        // still waiting for a slot.
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let slot = tokio::select! {
                biased;
                () = stop.recv() => None,
                slot = ctx.slots.acquire() => slot.ok(),
            };
            let outcome = match slot {
                Some(_slot) => {
                    ctx.worker
                        .handle(&msg, sequence, redelivered, &mut stop)
                        .await
                }
                None => Outcome::Abandoned,
            };
            (device, sequence, outcome)
        })
    }

    /// Acks now if many frames are ready, else at the latest after the linger.
    async fn schedule_ack(&mut self) {
        let ready = self.tracker.ready();
        if ready == 0 {
            return;
        }
        if ready >= self.ctx.settings.batch.max(1) || self.ctx.settings.ack_linger.is_zero() {
            self.ack_due = None;
            self.send_ack().await;
        } else if self.ack_due.is_none() {
            self.ack_due = Some(Instant::now() + self.ctx.settings.ack_linger);
        }
    }

    /// Sends the ack of the ready frames (one message acknowledges them all).
    async fn send_ack(&mut self) {
        if let Some(ack) = self.tracker.take_ack()
            && let Err(e) = ack.handle.ack().await
        {
            // The frames come again after ack_wait and are acked again then.
            self.metrics().ack_failures.inc();
            tracing::warn!(partition = self.partition, sequence = ack.sequence, error = %e, "ack failed");
        }
    }

    /// The last ack before the partition is left, confirmed by the server.
    async fn final_ack(&mut self) {
        if let Some(ack) = self.tracker.take_ack()
            && let Err(e) = ack.handle.double_ack().await
        {
            // The next owner starts below these frames and publishes them again; their
            // positions collapse on their dedup ids.
            self.metrics().ack_failures.inc();
            tracing::warn!(partition = self.partition, sequence = ack.sequence, error = %e, "final ack not confirmed");
        }
    }
}

/// Why pulling ended.
enum Ending {
    /// The partition is being stopped.
    Stop,
    /// The consumer must be bound again, after this pause.
    Rebind(Duration),
}

/// What the loop does after a delivery.
enum Step<F> {
    /// Keep pulling; start this frame if it is its device's turn.
    Continue(Option<F>),
    /// The pull request was lost: open a new pull stream.
    Repull,
    /// Stop pulling; rebind after this pause once the frames held are finished.
    Rebind(Duration),
    /// A redelivery of a frame already acknowledged: ack it again.
    Ack(Box<Acker>),
}

async fn next_message(
    messages: &mut Option<pull::Stream>,
) -> Option<Result<Message, pull::MessagesError>> {
    match messages {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn pause(stop: &mut Shutdown, d: Duration) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = stop.recv() => {}
    }
}
