//! The record layout K, M and V share (PROTOCOL.md §§6-8): a head of sequence, time(s) and
//! coordinates, speed, course, u24 reason and u16 status; then each variant's own digital and
//! analog inputs; then a tail of battery, supply, max speed, accelerometer, journey distance, idle
//! time, altitude, signal quality and geofence.

use super::wire::{
    Writer, accel_bytes, geofence_byte, gps_time, int, micro_degrees, scale, signal_byte,
};
use astra_proto::v1::Position;

/// Where a record carries its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// K and M: one GPS time after the coordinates (the fix time, else the device time).
    Single,
    /// V: the device (RTC) time before the coordinates, the fix time after them.
    DeviceAndFix,
}

/// Writes the shared head, then `inputs` (the variant's digital and analog fields), then the
/// shared tail.
pub fn write_common_record(
    w: &mut Writer,
    p: &Position,
    clock: Clock,
    inputs: impl FnOnce(&mut Writer),
) {
    w.u8(int(p.sequence, "sequence"));
    if clock == Clock::DeviceAndFix {
        w.u32(gps_time(p.device_time.as_ref(), "device_time"));
    }
    w.i32(micro_degrees(p.latitude, "latitude"))
        .i32(micro_degrees(p.longitude, "longitude"));
    match clock {
        Clock::Single => w.u32(gps_time(
            p.fix_time.as_ref().or(p.device_time.as_ref()),
            "fix_time",
        )),
        Clock::DeviceAndFix => w.u32(gps_time(p.fix_time.as_ref(), "fix_time")),
    };
    w.u8(scale(p.speed_kmh.unwrap_or(0.0), 0.5, "speed_kmh"))
        .u8(scale(p.course_deg.unwrap_or(0.0), 0.5, "course_deg"))
        .u24(p.reason_flags)
        .u16(int(p.status_flags, "status_flags"));
    inputs(w);
    w.u8(int(p.battery_percent.unwrap_or(0), "battery_percent"))
        .u8(scale(
            p.external_voltage_v.unwrap_or(0.0),
            5.0,
            "external_voltage_v",
        ))
        .u8(scale(p.max_speed_kmh.unwrap_or(0.0), 0.5, "max_speed_kmh"))
        .bytes(&accel_bytes(p.accelerometer.as_ref()))
        .u16(scale(
            p.journey_distance_m.unwrap_or(0.0),
            0.01,
            "journey_distance_m",
        ))
        .u16(int(p.idle_time_s.unwrap_or(0), "idle_time_s"))
        .u8(scale(p.altitude_m.unwrap_or(0.0), 0.05, "altitude_m"))
        .u8(signal_byte(p.gsm_level, p.satellites))
        .u8(geofence_byte(p.geofence.as_ref()));
}
