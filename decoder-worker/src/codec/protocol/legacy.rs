//! What C, K, M and V share: a 10-byte header (id, length, binary IMEI) and fixed-size records
//! until the CRC. Records are iterated by remaining length, never by the "reports to follow"
//! status bit, which is set on the last record too (vector traccar-K-3).

use crate::codec::error::DecodeError;
use crate::codec::imei::read_binary_imei;
use crate::codec::reader::Reader;
use astra_proto::v1::Position;

/// Reads the IMEI, then records with `record` until the body is used up. `min_record` is the
/// basic record size: fewer bytes than that left over is a framing error, not a record.
pub fn decode_records(
    mut body: Reader<'_>,
    protocol: &str,
    min_record: usize,
    record: fn(&mut Reader<'_>) -> Result<Position, DecodeError>,
) -> Result<Vec<Position>, DecodeError> {
    let imei = read_binary_imei(&mut body)?;
    let mut out = Vec::with_capacity(body.remaining() / min_record);
    while !body.is_empty() {
        if body.remaining() < min_record {
            return Err(DecodeError::TrailingBytes {
                remaining: body.remaining(),
                record_len: min_record,
            });
        }
        let mut pos = record(&mut body)?;
        pos.imei.clone_from(&imei);
        pos.protocol = protocol.to_owned();
        out.push(pos);
    }
    Ok(out)
}
