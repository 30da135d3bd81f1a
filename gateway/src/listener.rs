//! The TCP [`Listener`] actor: accepts connections, applies the connection limits and socket
//! options (TCP keep-alive for devices behind carrier NAT, no Nagle delay for acks), and
//! starts a [`Session`] per connection. It stops accepting when told to [`StopAccepting`].

use crate::session::Session;
use crate::shared::Shared;
use actix::prelude::*;
use astra_platform::shutdown::{Done, Shutdown};
use socket2::{SockRef, TcpKeepalive};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// Pause after `accept()` ran out of descriptors or memory: the waiting connection stays in the
/// backlog, and retrying at once would spin a core and flood the log.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);
/// At most one warning per this interval for failed accepts; the rest are counted.
const WARN_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Listener {
    shared: Arc<Shared>,
    socket: Option<TcpListener>,
    done: Option<Done>,
    shutdown: Shutdown,
    last_warning: Option<Instant>,
    unreported: u64,
}

/// Stop accepting connections (the listening socket is closed).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopAccepting;

struct Accepted(std::io::Result<(TcpStream, SocketAddr)>);

impl Listener {
    pub(crate) fn new(
        shared: Arc<Shared>,
        socket: TcpListener,
        done: Option<Done>,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            shared,
            socket: Some(socket),
            done,
            shutdown,
            last_warning: None,
            unreported: 0,
        }
    }

    fn accept_failed(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        let due = self
            .last_warning
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        if due {
            tracing::warn!(error = %e, suppressed = self.unreported, "accept failed");
            self.last_warning = Some(now);
            self.unreported = 0;
        } else {
            self.unreported += 1;
        }
    }

    fn configure(&self, stream: &TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(true)?;
        if let Some((time, interval)) = self.shared.config.limits.tcp_keepalive {
            let keepalive = TcpKeepalive::new().with_time(time).with_interval(interval);
            SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        Ok(())
    }
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(socket) = self.socket.take() {
            let accepted = futures::stream::unfold(socket, |socket| async move {
                let next = socket.accept().await;
                if let Err(e) = &next
                    && crate::fd_limit::is_exhaustion(e)
                {
                    tokio::time::sleep(EXHAUSTED_PAUSE).await;
                }
                Some((Accepted(next), socket))
            });
            ctx.add_stream(accepted);
        }
    }
}

impl StreamHandler<Accepted> for Listener {
    fn handle(&mut self, Accepted(item): Accepted, _ctx: &mut Self::Context) {
        let (stream, remote) = match item {
            Ok(accepted) => accepted,
            Err(e) => {
                self.shared
                    .metrics
                    .connections_total
                    .with_label_values(&["accept_error"])
                    .inc();
                self.accept_failed(&e);
                return;
            }
        };
        if self.shutdown.is_shutdown() {
            return;
        }
        let metrics = &self.shared.metrics;
        let permit = match self.shared.limits.try_admit(remote.ip()) {
            Ok(permit) => permit,
            Err(e) => {
                metrics
                    .connections_total
                    .with_label_values(&[e.label()])
                    .inc();
                tracing::warn!(%remote, reason = %e, "connection refused");
                return;
            }
        };
        metrics
            .connections_total
            .with_label_values(&["accepted"])
            .inc();
        if let Err(e) = self.configure(&stream) {
            tracing::warn!(%remote, error = %e, "cannot set socket options");
        }
        Session::start(
            Arc::clone(&self.shared),
            stream,
            remote,
            permit,
            self.done.clone(),
            self.shutdown.clone(),
        );
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<StopAccepting> for Listener {
    type Result = ();

    fn handle(&mut self, _: StopAccepting, ctx: &mut Self::Context) {
        self.done = None;
        ctx.stop();
    }
}
