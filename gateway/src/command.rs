//! Commands to devices. The gRPC side sends a `SendCommandRequest` as a NATS request to
//! `astra.cmd.<imei>`; the gateway holding the device has an [`Inbox`] subscribed to that
//! subject for as long as the session lives, hands the line to the session actor and answers
//! with the device's reply line, or with a status saying there was no reply in time or the
//! device is gone. The status travels in the `Astra-Command-Status` header.

use crate::messages::Command;
use actix::Recipient;
use astra_platform::streams;
use astra_proto::v1::SendCommandRequest;
use bytes::Bytes;
use futures::StreamExt;
use prometheus::IntCounterVec;
use prost::Message;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Header carrying the outcome of a command request.
pub(crate) const STATUS_HEADER: &str = "Astra-Command-Status";

/// Outcome of a command, as carried in [`STATUS_HEADER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Timeout,
    NotConnected,
    Invalid,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Timeout => "timeout",
            Self::NotConnected => "not-connected",
            Self::Invalid => "invalid",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "timeout" => Self::Timeout,
            "not-connected" => Self::NotConnected,
            "invalid" => Self::Invalid,
            _ => return None,
        })
    }

    fn metric_label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Timeout => "timeout",
            Self::NotConnected => "not_connected",
            Self::Invalid => "invalid",
        }
    }
}

/// Commands written to the device and waiting for its reply line.
#[derive(Default)]
pub(crate) struct Waiters {
    waiting: VecDeque<(String, oneshot::Sender<String>)>,
}

impl Waiters {
    pub(crate) fn push(&mut self, line: &str, reply: oneshot::Sender<String>) {
        self.waiting
            .push_back((command_name(line).to_owned(), reply));
    }

    /// Gives `line` to the oldest waiting command whose name it starts with (`$DIST,OK`
    /// answers `$DIST,…`; `$PARA-TCP` answers `$PARA`). Lines the device sends on its own
    /// (`$DRID,…` driver checks) match no command. Returns false if nobody was waiting for it.
    pub(crate) fn answer(&mut self, line: &str) -> bool {
        self.waiting.retain(|(_, tx)| !tx.is_closed());
        let name = command_name(line).to_ascii_uppercase();
        let Some(at) = self
            .waiting
            .iter()
            .position(|(n, _)| name.starts_with(&n.to_ascii_uppercase()))
        else {
            return false;
        };
        match self.waiting.remove(at) {
            Some((_, tx)) => tx.send(line.to_owned()).is_ok(),
            None => false,
        }
    }
}

/// `$DIST` of `$DIST,5000` / `$DIST,OK`.
fn command_name(line: &str) -> &str {
    line.split([',', ';', ' ']).next().unwrap_or(line)
}

/// Settings for answering command requests.
#[derive(Clone)]
pub(crate) struct InboxConfig {
    pub(crate) default_timeout: Duration,
    pub(crate) max_timeout: Duration,
    pub(crate) outcomes: IntCounterVec,
}

/// The subscription to `astra.cmd.<imei>` of one session; unsubscribes when dropped.
pub(crate) struct Inbox {
    task: JoinHandle<()>,
}

impl Inbox {
    /// Subscribes (so a request right after the login ack already finds this gateway).
    pub(crate) async fn open(
        client: async_nats::Client,
        imei: &str,
        session: Recipient<Command>,
        config: InboxConfig,
    ) -> Result<Self, async_nats::SubscribeError> {
        let mut sub = client.subscribe(streams::command_subject(imei)).await?;
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(reply_to) = msg.reply.clone() else {
                    continue;
                };
                let client = client.clone();
                let session = session.clone();
                let config = config.clone();
                tokio::spawn(async move {
                    let (status, body) = answer(&msg.payload, session, &config).await;
                    config
                        .outcomes
                        .with_label_values(&[status.metric_label()])
                        .inc();
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(STATUS_HEADER, status.as_str());
                    if let Err(e) = client.publish_with_headers(reply_to, headers, body).await {
                        tracing::warn!(error = %e, "cannot send command reply");
                    }
                });
            }
        });
        Ok(Self { task })
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    payload: &[u8],
    session: Recipient<Command>,
    config: &InboxConfig,
) -> (Status, Bytes) {
    let Ok(request) = SendCommandRequest::decode(payload) else {
        return (Status::Invalid, Bytes::from_static(b"undecodable request"));
    };
    let timeout = match request.timeout_ms {
        0 => config.default_timeout,
        ms => Duration::from_millis(u64::from(ms)).min(config.max_timeout),
    };
    let (tx, rx) = oneshot::channel();
    if session
        .try_send(Command {
            line: request.line,
            reply: tx,
        })
        .is_err()
    {
        return (Status::NotConnected, Bytes::new());
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(line)) => (Status::Ok, Bytes::from(line)),
        Ok(Err(_)) => (Status::NotConnected, Bytes::new()),
        Err(_) => (Status::Timeout, Bytes::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_go_to_the_matching_command() {
        let mut w = Waiters::default();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        w.push("$DIST,5000", tx1);
        w.push("$POLL", tx2);
        assert!(w.answer("$POLL,OK"));
        assert_eq!(rx2.try_recv().ok().as_deref(), Some("$POLL,OK"));
        assert!(!w.answer("$DRID,AT110,CHECK,1"));
        assert!(w.answer("$DIST,OK"));
        assert_eq!(rx1.try_recv().ok().as_deref(), Some("$DIST,OK"));
        assert!(!w.answer("$IMEI,1"));
    }
}
