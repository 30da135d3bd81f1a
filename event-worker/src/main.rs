//! `event-worker`: will own partitions of devices and turn positions and session changes into
//! events (DESIGN §4-§5). For now it is a skeleton that joins the cluster: it connects to NATS,
//! creates the streams and buckets it will use, serves `/healthz` and `/readyz`, and waits for
//! SIGTERM. It computes no events yet.

use astra_decoder::platform::nats::{self, NatsArgs};
use astra_decoder::platform::{admin, streams, telemetry};
use clap::Parser;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "event-worker",
    version,
    about = "Astra event worker (skeleton)"
)]
struct Config {
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    telemetry: telemetry::TelemetryArgs,
    /// Admin HTTP address (/metrics, /healthz, /readyz).
    #[arg(long, env = "ASTRA_EVENT_WORKER_ADMIN", default_value = "0.0.0.0:9104")]
    admin_addr: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    actix_rt::System::with_tokio_rt(|| runtime).block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("event-worker", &config.telemetry)?;
    let client = config.nats.connect("event-worker").await?;
    let js = nats::jetstream(&client);
    let replicas = config.nats.stream_replicas;
    for stream in [streams::POSITIONS, streams::SESSIONS, streams::EVENTS] {
        streams::ensure_stream(&js, stream, replicas).await?;
    }
    for bucket in [
        streams::KV_DEVICES,
        streams::KV_GEOFENCES,
        streams::KV_STATE,
        streams::KV_PARTITIONS,
    ] {
        streams::ensure_kv(&js, bucket, replicas).await?;
    }
    tracing::info!("event-worker skeleton ready: no event rules yet");
    let ready_client = client.clone();
    let ready: admin::Readiness = Arc::new(move || nats::is_connected(&ready_client));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(admin::serve(
        config.admin_addr,
        admin::Registry::new(),
        ready,
        async move {
            let _ = stop_rx.await;
        },
    ));
    shutdown_signal().await;
    let _ = stop_tx.send(());
    admin.await??;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
