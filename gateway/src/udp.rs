//! The [`UdpListener`] actor: each datagram is one frame (PROTOCOL.md §3.3). A valid frame that
//! carries an IMEI in its header is published like a TCP frame; once JetStream has stored it,
//! 0x06 is sent to the datagram's source address from the socket it arrived on (bind a
//! specific address on multi-homed hosts so the reply leaves from the address the device sent
//! to). Invalid datagrams are logged, counted and not acked.

use crate::publisher::{Outgoing, PipelineConfig, Publisher};
use crate::raw::{self, Origin};
use crate::shared::Shared;
use actix::prelude::*;
use astra_codec::{
    decode::frame_imei,
    frame::{self, ACK, FrameKind},
};
use astra_platform::shutdown::{Done, Shutdown};
use astra_platform::streams;
use astra_proto::v1::Transport;
use bytes::Bytes;
use prost::Message as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

pub struct UdpListener {
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    shutdown: Shutdown,
    reader: Option<JoinHandle<()>>,
    publisher: Option<Publisher<(SocketAddr, OwnedSemaphorePermit)>>,
    done: Option<Done>,
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
pub struct StopReceiving;

impl UdpListener {
    pub fn new(
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
    fn check(&self, bytes: &[u8]) -> Result<String, (&'static str, String)> {
        match frame::check(bytes, self.shared.config.limits.max_frame) {
            Ok(Some((FrameKind::Binary(_), len))) if len == bytes.len() => {}
            Ok(Some((FrameKind::Binary(_), len))) => {
                return Err((
                    "bad_length",
                    format!("length field {len} but datagram has {} bytes", bytes.len()),
                ));
            }
            Ok(Some((kind, _))) => return Err(("not_binary", format!("{kind:?} datagram"))),
            Ok(None) => return Err(("truncated", "incomplete frame".into())),
            Err(e) => {
                let label = match e {
                    frame::FrameError::UnknownLeadingByte(_) => "unknown_leading_byte",
                    _ => "bad_length",
                };
                return Err((label, e.to_string()));
            }
        }
        frame::verify(bytes).map_err(|e| ("bad_crc", e.to_string()))?;
        match frame_imei(bytes, false) {
            Ok(Some(imei)) => Ok(imei),
            Ok(None) => Err(("unidentified", "frame carries no IMEI".into())),
            Err(e) => Err(("no_imei", e.to_string())),
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
            move |(to, _slot): (SocketAddr, OwnedSemaphorePermit)| match socket
                .try_send_to(&[ACK], to)
            {
                Ok(_) => acked.inc(),
                Err(e) => tracing::warn!(remote = %to, error = %e, "cannot send UDP ack"),
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
            Err((reason, detail)) => {
                self.reject(msg.from, reason, &detail, &msg.bytes);
                return Box::pin(fut::ready(()));
            }
        };
        self.shared
            .metrics
            .frames_in
            .with_label_values(&["udp"])
            .inc();
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
                msg_id: raw::message_id(&imei, &msg.bytes),
                payload: raw::raw_frame(&imei, &msg.bytes, &origin)
                    .encode_to_vec()
                    .into(),
                headers: Some(raw::trace_headers(&imei, "udp")),
                tag: (msg.from, msg.slot),
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
