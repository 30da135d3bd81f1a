//! Wires the event-worker together: NATS, the streams and buckets, the live device settings and
//! geofences, the platform lease loop and the partitions it runs here, the Fleet gRPC API and
//! the admin endpoint; and takes it down in order on SIGTERM (partitions handed back first, so
//! others take over at once).

use crate::config::Config;
use crate::consumer::{ConsumerSettings, Streams};
use crate::device::Shared;
use crate::devices::DeviceDirectory;
use crate::geofence::{self, SharedIndex};
use crate::manager::Manager;
use crate::metrics::Metrics;
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::lease::{self, LeaseLoop};
use astra_platform::{admin, boot, grpc, instance, nats, shutdown, streams};
use std::process::ExitCode;
use std::sync::Arc;

/// Runs the worker until SIGTERM / Ctrl-C; bad gRPC TLS settings are a configuration error.
pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let grpc_security = match GrpcSecurity::load(&config.grpc_tls) {
        Ok(security) => security,
        Err(e) => {
            tracing::error!(error = %e, "invalid gRPC security settings");
            return Ok(ExitCode::from(boot::EXIT_CONFIG));
        }
    };
    // Bound before anything else starts, so a taken port stops the worker at once.
    let grpc_listener = grpc::bind(config.grpc_addr).await?;
    let client = config.nats.connect("event-worker").await?;
    let js = nats::jetstream(&client);
    let layout = config.nats.layout();
    let replicas = layout.replicas;
    // Positions and session events are read where they are stored, by partition.
    let inputs = Streams {
        positions: streams::ensure_stream(&js, streams::POSITIONS, &layout).await?,
        sessions: streams::ensure_stream(&js, streams::SESSIONS, &layout).await?,
    };
    streams::ensure_stream(&js, streams::EVENTS, &layout).await?;
    warn_retired_work_stream(&js).await;
    let devices_kv = streams::ensure_kv(&js, streams::KV_DEVICES, replicas).await?;
    let fences_kv = streams::ensure_kv(&js, streams::KV_GEOFENCES, replicas).await?;
    let state_kv = streams::ensure_kv(&js, streams::KV_STATE, replicas).await?;
    let leases_kv =
        lease::ensure_bucket(&js, streams::KV_PARTITIONS, config.lease_ttl, replicas).await?;

    let registry = admin::Registry::new();
    let metrics = Metrics::new(&registry)?;
    let grpc_security = grpc_security
        .count_rejections(&registry, "astra_event_worker_grpc_unauthenticated_total")?;
    let devices = DeviceDirectory::default();
    devices.follow(devices_kv.clone()).await?;
    let fences: SharedIndex = SharedIndex::default();
    let (loaded, fence_watch) = geofence::start(fences_kv.clone(), fences.clone()).await?;
    tracing::info!(
        fences = loaded.fences,
        skipped = loaded.skipped,
        "geofences loaded"
    );

    // The lease holder's name: two workers sharing one would both think they hold the same
    // leases, so the platform rule's default adds the process id to the host name.
    let me = instance::instance_id(config.instance_id.as_deref(), "event-worker");
    let shared = Arc::new(Shared {
        js: js.clone(),
        state: state_kv.clone(),
        devices,
        fences,
        settings: config.rules.clone(),
        metrics,
        tick: config.tick,
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arbiters: Vec<actix::Arbiter> = (0..cores).map(|_| actix::Arbiter::new()).collect();
    let manager = Manager::new(
        layout.partitions,
        inputs,
        shared,
        ConsumerSettings {
            batch: config.batch,
            ack_wait: config.ack_wait,
            linger: config.linger,
            lease_ttl: config.lease_ttl,
        },
        arbiters.iter().map(|a| a.handle()).collect(),
    );
    let leases = LeaseLoop {
        me: me.clone(),
        partitions: layout.partitions,
        ttl: config.lease_ttl,
        leases: leases_kv,
    };
    let mut trigger = shutdown::Trigger::new();
    let lease_loop = tokio::spawn(leases.run(manager, trigger.subscribe()));
    tracing::info!(worker = %me, partitions = layout.partitions, "event-worker running");

    let grpc = tokio::spawn(crate::fleet::serve(
        grpc_listener,
        crate::fleet::FleetService::new(client.clone(), devices_kv, fences_kv, state_kv),
        grpc_security,
        trigger.subscribe().wait(),
    ));
    let ready_client = client.clone();
    let ready: admin::Readiness = Arc::new(move || nats::is_connected(&ready_client));
    let admin = tokio::spawn(admin::serve(
        config.admin_addr,
        registry,
        ready,
        trigger.subscribe().wait(),
    ));

    shutdown::signal().await;
    tracing::info!("shutting down: handing partitions back");
    trigger.fire();
    // With NATS unreachable the hand-back cannot finish; the leases then expire by themselves.
    let graceful = async {
        let _ = lease_loop.await;
        let _ = client.flush().await;
        if let Ok(Err(e)) = grpc.await {
            tracing::warn!(error = %e, "gRPC server ended with an error");
        }
        let _ = admin.await;
    };
    if tokio::time::timeout(config.shutdown_timeout, graceful)
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?config.shutdown_timeout, "shutdown timed out; leases will expire");
    }
    fence_watch.abort();
    for a in &arbiters {
        a.stop();
    }
    Ok(ExitCode::SUCCESS)
}

/// The work stream of earlier versions, which copied every position and session event.
const RETIRED_WORK_STREAM: &str = "ASTRA_EVENT_WORK";

/// Earlier versions read a second stored copy of every position, `ASTRA_EVENT_WORK`; it is
/// no longer read or fed. Its data is left alone: the operator deletes it.
async fn warn_retired_work_stream(js: &async_nats::jetstream::Context) {
    if js.get_stream(RETIRED_WORK_STREAM).await.is_ok() {
        tracing::warn!(
            stream = RETIRED_WORK_STREAM,
            "this stream of an older version is no longer used (positions and session events are read from ASTRA_POSITIONS and ASTRA_SESSIONS by partition) and may be deleted"
        );
    }
}
