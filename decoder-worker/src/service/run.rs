//! `decoder-worker run`: wires the service together — NATS, streams, the partition leases and
//! the partitions they give this replica, the decoding pool, the admin endpoint, gRPC — and
//! shuts it down in order on SIGTERM: the lease loop stops every partition (pulling ends, the
//! frames in flight finish, the final acks are confirmed) and hands the leases back, so the
//! other replicas take over at once; then flush, exit.

use super::config::RunArgs;
use super::enrich::Enricher;
use super::error::ServiceError;
use super::grpc::{self, DecoderService};
use super::metrics::Metrics;
use super::partition::{self, Context};
use super::partitions::{self, DecoderPartitions};
use super::pool::DecoderPool;
use super::process::{Backoff, Worker};
use super::publisher::Publisher;
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::lease::{self, LeaseLoop};
use astra_platform::shutdown::{Trigger, signal};
use astra_platform::{admin, nats, streams};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Longest the hand-back on shutdown may take (frames in flight, final acks, lease deletes);
/// with NATS unreachable it cannot finish, and the leases expire by themselves.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a replica until SIGTERM (or until its admin or gRPC server fails).
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // The member name in the leases: unique per replica (the default adds the process id).
    let instance = args.common.instance();
    let metrics = Metrics::new()?;
    let threads = args.common.threads();
    let pool = DecoderPool::start(threads);
    // `stop` ends the lease loop (SIGTERM); `servers` ends admin, gRPC and the lag poller once
    // the partitions are handed back, so probes and metrics stay up while frames finish.
    let mut stop = Trigger::new();
    let mut servers = Trigger::new();

    let client = args.common.nats.connect("decoder-worker").await?;
    let js = async_nats::jetstream::new(client.clone());
    let layout = args.common.nats.layout();
    for stream in [streams::RAW, streams::POSITIONS, streams::DLQ] {
        streams::ensure_stream(&js, stream, &layout).await?;
    }
    let raw = js
        .get_stream(streams::RAW)
        .await
        .map_err(ServiceError::GetStream)?;
    let leases = lease::ensure_bucket(
        &js,
        streams::KV_DECODER_PARTITIONS,
        args.lease_ttl,
        layout.replicas,
    )
    .await?;
    // Rounds must follow the bucket's TTL (an existing bucket keeps its own), or leases would
    // expire between renewals.
    let lease_ttl = match leases.status().await {
        Ok(status) if !status.max_age().is_zero() => status.max_age(),
        Ok(_) => {
            tracing::warn!("the lease bucket has no max age: leases of dead replicas never expire");
            args.lease_ttl
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the lease bucket's TTL; using --lease-ttl");
            args.lease_ttl
        }
    };
    let enricher = Enricher::build(
        &args.common.geocode,
        &js,
        layout.replicas,
        &metrics.registry,
    )
    .await?;

    let leasing = Arc::new(AtomicBool::new(false));
    let ready: admin::Readiness = {
        let client = client.clone();
        let leasing = leasing.clone();
        Arc::new(move || nats::is_connected(&client) && leasing.load(Ordering::Relaxed))
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

    let bound = partition::Bound::default();
    let ctx = Arc::new(Context {
        stream: raw,
        worker: Worker {
            pool,
            publisher: Publisher::new(js, instance.clone()),
            metrics: metrics.clone(),
            layout: args.common.layout,
            backoff: Backoff {
                base: args.retry_delay,
                max: args.retry_delay_max,
            },
            enricher,
        },
        slots: Semaphore::new(args.in_flight.clamp(1, Semaphore::MAX_PERMITS)),
        settings: partition::Settings {
            prefix: args.consumer.clone(),
            batch: args.batch,
            ack_wait: args.ack_wait,
            max_ack_pending: args.max_ack_pending,
            ack_linger: args.ack_linger,
            lease_ttl,
        },
        bound: bound.clone(),
    });
    let lease_loop = LeaseLoop {
        me: instance.clone(),
        partitions: layout.partitions,
        ttl: lease_ttl,
        leases,
    };
    let mut lease_task = {
        let leasing = leasing.clone();
        let shutdown = stop.subscribe();
        leasing.store(true, Ordering::Relaxed);
        tokio::spawn(async move {
            lease_loop.run(DecoderPartitions::new(ctx), shutdown).await;
            leasing.store(false, Ordering::Relaxed);
        })
    };
    tracing::info!(
        %instance,
        partitions = layout.partitions,
        consumers = %format!("{}-<partition>", args.consumer),
        threads,
        layout = ?args.common.layout,
        "decoder replica leasing partitions of ASTRA_RAW"
    );
    let lag_task = tokio::spawn(partitions::poll_lag(
        bound,
        metrics.clone(),
        args.lag_interval,
        servers.subscribe(),
    ));

    let grpc_failed = async {
        match grpc_task.as_mut() {
            Some(task) => flatten("gRPC server", task.await),
            None => std::future::pending().await,
        }
    };
    // SIGTERM starts the hand-back; an admin or gRPC server that cannot serve (e.g. its port
    // is taken) ends the replica too, so a supervisor restarts it instead of it running blind.
    let failure = tokio::select! {
        () = signal() => None,
        r = &mut admin_task => Some(flatten("admin endpoint", r)),
        e = grpc_failed => Some(e),
    };
    tracing::info!("shutting down: handing partitions back");
    stop.fire();
    match tokio::time::timeout(HAND_BACK_TIMEOUT, &mut lease_task).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "lease loop failed"),
        Err(_) => {
            tracing::warn!(timeout = ?HAND_BACK_TIMEOUT, "hand-back timed out; leases will expire");
            lease_task.abort();
        }
    }
    leasing.store(false, Ordering::Relaxed);
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
