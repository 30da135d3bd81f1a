//! The TCP [`Listener`] actor: accepts connections, applies the connection limits and socket
//! options (TCP keep-alive for devices behind carrier NAT, no Nagle delay for acks), and
//! starts a [`Session`] per connection. It stops accepting when told to [`StopAccepting`].

use crate::session::Session;
use crate::shared::Shared;
use crate::shutdown::{Done, Shutdown};
use actix::prelude::*;
use socket2::{SockRef, TcpKeepalive};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

pub struct Listener {
    shared: Arc<Shared>,
    socket: Option<TcpListener>,
    done: Option<Done>,
    shutdown: Shutdown,
}

/// Stop accepting connections (the listening socket is closed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAccepting;

struct Accepted(std::io::Result<(TcpStream, SocketAddr)>);

impl Listener {
    pub fn new(
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
                tracing::warn!(error = %e, "accept failed");
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
