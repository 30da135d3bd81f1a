//! The streams and KV buckets of DESIGN §3.1. Every service creates what it uses at start-up,
//! idempotently: creating an existing stream with the same config is a no-op.
//!
//! `ASTRA_RAW` stores each frame under `astra.raw.<partition>.<imei>`: the gateway publishes to
//! `astra.raw.<imei>` and the stream's subject transform adds the partition with NATS'
//! `partition(n, 1)` (FNV-1a of the IMEI, as [`crate::partition::partition_of`]), so a decoder
//! that holds a partition's lease reads exactly its devices' frames, in stored order.
//! `ASTRA_POSITIONS` and `ASTRA_SESSIONS` do the same (`astra.position.<imei>` is stored as
//! `astra.position.<partition>.<imei>`, `astra.session.<imei>` as
//! `astra.session.<partition>.<imei>`), so the event-worker reads a partition of each directly.
//! A transform changes only the stored subject: core-NATS subscribers keep the public ones, and
//! a JetStream reader of one device filters on the stored form ([`position_device_filter`]).

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
    #[error(
        "stream {name} stores subjects as {found:?} but this service is configured for {wanted} partitions; the partition count is fixed per cluster"
    )]
    Partitions {
        name: String,
        found: String,
        wanted: u32,
    },
    #[error("cannot read stream {name}: {source}")]
    Info {
        name: String,
        source: stream::InfoError,
    },
    #[error("cannot add the partition transform to stream {name}: {source}")]
    Update {
        name: String,
        source: jetstream::context::UpdateStreamError,
    },
    #[error("cannot find stream {name} after updating it: {source}")]
    Get {
        name: String,
        source: jetstream::context::GetStreamError,
    },
    #[error("cannot create KV bucket {bucket}: {source}")]
    Bucket {
        bucket: String,
        source: jetstream::context::CreateKeyValueError,
    },
}

/// Partitions of a cluster unless configured otherwise.
pub const DEFAULT_PARTITIONS: u32 = 64;

/// How the services lay their streams out: replicas of each, and the partition count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub replicas: usize,
    pub partitions: u32,
}

impl Layout {
    /// One replica, the default partitions (tests, a single-node install).
    pub fn single() -> Self {
        Self {
            replicas: 1,
            partitions: DEFAULT_PARTITIONS,
        }
    }
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
/// Leases of ASTRA_RAW's partitions, divided between the decoder-worker replicas.
pub const KV_DECODER_PARTITIONS: &str = "astra-decoder-partitions";
/// Reverse-geocoded addresses by grid cell, shared by the decoder replicas (entries expire).
pub const KV_GEOCODE: &str = "astra-geocode";

/// Window in which JetStream drops a publish whose `Nats-Msg-Id` it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Subject a gateway publishes a frame of `imei` to (stored with its partition added).
pub fn raw_subject(imei: &str) -> String {
    format!("astra.raw.{imei}")
}
/// Stored subjects of one partition of ASTRA_RAW.
pub fn raw_partition_filter(partition: u32) -> String {
    format!("astra.raw.{partition}.*")
}
/// Stored subjects of one partition of ASTRA_POSITIONS.
pub fn position_partition_filter(partition: u32) -> String {
    format!("astra.position.{partition}.*")
}
/// Stored subjects of one partition of ASTRA_SESSIONS.
pub fn session_partition_filter(partition: u32) -> String {
    format!("astra.session.{partition}.*")
}
/// JetStream filter of one device's stored positions (whatever its partition).
pub fn position_device_filter(imei: &str) -> String {
    format!("astra.position.*.{imei}")
}
/// JetStream filter of one device's stored session events (whatever its partition).
pub fn session_device_filter(imei: &str) -> String {
    format!("astra.session.*.{imei}")
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

/// The transform that stores a stream's `astra.<kind>.<imei>` as `astra.<kind>.<p>.<imei>`.
fn partition_transform(kind: &str, partitions: u32) -> stream::SubjectTransform {
    stream::SubjectTransform {
        source: format!("astra.{kind}.*"),
        destination: format!("astra.{kind}.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}"),
    }
}

/// The partition transform of a stream, if it has one: the token of its subjects.
fn partitioned_kind(name: &str) -> Option<&'static str> {
    match name {
        RAW => Some("raw"),
        POSITIONS => Some("position"),
        SESSIONS => Some("session"),
        _ => None,
    }
}

/// Creates (or finds) one of the cluster's streams. An existing `ASTRA_RAW`, `ASTRA_POSITIONS`
/// or `ASTRA_SESSIONS` without the partition transform gets it (messages stored before keep
/// their old subject); one with another partition count is refused.
pub async fn ensure_stream(
    js: &jetstream::Context,
    name: &str,
    layout: &Layout,
) -> Result<stream::Stream, StreamSetupError> {
    let replicas = layout.replicas;
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
        subject_transform: partitioned_kind(name)
            .map(|kind| partition_transform(kind, layout.partitions)),
        ..Default::default()
    };
    let mut stream = js
        .get_or_create_stream(config.clone())
        .await
        .map_err(|source| StreamSetupError::Stream {
            name: name.to_owned(),
            source,
        })?;
    if let Some(wanted) = &config.subject_transform {
        let info = stream
            .info()
            .await
            .map_err(|source| StreamSetupError::Info {
                name: name.to_owned(),
                source,
            })?;
        match &info.config.subject_transform {
            Some(found) if found == wanted => {}
            Some(found) => {
                return Err(StreamSetupError::Partitions {
                    name: name.to_owned(),
                    found: found.destination.clone(),
                    wanted: layout.partitions,
                });
            }
            None => {
                tracing::warn!(
                    stream = name,
                    "adding the partition transform to an existing stream; messages stored before keep their unpartitioned subject and are not read by partition consumers"
                );
                let mut updated = info.config.clone();
                updated.subject_transform = Some(wanted.clone());
                js.update_stream(updated)
                    .await
                    .map_err(|source| StreamSetupError::Update {
                        name: name.to_owned(),
                        source,
                    })?;
                stream = js
                    .get_stream(name)
                    .await
                    .map_err(|source| StreamSetupError::Get {
                        name: name.to_owned(),
                        source,
                    })?;
            }
        }
    }
    Ok(stream)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_sessions_are_stored_by_partition() {
        for (name, kind) in [(RAW, "raw"), (POSITIONS, "position"), (SESSIONS, "session")] {
            assert_eq!(partitioned_kind(name), Some(kind));
            let t = partition_transform(kind, 8);
            assert_eq!(t.source, format!("astra.{kind}.*"));
            assert_eq!(
                t.destination,
                format!("astra.{kind}.{{{{partition(8,1)}}}}.{{{{wildcard(1)}}}}")
            );
        }
        assert_eq!(partitioned_kind(EVENTS), None);
        assert_eq!(partitioned_kind(DLQ), None);
        assert_eq!(position_partition_filter(3), "astra.position.3.*");
        assert_eq!(session_partition_filter(3), "astra.session.3.*");
        assert_eq!(position_device_filter("1"), "astra.position.*.1");
        assert_eq!(session_device_filter("1"), "astra.session.*.1");
    }
}
