//! The [`UdpListener`] actor: each datagram is one frame (PROTOCOL.md §3.3). A valid frame that
//! carries an IMEI in its header is published like a TCP frame; once JetStream has stored it,
//! 0x06 is sent to the datagram's source address from the socket it arrived on (bind a
//! specific address on multi-homed hosts so the reply leaves from the address the device sent
//! to). Invalid datagrams are logged, counted and not acked.
//!
//! Astra acks carry no sequence: a device takes every 0x06 as the ack of the packet it is
//! waiting on. So per source address and packet (its `Nats-Msg-Id`) at most one publish is in
//! flight and exactly one 0x06 is sent once it is stored; a copy the device re-sends while that
//! packet is pending (NATS slow or down) is neither published nor acked again (counted in
//! `resends_collapsed_total`, as on TCP) — an extra ack would be taken as the ack of the
//! device's next packet, which may not be stored yet. A copy that arrives after the ack was
//! sent means the device lost the ack: it is published again, JetStream answers from its
//! duplicate window without storing it twice, and the device is acked again. Publishing again,
//! rather than acking from a memory of stored packets, keeps "0x06 = JetStream has it" true
//! (also if the stream was purged or re-created meanwhile) and needs no second bounded cache.

use crate::publisher::{Outgoing, PipelineConfig, Publisher};
use crate::raw::{self, Origin};
use crate::shared::Shared;
use actix::prelude::*;
use astra_codec::{
    DecodeError,
    decode::frame_imei,
    frame::{self, ACK, FrameError, FrameKind},
};
use astra_platform::shutdown::{Done, Shutdown};
use astra_platform::streams;
use astra_proto::v1::Transport;
use bytes::Bytes;
use prost::Message as _;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

pub(crate) struct UdpListener {
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    shutdown: Shutdown,
    reader: Option<JoinHandle<()>>,
    publisher: Option<Publisher<Awaiting>>,
    pending: PendingSet,
    done: Option<Done>,
}

/// Packets published and not yet acked, by source address and message id. Each entry belongs
/// to a [`Claim`] travelling with its packet, which also holds one slot of the UDP in-flight
/// window, so the set never holds more than `--udp-max-in-flight` entries.
#[derive(Clone, Default)]
struct PendingSet(Arc<Mutex<HashSet<(SocketAddr, String)>>>);

impl PendingSet {
    /// Marks packet `msg_id` from `from` pending; `None` if it already is.
    fn claim(&self, from: SocketAddr, msg_id: &str) -> Option<Claim> {
        let key = (from, msg_id.to_owned());
        if !self.lock().insert(key.clone()) {
            return None;
        }
        Some(Claim {
            set: self.clone(),
            key,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(SocketAddr, String)>> {
        // Nothing panics while the lock is held; if something did, the set is still whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// One pending packet's entry in the [`PendingSet`], removed when the claim is dropped: after
/// its ack was sent, or when the packet is given up (refused by the device policy, publisher
/// stopped), so no path leaves an entry behind.
struct Claim {
    set: PendingSet,
    key: (SocketAddr, String),
}

impl Claim {
    fn from(&self) -> SocketAddr {
        self.key.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set.lock().remove(&self.key);
    }
}

/// What the publisher hands back once a packet is stored: whom to ack, and the packet's
/// pending entry and in-flight slot, both freed after the ack is sent.
struct Awaiting {
    claim: Claim,
    _slot: OwnedSemaphorePermit,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Datagram {
    bytes: Bytes,
    from: SocketAddr,
    slot: OwnedSemaphorePermit,
}

/// Stop receiving; finish publishing and acking what was received, then stop.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopReceiving;

impl UdpListener {
    pub(crate) fn new(
        shared: Arc<Shared>,
        socket: UdpSocket,
        done: Option<Done>,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            shared,
            socket: Arc::new(socket),
            shutdown,
            reader: None,
            publisher: None,
            pending: PendingSet::default(),
            done,
        }
    }

    fn reject(
        &self,
        from: SocketAddr,
        reason: &'static str,
        detail: &dyn std::fmt::Display,
        bytes: &[u8],
    ) {
        self.shared.metrics.reject(reason);
        tracing::warn!(
            remote = %from,
            transport = "udp",
            reason,
            %detail,
            head = %hex::encode(bytes.get(..bytes.len().min(16)).unwrap_or_default()),
            "datagram rejected"
        );
    }

    /// The IMEI of a valid one-frame datagram, or why it is refused.
    fn check(&self, bytes: &[u8]) -> Result<String, Refusal> {
        match frame::check(bytes, self.shared.config.limits.max_frame) {
            Ok(Some((FrameKind::Binary(_), len))) if len == bytes.len() => {}
            Ok(Some((FrameKind::Binary(_), len))) => {
                return Err(Refusal::Length {
                    field: len,
                    datagram: bytes.len(),
                });
            }
            Ok(Some((kind, _))) => return Err(Refusal::NotBinary(kind)),
            Ok(None) => return Err(Refusal::Incomplete),
            Err(e) => return Err(Refusal::Frame(e)),
        }
        frame::verify(bytes).map_err(Refusal::Crc)?;
        match frame_imei(bytes, false) {
            Ok(Some(imei)) => Ok(imei),
            Ok(None) => Err(Refusal::Unidentified),
            Err(e) => Err(Refusal::NoImei(e)),
        }
    }
}

/// Why a datagram is refused (logged with the datagram's first bytes, counted by label).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("length field {field} but datagram has {datagram} bytes")]
    Length { field: usize, datagram: usize },
    #[error("{0:?} datagram")]
    NotBinary(FrameKind),
    #[error("incomplete frame")]
    Incomplete,
    #[error("{0}")]
    Frame(FrameError),
    #[error("{0}")]
    Crc(DecodeError),
    #[error("frame carries no IMEI")]
    Unidentified,
    #[error("{0}")]
    NoImei(DecodeError),
}

impl Refusal {
    /// The `reason` label of `frames_rejected_total`.
    fn label(&self) -> &'static str {
        match self {
            Self::Length { .. } => "bad_length",
            Self::NotBinary(_) => "not_binary",
            Self::Incomplete => "truncated",
            Self::Frame(FrameError::UnknownLeadingByte(_)) => "unknown_leading_byte",
            Self::Frame(_) => "bad_length",
            Self::Crc(_) => "bad_crc",
            Self::Unidentified => "unidentified",
            Self::NoImei(_) => "no_imei",
        }
    }
}

async fn receive_loop(
    socket: Arc<UdpSocket>,
    listener: Addr<UdpListener>,
    slots: Arc<Semaphore>,
    max_frame: usize,
    bytes_in: prometheus::IntCounter,
) {
    let mut buf = vec![0u8; max_frame.saturating_add(1).max(64 * 1024)];
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                bytes_in.inc_by(n as u64);
                let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                if listener.send(Datagram { bytes, from, slot }).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "UDP receive failed"),
        }
    }
}

impl Actor for UdpListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let socket = Arc::clone(&self.socket);
        let acked = self.shared.metrics.frames_acked.with_label_values(&["udp"]);
        let window = self.shared.config.limits.udp_max_in_flight;
        self.publisher = Some(Publisher::spawn(
            self.shared.js.clone(),
            PipelineConfig {
                max_in_flight: window,
                ..self.shared.pipeline()
            },
            move |stored: Awaiting| {
                let to = stored.claim.from();
                match socket.try_send_to(&[ACK], to) {
                    Ok(_) => acked.inc(),
                    Err(e) => tracing::warn!(remote = %to, error = %e, "cannot send UDP ack"),
                }
                // Only now is the packet no longer pending: a copy that arrived before the ack
                // left was sent before the device could see it, and gets no second ack (if the
                // ack is lost, the device's next re-send is acked).
                drop(stored);
            },
        ));
        let slots = Arc::new(Semaphore::new(window));
        self.reader = Some(tokio::spawn(receive_loop(
            Arc::clone(&self.socket),
            ctx.address(),
            slots,
            self.shared.config.limits.max_frame,
            self.shared.metrics.bytes_in.with_label_values(&["udp"]),
        )));
        let mut shutdown = self.shutdown.clone();
        let addr = ctx.address();
        tokio::spawn(async move {
            shutdown.recv().await;
            addr.do_send(StopReceiving);
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

impl Handler<Datagram> for UdpListener {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Datagram, _ctx: &mut Self::Context) -> Self::Result {
        let imei = match self.check(&msg.bytes) {
            Ok(imei) => imei,
            Err(refusal) => {
                self.reject(msg.from, refusal.label(), &refusal, &msg.bytes);
                return Box::pin(fut::ready(()));
            }
        };
        self.shared
            .metrics
            .frames_in
            .with_label_values(&["udp"])
            .inc();
        let msg_id = raw::message_id(&imei, &msg.bytes);
        // Claimed before the device policy is asked, so a copy that arrives during that lookup
        // is already a duplicate.
        let Some(claim) = self.pending.claim(msg.from, &msg_id) else {
            self.shared.metrics.resends_collapsed.inc();
            tracing::debug!(remote = %msg.from, imei, "re-sent datagram still awaiting its ack");
            return Box::pin(fut::ready(()));
        };
        let shared = Arc::clone(&self.shared);
        let admit = {
            let imei = imei.clone();
            async move { shared.policy.admit(&imei).await }
        };
        Box::pin(admit.into_actor(self).map(move |admitted, act, _ctx| {
            if let Err(e) = admitted {
                act.reject(msg.from, "policy", &e, &msg.bytes);
                return;
            }
            let session_id = format!("udp:{}", msg.from);
            let origin = Origin {
                transport: Transport::Udp,
                remote: msg.from,
                gateway_id: &act.shared.config.gateway_id,
                session_id: &session_id,
                login: None,
            };
            let message = Outgoing {
                subject: streams::raw_subject(&imei),
                msg_id,
                payload: raw::raw_frame(&imei, &msg.bytes, &origin)
                    .encode_to_vec()
                    .into(),
                headers: Some(raw::trace_headers(&imei, "udp")),
                tag: Awaiting {
                    claim,
                    _slot: msg.slot,
                },
            };
            if let Some(p) = &act.publisher
                && p.publish(message).is_err()
            {
                tracing::warn!("UDP publisher stopped");
            }
        }))
    }
}

impl Handler<StopReceiving> for UdpListener {
    type Result = ();

    fn handle(&mut self, _: StopReceiving, ctx: &mut Self::Context) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        let done = self.done.take();
        if let Some(task) = self.publisher.take().and_then(Publisher::finish) {
            tokio::spawn(async move {
                let _ = task.await;
                drop(done);
            });
        }
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_is_pending_once_per_source_until_its_claim_is_dropped() {
        let set = PendingSet::default();
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let first = set.claim(a, "id1").expect("new packet");
        assert!(set.claim(a, "id1").is_none(), "copy while pending");
        let other_source = set.claim(b, "id1").expect("same packet, other source");
        let other_packet = set.claim(a, "id2").expect("other packet, same source");
        assert_eq!(set.len(), 3);
        drop(first);
        assert_eq!(set.len(), 2);
        let again = set.claim(a, "id1").expect("re-send after the ack");
        drop((again, other_source, other_packet));
        assert_eq!(set.len(), 0);
    }
}
