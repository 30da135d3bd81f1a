//! Session events (`SessionEvent`, DESIGN §3.2) to stream `ASTRA_SESSIONS`, subject
//! `astra.session.<imei>` (`astra.session.unknown` before the device is identified). They go
//! through one ordered [`Publisher`], so a session's connect, login and disconnect are stored in
//! that order, and a NATS outage delays them instead of losing them.

use crate::publisher::{Outgoing, PipelineConfig, Publisher};
use astra_platform::streams;
use astra_proto::Timestamp;
use astra_proto::v1::{LoginInfo, SessionEvent, SessionEventKind, Transport};
use async_nats::jetstream;
use prost::Message;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// Subject suffix used before the IMEI is known.
pub(crate) const UNKNOWN: &str = "unknown";

/// Who a session is, as far as events are concerned.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub(crate) id: String,
    pub(crate) remote: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) imei: Option<String>,
    pub(crate) login: Option<LoginInfo>,
}

pub(crate) struct SessionEvents {
    gateway_id: String,
    publisher: Mutex<Option<Publisher<()>>>,
}

impl SessionEvents {
    pub(crate) fn spawn(
        js: jetstream::Context,
        gateway_id: String,
        config: PipelineConfig,
    ) -> Self {
        Self {
            gateway_id,
            publisher: Mutex::new(Some(Publisher::spawn(js, config, |()| {}))),
        }
    }

    pub(crate) fn publish(&self, kind: SessionEventKind, session: &SessionInfo, reason: &str) {
        let imei = session.imei.clone().unwrap_or_default();
        let subject = streams::session_subject(if imei.is_empty() { UNKNOWN } else { &imei });
        let event = SessionEvent {
            imei,
            gateway_id: self.gateway_id.clone(),
            remote_addr: session.remote.to_string(),
            transport: session.transport.into(),
            kind: kind.into(),
            reason: reason.to_owned(),
            time: Some(Timestamp::now()),
            session_id: session.id.clone(),
            login: session.login.clone(),
        };
        let msg_id = format!("{}:{}", session.id, kind.as_str_name());
        let Ok(guard) = self.publisher.lock() else {
            return;
        };
        let sent = guard.as_ref().map(|p| {
            p.publish(Outgoing {
                subject,
                msg_id,
                payload: event.encode_to_vec().into(),
                headers: None,
                tag: (),
            })
        });
        if !matches!(sent, Some(Ok(()))) {
            tracing::warn!(session = %session.id, kind = kind.as_str_name(), "session event dropped: publisher stopped");
        }
    }

    /// Stops taking events; the task ends once every queued event is stored.
    pub(crate) fn finish(&self) -> Option<JoinHandle<()>> {
        self.publisher.lock().ok()?.take()?.finish()
    }
}
