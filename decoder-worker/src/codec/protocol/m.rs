//! Protocol M (0x4D; AT110/AT240 without CAN), PROTOCOL.md §7: 41-byte records, 53 with the
//! extra block. No captured packet exists; layout from OpenGTS and KDC.

use super::common::{
    degrees, geofence, journey_m, read_accel, set_reasons, set_signal, set_status,
};
use super::k::read_extra;
use super::legacy::decode_records;
use crate::codec::error::DecodeError;
use crate::codec::reader::Reader;
use crate::codec::time::from_gps;
use astra_proto::v1::{Analog, DigitalIo, Position};

pub const RECORD: usize = 41;
pub const RECORD_EXTRA: usize = 53;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "M", RECORD, record)
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
    // Read little-endian, so the byte at offset 20 is "digitals #1" (OpenGTS, KDC).
    p.io = Some(DigitalIo {
        raw: r.u24_le()?,
        ..Default::default()
    });
    let adc1 = r.u8()?;
    let adc2 = r.u8()?;
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc2_raw: u32::from(adc2),
        adc1_v: Some(f64::from(adc1) / 50.0),
        adc2_v: Some(f64::from(u32::from(adc2) * 59) / 1000.0),
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
