//! Protocol V (0x56; CAN-bus variant of M), PROTOCOL.md §8: 72-byte records; 86 with the extra
//! block of status bit 8; 98 when the reason also has journey stop (bit 7).

use super::k::{EXTRA_BLOCK, odometer_km};
use super::legacy::{Clock, write_common_record};
use super::wire::{Writer, div, hex_bytes, int, or_default, scale};
use astra_proto::v1::Position;

/// Reason bit 7: journey stop; with the extra block it adds the 12-byte stop extension.
pub const JOURNEY_STOP: u32 = 1 << 7;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'V', imei, records, record)
}

/// One V record (72, 86 or 98 bytes).
pub fn record(p: &Position) -> Vec<u8> {
    let analog = or_default(&p.analog);
    let can = or_default(&p.vehicle_can);
    let adc1: u32 = analog.adc1_raw;
    let adc2: u32 = analog.adc2_raw;
    assert!(adc1 < 4096 && adc2 < 4096, "V ADCs are 12-bit");
    let mut w = Writer::new();
    write_common_record(&mut w, p, Clock::DeviceAndFix, |w| {
        w.u24_le(p.io.as_ref().map_or(0, |io| io.raw))
            .u24(adc2 << 12 | adc1);
    });
    w.u8(int(can.wheel_speed_kmh, "wheel_speed_kmh"))
        .u8(div(can.engine_rpm, 32, "engine_rpm"))
        .u8(int(can.throttle_percent, "throttle_percent"))
        .u8(int(can.engine_load_percent, "engine_load_percent"))
        .u16(scale(
            can.can_journey_distance_km,
            10.0,
            "can_journey_distance_km",
        ))
        .u8(int(
            i64::from(can.coolant_temperature_c) + 40,
            "coolant_temperature_c",
        ))
        .u16(int(can.fms_status, "fms_status"))
        .u16(int(can.obd_status, "obd_status"))
        .u16(int(can.can_monitoring_status, "can_monitoring_status"))
        .u8(int(can.fuel_level_raw, "fuel_level_raw"))
        .u32(scale(can.total_fuel_used_l, 2.0, "total_fuel_used_l"))
        .u32(div(
            i64::try_from(can.total_vehicle_distance_m).unwrap_or(i64::MAX),
            5,
            "total_vehicle_distance_m",
        ))
        .u8(int(can.average_wheel_speed_kmh, "average_wheel_speed_kmh"))
        .u8(div(can.average_engine_rpm, 32, "average_engine_rpm"))
        .u8(int(
            can.average_throttle_percent,
            "average_throttle_percent",
        ))
        .u8(int(
            can.average_engine_load_percent,
            "average_engine_load_percent",
        ));
    if p.status_flags & EXTRA_BLOCK != 0 {
        let axle = can.axle_weight_kg.or(p.axle_weight_kg).unwrap_or(0);
        w.bytes(&hex_bytes(&p.driver_id, 7, "driver_id"))
            .u24(odometer_km(p))
            .u16(int(
                can.lifetime_running_time.unwrap_or(0),
                "lifetime_running_time",
            ))
            .u16(int(axle, "axle_weight_kg"));
        if p.reason_flags & JOURNEY_STOP != 0 {
            let hours = can.engine_on_hours.or(p.engine_hours).unwrap_or(0);
            w.u16(int(hours, "engine_on_hours"))
                .u16(scale(
                    can.journey_fuel_l.unwrap_or(0.0),
                    10.0,
                    "journey_fuel_l",
                ))
                .u16(int(
                    can.cruise_control_time_s.unwrap_or(0),
                    "cruise_control_time_s",
                ))
                .u16(div(
                    can.service_distance_km.unwrap_or(0),
                    5,
                    "service_distance_km",
                ))
                .u16(int(
                    can.run_time_since_engine_start_s.unwrap_or(0),
                    "run_time_since_engine_start_s",
                ))
                .u16(int(
                    can.distance_with_mil_on_km.unwrap_or(0),
                    "distance_with_mil_on_km",
                ));
        }
    }
    w.into_bytes()
}
