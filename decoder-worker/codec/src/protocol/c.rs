//! Protocol C (0x43; legacy), PROTOCOL.md §9: 33-byte records. OpenGTS is the only source and
//! documents just one status bit (4, reports to follow); no capture exists.

use super::common::{geofence, journey_m, set_reasons};
use super::legacy::{decode_records, read_head};
use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{Accelerometer, Analog, DigitalIo, Position, Status};

pub const RECORD: usize = 33;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "C", RECORD, record)
}

fn record(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    read_head(r, p)?;
    p.altitude_m = Some(f64::from(r.u8()?) * 20.0);
    set_reasons(p, u32::from(r.u16()?));
    let status = r.u8()?;
    p.status_flags = u32::from(status);
    // C has no GPS-validity bit: the issue contract fixes `valid` to true. Ignition is taken
    // from bit 0 as in every other protocol; bit 4 is "reports to follow" (OpenGTS).
    p.valid = true;
    p.ignition = status & 1 != 0;
    p.status = Some(Status {
        ignition: p.ignition,
        more_reports_follow: status & 0x10 != 0,
        ..Default::default()
    });
    p.geofence = Some(geofence(r.u8()?));
    let states = r.u8()?;
    let changes = r.u8()?;
    p.io = Some(DigitalIo {
        inputs: u32::from(states),
        input_changes: u32::from(changes),
        raw: u32::from(states) | u32::from(changes) << 8,
        ..Default::default()
    });
    let adc2 = r.u8()?;
    let adc1 = r.u8()?;
    // 0-2 V at 1/128 V per step (OpenGTS's comment; its extra ÷1000 in code looks like a bug).
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc2_raw: u32::from(adc2),
        adc1_v: Some(f64::from(adc1) / 128.0),
        adc2_v: Some(f64::from(adc2) / 128.0),
    });
    p.battery_percent = Some(u32::from(r.u8()?));
    p.external_voltage_v = Some(f64::from(r.u8()?) / 5.0);
    p.max_speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.accelerometer = Some(Accelerometer {
        raw: r.bytes(2)?.to_vec(),
        ..Default::default()
    });
    p.journey_distance_m = Some(journey_m(r.u16()?));
    p.idle_time_s = Some(u32::from(r.u16()?));
    Ok(())
}
