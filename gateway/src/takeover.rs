//! Closing a device's older session when it logs in again elsewhere. Every gateway subscribes
//! (core NATS, no consumer) to `astra.session.*`; when a LOGGED_IN event names an IMEI this
//! gateway holds under another session id, and our session identified itself no later than
//! the event, our session is closed. A reconnect to the same gateway is handled at once by
//! [`Registry::register`](crate::registry::Registry::register).

use crate::messages::TakeOver;
use crate::shared::Shared;
use astra_proto::v1::{SessionEvent, SessionEventKind};
use futures::StreamExt;
use prost::Message;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// The subject every gateway's session events are published on (one token per IMEI).
pub(crate) const SESSION_EVENTS: &str = "astra.session.*";

/// Subscribes to every gateway's session events and closes local sessions they supersede.
pub(crate) async fn watch(
    shared: Arc<Shared>,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut events = shared.client.subscribe(SESSION_EVENTS).await?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = events.next().await {
            let Ok(event) = SessionEvent::decode(msg.payload) else {
                continue;
            };
            if event.kind != i32::from(SessionEventKind::LoggedIn) || event.imei.is_empty() {
                continue;
            }
            let at = event.time.map_or(UNIX_EPOCH, |t| {
                let secs = u64::try_from(t.seconds).unwrap_or(0);
                let nanos = u32::try_from(t.nanos).unwrap_or(0);
                UNIX_EPOCH + Duration::new(secs, nanos)
            });
            if let Some(local) = shared
                .registry
                .superseded(&event.imei, &event.session_id, at)
            {
                tracing::info!(imei = %event.imei, by_session = %event.session_id, by_gateway = %event.gateway_id, "device logged in elsewhere; closing local session");
                local.do_send(TakeOver {
                    session_id: event.session_id,
                    gateway_id: event.gateway_id,
                });
            }
        }
    }))
}
