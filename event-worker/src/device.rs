//! One actor per device: it holds the device's rule state and its timer, applies the device's
//! work (its positions in `ASTRA_POSITIONS` order, its session events in `ASTRA_SESSIONS`
//! order; the checkpoint keeps the last applied sequence of each), publishes the events (each
//! with its `Nats-Msg-Id`) and then checkpoints the state to KV `astra-state` with a revision
//! check. Only after that does the partition acknowledge the work, so a crash at any point
//! replays into the same events and state.

use crate::devices::DeviceDirectory;
use crate::geofence::SharedIndex;
use crate::input::{Source, Work, WorkItem};
use crate::metrics::Metrics;
use crate::rules::{self, Input, Outcome, Settings, millis};
use actix::prelude::*;
use astra_platform::{streams, trace};
use astra_proto::Timestamp;
use astra_proto::v1::{DeviceState, Event, EventType};
use async_nats::jetstream::{self, kv};
use prost::Message as _;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Why a device could not apply its work or run its timer; the work then stays unacknowledged
/// and comes again. The NATS variants keep async-nats' errors, whose kinds tell a timeout from
/// a refusal. (`pub` only because actix's `Handler::Result` of [`Apply`] must be; the module
/// is private to the crate.)
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("state of {0} was written by another owner")]
    Conflict(String),
    #[error("state of {imei}: {source}")]
    State {
        imei: String,
        source: prost::DecodeError,
    },
    #[error("cannot read the state of {imei}: {source}")]
    Load {
        imei: String,
        source: kv::EntryError,
    },
    #[error("cannot publish an event of {imei}: {source}")]
    Publish {
        imei: String,
        source: jetstream::context::PublishError,
    },
    #[error("cannot update the state of {imei}: {source}")]
    Update {
        imei: String,
        source: kv::UpdateError,
    },
    #[error("cannot create the state of {imei}: {source}")]
    Create {
        imei: String,
        source: kv::CreateError,
    },
}

/// An event and the headers of the work message that caused it.
type Caused = (Event, Option<async_nats::HeaderMap>);

/// What every device actor shares.
pub(crate) struct Shared {
    pub(crate) js: jetstream::Context,
    pub(crate) state: kv::Store,
    pub(crate) devices: DeviceDirectory,
    pub(crate) fences: SharedIndex,
    pub(crate) settings: Settings,
    pub(crate) metrics: Metrics,
    pub(crate) tick: Duration,
}

/// The device's state and where it is stored.
struct Core {
    imei: String,
    state: DeviceState,
    /// KV revision of the stored state; None when there is none yet.
    revision: Option<u64>,
    loaded: bool,
    shared: std::sync::Arc<Shared>,
}

pub(crate) struct DeviceActor {
    core: Rc<tokio::sync::Mutex<Core>>,
    tick: Duration,
    busy: Rc<RefCell<bool>>,
}

impl DeviceActor {
    pub(crate) fn new(imei: String, shared: std::sync::Arc<Shared>) -> Self {
        let tick = shared.tick;
        Self {
            core: Rc::new(tokio::sync::Mutex::new(Core {
                state: fresh_state(&imei),
                imei,
                revision: None,
                loaded: false,
                shared,
            })),
            tick,
            busy: Rc::new(RefCell::new(false)),
        }
    }
}

impl Actor for DeviceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.tick, |act, ctx| {
            if *act.busy.borrow() {
                return;
            }
            *act.busy.borrow_mut() = true;
            let core = act.core.clone();
            let busy = act.busy.clone();
            ctx.spawn(
                async move {
                    let result = core.lock().await.tick().await;
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "device timer failed; retrying on the next tick");
                    }
                    *busy.borrow_mut() = false;
                }
                .into_actor(act),
            );
        });
    }
}

/// Apply this device's share of a batch, in order.
#[derive(Message)]
#[rtype(result = "Result<(), DeviceError>")]
pub(crate) struct Apply(pub Vec<WorkItem>);

impl Handler<Apply> for DeviceActor {
    type Result = ResponseFuture<Result<(), DeviceError>>;

    fn handle(&mut self, msg: Apply, _: &mut Self::Context) -> Self::Result {
        let core = self.core.clone();
        Box::pin(async move { core.lock().await.apply(msg.0).await })
    }
}

/// Stop the actor (its partition was released).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

impl Handler<Stop> for DeviceActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Core {
    async fn load(&mut self) -> Result<(), DeviceError> {
        if self.loaded {
            return Ok(());
        }
        let entry = self
            .shared
            .state
            .entry(self.imei.clone())
            .await
            .map_err(|source| DeviceError::Load {
                imei: self.imei.clone(),
                source,
            })?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                self.state = DeviceState::decode(e.value).map_err(|source| DeviceError::State {
                    imei: self.imei.clone(),
                    source,
                })?;
                self.state.imei = self.imei.clone();
                resume(&mut self.state);
                self.revision = Some(e.revision);
            }
            Some(e) => {
                self.state = fresh_state(&self.imei);
                self.revision = Some(e.revision);
            }
            None => {
                self.revision = None;
            }
        }
        self.loaded = true;
        Ok(())
    }

    async fn apply(&mut self, items: Vec<WorkItem>) -> Result<(), DeviceError> {
        self.load().await?;
        let before = self.state.clone();
        let (changed, events) = self.run_rules(items);
        if !changed {
            return Ok(());
        }
        self.commit(before, events).await
    }

    async fn tick(&mut self) -> Result<(), DeviceError> {
        self.load().await?;
        let before = self.state.clone();
        let events = {
            let shared = self.shared.clone();
            let config = shared.devices.get(&self.imei);
            let settings = shared.settings.for_device(config.as_ref());
            let Ok(fences) = shared.fences.read() else {
                return Ok(());
            };
            let cx = rules::Context {
                settings: &settings,
                config: config.as_ref(),
                fences: &*fences,
                now: Timestamp::now(),
            };
            rules::apply(&mut self.state, Input::Tick, &cx)
                .1
                .into_iter()
                .map(|e| (e, None))
                .collect::<Vec<Caused>>()
        };
        if events.is_empty() {
            return Ok(());
        }
        self.commit(before, events).await
    }

    /// Runs the rules over the items; returns whether the state changed, and the events with
    /// the headers of the message that caused each.
    fn run_rules(&mut self, items: Vec<WorkItem>) -> (bool, Vec<Caused>) {
        let shared = self.shared.clone();
        let m = &shared.metrics;
        let config = shared.devices.get(&self.imei);
        let settings = shared.settings.for_device(config.as_ref());
        let Ok(fences) = shared.fences.read() else {
            return (false, Vec::new());
        };
        let mut changed = false;
        let mut events = Vec::new();
        for item in items {
            let kind = match item.work {
                Work::Position(_) => &m.positions,
                Work::Session(_) => &m.sessions,
            };
            // Each stream has its own sequence, and so its own applied mark.
            let applied = match item.work.source() {
                Source::Positions => &mut self.state.applied_seq,
                Source::Sessions => &mut self.state.applied_session_seq,
            };
            if item.seq <= *applied {
                kind.with_label_values(&["redelivered"]).inc();
                continue;
            }
            *applied = item.seq;
            let now = Timestamp::now();
            let cx = rules::Context {
                settings: &settings,
                config: config.as_ref(),
                fences: &*fences,
                now,
            };
            let (outcome, raised) = match &item.work {
                Work::Position(p) => {
                    if let (Some(n), Some(r)) = (millis(Some(now)), millis(p.received_time)) {
                        m.lag.observe(n.saturating_sub(r).max(0) as f64 / 1000.0);
                    }
                    rules::apply(&mut self.state, Input::Position(p), &cx)
                }
                Work::Session(s) => rules::apply(&mut self.state, Input::Session(s), &cx),
            };
            kind.with_label_values(&[outcome_label(outcome)]).inc();
            changed |= outcome == Outcome::Applied || !raised.is_empty();
            events.extend(raised.into_iter().map(|e| (e, item.headers.clone())));
        }
        (changed, events)
    }

    /// Publishes the events, then checkpoints; on failure the state goes back to `before` and
    /// is re-read from KV next time, and the caller leaves the work unacknowledged.
    async fn commit(
        &mut self,
        before: DeviceState,
        events: Vec<Caused>,
    ) -> Result<(), DeviceError> {
        let result = self.publish(&events).await;
        let result = match result {
            Ok(()) => self.checkpoint().await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.state = before;
            self.loaded = false;
        }
        result
    }

    async fn publish(&self, events: &[Caused]) -> Result<(), DeviceError> {
        let mut acks = Vec::with_capacity(events.len());
        for (e, cause) in events {
            let kind = EventType::try_from(e.r#type).unwrap_or(EventType::Unspecified);
            let token = rules::subject_token(kind);
            let subject = streams::event_subject(&e.imei, &token);
            // The event continues the trace of the frame that caused it.
            let span =
                trace::continue_from(tracing::info_span!("event", id = %e.id), cause.as_ref());
            let publish = jetstream::message::PublishMessage::build()
                .payload(e.encode_to_vec().into())
                .headers(trace::headers_for(&span))
                .message_id(&e.id);
            let ack = self
                .shared
                .js
                .send_publish(subject, publish)
                .await
                .map_err(|source| self.publish_error(source))?;
            acks.push((ack, token));
        }
        for (ack, token) in acks {
            let ack = ack.await.map_err(|source| self.publish_error(source))?;
            if !ack.duplicate {
                self.shared
                    .metrics
                    .events
                    .with_label_values(&[&token])
                    .inc();
            }
        }
        Ok(())
    }

    fn publish_error(&self, source: jetstream::context::PublishError) -> DeviceError {
        DeviceError::Publish {
            imei: self.imei.clone(),
            source,
        }
    }

    async fn checkpoint(&mut self) -> Result<(), DeviceError> {
        self.state.updated_at = Some(Timestamp::now());
        let value = self.state.encode_to_vec().into();
        let kv = &self.shared.state;
        let written = match self.revision {
            Some(revision) => kv
                .update(&self.imei, value, revision)
                .await
                .map_err(|source| match source.kind() {
                    kv::UpdateErrorKind::WrongLastRevision => {
                        DeviceError::Conflict(self.imei.clone())
                    }
                    _ => DeviceError::Update {
                        imei: self.imei.clone(),
                        source,
                    },
                }),
            None => kv
                .create(&self.imei, value)
                .await
                .map_err(|source| match source.kind() {
                    kv::CreateErrorKind::AlreadyExists => DeviceError::Conflict(self.imei.clone()),
                    _ => DeviceError::Create {
                        imei: self.imei.clone(),
                        source,
                    },
                }),
        };
        match written {
            Ok(revision) => {
                self.revision = Some(revision);
                Ok(())
            }
            Err(e) => {
                if matches!(e, DeviceError::Conflict(_)) {
                    self.shared.metrics.kv_conflicts.inc();
                }
                Err(e)
            }
        }
    }
}

/// The state of a device with no checkpoint; its applied sequences are of the input streams.
fn fresh_state(imei: &str) -> DeviceState {
    DeviceState {
        imei: imei.to_owned(),
        applied_by_stream: true,
        ..Default::default()
    }
}

/// Makes a loaded checkpoint's applied sequences those of the input streams: an older
/// version's counted the retired `ASTRA_EVENT_WORK`, so they are dropped (its positions and
/// sessions were applied from that stream; these streams' partition consumers start after them).
fn resume(state: &mut DeviceState) {
    if !state.applied_by_stream {
        state.applied_seq = 0;
        state.applied_session_seq = 0;
        state.applied_by_stream = true;
    }
}

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::Late => "late",
        Outcome::Duplicate => "duplicate",
        Outcome::Ignored => "ignored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_versions_work_stream_sequence_is_not_taken_for_a_positions_sequence() {
        let mut old = DeviceState {
            imei: "1".into(),
            online: true,
            applied_seq: 5_000,
            ..Default::default()
        };
        resume(&mut old);
        assert_eq!((old.applied_seq, old.applied_session_seq), (0, 0));
        assert!(old.applied_by_stream && old.online);
        let mut current = DeviceState {
            applied_seq: 7,
            applied_session_seq: 3,
            applied_by_stream: true,
            ..Default::default()
        };
        resume(&mut current);
        assert_eq!((current.applied_seq, current.applied_session_seq), (7, 3));
        assert!(fresh_state("1").applied_by_stream);
    }
}
