//! Protocol V (0x56; CAN-bus variant of M for AT240 with FMS/OBD), PROTOCOL.md §8: 72-byte
//! records; 86 with the extra block (status bit 8); 98 when that block also carries the
//! journey-stop fields (reason bit 7). OpenGTS is the only source; no capture exists.

use super::common::{degrees, hex_upper, set_reasons, set_status};
use super::legacy::{EXTRA_BLOCK, decode_records, read_tail};
use crate::error::DecodeError;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::{Analog, DigitalIo, Position, VehicleCan};

pub const RECORD: usize = 72;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "V", RECORD, record)
}

fn record(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.sequence = u32::from(r.u8()?);
    p.device_time = Some(from_gps(r.u32()?));
    p.latitude = Some(degrees(r.i32()?));
    p.longitude = Some(degrees(r.i32()?));
    p.fix_time = Some(from_gps(r.u32()?));
    p.speed_kmh = Some(f64::from(r.u8()?) * 2.0);
    p.course_deg = Some(f64::from(r.u8()?) * 2.0);
    let reason = r.u24()?;
    set_reasons(p, reason);
    let status = r.u16()?;
    set_status(p, status);
    p.io = Some(DigitalIo {
        raw: r.u24_le()?,
        ..Default::default()
    });
    // Two 12-bit ADCs in a u24: ADC1 in the low 12 bits (0-5 V), ADC2 in the high 12 (0-15 V).
    let adcs = r.u24()?;
    let (adc1, adc2) = (adcs & 0xFFF, (adcs >> 12) & 0xFFF);
    p.analog = Some(Analog {
        adc1_raw: adc1,
        adc2_raw: adc2,
        adc1_v: Some(f64::from(adc1 * 5) / 4096.0),
        adc2_v: Some(f64::from(adc2 * 15) / 4096.0),
    });
    read_tail(r, p)?;
    let mut can = VehicleCan {
        wheel_speed_kmh: u32::from(r.u8()?),
        engine_rpm: u32::from(r.u8()?) * 32,
        throttle_percent: u32::from(r.u8()?),
        engine_load_percent: u32::from(r.u8()?),
        can_journey_distance_km: f64::from(r.u16()?) / 10.0,
        coolant_temperature_c: i32::from(r.u8()?) - 40,
        fms_status: u32::from(r.u16()?),
        ..Default::default()
    };
    can.obd_status = u32::from(r.u16()?);
    can.malfunction_lamp = can.obd_status & 0x80 != 0;
    can.can_monitoring_status = u32::from(r.u16()?);
    can.fuel_level_raw = u32::from(r.u8()?);
    can.total_fuel_used_l = f64::from(r.u32()?) / 2.0;
    can.total_vehicle_distance_m = u64::from(r.u32()?) * 5;
    can.average_wheel_speed_kmh = u32::from(r.u8()?);
    can.average_engine_rpm = u32::from(r.u8()?) * 32;
    can.average_throttle_percent = u32::from(r.u8()?);
    can.average_engine_load_percent = u32::from(r.u8()?);
    if status & EXTRA_BLOCK != 0 {
        if let Some(s) = p.status.as_mut() {
            s.extra_block = true;
        }
        p.driver_id = hex_upper(r.bytes(7)?);
        p.odometer_m = Some(u64::from(r.u24()?) * 1000);
        can.lifetime_running_time = Some(u32::from(r.u16()?));
        let axle = u32::from(r.u16()?);
        can.axle_weight_kg = Some(axle);
        p.axle_weight_kg = Some(axle);
        if reason & (1 << 7) != 0 {
            let hours = u32::from(r.u16()?);
            can.engine_on_hours = Some(hours);
            p.engine_hours = Some(hours);
            can.journey_fuel_l = Some(f64::from(r.u16()?) / 10.0);
            can.cruise_control_time_s = Some(u32::from(r.u16()?));
            can.service_distance_km = Some(u32::from(r.u16()?) * 5);
            can.run_time_since_engine_start_s = Some(u32::from(r.u16()?));
            can.distance_with_mil_on_km = Some(u32::from(r.u16()?));
        }
    }
    p.vehicle_can = Some(Box::new(can));
    Ok(())
}
