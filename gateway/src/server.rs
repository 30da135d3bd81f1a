//! Wiring and lifetime of one gateway process: connect to NATS (failing fast), create the
//! streams, start the listeners, the takeover watch, the admin and gRPC endpoints; on SIGTERM
//! (or Ctrl-C) stop accepting, let sessions finish in-flight publishes and acks, close them and
//! return within the shutdown deadline.

use crate::config::{Config, PolicyMode};
use crate::error::GatewayError;
use crate::events::SessionEvents;
use crate::grpc::CommandService;
use crate::listener::{Listener, StopAccepting};
use crate::metrics::Metrics;
use crate::policy::DevicePolicy;
use crate::publisher::PipelineConfig;
use crate::shared::Shared;
use crate::takeover;
use crate::udp::UdpListener;
use actix::prelude::*;
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::shutdown::{self, Trigger};
use astra_platform::{admin, grpc, nats::NatsArgs, nats::is_connected, streams};
use astra_proto::v1::commands_server::CommandsServer;
use async_nats::jetstream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::net::{TcpListener, UdpSocket};

/// Runs the gateway until SIGTERM / SIGINT.
pub async fn run(config: Config, nats: &NatsArgs) -> Result<(), GatewayError> {
    run_until(config, nats, shutdown::signal()).await
}

/// Receive buffer asked for the UDP socket, bytes.
const UDP_RECV_BUFFER: usize = 8 << 20;

/// Raises the descriptor limit and warns when the connection limit does not fit in it: past
/// the limit `accept()` fails (EMFILE) and devices wait in the backlog instead of being refused.
fn check_descriptors(max_connections: usize) {
    match crate::fd_limit::raise_to_hard() {
        Ok(nofile) => {
            let room = crate::fd_limit::connection_room(nofile);
            if max_connections == 0 || max_connections as u64 > room {
                tracing::warn!(
                    nofile,
                    max_connections,
                    room,
                    "the descriptor limit allows fewer connections than --max-connections; raise `ulimit -n` (hard) or lower --max-connections"
                );
            } else {
                tracing::info!(nofile, max_connections, "descriptor limit");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the descriptor limit"),
    }
}

/// Runs the gateway until `stop` resolves.
async fn run_until(
    config: Config,
    nats: &NatsArgs,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), GatewayError> {
    check_descriptors(config.limits.max_connections);
    let client = nats
        .try_connect("astra-gateway")
        .await
        .map_err(GatewayError::Nats)?;
    let js = jetstream::ContextBuilder::new()
        .timeout(config.publish.timeout)
        .build(client.clone());
    for name in [streams::RAW, streams::SESSIONS] {
        streams::ensure_stream(&js, name, &config.streams)
            .await
            .map_err(GatewayError::Stream)?;
    }
    let devices = match config.policy.mode {
        PolicyMode::Open => None,
        PolicyMode::Registered => Some(
            streams::ensure_kv(&js, streams::KV_DEVICES, config.streams.replicas)
                .await
                .map_err(GatewayError::Stream)?,
        ),
    };
    let metrics = Metrics::new().map_err(GatewayError::Metrics)?;
    // Before any socket opens: a missing certificate must stop the gateway, not its gRPC alone.
    let security = GrpcSecurity::load(&config.grpc_tls)
        .and_then(|s| s.count_rejections(&metrics.registry, "grpc_unauthenticated_total"))
        .map_err(GatewayError::GrpcSecurity)?;
    let policy = DevicePolicy::new(config.policy.clone(), devices);
    let events = SessionEvents::spawn(
        js.clone(),
        config.gateway_id.clone(),
        PipelineConfig {
            max_in_flight: 256,
            retry: config.publish.retry,
            latency: None,
            retries: metrics.publish_retries.clone(),
        },
    );
    let shared = Arc::new(Shared::new(
        config.clone(),
        client.clone(),
        js,
        metrics.clone(),
        policy,
        events,
    ));
    let takeover = takeover::watch(Arc::clone(&shared))
        .await
        .map_err(|error| GatewayError::Subscribe {
            subject: takeover::SESSION_EVENTS,
            error,
        })?;

    // Bound before the device listeners, so a taken port stops the gateway before any device
    // is accepted.
    let grpc_listener = grpc::bind(config.grpc_addr)
        .await
        .map_err(GatewayError::Grpc)?;

    let mut trigger = Trigger::new();
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for &addr in &config.listen {
        let socket = TcpListener::bind(addr)
            .await
            .map_err(|error| GatewayError::Bind { addr, error })?;
        tracing::info!(%addr, "TCP listening");
        let (s, done, sd) = (
            Arc::clone(&shared),
            trigger.done_guard(),
            trigger.subscribe(),
        );
        tcp.push(Listener::new(s, socket, done, sd).start());
        if config.udp {
            let socket = UdpSocket::bind(addr)
                .await
                .map_err(|error| GatewayError::Bind { addr, error })?;
            // All UDP devices share this socket: with the kernel's default buffer (~200 KB) a
            // burst from 1 000 devices overflowed it, and dropped datagrams cost the device a
            // re-send timeout. The kernel caps the request at net.core.rmem_max.
            let sock = socket2::SockRef::from(&socket);
            if let Err(e) = sock.set_recv_buffer_size(UDP_RECV_BUFFER) {
                tracing::warn!(error = %e, "cannot enlarge the UDP receive buffer");
            }
            let recv_buffer = sock.recv_buffer_size().unwrap_or(0);
            tracing::info!(%addr, recv_buffer, "UDP listening");
            let (s, done, sd) = (
                Arc::clone(&shared),
                trigger.done_guard(),
                trigger.subscribe(),
            );
            udp.push(UdpListener::new(s, socket, done, sd).start());
        }
    }

    let stopping = Arc::new(AtomicBool::new(false));
    let readiness: admin::Readiness = {
        let client = client.clone();
        let stopping = Arc::clone(&stopping);
        Arc::new(move || is_connected(&client) && !stopping.load(Ordering::Acquire))
    };
    let admin_task = tokio::spawn(admin::serve(
        config.admin_addr,
        metrics.registry.clone(),
        readiness,
        trigger.subscribe().wait(),
    ));
    let commands = CommandsServer::new(CommandService::new(
        client.clone(),
        config.commands.default_timeout,
        config.commands.max_timeout,
    ));
    let grpc_stop = trigger.subscribe();
    let grpc_task = tokio::spawn(async move {
        grpc::serve(grpc_listener, commands, &security, grpc_stop.wait()).await
    });
    tracing::info!(gateway_id = %config.gateway_id, "gateway ready");

    tokio::select! {
        () = stop => {}
        result = admin_task => {
            return Err(match result {
                Ok(Err(e)) => GatewayError::Admin(e),
                Ok(Ok(())) => GatewayError::Stopped("admin endpoint"),
                Err(error) => GatewayError::Task { what: "admin endpoint", error },
            });
        }
        result = grpc_task => {
            return Err(match result {
                Ok(Err(e)) => GatewayError::Grpc(e),
                Ok(Ok(())) => GatewayError::Stopped("gRPC server"),
                Err(error) => GatewayError::Task { what: "gRPC server", error },
            });
        }
    }

    let started = Instant::now();
    let deadline = config.shutdown_deadline;
    tracing::info!(
        ?deadline,
        sessions = shared.limits.open(),
        "shutting down: draining sessions"
    );
    stopping.store(true, Ordering::Release);
    for l in &tcp {
        l.do_send(StopAccepting);
    }
    trigger.fire();
    let drained = tokio::time::timeout(deadline, trigger.finished())
        .await
        .is_ok();
    if let Some(events) = shared.events.finish() {
        let left = deadline.saturating_sub(started.elapsed());
        let _ = tokio::time::timeout(left, events).await;
    }
    let left = deadline.saturating_sub(started.elapsed());
    let _ = tokio::time::timeout(left, client.flush()).await;
    takeover.abort();
    drop(udp);
    if drained {
        tracing::info!(elapsed = ?started.elapsed(), "shutdown complete");
    } else {
        tracing::warn!(
            sessions = shared.limits.open(),
            "shutdown deadline reached with sessions still open"
        );
    }
    Ok(())
}
