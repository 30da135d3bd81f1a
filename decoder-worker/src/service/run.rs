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
use super::shutdown::{self, stopped};
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::{admin, nats, streams, telemetry};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("decoder-worker", &args.common.telemetry)?;
    let instance = args.common.instance();
    let metrics = Metrics::new()?;
    let threads = args.common.threads();
    let pool = DecoderPool::start(threads);
    // `stop` ends the pull loop (SIGTERM); `servers` ends admin and gRPC once it has drained.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (servers_tx, servers_rx) = watch::channel(false);

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
        stopped(servers_rx.clone()),
    ));
    let security = GrpcSecurity::load(&args.grpc_tls)?.count_rejections(
        &metrics.registry,
        "astra_decoder_grpc_unauthenticated_total",
    )?;
    let mut grpc_task = (!args.no_grpc).then(|| {
        let service = DecoderService::new(
            pool.clone(),
            args.common.layout,
            metrics.clone(),
            enricher.clone(),
        );
        tokio::spawn(grpc::serve_secured(
            args.grpc_addr,
            service,
            security,
            stopped(servers_rx.clone()),
        ))
    });

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
        stop_rx.clone(),
    ));
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!("shutting down: finishing frames in flight");
        let _ = stop_tx.send(true);
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
            Some(task) => task.await,
            None => std::future::pending().await,
        }
    };
    // The pull loop ends on SIGTERM; an admin or gRPC server that cannot serve (e.g. its port
    // is taken) ends the replica too, so a supervisor restarts it instead of it running blind.
    let failure = tokio::select! {
        () = consumer::run_loop(&consumer, &worker, args.batch, args.in_flight, stop_rx) => None,
        r = &mut admin_task => Some(flatten("admin endpoint", r)),
        r = grpc_failed => Some(flatten("gRPC server", r)),
    };
    bound.store(false, Ordering::Relaxed);
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "flush on shutdown failed");
    }
    let _ = servers_tx.send(true);
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
    Ok(())
}

fn flatten(
    what: &str,
    joined: Result<anyhow::Result<()>, tokio::task::JoinError>,
) -> anyhow::Error {
    match joined {
        Ok(Ok(())) => anyhow::anyhow!("{what} stopped unexpectedly"),
        Ok(Err(e)) => e.context(format!("{what} failed")),
        Err(e) => anyhow::anyhow!("{what} panicked: {e}"),
    }
}
