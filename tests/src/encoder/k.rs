//! Protocol K (0x4B), PROTOCOL.md §6: 38-byte records, 50 when status bit 8 adds the extra block
//! (7-byte driver ID, u24 lifetime odometer km, u16 hours).

use super::wire::{
    Writer, accel_bytes, geofence_byte, gps_time, hex_bytes, int, micro_degrees, scale, signal_byte,
};
use astra_proto::v1::Position;

/// Status bit 8: the record carries the extra block (K, M and V).
pub const EXTRA_BLOCK: u32 = 1 << 8;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'K', imei, records, record)
}

/// One K record (38 or 50 bytes).
pub fn record(p: &Position) -> Vec<u8> {
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
        .u8(int(p.io.as_ref().map_or(0, |io| io.raw), "io.raw"))
        .u8(int(p.analog.as_ref().map_or(0, |a| a.adc1_raw), "adc1_raw"))
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

/// The 12-byte extra block shared by K and M.
pub fn extra_block(w: &mut Writer, p: &Position) {
    w.bytes(&hex_bytes(&p.driver_id, 7, "driver_id"))
        .u24(odometer_km(p))
        .u16(int(p.engine_hours.unwrap_or(0), "engine_hours"));
}

/// `odometer_m` in whole km (the wire unit of every lifetime odometer).
pub fn odometer_km(p: &Position) -> u32 {
    let m = i64::try_from(p.odometer_m.unwrap_or(0)).unwrap_or(i64::MAX);
    super::wire::div(m, 1000, "odometer_m")
}
