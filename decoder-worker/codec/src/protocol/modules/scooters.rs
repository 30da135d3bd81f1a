//! X modules for light electric vehicles read over their serial/CAN links: Rayvolt (20), Segway
//! Ninebot (31), Going Green (33), Ecooter (34, 36) and Torrot Muvi (35, 39). Layouts follow
//! docs/oxt-module-layouts.md.

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{
    Ecooter, Position, Rayvolt, SegwayNinebot, SerialPair, TorrotMuvi, TorrotMuviBattery,
};

/// Bit 20: Rayvolt e-bicycle, 2 reserved.
pub fn rayvolt(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.rayvolt = Some(Box::new(Rayvolt {
        controller_uid: m.u32()?,
        firmware_version: u32::from(m.u16()?),
        boot_version: u32::from(m.u16()?),
        error_flags: u32::from(m.u16()?),
        soc_percent: u32::from(m.u8()?),
        battery_voltage_v: f64::from(m.u8()?) / 4.0,
        controller_temperature_c: i32::from(m.i8()?),
        speed_kmh: f64::from(m.u8()?) / 2.0,
        status: u32::from(m.u16()?),
    }));
    m.skip(2)
}

/// Bit 31: Segway Ninebot ES4, speed ÷10 km/h then eleven raw bytes.
pub fn segway_ninebot(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let speed_kmh = f64::from(m.u8()?) / 10.0;
    let mut b = || m.u8().map(u32::from);
    p.segway_ninebot = Some(Box::new(SegwayNinebot {
        speed_kmh,
        internal_battery_voltage_raw: b()?,
        external_battery_voltage_raw: b()?,
        dry_battery_voltage_raw: b()?,
        internal_battery_soc_percent: b()?,
        external_battery_soc_percent: b()?,
        overall_battery_soc_percent: b()?,
        internal_battery_temperature1_c: b()?,
        internal_battery_temperature2_c: b()?,
        external_battery_temperature1_c: b()?,
        external_battery_temperature2_c: b()?,
        status: b()?,
    }));
    Ok(())
}

/// Bit 33: Going Green "The Core", u16 ×0.0015 V.
pub fn going_green_core(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.going_green_core_v = Some(f64::from(u32::from(m.u16()?) * 15) / 10000.0);
    Ok(())
}

/// Bit 34: Ecooter E1/E2, current i16 ×10 mA, 2 reserved.
pub fn ecooter(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.ecooter = Some(Box::new(Ecooter {
        soc1_percent: u32::from(m.u8()?),
        soc2_percent: u32::from(m.u8()?),
        temperature1_c: i32::from(m.i8()?),
        temperature2_c: i32::from(m.i8()?),
        current_ma: i32::from(m.i16()?) * 10,
        status: u32::from(m.u8()?),
    }));
    m.skip(2)
}

/// Bit 35: Torrot Muvi scooter, kept raw where OXT's scaling is doubtful (see the proto), 2
/// reserved. The odometer is i32 ×100 m.
pub fn torrot_muvi(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.torrot_muvi = Some(Box::new(TorrotMuvi {
        battery1_soc_percent: u32::from(m.u8()?),
        battery2_soc_percent: u32::from(m.u8()?),
        battery1_current_raw: i32::from(m.i16()?),
        battery2_current_raw: i32::from(m.i16()?),
        battery1_voltage_raw: i32::from(m.i16()?),
        battery2_voltage_raw: i32::from(m.i16()?),
        battery1_user_capacity_raw: u32::from(m.u16()?),
        battery2_user_capacity_raw: u32::from(m.u16()?),
        battery1_rated_capacity_raw: u32::from(m.u16()?),
        battery2_rated_capacity_raw: u32::from(m.u16()?),
        battery1_capacity_remaining_raw: u32::from(m.u16()?),
        // One byte for battery 2, as OXT reads it (the sizes still sum to 44).
        battery2_capacity_remaining_raw: u32::from(m.u8()?),
        battery1_alarm: u32::from(m.u8()?),
        battery2_alarm: u32::from(m.u8()?),
        battery_status: u32::from(m.u16()?),
        rpm: m.u32()?,
        ecu_heartbeat: u32::from(m.u8()?),
        controller_temperature_c: u32::from(m.u8()?),
        motor_temperature_raw: u32::from(m.u8()?),
        throttle_raw: u32::from(m.u8()?),
        speed_kmh: i32::from(m.i8()?),
        lifetime_odometer_m: i64::from(m.i32()?) * 100,
        scooter_status: u32::from(m.u8()?),
        range_eco_km: u32::from(m.u8()?),
        range_full_km: u32::from(m.u8()?),
        driving_mode: u32::from(m.u8()?),
    }));
    m.skip(2)
}

/// Bit 36: two 16-byte ASCII Ecooter serial numbers.
pub fn ecooter_serials(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.ecooter_serials = Some(Box::new(SerialPair {
        serial1: m.ascii(16)?,
        serial2: m.ascii(16)?,
    }));
    Ok(())
}

/// Bit 39: Torrot Muvi batteries, distances u24 ×0.1 km, 2 reserved.
pub fn torrot_muvi_battery(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.torrot_muvi_battery = Some(Box::new(TorrotMuviBattery {
        serial1: m.ascii(13)?,
        serial2: m.ascii(13)?,
        cycles1: u32::from(m.u16()?),
        cycles2: u32::from(m.u16()?),
        distance1_km: f64::from(m.u24()?) / 10.0,
        distance2_km: f64::from(m.u24()?) / 10.0,
        status: u32::from(m.u8()?),
    }));
    m.skip(2)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::Legacy;
    use astra_proto::v1::{
        Ecooter, Rayvolt, SegwayNinebot, SerialPair, TorrotMuvi, TorrotMuviBattery,
    };

    #[test]
    fn bit20_rayvolt() {
        let p = decode(20, Legacy, "00BC614E 0102 0003 8001 5A A6 F6 33 0011 FFFF");
        assert_eq!(
            p.rayvolt,
            Some(Box::new(Rayvolt {
                controller_uid: 12_345_678,
                firmware_version: 0x0102,
                boot_version: 3,
                error_flags: 0x8001,
                soc_percent: 90,
                battery_voltage_v: 41.5,
                controller_temperature_c: -10,
                speed_kmh: 25.5,
                status: 0x11,
            }))
        );
    }

    #[test]
    fn bit31_segway_ninebot() {
        let p = decode(31, Legacy, "FB 24 25 0C 50 51 52 14 15 16 17 03");
        assert_eq!(
            p.segway_ninebot,
            Some(Box::new(SegwayNinebot {
                speed_kmh: 25.1,
                internal_battery_voltage_raw: 0x24,
                external_battery_voltage_raw: 0x25,
                dry_battery_voltage_raw: 12,
                internal_battery_soc_percent: 80,
                external_battery_soc_percent: 81,
                overall_battery_soc_percent: 82,
                internal_battery_temperature1_c: 20,
                internal_battery_temperature2_c: 21,
                external_battery_temperature1_c: 22,
                external_battery_temperature2_c: 23,
                status: 3,
            }))
        );
    }

    #[test]
    fn bit33_going_green_core() {
        let p = decode(33, Legacy, "8000");
        assert_eq!(p.going_green_core_v, Some(49.152));
        let p = decode(33, Legacy, "0007");
        assert_eq!(p.going_green_core_v, Some(0.0105));
    }

    #[test]
    fn bit34_ecooter() {
        let p = decode(34, Legacy, "4B 32 EC 19 FF38 07 0000");
        assert_eq!(
            p.ecooter,
            Some(Box::new(Ecooter {
                soc1_percent: 75,
                soc2_percent: 50,
                temperature1_c: -20,
                temperature2_c: 25,
                current_ma: -2000,
                status: 7,
            }))
        );
    }

    #[test]
    fn bit35_torrot_muvi() {
        let p = decode(
            35,
            Legacy,
            "50 51 FF9C 0064 01F4 01F5 0BB8 0BB9 001E 012C 0FA0 64 01 02 0304
             00000DAC 07 1E 80 FF F6 FFFFFF9C 05 1E 28 02 0000",
        );
        assert_eq!(
            p.torrot_muvi,
            Some(Box::new(TorrotMuvi {
                battery1_soc_percent: 80,
                battery2_soc_percent: 81,
                battery1_current_raw: -100,
                battery2_current_raw: 100,
                battery1_voltage_raw: 500,
                battery2_voltage_raw: 501,
                battery1_user_capacity_raw: 3000,
                battery2_user_capacity_raw: 3001,
                battery1_rated_capacity_raw: 30,
                battery2_rated_capacity_raw: 300,
                battery1_capacity_remaining_raw: 4000,
                battery2_capacity_remaining_raw: 100,
                battery1_alarm: 1,
                battery2_alarm: 2,
                battery_status: 0x0304,
                rpm: 3500,
                ecu_heartbeat: 7,
                controller_temperature_c: 30,
                motor_temperature_raw: 0x80,
                throttle_raw: 0xFF,
                speed_kmh: -10,
                lifetime_odometer_m: -10_000,
                scooter_status: 5,
                range_eco_km: 30,
                range_full_km: 40,
                driving_mode: 2,
            }))
        );
    }

    #[test]
    fn bit35_odometer_does_not_overflow() {
        let hex = format!("{} 7FFFFFFF {}", "00".repeat(34), "00".repeat(6));
        let p = decode(35, Legacy, &hex);
        assert_eq!(p.torrot_muvi.unwrap().lifetime_odometer_m, 214_748_364_700);
    }

    #[test]
    fn bit36_ecooter_serials() {
        let p = decode(
            36,
            Legacy,
            "45433132333435363738393000000000 45433939393939393939393939393939",
        );
        assert_eq!(
            p.ecooter_serials,
            Some(Box::new(SerialPair {
                serial1: "EC1234567890".into(),
                serial2: "EC99999999999999".into(),
            }))
        );
    }

    #[test]
    fn bit39_torrot_muvi_battery() {
        let p = decode(
            39,
            Legacy,
            "544D4230303030303030303031 544D4230303030303030303032
             012C 00C8 0004D2 0F4240 01 0000",
        );
        assert_eq!(
            p.torrot_muvi_battery,
            Some(Box::new(TorrotMuviBattery {
                serial1: "TMB0000000001".into(),
                serial2: "TMB0000000002".into(),
                cycles1: 300,
                cycles2: 200,
                distance1_km: 123.4,
                distance2_km: 100_000.0,
                status: 1,
            }))
        );
    }
}
