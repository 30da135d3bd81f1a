//! Timestamps as milliseconds since the epoch, the unit every rule compares in.

use astra_proto::Timestamp;

pub(crate) fn millis(t: Option<Timestamp>) -> Option<i64> {
    let t = t?;
    t.seconds
        .checked_mul(1000)?
        .checked_add(i64::from(t.nanos / 1_000_000))
}

pub(crate) fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}
