//! The work stream `ASTRA_EVENT_WORK`: JetStream sources `ASTRA_POSITIONS` and `ASTRA_SESSIONS`
//! into it, rewriting each subject to `astra.work.<partition>.<kind>.<imei>` with NATS'
//! `partition()` function. So each partition is one filtered consumer that sees its devices'
//! positions and session events in one order, while the public subjects
//! (`astra.position.<imei>`, `astra.session.<imei>`) stay as they are.

use astra_platform::streams;
use astra_proto::v1::{Position, SessionEvent};
use async_nats::jetstream::{self, stream};
use prost::Message;
use std::time::Duration;

pub(crate) const STREAM: &str = "ASTRA_EVENT_WORK";

#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkError {
    #[error("unexpected work subject {0:?}")]
    Subject(String),
    #[error("undecodable {kind} on {subject}: {source}")]
    Decode {
        kind: &'static str,
        subject: String,
        source: prost::DecodeError,
    },
    #[error(
        "{STREAM} routes to {found} partitions but this worker is configured for {wanted}; the partition count is fixed per cluster (delete the stream and its consumers to change it)"
    )]
    PartitionCount { found: String, wanted: u32 },
    #[error("cannot create the stream {STREAM}: {0}")]
    Create(#[source] jetstream::context::CreateStreamError),
    #[error("cannot read the stream {STREAM}: {0}")]
    Info(#[source] stream::InfoError),
}

/// What a work message carries.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    Position(Box<Position>),
    Session(Box<SessionEvent>),
}

/// One work message: its stream sequence, device and payload.
#[derive(Debug, Clone)]
pub(crate) struct WorkItem {
    pub(crate) seq: u64,
    pub(crate) imei: String,
    pub(crate) work: Work,
    /// The message's headers: its `traceparent` continues on the events it raises.
    pub(crate) headers: Option<async_nats::HeaderMap>,
}

fn transform(kind: &str, partitions: u32) -> stream::SubjectTransform {
    stream::SubjectTransform {
        source: format!("astra.{kind}.*"),
        destination: format!(
            "astra.work.{{{{partition({partitions},1)}}}}.{kind}.{{{{wildcard(1)}}}}"
        ),
    }
}

/// Subject filter of one partition's consumer.
pub(crate) fn partition_filter(partition: u32) -> String {
    format!("astra.work.{partition}.>")
}

/// Creates the work stream (or checks that an existing one routes to `partitions`).
pub(crate) async fn ensure(
    js: &jetstream::Context,
    partitions: u32,
    replicas: usize,
) -> Result<stream::Stream, WorkError> {
    let sources = [
        ("position", streams::POSITIONS),
        ("session", streams::SESSIONS),
    ]
    .into_iter()
    .map(|(kind, name)| stream::Source {
        name: name.to_owned(),
        subject_transforms: vec![transform(kind, partitions)],
        ..Default::default()
    })
    .collect();
    let config = stream::Config {
        name: STREAM.to_owned(),
        sources: Some(sources),
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(7 * 24 * 3600),
        num_replicas: replicas,
        ..Default::default()
    };
    let mut stream = js
        .get_or_create_stream(config)
        .await
        .map_err(WorkError::Create)?;
    let info = stream.info().await.map_err(WorkError::Info)?;
    let wanted = transform("position", partitions).destination;
    let found = info
        .config
        .sources
        .iter()
        .flatten()
        .flat_map(|s| s.subject_transforms.iter())
        .find(|t| t.source == "astra.position.*")
        .map(|t| t.destination.clone())
        .unwrap_or_default();
    if found != wanted {
        return Err(WorkError::PartitionCount {
            found,
            wanted: partitions,
        });
    }
    Ok(stream)
}

/// Reads a work message: `astra.work.<partition>.<position|session>.<imei>`.
pub(crate) fn parse(subject: &str, seq: u64, payload: &[u8]) -> Result<WorkItem, WorkError> {
    let mut tokens = subject.split('.');
    let (Some("astra"), Some("work"), Some(_), Some(kind), Some(imei), None) = (
        tokens.next(),
        tokens.next(),
        tokens.next(),
        tokens.next(),
        tokens.next(),
        tokens.next(),
    ) else {
        return Err(WorkError::Subject(subject.to_owned()));
    };
    let decode_error = |kind, source| WorkError::Decode {
        kind,
        subject: subject.to_owned(),
        source,
    };
    let work = match kind {
        "position" => Work::Position(Box::new(
            Position::decode(payload).map_err(|e| decode_error("position", e))?,
        )),
        "session" => Work::Session(Box::new(
            SessionEvent::decode(payload).map_err(|e| decode_error("session event", e))?,
        )),
        _ => return Err(WorkError::Subject(subject.to_owned())),
    };
    Ok(WorkItem {
        seq,
        imei: imei.to_owned(),
        work,
        headers: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_uses_the_partition_function() {
        assert_eq!(
            transform("position", 64).destination,
            "astra.work.{{partition(64,1)}}.position.{{wildcard(1)}}"
        );
    }

    #[test]
    fn parses_positions_and_sessions_and_rejects_the_rest() {
        let p = Position {
            imei: "356938035643809".into(),
            sequence: 7,
            ..Default::default()
        };
        let item = parse(
            "astra.work.3.position.356938035643809",
            42,
            &p.encode_to_vec(),
        )
        .unwrap();
        assert_eq!((item.seq, item.imei.as_str()), (42, "356938035643809"));
        assert!(matches!(item.work, Work::Position(ref q) if q.sequence == 7));
        let s = SessionEvent::default().encode_to_vec();
        assert!(matches!(
            parse("astra.work.3.session.unknown", 1, &s).unwrap().work,
            Work::Session(_)
        ));
        for bad in [
            "astra.work.3.position",
            "astra.work.3.gps.1",
            "x.work.3.position.1",
            "astra.work.3.position.1.2",
        ] {
            assert!(
                matches!(parse(bad, 1, &[]), Err(WorkError::Subject(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse("astra.work.3.position.1", 1, &[0xff, 0xff]),
            Err(WorkError::Decode { .. })
        ));
    }
}
