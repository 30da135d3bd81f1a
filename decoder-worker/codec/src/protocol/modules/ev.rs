//! X modules for electric-vehicle controllers read over CAN: Askoll eS2 (37), STARS ACIM (41),
//! "CAR2" (42), CM2010 mobility scooter (44, legacy layout) and Heinzmann (46).

use crate::error::DecodeError;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::{AskollEs2, Car2, Cm2010, Heinzmann, Position, StarsAcim};

/// Bit 37: Askoll eS2 scooter (docs/oxt-module-layouts.md §2), 2 reserved.
pub fn askoll_es2(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.askoll_es2 = Some(Box::new(AskollEs2 {
        can_time: Some(from_gps(m.u32()?)),
        battery1_soc_percent: u32::from(m.u8()?),
        battery2_soc_percent: u32::from(m.u8()?),
        battery1_serial: m.u32()?,
        battery2_serial: m.u32()?,
        battery_temperature_c: i32::from(m.i8()?),
        battery_voltage_mv: u32::from(m.u16()?) * 100,
        battery_current_ma: u32::from(m.u8()?) * 100,
        battery_heartbeat_flags: u32::from(m.u8()?),
        speed_kmh: u32::from(m.u8()?),
        lifetime_odometer_m: u64::from(m.u32()?) * 100,
        trip_distance_m: u32::from(m.u16()?) * 100,
        estimated_range_km: u32::from(m.u16()?),
        status_2020_model: u32::from(m.u8()?),
        status_2021_model: u32::from(m.u8()?),
        driving_profile: u32::from(m.u8()?),
        remaining_capacity_mah: u32::from(m.u16()?) * 10,
        error_flags: u32::from(m.u16()?),
        hdop: f64::from(m.u8()?) / 10.0,
        position_error_m: u32::from(m.u8()?),
    }));
    m.skip(2)
}

/// Bit 41: STARS ACIM motor controller (docs/oxt-module-layouts.md §3), 4 reserved.
pub fn stars_acim(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let volts = |raw: i16| f64::from(raw) / 100.0;
    p.stars_acim = Some(Box::new(StarsAcim {
        rpm_left: i32::from(m.i16()?),
        rpm_right: i32::from(m.i16()?),
        motor_temperature_left_c: i32::from(m.i16()?),
        motor_temperature_right_c: i32::from(m.i16()?),
        controller_temperature_left_c: i32::from(m.i16()?),
        controller_temperature_right_c: i32::from(m.i16()?),
        battery_voltage_v: volts(m.i16()?),
        battery_soc_percent: u32::from(m.u8()?),
        motor_voltage_left_v: volts(m.i16()?),
        motor_voltage_right_v: volts(m.i16()?),
        motor_current_left_a: i32::from(m.i16()?),
        motor_current_right_a: i32::from(m.i16()?),
        speed_kmh: u32::from(m.u8()?),
        lifetime_odometer_raw: u32::from(m.u16()?),
        status: u32::from(m.u16()?),
        error0: u32::from(m.u16()?),
        error1: u32::from(m.u16()?),
        error2: u32::from(m.u16()?),
        can_time: Some(from_gps(m.u32()?)),
    }));
    m.skip(4)
}

/// Bit 42: "CAR2", 8 reserved (OXT keeps them; the proto has no field for them).
pub fn car2(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.car2 = Some(Box::new(Car2 {
        soc_raw: u32::from(m.u16()?),
        charging_mode: u32::from(m.u8()?),
        seatbelt: u32::from(m.u8()?),
        brake_position: u32::from(m.u16()?),
        status: u32::from(m.u16()?),
        faults: u32::from(m.u16()?),
        can_time: Some(from_gps(m.u32()?)),
    }));
    m.skip(8)
}

/// Bit 44, legacy layout: CM2010 mobility scooter, batteries ÷100 V, 2 reserved.
pub fn cm2010(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.cm2010 = Some(Box::new(Cm2010 {
        soc_percent: u32::from(m.u8()?),
        speed_kmh: u32::from(m.u8()?),
        battery1_v: f64::from(m.u16()?) / 100.0,
        battery2_v: f64::from(m.u16()?) / 100.0,
        trip_distance_m: u32::from(m.u16()?),
        status: u32::from(m.u8()?),
    }));
    m.skip(2)
}

/// Bit 46: Heinzmann e-scooter, battery ÷1000 V, 2 reserved.
pub fn heinzmann(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.heinzmann = Some(Box::new(Heinzmann {
        soc_percent: u32::from(m.u8()?),
        battery_v: f64::from(m.u16()?) / 1000.0,
        lifetime_odometer_m: m.u32()?,
        can_time_s: m.u32()?,
    }));
    m.skip(2)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::{Current, Legacy};
    use crate::time::from_gps;
    use astra_proto::v1::{AskollEs2, Car2, Cm2010, Heinzmann, StarsAcim};

    #[test]
    fn bit37_askoll_es2() {
        let p = decode(
            37,
            Legacy,
            "2A0B1C4D 50 51 0001E240 0001E241 F1 01E0 0F 03 2D 0001869F 00FA 0050 01 02 03
             0BB8 8000 0B 05 0000",
        );
        assert_eq!(
            p.askoll_es2,
            Some(Box::new(AskollEs2 {
                can_time: Some(from_gps(0x2A0B_1C4D)),
                battery1_soc_percent: 80,
                battery2_soc_percent: 81,
                battery1_serial: 123_456,
                battery2_serial: 123_457,
                battery_temperature_c: -15,
                battery_voltage_mv: 48_000,
                battery_current_ma: 1500,
                battery_heartbeat_flags: 3,
                speed_kmh: 45,
                lifetime_odometer_m: 9_999_900,
                trip_distance_m: 25_000,
                estimated_range_km: 80,
                status_2020_model: 1,
                status_2021_model: 2,
                driving_profile: 3,
                remaining_capacity_mah: 30_000,
                error_flags: 0x8000,
                hdop: 1.1,
                position_error_m: 5,
            }))
        );
    }

    #[test]
    fn bit37_odometer_uses_the_full_u32() {
        let hex = format!("{} FFFFFFFF {}", "00".repeat(20), "00".repeat(15));
        let p = decode(37, Legacy, &hex);
        assert_eq!(p.askoll_es2.unwrap().lifetime_odometer_m, 429_496_729_500);
    }

    #[test]
    fn bit41_stars_acim() {
        let p = decode(
            41,
            Legacy,
            "0BB8 F448 0041 0042 FFF6 0028 1388 5F 1324 ECDC FF38 00C8 32 1234 0001 0002 0003 0004
             2A0B1C4D 00000000",
        );
        assert_eq!(
            p.stars_acim,
            Some(Box::new(StarsAcim {
                rpm_left: 3000,
                rpm_right: -3000,
                motor_temperature_left_c: 65,
                motor_temperature_right_c: 66,
                controller_temperature_left_c: -10,
                controller_temperature_right_c: 40,
                battery_voltage_v: 50.0,
                battery_soc_percent: 95,
                motor_voltage_left_v: 49.0,
                motor_voltage_right_v: -49.0,
                motor_current_left_a: -200,
                motor_current_right_a: 200,
                speed_kmh: 50,
                lifetime_odometer_raw: 0x1234,
                status: 1,
                error0: 2,
                error1: 3,
                error2: 4,
                can_time: Some(from_gps(0x2A0B_1C4D)),
            }))
        );
    }

    #[test]
    fn bit42_car2() {
        let p = decode(
            42,
            Legacy,
            "03E8 02 01 0064 8001 0010 2A0B1C4D 0102030405060708",
        );
        assert_eq!(
            p.car2,
            Some(Box::new(Car2 {
                soc_raw: 1000,
                charging_mode: 2,
                seatbelt: 1,
                brake_position: 100,
                status: 0x8001,
                faults: 16,
                can_time: Some(from_gps(0x2A0B_1C4D)),
            }))
        );
    }

    #[test]
    fn bit44_is_cm2010_in_legacy_layout() {
        let p = decode(44, Legacy, "4B 0C 0992 0993 07D0 01 0000");
        assert_eq!(
            p.cm2010,
            Some(Box::new(Cm2010 {
                soc_percent: 75,
                speed_kmh: 12,
                battery1_v: 24.5,
                battery2_v: 24.51,
                trip_distance_m: 2000,
                status: 1,
            }))
        );
        assert_eq!(p.beacons, None);
    }

    #[test]
    fn bit44_is_beacons_in_current_layout() {
        // An empty beacon list: count 0, B = 0, 4 reserved (7 bytes, not 11).
        let p = decode(44, Current, "00 0000 00000000");
        assert_eq!(p.cm2010, None);
        assert!(p.beacons.is_some());
    }

    #[test]
    fn bit46_heinzmann() {
        let p = decode(46, Legacy, "64 CB20 0001E240 2A0B1C4D 0000");
        assert_eq!(
            p.heinzmann,
            Some(Box::new(Heinzmann {
                soc_percent: 100,
                battery_v: 52.0,
                lifetime_odometer_m: 123_456,
                can_time_s: 0x2A0B_1C4D,
            }))
        );
    }
}
