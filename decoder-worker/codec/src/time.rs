//! Astra timestamps: u32 seconds since the GPS epoch 1980-01-06T00:00:00Z, read as UTC-based
//! seconds with no leap-second correction (as every source does, PROTOCOL.md §2).

use astra_proto::Timestamp;

/// Unix time of 1980-01-06T00:00:00Z.
pub const GPS_EPOCH_UNIX: i64 = 315_964_800;

/// A device's timestamp as a protobuf `Timestamp`.
pub(crate) fn from_gps(seconds: u32) -> Timestamp {
    Timestamp {
        seconds: GPS_EPOCH_UNIX + i64::from(seconds),
        nanos: 0,
    }
}

/// The device seconds of `ts` (what the test encoder writes); `None` if the time is not representable.
pub fn to_gps(ts: &Timestamp) -> Option<u32> {
    u32::try_from(ts.seconds - GPS_EPOCH_UNIX).ok()
}
