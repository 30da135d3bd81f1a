//! The streams and KV buckets of DESIGN §3.1. Every service creates what it uses at start-up,
//! idempotently: creating an existing stream with the same config is a no-op.

use async_nats::jetstream::{self, kv, stream};
use std::time::Duration;

/// Why a stream or bucket could not be created or found; keeps the async-nats error (and so
/// its kind: timeout, refusal, …).
#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    #[error("unknown stream {0}")]
    Unknown(String),
    #[error("cannot create or find stream {name}: {source}")]
    Stream {
        name: String,
        source: jetstream::context::CreateStreamError,
    },
    #[error("cannot create KV bucket {bucket}: {source}")]
    Bucket {
        bucket: String,
        source: jetstream::context::CreateKeyValueError,
    },
}

const DAY: Duration = Duration::from_secs(24 * 3600);

pub const RAW: &str = "ASTRA_RAW";
pub const POSITIONS: &str = "ASTRA_POSITIONS";
pub const EVENTS: &str = "ASTRA_EVENTS";
pub const SESSIONS: &str = "ASTRA_SESSIONS";
pub const DLQ: &str = "ASTRA_DLQ";

pub const KV_DEVICES: &str = "astra-devices";
pub const KV_GEOFENCES: &str = "astra-geofences";
pub const KV_STATE: &str = "astra-state";
pub const KV_PARTITIONS: &str = "astra-partitions";
/// Reverse-geocoded addresses by grid cell, shared by the decoder replicas (entries expire).
pub const KV_GEOCODE: &str = "astra-geocode";

/// Window in which JetStream drops a publish whose `Nats-Msg-Id` it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

pub fn raw_subject(imei: &str) -> String {
    format!("astra.raw.{imei}")
}
pub fn position_subject(imei: &str) -> String {
    format!("astra.position.{imei}")
}
pub fn session_subject(imei: &str) -> String {
    format!("astra.session.{imei}")
}
pub fn dlq_subject(imei: &str) -> String {
    format!("astra.dlq.{imei}")
}
pub fn command_subject(imei: &str) -> String {
    format!("astra.cmd.{imei}")
}
pub fn event_subject(imei: &str, event_type: &str) -> String {
    format!("astra.event.{imei}.{event_type}")
}

/// Stream name → (subjects, max age).
fn spec(name: &str) -> Option<(&'static str, Duration)> {
    Some(match name {
        RAW => ("astra.raw.>", 7 * DAY),
        POSITIONS => ("astra.position.>", 30 * DAY),
        EVENTS => ("astra.event.>", 90 * DAY),
        SESSIONS => ("astra.session.>", 7 * DAY),
        DLQ => ("astra.dlq.>", 30 * DAY),
        _ => return None,
    })
}

/// Creates (or finds) one of the cluster's streams.
pub async fn ensure_stream(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<stream::Stream, StreamSetupError> {
    let (subjects, max_age) =
        spec(name).ok_or_else(|| StreamSetupError::Unknown(name.to_owned()))?;
    let config = stream::Config {
        name: name.to_owned(),
        subjects: vec![subjects.to_owned()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age,
        num_replicas: replicas,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|source| StreamSetupError::Stream {
            name: name.to_owned(),
            source,
        })
}

/// Creates (or finds) one of the cluster's KV buckets.
pub async fn ensure_kv(
    js: &jetstream::Context,
    bucket: &str,
    replicas: usize,
) -> Result<kv::Store, StreamSetupError> {
    ensure_kv_inner(js, bucket, replicas, Duration::ZERO).await
}

/// Creates (or finds) a KV bucket whose entries expire `ttl` after they were written (a cache).
/// An existing bucket is used as it is, whatever its TTL.
pub async fn ensure_kv_with_ttl(
    js: &jetstream::Context,
    bucket: &str,
    replicas: usize,
    ttl: Duration,
) -> Result<kv::Store, StreamSetupError> {
    ensure_kv_inner(js, bucket, replicas, ttl).await
}

/// `max_age` zero: entries never expire.
async fn ensure_kv_inner(
    js: &jetstream::Context,
    bucket: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, StreamSetupError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        max_age,
        ..Default::default()
    })
    .await
    .map_err(|source| StreamSetupError::Bucket {
        bucket: bucket.to_owned(),
        source,
    })
}
