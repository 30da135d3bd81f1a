//! Protocol K (0x4B; AT200/AT210), PROTOCOL.md §6: 38-byte records, 50 with the extra block.

use super::common::{
    degrees, geofence, hex_upper, journey_m, read_accel, set_reasons, set_signal, set_status,
};
use super::legacy::decode_records;
use crate::codec::error::DecodeError;
use crate::codec::reader::Reader;
use crate::codec::time::from_gps;
use astra_proto::v1::{Analog, DigitalIo, Position};

pub const RECORD: usize = 38;
pub const RECORD_EXTRA: usize = 50;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "K", RECORD, record)
}

fn record(r: &mut Reader<'_>) -> Result<Position, DecodeError> {
    let mut p = Position {
        sequence: u32::from(r.u8()?),
        latitude: Some(degrees(r.i32()?)),
        longitude: Some(degrees(r.i32()?)),
        ..Default::default()
    };
    let time = from_gps(r.u32()?);
    p.device_time = Some(time);
    p.fix_time = Some(time);
    p.speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.course_deg = Some(f64::from(r.u8()?) * 2.0);
    set_reasons(&mut p, r.u24()?);
    let status = r.u16()?;
    set_status(&mut p, status);
    // The bit map of this byte is not published; keep it whole.
    p.io = Some(DigitalIo {
        raw: u32::from(r.u8()?),
        ..Default::default()
    });
    let adc1 = r.u8()?;
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc1_v: Some(f64::from(adc1) / 50.0),
        ..Default::default()
    });
    p.battery_percent = Some(u32::from(r.u8()?));
    p.external_voltage_v = Some(f64::from(r.u8()?) / 5.0);
    p.max_speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.accelerometer = Some(read_accel(r)?);
    p.journey_distance_m = Some(journey_m(r.u16()?));
    p.idle_time_s = Some(u32::from(r.u16()?));
    p.altitude_m = Some(f64::from(r.u8()?) * 20.0);
    set_signal(&mut p, r.u8()?);
    p.geofence = Some(geofence(r.u8()?));
    if status & (1 << 8) != 0 {
        read_extra(r, &mut p)?;
    }
    Ok(p)
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
