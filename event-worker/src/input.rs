//! What the event-worker reads: `ASTRA_POSITIONS` and `ASTRA_SESSIONS` directly, one partition
//! of each per owned partition. Both streams store their messages under a partition token
//! (`astra.position.<partition>.<imei>`, `astra.session.<partition>.<imei>`, see
//! `astra_platform::streams`), so a partition's consumer filters exactly its devices while the
//! public subjects (`astra.position.<imei>`, `astra.session.<imei>`) stay as they are.

use astra_proto::v1::{Position, SessionEvent};
use prost::Message;

#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("unexpected {stream} subject {subject:?}")]
    Subject {
        stream: &'static str,
        subject: String,
    },
    #[error("undecodable {kind} on {subject}: {source}")]
    Decode {
        kind: &'static str,
        subject: String,
        source: prost::DecodeError,
    },
}

/// The stream a work item comes from; each has its own sequence (and applied mark per device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Positions,
    Sessions,
}

impl Source {
    /// The subject's second token in this stream.
    fn token(self) -> &'static str {
        match self {
            Self::Positions => "position",
            Self::Sessions => "session",
        }
    }

    pub(crate) fn stream(self) -> &'static str {
        match self {
            Self::Positions => astra_platform::streams::POSITIONS,
            Self::Sessions => astra_platform::streams::SESSIONS,
        }
    }
}

/// What a work message carries.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    Position(Box<Position>),
    Session(Box<SessionEvent>),
}

impl Work {
    pub(crate) fn source(&self) -> Source {
        match self {
            Self::Position(_) => Source::Positions,
            Self::Session(_) => Source::Sessions,
        }
    }

    /// Gateway receive time (ms since the epoch): positions and sessions of a device are
    /// related by it (see `rules::presence`).
    pub(crate) fn received_ms(&self) -> Option<i64> {
        match self {
            Self::Position(p) => crate::rules::millis(p.received_time),
            Self::Session(s) => crate::rules::millis(s.time),
        }
    }
}

/// One work message: its sequence in its stream, device and payload.
#[derive(Debug, Clone)]
pub(crate) struct WorkItem {
    pub(crate) seq: u64,
    pub(crate) imei: String,
    pub(crate) work: Work,
    /// The message's headers: its `traceparent` continues on the events it raises.
    pub(crate) headers: Option<async_nats::HeaderMap>,
}

/// Reads a stored message of `source`: `astra.<position|session>.<partition>.<imei>`.
pub(crate) fn parse(
    source: Source,
    subject: &str,
    seq: u64,
    payload: &[u8],
) -> Result<WorkItem, InputError> {
    let mut tokens = subject.split('.');
    let (Some("astra"), Some(kind), Some(partition), Some(imei), None) = (
        tokens.next(),
        tokens.next(),
        tokens.next(),
        tokens.next(),
        tokens.next(),
    ) else {
        return Err(subject_error(source, subject));
    };
    if kind != source.token() || partition.parse::<u32>().is_err() || imei.is_empty() {
        return Err(subject_error(source, subject));
    }
    let decode_error = |kind, source| InputError::Decode {
        kind,
        subject: subject.to_owned(),
        source,
    };
    let work = match source {
        Source::Positions => Work::Position(Box::new(
            Position::decode(payload).map_err(|e| decode_error("position", e))?,
        )),
        Source::Sessions => Work::Session(Box::new(
            SessionEvent::decode(payload).map_err(|e| decode_error("session event", e))?,
        )),
    };
    Ok(WorkItem {
        seq,
        imei: imei.to_owned(),
        work,
        headers: None,
    })
}

fn subject_error(source: Source, subject: &str) -> InputError {
    InputError::Subject {
        stream: source.stream(),
        subject: subject.to_owned(),
    }
}

/// Merges a device's positions and session events, each already in its stream's order, by
/// gateway receive time (a session event first on a tie, as the gateway records it before it
/// publishes the frame). Each stream's own order is kept whatever the times say.
pub(crate) fn merge(positions: Vec<WorkItem>, sessions: Vec<WorkItem>) -> Vec<WorkItem> {
    if sessions.is_empty() {
        return positions;
    }
    if positions.is_empty() {
        return sessions;
    }
    let mut out = Vec::with_capacity(positions.len() + sessions.len());
    let mut positions = positions.into_iter().peekable();
    let mut sessions = sessions.into_iter().peekable();
    loop {
        let session_first = match (positions.peek(), sessions.peek()) {
            (Some(p), Some(s)) => match (p.work.received_ms(), s.work.received_ms()) {
                (Some(pt), Some(st)) => st <= pt,
                // Without a time there is nothing to relate: the session goes first.
                _ => true,
            },
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if session_first {
            sessions.next()
        } else {
            positions.next()
        };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::timestamp;

    #[test]
    fn parses_positions_and_sessions_and_rejects_the_rest() {
        let p = Position {
            imei: "356938035643809".into(),
            sequence: 7,
            ..Default::default()
        };
        let item = parse(
            Source::Positions,
            "astra.position.3.356938035643809",
            42,
            &p.encode_to_vec(),
        )
        .unwrap();
        assert_eq!((item.seq, item.imei.as_str()), (42, "356938035643809"));
        assert!(matches!(item.work, Work::Position(ref q) if q.sequence == 7));
        let s = SessionEvent::default().encode_to_vec();
        let item = parse(Source::Sessions, "astra.session.3.unknown", 1, &s).unwrap();
        assert!(matches!(item.work, Work::Session(_)));
        assert_eq!(item.imei, "unknown");
        for (source, bad) in [
            (Source::Positions, "astra.position.3"),
            (Source::Positions, "astra.position.356938035643809"),
            (Source::Positions, "astra.position.x.1"),
            (Source::Positions, "astra.session.3.1"),
            (Source::Sessions, "astra.position.3.1"),
            (Source::Positions, "x.position.3.1"),
            (Source::Positions, "astra.position.3.1.2"),
            (Source::Positions, "astra.position.3."),
            (Source::Positions, "astra.work.3.position.1"),
        ] {
            assert!(
                matches!(parse(source, bad, 1, &[]), Err(InputError::Subject { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(Source::Positions, "astra.position.3.1", 1, &[0xff, 0xff]),
            Err(InputError::Decode { .. })
        ));
    }

    fn position(seq: u64, received: i64) -> WorkItem {
        WorkItem {
            seq,
            imei: "1".into(),
            work: Work::Position(Box::new(Position {
                received_time: Some(timestamp(received)),
                ..Default::default()
            })),
            headers: None,
        }
    }

    fn session(seq: u64, time: i64) -> WorkItem {
        WorkItem {
            seq,
            imei: "1".into(),
            work: Work::Session(Box::new(SessionEvent {
                time: Some(timestamp(time)),
                ..Default::default()
            })),
            headers: None,
        }
    }

    fn order(items: &[WorkItem]) -> Vec<(Source, u64)> {
        items.iter().map(|i| (i.work.source(), i.seq)).collect()
    }

    #[test]
    fn merges_by_receive_time_keeping_each_streams_order() {
        use Source::{Positions as P, Sessions as S};
        let merged = merge(
            vec![
                position(10, 1_000),
                position(11, 2_000),
                position(12, 3_000),
            ],
            vec![session(5, 500), session(6, 2_000), session(7, 9_000)],
        );
        assert_eq!(
            order(&merged),
            [(S, 5), (P, 10), (S, 6), (P, 11), (P, 12), (S, 7)]
        );
        // A stream's order wins over times that disagree with it.
        let merged = merge(
            vec![position(10, 5_000), position(11, 1_000)],
            vec![session(3, 2_000)],
        );
        assert_eq!(order(&merged), [(S, 3), (P, 10), (P, 11)]);
        assert_eq!(order(&merge(vec![position(1, 1)], vec![])), [(P, 1)]);
        assert_eq!(order(&merge(vec![], vec![session(1, 1)])), [(S, 1)]);
    }
}
