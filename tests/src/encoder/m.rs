//! Protocol M (0x4D), PROTOCOL.md §7: 41-byte records (K with a little-endian u24 digital field
//! and a second ADC), 53 with the extra block of status bit 8.

use super::k::{EXTRA_BLOCK, extra_block};
use super::wire::{
    Writer, accel_bytes, geofence_byte, gps_time, int, micro_degrees, or_default, scale,
    signal_byte,
};
use astra_proto::v1::Position;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'M', imei, records, record)
}

/// One M record (41 or 53 bytes).
pub fn record(p: &Position) -> Vec<u8> {
    let analog = or_default(&p.analog);
    let mut w = Writer::new();
    w.u8(int(p.sequence, "sequence"))
        .i32(micro_degrees(p.latitude, "latitude"))
        .i32(micro_degrees(p.longitude, "longitude"))
        .u32(gps_time(
            p.fix_time.as_ref().or(p.device_time.as_ref()),
            "fix_time",
        ))
        .u8(scale(p.speed_kmh.unwrap_or(0.0), 0.5, "speed_kmh"))
        .u8(scale(p.course_deg.unwrap_or(0.0), 0.5, "course_deg"))
        .u24(p.reason_flags)
        .u16(int(p.status_flags, "status_flags"))
        .u24_le(p.io.as_ref().map_or(0, |io| io.raw))
        .u8(int(analog.adc1_raw, "adc1_raw"))
        .u8(int(analog.adc2_raw, "adc2_raw"))
        .u8(int(p.battery_percent.unwrap_or(0), "battery_percent"))
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
    if p.status_flags & EXTRA_BLOCK != 0 {
        extra_block(&mut w, p);
    }
    w.into_bytes()
}
