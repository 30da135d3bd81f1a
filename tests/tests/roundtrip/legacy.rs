//! The record fields K, M and V share (PROTOCOL.md §§6-8), drawn in wire order.

use crate::common::{
    Draw, accelerometer, geofence, hex_upper, latitude, longitude, set_reasons, set_signal,
    set_status, ts,
};
use astra_proto::v1::Position;
use astra_tests::encoder::legacy::Clock;

/// A K, M or V record up to its own fields: sequence, time(s) and coordinates, speed, course, the
/// reason field that `reason` draws, the status word with bit 8 (the extra block) forced by
/// `extra` (`None` draws it), the inputs that `inputs` draws, then battery, supply, max speed,
/// accelerometer, journey distance, idle time, altitude, signal and geofence. Returns the record
/// and whether it has the extra block.
pub fn legacy_record(
    d: &mut Draw,
    clock: Clock,
    reason: impl FnOnce(&mut Draw) -> u32,
    extra: Option<bool>,
    inputs: impl FnOnce(&mut Draw, &mut Position),
) -> (Position, bool) {
    let mut p = Position {
        sequence: u32::from(d.u8()),
        ..Default::default()
    };
    if clock == Clock::DeviceAndFix {
        p.device_time = Some(ts(d.u32()));
    }
    p.latitude = Some(latitude(d));
    p.longitude = Some(longitude(d));
    let t = ts(d.u32());
    if clock == Clock::Single {
        p.device_time = Some(t);
    }
    p.fix_time = Some(t);
    p.speed_kmh = Some(f64::from(d.u8()) * 2.0);
    p.course_deg = Some(f64::from(d.u8()) * 2.0);
    set_reasons(&mut p, reason(d));
    let extra = extra.unwrap_or_else(|| d.bool());
    set_status(&mut p, d.u16() & !0x100 | u16::from(extra) << 8);
    inputs(d, &mut p);
    p.battery_percent = Some(u32::from(d.u8()));
    p.external_voltage_v = Some(f64::from(d.u8()) / 5.0);
    p.max_speed_kmh = Some(f64::from(d.u8()) * 2.0);
    p.accelerometer = Some(accelerometer(d.array()));
    p.journey_distance_m = Some(f64::from(d.u16()) * 100.0);
    p.idle_time_s = Some(u32::from(d.u16()));
    p.altitude_m = Some(f64::from(d.u8()) * 20.0);
    set_signal(&mut p, d.u8());
    p.geofence = Some(geofence(d.u8()));
    (p, extra)
}

/// The start of the extra block of status bit 8: 7-byte driver ID, u24 odometer km.
pub fn extra_block(d: &mut Draw, p: &mut Position) {
    if let Some(s) = p.status.as_mut() {
        s.extra_block = true;
    }
    p.driver_id = hex_upper(&d.bytes(7));
    p.odometer_m = Some(u64::from(d.u24()) * 1000);
}

/// K/M extra block: the start, then u16 hours.
pub fn km_extra(d: &mut Draw, p: &mut Position) {
    extra_block(d, p);
    p.engine_hours = Some(u32::from(d.u16()));
}
