//! The [`Session`] actor: one per TCP connection. It owns the socket's write side (acks and
//! command lines go out through it, in [`Outbox`] order) and starts a reader task that owns the
//! read side ([`Connection`]). Each frame is checked (CRC), attributed to a device (IMEI from
//! the header or the `$ASTRA;…` login), published to `astra.raw.<imei>` through the session's
//! ordered [`Publisher`], and acked with 0x06 once JetStream has stored it. At most
//! `max_in_flight` frames are unacknowledged; the reader waits for a free slot before reading
//! on, so a fast device is slowed down rather than buffered without bound.

use crate::command::{Inbox, Waiters};
use crate::connection::{Connection, ConnectionError, Frame};
use crate::error::PolicyError;
use crate::events::SessionInfo;
use crate::limits::ConnectionPermit;
use crate::messages::{Command, TakeOver};
use crate::outbox::{Outbox, Write};
use crate::publisher::{Outgoing, Publisher};
use crate::raw::{self, Origin};
use crate::shared::Shared;
use actix::io::{WriteHandler, Writer};
use actix::prelude::*;
use astra_codec::{
    DecodeError,
    decode::frame_imei,
    frame::{self, ACK, FrameKind},
    login::parse_login,
};
use astra_platform::shutdown::{Done, Shutdown};
use astra_platform::streams;
use astra_proto::v1::{LoginInfo, SessionEventKind, Transport};
use bytes::Bytes;
use prost::Message as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// How long a closing session may take to flush its last writes to a device that does not read.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// Why a session ended (the `reason` of its DISCONNECTED event). Each keeps the error that
/// caused it; the text is what the event carries, so it stays as it was.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloseReason {
    #[error("closed by device")]
    ClosedByDevice,
    #[error("{0}")]
    Read(ConnectionError),
    #[error("no login and no IMEI-carrying frame within {0:?}")]
    LoginDeadline(Duration),
    #[error("invalid login line: {0}")]
    InvalidLogin(DecodeError),
    #[error("device rejected: {0}")]
    Rejected(PolicyError),
    #[error("IMEI changed from {from} to {to} within one connection")]
    ImeiChanged { from: String, to: String },
    #[error("taken over by session {session_id} on gateway {gateway_id}")]
    TakenOver {
        session_id: String,
        gateway_id: String,
    },
    #[error("gateway shutdown")]
    Shutdown,
    #[error("write error: {0}")]
    Write(std::io::Error),
    /// The device's command inbox (`astra.cmd.<imei>`) could not be subscribed.
    #[error("internal: command inbox: {0}")]
    Inbox(async_nats::SubscribeError),
    #[error("internal: publisher stopped")]
    PublisherStopped,
}

impl CloseReason {
    /// Short label for metrics.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::ClosedByDevice => "closed_by_device",
            Self::Read(e) => e.label(),
            Self::LoginDeadline(_) => "login_deadline",
            Self::InvalidLogin(_) => "invalid_login",
            Self::Rejected(PolicyError::NotRegistered(_)) => "not_registered",
            Self::Rejected(PolicyError::Unavailable(_) | PolicyError::NoBucket) => {
                "registry_unavailable"
            }
            Self::ImeiChanged { .. } => "imei_changed",
            Self::TakenOver { .. } => "taken_over",
            Self::Shutdown => "shutdown",
            Self::Write(_) => "write_error",
            Self::Inbox(_) | Self::PublisherStopped => "internal",
        }
    }

    /// Whether this is the device's fault (logged as a warning).
    fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Read(..)
                | Self::LoginDeadline(_)
                | Self::InvalidLogin(_)
                | Self::Rejected(_)
                | Self::ImeiChanged { .. }
        )
    }
}

/// Whether the reader should go on reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// A frame read from the socket, with the in-flight slot it occupies.
#[derive(Message)]
#[rtype(result = "Flow")]
struct Inbound {
    frame: Frame,
    slot: OwnedSemaphorePermit,
}

/// The reader stopped: `Ok` when the device closed the connection between frames.
#[derive(Message)]
#[rtype(result = "()")]
struct ReaderEnded(Result<(), ConnectionError>);

/// Gateway shutdown: finish what is in flight, then close.
#[derive(Message)]
#[rtype(result = "()")]
struct Drain;

/// JetStream stored frame `seq`.
#[derive(Message)]
#[rtype(result = "()")]
struct Stored(u64);

/// What to do once the device is admitted.
enum Then {
    AckLogin,
    Publish(Bytes, OwnedSemaphorePermit),
}

/// The actor of one TCP connection.
pub(crate) struct Session {
    shared: Arc<Shared>,
    info: SessionInfo,
    writer: Writer<OwnedWriteHalf, std::io::Error>,
    connection: Option<Connection>,
    shutdown: Shutdown,
    reader: Option<JoinHandle<()>>,
    publisher: Option<Publisher<u64>>,
    inbox: Option<Inbox>,
    outbox: Outbox,
    waiters: Waiters,
    next_seq: u64,
    identifying: bool,
    draining: bool,
    closing: Option<CloseReason>,
    _permit: ConnectionPermit,
    _done: Option<Done>,
}

impl Session {
    /// Starts the actor for an accepted connection.
    pub(crate) fn start(
        shared: Arc<Shared>,
        stream: TcpStream,
        remote: SocketAddr,
        permit: ConnectionPermit,
        done: Option<Done>,
        shutdown: Shutdown,
    ) -> Addr<Self> {
        let (read, write) = stream.into_split();
        let limits = &shared.config.limits;
        let connection = Connection::new(
            read,
            limits.max_frame,
            limits.idle_timeout,
            limits.max_bytes_per_sec,
        );
        let id = shared.new_session_id();
        Session::create(move |ctx| Session {
            info: SessionInfo {
                id,
                remote,
                transport: Transport::Tcp,
                imei: None,
                login: None,
            },
            writer: Writer::new(write, ctx),
            connection: Some(connection),
            shutdown,
            reader: None,
            publisher: None,
            inbox: None,
            outbox: Outbox::default(),
            waiters: Waiters::default(),
            next_seq: 0,
            identifying: false,
            draining: false,
            closing: None,
            _permit: permit,
            _done: done,
            shared,
        })
    }

    fn metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.metrics
    }

    /// Begins closing: stops reading, flushes what is already written, then stops the actor.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        if self.closing.is_some() {
            return;
        }
        self.closing = Some(reason);
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        self.writer.close();
        // `close` alone does not wake the writer; an empty write does, so it flushes and ends.
        self.writer.write(&[]);
        ctx.run_later(CLOSE_FLUSH, |_, ctx| ctx.stop());
    }

    fn reject(&self, reason: &'static str, detail: &dyn std::fmt::Display, bytes: &[u8]) {
        self.metrics().reject(reason);
        tracing::warn!(
            session = %self.info.id,
            remote = %self.info.remote,
            imei = self.info.imei.as_deref().unwrap_or("-"),
            reason,
            %detail,
            head = %hex::encode(bytes.get(..bytes.len().min(16)).unwrap_or_default()),
            "frame rejected"
        );
    }

    fn on_line(&mut self, bytes: &Bytes, ctx: &mut Context<Self>) -> ResponseActFuture<Self, Flow> {
        let text = String::from_utf8_lossy(frame::line_text(bytes)).into_owned();
        if !text.starts_with("$ASTRA;") {
            if !self.waiters.answer(&text) {
                self.metrics().reject("unsolicited_line");
                tracing::info!(session = %self.info.id, remote = %self.info.remote, line = %text, "line from device that answers no command");
            }
            return ready(Flow::Continue);
        }
        let login = match parse_login(bytes) {
            Ok(login) => login,
            Err(e) => {
                self.reject("invalid_login", &e, bytes);
                self.close(CloseReason::InvalidLogin(e), ctx);
                return ready(Flow::Stop);
            }
        };
        match self.info.imei.clone() {
            None => self.identify(login.imei.clone(), Some(login), Then::AckLogin, ctx),
            Some(imei) if imei == login.imei => {
                // A repeated login (or a login after header-identified frames): accept it again.
                self.info.login = Some(login);
                self.outbox.push_login_ack();
                self.flush(ctx);
                ready(Flow::Continue)
            }
            Some(imei) => {
                self.close(
                    CloseReason::ImeiChanged {
                        from: imei,
                        to: login.imei,
                    },
                    ctx,
                );
                ready(Flow::Stop)
            }
        }
    }

    fn on_binary(
        &mut self,
        bytes: Bytes,
        slot: OwnedSemaphorePermit,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Flow> {
        if let Err(e) = frame::verify(&bytes) {
            self.reject("bad_crc", &e, &bytes);
            return ready(Flow::Continue);
        }
        self.metrics().frames_in.with_label_values(&["tcp"]).inc();
        match (
            frame_imei(&bytes, self.info.login.is_some()),
            self.info.imei.clone(),
        ) {
            (Ok(Some(imei)), None) => self.identify(imei, None, Then::Publish(bytes, slot), ctx),
            (Ok(Some(imei)), Some(current)) if imei != current => {
                self.close(
                    CloseReason::ImeiChanged {
                        from: current,
                        to: imei,
                    },
                    ctx,
                );
                ready(Flow::Stop)
            }
            (Ok(_), Some(imei)) => {
                self.publish(&imei, bytes, slot, ctx);
                ready(Flow::Continue)
            }
            (Ok(None), None) => {
                self.reject(
                    "unidentified",
                    &"frame carries no IMEI and no login yet",
                    &bytes,
                );
                ready(Flow::Continue)
            }
            (Err(e), _) => {
                self.reject("no_imei", &e, &bytes);
                ready(Flow::Continue)
            }
        }
    }

    /// Admits the device (policy), subscribes its command inbox and registers it, then acks
    /// the login or publishes the frame that identified it.
    fn identify(
        &mut self,
        imei: String,
        login: Option<LoginInfo>,
        then: Then,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Flow> {
        self.identifying = true;
        let shared = Arc::clone(&self.shared);
        let commands = ctx.address().recipient::<Command>();
        let check = {
            let imei = imei.clone();
            async move {
                shared
                    .policy
                    .admit(&imei)
                    .await
                    .map_err(CloseReason::Rejected)?;
                Inbox::open(
                    shared.client.clone(),
                    &imei,
                    commands,
                    shared.inbox_config(),
                )
                .await
                .map_err(CloseReason::Inbox)
            }
        };
        Box::pin(check.into_actor(self).map(move |result, act, ctx| {
            act.identifying = false;
            if act.closing.is_some() {
                return Flow::Stop;
            }
            let inbox = match result {
                Ok(inbox) => inbox,
                Err(reason) => {
                    act.metrics().reject(reason.label());
                    act.close(reason, ctx);
                    return Flow::Stop;
                }
            };
            act.inbox = Some(inbox);
            act.info.imei = Some(imei.clone());
            act.info.login = login;
            let previous = act.shared.registry.register(
                &imei,
                &act.info.id,
                ctx.address().recipient::<TakeOver>(),
                SystemTime::now(),
            );
            if let Some(previous) = previous {
                previous.do_send(TakeOver {
                    session_id: act.info.id.clone(),
                    gateway_id: act.shared.config.gateway_id.clone(),
                });
            }
            act.metrics().devices.inc();
            act.shared
                .events
                .publish(SessionEventKind::LoggedIn, &act.info, "");
            tracing::info!(
                session = %act.info.id,
                remote = %act.info.remote,
                imei = %imei,
                login = act.info.login.as_ref().map_or("-", |l| l.line.as_str()),
                "device identified"
            );
            match then {
                Then::AckLogin => act.outbox.push_login_ack(),
                Then::Publish(bytes, slot) => act.publish(&imei, bytes, slot, ctx),
            }
            act.flush(ctx);
            Flow::Continue
        }))
    }

    fn publish(
        &mut self,
        imei: &str,
        bytes: Bytes,
        slot: OwnedSemaphorePermit,
        ctx: &mut Context<Self>,
    ) {
        let msg_id = raw::message_id(imei, &bytes);
        if self.outbox.is_pending(&msg_id) {
            self.metrics().resends_collapsed.inc();
            tracing::debug!(session = %self.info.id, imei, "re-sent frame still awaiting its ack");
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let origin = Origin {
            transport: Transport::Tcp,
            remote: self.info.remote,
            gateway_id: &self.shared.config.gateway_id,
            session_id: &self.info.id,
            login: self.info.login.as_ref(),
        };
        let message = Outgoing {
            subject: streams::raw_subject(imei),
            msg_id: msg_id.clone(),
            payload: raw::raw_frame(imei, &bytes, &origin).encode_to_vec().into(),
            headers: Some(raw::trace_headers(imei, "tcp")),
            tag: seq,
        };
        self.outbox.push_frame(seq, msg_id, Some(slot));
        let sent = self.publisher.as_ref().map(|p| p.publish(message));
        if !matches!(sent, Some(Ok(()))) {
            self.close(CloseReason::PublisherStopped, ctx);
        }
    }

    /// Writes everything at the front of the outbox that may go out now.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        while let Some(write) = self.outbox.pop_ready() {
            match write {
                Write::FrameAck => {
                    self.writer.write(&[ACK]);
                    self.metrics()
                        .frames_acked
                        .with_label_values(&["tcp"])
                        .inc();
                }
                Write::LoginAck => self.writer.write(&[ACK]),
                Write::Line(line) => self.writer.write(&line),
            }
        }
        if self.draining && self.outbox.is_empty() && !self.identifying {
            self.close(CloseReason::Shutdown, ctx);
        }
    }
}

fn ready(flow: Flow) -> ResponseActFuture<Session, Flow> {
    Box::pin(fut::ready(flow))
}

/// The reader task: frames from the socket to the actor, one at a time, each holding an
/// in-flight slot; stops at shutdown (asking the session to drain).
async fn read_loop(
    mut connection: Connection,
    session: Addr<Session>,
    slots: Arc<Semaphore>,
    mut shutdown: Shutdown,
    bytes_in: prometheus::IntCounter,
) {
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = shutdown.recv() => {
                session.do_send(Drain);
                return;
            }
        };
        let Ok(slot) = slot else {
            return;
        };
        let read = tokio::select! {
            read = connection.read_frame(|n| bytes_in.inc_by(n as u64)) => read,
            () = shutdown.recv() => {
                session.do_send(Drain);
                return;
            }
        };
        match read {
            Ok(Some(frame)) => match session.send(Inbound { frame, slot }).await {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) | Err(_) => return,
            },
            Ok(None) => {
                session.do_send(ReaderEnded(Ok(())));
                return;
            }
            Err(e) => {
                session.do_send(ReaderEnded(Err(e)));
                return;
            }
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.metrics().connections.with_label_values(&["tcp"]).inc();
        self.shared
            .events
            .publish(SessionEventKind::Connected, &self.info, "");
        tracing::debug!(session = %self.info.id, remote = %self.info.remote, "connected");

        let addr = ctx.address();
        let stored = addr.clone().recipient::<Stored>();
        self.publisher = Some(Publisher::spawn(
            self.shared.js.clone(),
            self.shared.pipeline(),
            move |seq| stored.do_send(Stored(seq)),
        ));
        if let Some(connection) = self.connection.take() {
            let slots = Arc::new(Semaphore::new(self.shared.config.limits.max_in_flight));
            let bytes_in = self.metrics().bytes_in.with_label_values(&["tcp"]);
            self.reader = Some(tokio::spawn(read_loop(
                connection,
                addr,
                slots,
                self.shutdown.clone(),
                bytes_in,
            )));
        }
        let deadline = self.shared.config.limits.login_deadline;
        ctx.run_later(deadline, move |act, ctx| {
            if act.info.imei.is_none() {
                act.close(CloseReason::LoginDeadline(deadline), ctx);
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        self.publisher = None;
        self.inbox = None;
        let reason = self.closing.take().unwrap_or(CloseReason::ClosedByDevice);
        let unacked = self.outbox.len();
        if reason.is_bad_input() {
            tracing::warn!(session = %self.info.id, remote = %self.info.remote, imei = self.info.imei.as_deref().unwrap_or("-"), reason = %reason, unacked, "session closed");
        } else {
            tracing::info!(session = %self.info.id, remote = %self.info.remote, imei = self.info.imei.as_deref().unwrap_or("-"), reason = %reason, unacked, "session closed");
        }
        let m = self.metrics();
        m.sessions_closed.with_label_values(&[reason.label()]).inc();
        m.connections.with_label_values(&["tcp"]).dec();
        if let Some(imei) = &self.info.imei {
            m.devices.dec();
            self.shared.registry.unregister(imei, &self.info.id);
        }
        self.shared.events.publish(
            SessionEventKind::Disconnected,
            &self.info,
            &reason.to_string(),
        );
    }
}

impl WriteHandler<std::io::Error> for Session {
    fn error(&mut self, err: std::io::Error, _ctx: &mut Self::Context) -> Running {
        if self.closing.is_none() {
            self.closing = Some(CloseReason::Write(err));
        }
        Running::Stop
    }
}

impl Handler<Inbound> for Session {
    type Result = ResponseActFuture<Self, Flow>;

    fn handle(&mut self, msg: Inbound, ctx: &mut Self::Context) -> Self::Result {
        if self.closing.is_some() {
            return ready(Flow::Stop);
        }
        match msg.frame.kind {
            FrameKind::Ack | FrameKind::Blank => ready(Flow::Continue),
            FrameKind::Line => self.on_line(&msg.frame.bytes, ctx),
            FrameKind::Binary(_) => self.on_binary(msg.frame.bytes, msg.slot, ctx),
        }
    }
}

impl Handler<ReaderEnded> for Session {
    type Result = ();

    fn handle(&mut self, msg: ReaderEnded, ctx: &mut Self::Context) {
        self.reader = None;
        let reason = match msg.0 {
            Ok(()) => CloseReason::ClosedByDevice,
            Err(e) => {
                if matches!(e, ConnectionError::Corrupt { .. }) {
                    self.metrics().reject(e.label());
                }
                CloseReason::Read(e)
            }
        };
        self.close(reason, ctx);
    }
}

impl Handler<Drain> for Session {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.reader = None;
        self.draining = true;
        self.flush(ctx);
    }
}

impl Handler<Stored> for Session {
    type Result = ();

    fn handle(&mut self, Stored(seq): Stored, ctx: &mut Self::Context) {
        if self.outbox.mark_stored(seq) {
            self.flush(ctx);
        }
    }
}

impl Handler<Command> for Session {
    type Result = ();

    fn handle(&mut self, cmd: Command, ctx: &mut Self::Context) {
        if self.closing.is_some() || self.info.imei.is_none() {
            return; // dropping `reply` answers "not connected"
        }
        tracing::info!(session = %self.info.id, imei = self.info.imei.as_deref().unwrap_or("-"), line = %cmd.line, "command");
        self.waiters.push(&cmd.line, cmd.reply);
        let mut line = cmd.line.into_bytes();
        line.extend_from_slice(b"\r\n");
        self.outbox.push_line(line.into());
        self.flush(ctx);
    }
}

impl Handler<TakeOver> for Session {
    type Result = ();

    fn handle(&mut self, msg: TakeOver, ctx: &mut Self::Context) {
        self.close(
            CloseReason::TakenOver {
                session_id: msg.session_id,
                gateway_id: msg.gateway_id,
            },
            ctx,
        );
    }
}
