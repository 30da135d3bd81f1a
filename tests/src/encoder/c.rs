//! Protocol C (0x43; legacy), PROTOCOL.md §9: 33-byte records with a u16 reason field, a u8
//! status and two raw accelerometer bytes.

use super::wire::{Writer, geofence_byte, gps_time, int, micro_degrees, or_default, scale};
use astra_proto::v1::Position;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'C', imei, records, record)
}

/// One C record (33 bytes).
pub fn record(p: &Position) -> Vec<u8> {
    let io = or_default(&p.io);
    let analog = or_default(&p.analog);
    let accel = p.accelerometer.as_ref().map_or(&[][..], |a| &a.raw[..]);
    let mut w = Writer::new();
    w.u8(int(p.sequence, "sequence"))
        .i32(micro_degrees(p.latitude, "latitude"))
        .i32(micro_degrees(p.longitude, "longitude"))
        .u32(gps_time(
            p.fix_time.as_ref().or(p.device_time.as_ref()),
            "time",
        ))
        .u8(scale(p.speed_kmh.unwrap_or(0.0), 0.5, "speed_kmh"))
        .u8(scale(p.course_deg.unwrap_or(0.0), 0.5, "course_deg"))
        .u8(scale(p.altitude_m.unwrap_or(0.0), 0.05, "altitude_m"))
        .u16(int(p.reason_flags, "reason_flags (C has bits 0-15)"))
        .u8(int(p.status_flags, "status_flags (C has a u8)"))
        .u8(geofence_byte(p.geofence.as_ref()))
        .u8(int(io.inputs, "io.inputs (digital states)"))
        .u8(int(io.input_changes, "io.input_changes (digital changes)"))
        .u8(int(analog.adc2_raw, "adc2_raw"))
        .u8(int(analog.adc1_raw, "adc1_raw"))
        .u8(int(p.battery_percent.unwrap_or(0), "battery_percent"))
        .u8(scale(
            p.external_voltage_v.unwrap_or(0.0),
            5.0,
            "external_voltage_v",
        ))
        .u8(scale(p.max_speed_kmh.unwrap_or(0.0), 0.5, "max_speed_kmh"))
        .fixed(accel, 2, "accelerometer.raw")
        .u16(scale(
            p.journey_distance_m.unwrap_or(0.0),
            0.01,
            "journey_distance_m",
        ))
        .u16(int(p.idle_time_s.unwrap_or(0), "idle_time_s"));
    w.into_bytes()
}
