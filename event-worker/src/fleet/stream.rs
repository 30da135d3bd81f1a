//! Server-streaming watches: core NATS subscriptions merged into one gRPC stream of decoded
//! protobuf messages. The stream ends when the client goes away (tonic drops it, which drops the
//! subscriptions and so unsubscribes), when the server shuts down, or when NATS closes the
//! subscriptions; the last two end with UNAVAILABLE so the client knows to reconnect.

use super::error::FleetError;
use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use prost::Message;
use tokio::sync::watch;
use tonic::Status;

struct Watching {
    subscriptions: SelectAll<async_nats::Subscriber>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// Subscribes to every subject (before returning, so nothing published after the call is
/// missed) and streams the payloads decoded as `T`. A payload that does not decode is logged
/// and skipped: one bad publisher must not cut every watcher off.
pub(super) async fn watch<T>(
    client: &async_nats::Client,
    subjects: Vec<String>,
    shutdown: watch::Receiver<bool>,
) -> Result<BoxStream<'static, Result<T, Status>>, FleetError>
where
    T: Message + Default + Send + 'static,
{
    let mut subscriptions = SelectAll::new();
    for subject in subjects {
        let sub = client
            .subscribe(subject.clone())
            .await
            .map_err(|source| FleetError::Subscribe { subject, source })?;
        subscriptions.push(sub);
    }
    let state = Watching {
        subscriptions,
        shutdown,
        done: false,
    };
    Ok(futures::stream::unfold(state, next::<T>).boxed())
}

enum Step {
    Stop,
    Message(Option<async_nats::Message>),
}

async fn next<T: Message + Default>(mut st: Watching) -> Option<(Result<T, Status>, Watching)> {
    if st.done {
        return None;
    }
    loop {
        let step = tokio::select! {
            biased;
            // An error means the service (and its sender) is gone: stop as well.
            _ = st.shutdown.wait_for(|stop| *stop) => Step::Stop,
            message = st.subscriptions.next() => Step::Message(message),
        };
        match step {
            Step::Stop => {
                st.done = true;
                return Some((Err(Status::unavailable("server is shutting down")), st));
            }
            Step::Message(None) => {
                st.done = true;
                return Some((Err(Status::unavailable("NATS subscription closed")), st));
            }
            Step::Message(Some(message)) => match T::decode(message.payload.as_ref()) {
                Ok(item) => return Some((Ok(item), st)),
                Err(e) => tracing::warn!(
                    subject = %message.subject,
                    error = %e,
                    "undecodable message skipped in a Fleet watch"
                ),
            },
        }
    }
}
