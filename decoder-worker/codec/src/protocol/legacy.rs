//! What C, K, M and V share: a 10-byte header (id, length, binary IMEI) and fixed-size records
//! until the CRC. Records are iterated by remaining length, never by the "reports to follow"
//! status bit, which is set on the last record too (vector traccar-K-3). K and M records differ
//! only in their inputs, so the rest of their layout is read here too.

use super::common::{
    degrees, geofence, hex_upper, journey_m, read_accel, set_reasons, set_signal, set_status,
};
use crate::error::DecodeError;
use crate::imei::read_binary_imei;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::Position;

/// Reads the IMEI, then records with `record` until the body is used up. `min_record` is the
/// basic record size: fewer bytes than that left over is a framing error, not a record.
pub fn decode_records(
    mut body: Reader<'_>,
    protocol: &str,
    min_record: usize,
    record: fn(&mut Reader<'_>, &mut Position) -> Result<(), DecodeError>,
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
        // Filled where it lies: a Position is over a kilobyte, and returning each record by
        // value cost more in copies than reading its fields.
        out.push(Position::default());
        let Some(pos) = out.last_mut() else {
            break;
        };
        record(&mut body, pos)?;
        pos.imei.clone_from(&imei);
        pos.protocol = protocol.to_owned();
    }
    Ok(out)
}

/// Status bit 8: the record carries the 12-byte extra block (K, M and V).
pub const EXTRA_BLOCK: u16 = 1 << 8;

/// One K or M record (PROTOCOL.md §§6-7), read into `p`: the shared head (sequence … status),
/// the variant's digital and analog inputs read by `inputs`, the shared tail (battery …
/// geofence) and, with status bit 8, the extra block.
pub fn km_record(
    r: &mut Reader<'_>,
    p: &mut Position,
    inputs: fn(&mut Reader<'_>, &mut Position) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    read_head(r, p)?;
    set_reasons(p, r.u24()?);
    let status = r.u16()?;
    set_status(p, status);
    inputs(r, p)?;
    read_tail(r, p)?;
    if status & EXTRA_BLOCK != 0 {
        read_extra(r, p)?;
    }
    Ok(())
}

/// The head of C, K and M records: sequence, latitude, longitude, GPS time (device and fix
/// time alike), speed and course.
pub fn read_head(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.sequence = u32::from(r.u8()?);
    p.latitude = Some(degrees(r.i32()?));
    p.longitude = Some(degrees(r.i32()?));
    let time = from_gps(r.u32()?);
    p.device_time = Some(time);
    p.fix_time = Some(time);
    p.speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.course_deg = Some(f64::from(r.u8()?) * 2.0);
    Ok(())
}

/// The fields K, M and V share after their inputs: battery, supply, max speed, accelerometer,
/// journey distance, idle time, altitude, signal quality, geofence.
pub fn read_tail(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.battery_percent = Some(u32::from(r.u8()?));
    p.external_voltage_v = Some(f64::from(r.u8()?) / 5.0);
    p.max_speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.accelerometer = Some(read_accel(r)?);
    p.journey_distance_m = Some(journey_m(r.u16()?));
    p.idle_time_s = Some(u32::from(r.u16()?));
    p.altitude_m = Some(f64::from(r.u8()?) * 20.0);
    set_signal(p, r.u8()?);
    p.geofence = Some(geofence(r.u8()?));
    Ok(())
}

/// The 12-byte extra block of K and M (status bit 8): 1-Wire driver ID (family code + 48-bit
/// serial; Traccar's ASCII reading is wrong), u24 lifetime odometer in km, u16 hours.
pub fn read_extra(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    if let Some(s) = p.status.as_mut() {
        s.extra_block = true;
    }
    p.driver_id = hex_upper(r.bytes(7)?);
    p.odometer_m = Some(u64::from(r.u24()?) * 1000);
    // Traccar calls it "hours", KDC "engine-on hours"; the unit is not confirmed by any source.
    p.engine_hours = Some(u32::from(r.u16()?));
    Ok(())
}
