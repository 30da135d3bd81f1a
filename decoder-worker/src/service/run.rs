//! `decoder-worker run`: wires the service together — NATS, streams, the shared consumer, the
//! decoding pool, the admin endpoint, gRPC — and shuts it down in order on SIGTERM: stop pulling,
//! finish the frames in flight (their publishes and acks), flush, exit.

use super::config::RunArgs;
use super::consumer::{self, ConsumerSettings};
use super::enrich::Enricher;
use super::grpc::{self, DecoderService};
use super::metrics::Metrics;
use super::pool::DecoderPool;
use super::process::{Backoff, Worker};
use super::publisher::Publisher;
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::shutdown::{Trigger, signal};
use astra_platform::{admin, nats, streams};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs a replica until SIGTERM (or until its admin or gRPC server fails).
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let instance = args.common.instance();
    let metrics = Metrics::new()?;
    let threads = args.common.threads();
    let pool = DecoderPool::start(threads);
    // `stop` ends the pull loop (SIGTERM); `servers` ends admin and gRPC once it has drained,
    // so probes and metrics stay up while the frames in flight finish.
    let mut stop = Trigger::new();
    let mut servers = Trigger::new();

    let client = args.common.nats.connect("decoder-worker").await?;
    let js = async_nats::jetstream::new(client.clone());
    let replicas = args.common.nats.stream_replicas;
    for stream in [streams::RAW, streams::POSITIONS, streams::DLQ] {
        streams::ensure_stream(&js, stream, replicas).await?;
    }
    let enricher = Enricher::build(&args.common.geocode, &js, replicas, &metrics.registry).await?;

    let bound = Arc::new(AtomicBool::new(false));
    let ready: admin::Readiness = {
        let client = client.clone();
        let bound = bound.clone();
        Arc::new(move || nats::is_connected(&client) && bound.load(Ordering::Relaxed))
    };
    let mut admin_task = tokio::spawn(admin::serve(
        args.admin_addr,
        metrics.registry.clone(),
        ready,
        servers.subscribe().wait(),
    ));
    let security = GrpcSecurity::load(&args.grpc_tls)?.count_rejections(
        &metrics.registry,
        "astra_decoder_grpc_unauthenticated_total",
    )?;
    let mut grpc_task = if args.no_grpc {
        None
    } else {
        // Bound here, so a taken port stops the replica before it consumes anything.
        let listener = astra_platform::grpc::bind(args.grpc_addr).await?;
        let service = DecoderService::new(
            pool.clone(),
            args.common.layout,
            metrics.clone(),
            enricher.clone(),
        );
        let shutdown = servers.subscribe().wait();
        Some(tokio::spawn(async move {
            grpc::serve(listener, service, &security, shutdown).await
        }))
    };

    let settings = ConsumerSettings {
        name: args.consumer.clone(),
        ack_wait: args.ack_wait,
        max_ack_pending: args.max_ack_pending,
    };
    let consumer = consumer::bind(&js, &settings).await?;
    bound.store(true, Ordering::Relaxed);
    tracing::info!(
        %instance,
        consumer = %args.consumer,
        threads,
        layout = ?args.common.layout,
        "decoder replica consuming ASTRA_RAW"
    );
    let lag_task = tokio::spawn(consumer::poll_lag(
        consumer.clone(),
        metrics.clone(),
        args.lag_interval,
        stop.subscribe(),
    ));
    let pulling = stop.subscribe();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down: finishing frames in flight");
        stop.fire();
    });

    let worker = Worker {
        pool,
        publisher: Publisher::new(js, instance),
        metrics,
        layout: args.common.layout,
        backoff: Backoff {
            base: args.retry_delay,
            max: args.retry_delay_max,
        },
        enricher,
    };
    let grpc_failed = async {
        match grpc_task.as_mut() {
            Some(task) => flatten("gRPC server", task.await),
            None => std::future::pending().await,
        }
    };
    // The pull loop ends on SIGTERM; an admin or gRPC server that cannot serve (e.g. its port
    // is taken) ends the replica too, so a supervisor restarts it instead of it running blind.
    let failure = tokio::select! {
        () = consumer::run_loop(&consumer, &worker, args.batch, args.in_flight, pulling) => None,
        r = &mut admin_task => Some(flatten("admin endpoint", r)),
        e = grpc_failed => Some(e),
    };
    bound.store(false, Ordering::Relaxed);
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "flush on shutdown failed");
    }
    servers.fire();
    if let Some(failure) = failure {
        return Err(failure);
    }
    let _ = lag_task.await;
    match admin_task.await {
        Ok(Ok(())) => {}
        other => return Err(flatten("admin endpoint", other)),
    }
    if let Some(task) = grpc_task {
        match task.await {
            Ok(Ok(())) => {}
            other => return Err(flatten("gRPC server", other)),
        }
    }
    tracing::info!("decoder replica stopped");
    Ok(ExitCode::SUCCESS)
}

/// Why a server task ended: it is only expected to end after `servers` fired.
fn flatten<E: Into<anyhow::Error>>(
    what: &str,
    joined: Result<Result<(), E>, tokio::task::JoinError>,
) -> anyhow::Error {
    match joined {
        Ok(Ok(())) => anyhow::anyhow!("{what} stopped unexpectedly"),
        Ok(Err(e)) => e.into().context(format!("{what} failed")),
        Err(e) => anyhow::anyhow!("{what} panicked: {e}"),
    }
}
