//! X modules carrying vehicle-bus data: FMS/OBD in-journey (12, 13, 29), OBD DTCs (14), FMS and
//! OBD journey stop (15, 16), NMEA 2000 (25), FMS driver IDs (28) and working states (30).

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{
    FmsDriverWorkingStates, FmsJourneyStop, InJourney, Nmea2000, ObdJourneyStop, Position,
    SerialPair,
};

/// The first 16 bytes shared by bits 12, 13 and 29.
fn in_journey(m: &mut Reader<'_>) -> Result<InJourney, DecodeError> {
    Ok(InJourney {
        max_wheel_speed_kmh: u32::from(m.u8()?),
        average_wheel_speed_kmh: u32::from(m.u8()?),
        max_rpm: u32::from(m.u8()?) * 32,
        average_rpm: u32::from(m.u8()?) * 32,
        max_accelerator_percent: u32::from(m.u8()?),
        average_accelerator_percent: u32::from(m.u8()?),
        max_load_percent: u32::from(m.u8()?),
        average_load_percent: u32::from(m.u8()?),
        journey_distance_km: f64::from(m.u16()?) / 10.0,
        // Conflict: Traccar computes signed + 40; PROTOCOL.md follows OXT's fix (raw − 40).
        engine_temperature_c: i32::from(m.u8()?) - 40,
        status: u32::from(m.u16()?),
        events: u32::from(m.u16()?),
        fuel_level_raw: u32::from(m.u8()?),
        total_fuel_l: None,
        journey_fuel_l: None,
    })
}

/// Bit 12: FMS in-journey, total fuel u32 ×0.5 L.
pub fn fms_in_journey(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let mut j = in_journey(m)?;
    j.total_fuel_l = Some(f64::from(m.u32()?) / 2.0);
    p.fms_in_journey = Some(Box::new(j));
    Ok(())
}

/// Bit 13: OBD in-journey, journey fuel u16 ×0.1 L.
pub fn obd_in_journey(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let mut j = in_journey(m)?;
    j.journey_fuel_l = Some(f64::from(m.u16()?) / 10.0);
    p.obd_in_journey = Some(Box::new(j));
    Ok(())
}

/// Bit 29: FMS in-journey high resolution, total fuel u32 ×0.001 L.
pub fn fms_in_journey_high_res(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let mut j = in_journey(m)?;
    j.total_fuel_l = Some(f64::from(m.u32()?) / 1000.0);
    p.fms_in_journey_high_res = Some(Box::new(j));
    Ok(())
}

/// Bit 14: five 5-character ASCII DTCs; empty slots are dropped.
pub fn obd_dtcs(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    for _ in 0..5 {
        let code = m.ascii(5)?;
        if !code.is_empty() {
            p.obd_dtcs.push(code);
        }
    }
    Ok(())
}

/// Bit 15: FMS journey stop.
pub fn fms_journey_stop(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.fms_journey_stop = Some(Box::new(FmsJourneyStop {
        lifetime_odometer_km: m.u24()?,
        lifetime_running_hours: u32::from(m.u16()?),
        axle_weight_kg: u32::from(m.u16()?),
        journey_fuel_l: f64::from(m.u16()?) / 10.0,
        cruise_control_time_s: u32::from(m.u16()?),
        service_distance_km: u32::from(m.u16()?) * 5,
    }));
    Ok(())
}

/// Bit 16: OBD journey stop.
pub fn obd_journey_stop(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.obd_journey_stop = Some(Box::new(ObdJourneyStop {
        lifetime_odometer_km: m.u24()?,
        running_hours: u32::from(m.u16()?),
        time_with_mil_on: u32::from(m.u16()?),
        distance_with_mil_on: u32::from(m.u16()?),
    }));
    Ok(())
}

/// Bit 25: NMEA 2000 (docs/oxt-module-layouts.md §6), 16 reserved bytes at the end.
pub fn nmea2000(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let level = |raw: i16| f64::from(i32::from(raw) * 4) / 1000.0;
    p.nmea2000 = Some(Box::new(Nmea2000 {
        fuel_level_percent: level(m.i16()?),
        oil_level_percent: level(m.i16()?),
        soc_percent: u32::from(m.u8()?),
        soh_percent: u32::from(m.u8()?),
        battery_capacity: u32::from(m.u16()?),
        charger_on: u32::from(m.u8()?),
        time_to_empty: m.u32()?,
        distance_to_empty: m.u32()?,
        trip_run_time: m.u32()?,
        trip_fuel: u32::from(m.u16()?),
        oil_pressure_pa: u32::from(m.u16()?),
        oil_temperature_k: u32::from(m.u16()?),
        engine_temperature_k: u32::from(m.u16()?),
        // ×10 mV = ÷100 V.
        alternator_voltage_v: f64::from(m.u16()?) / 100.0,
        fuel_rate: u32::from(m.u16()?),
        total_engine_hours: m.u32()?,
        coolant_pressure: u32::from(m.u16()?),
        fuel_pressure: u32::from(m.u16()?),
        discrete_status1: u32::from(m.u16()?),
        discrete_status2: u32::from(m.u16()?),
        load_percent: u32::from(m.u8()?),
        torque_percent: u32::from(m.u8()?),
        water_depth_m: f64::from(m.u32()?) / 100.0,
        // Read unsigned as PROTOCOL.md and OXT do, although NMEA defines the offset signed.
        transducer_offset_m: f64::from(m.u16()?) / 1000.0,
        wind_speed_ms: f64::from(m.u16()?) / 100.0,
        air_temperature_k: f64::from(m.u16()?) / 100.0,
    }));
    m.skip(16)
}

/// Bit 28: two 19-byte ASCII FMS driver IDs.
pub fn fms_driver_ids(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.fms_driver_ids = Some(Box::new(SerialPair {
        serial1: m.ascii(19)?,
        serial2: m.ascii(19)?,
    }));
    Ok(())
}

/// Bit 30: u32 working states, u8 door control 1.
pub fn fms_driver_working_states(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.fms_driver_working_states = Some(Box::new(FmsDriverWorkingStates {
        working_states: m.u32()?,
        door_control1: u32::from(m.u8()?),
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::Legacy;
    use astra_proto::v1::{
        FmsDriverWorkingStates, FmsJourneyStop, InJourney, Nmea2000, ObdJourneyStop, SerialPair,
    };

    /// The 16 shared bytes used below and what they decode to.
    const HEAD: &str = "5A 3C 40 1A 64 32 5F 28 04D3 73 0102 0304 80";

    fn head() -> InJourney {
        InJourney {
            max_wheel_speed_kmh: 90,
            average_wheel_speed_kmh: 60,
            max_rpm: 2048,
            average_rpm: 832,
            max_accelerator_percent: 100,
            average_accelerator_percent: 50,
            max_load_percent: 95,
            average_load_percent: 40,
            journey_distance_km: 123.5,
            engine_temperature_c: 75,
            status: 0x0102,
            events: 0x0304,
            fuel_level_raw: 0x80,
            total_fuel_l: None,
            journey_fuel_l: None,
        }
    }

    #[test]
    fn bit12_fms_in_journey() {
        let p = decode(12, Legacy, &format!("{HEAD} 0001E241"));
        assert_eq!(
            p.fms_in_journey,
            Some(Box::new(InJourney {
                total_fuel_l: Some(61728.5),
                ..head()
            }))
        );
    }

    #[test]
    fn bit12_engine_temperature_is_raw_minus_40() {
        let p = decode(
            12,
            Legacy,
            "00000000 00000000 0000 00 0000 0000 00 00000000",
        );
        assert_eq!(p.fms_in_journey.unwrap().engine_temperature_c, -40);
        let p = decode(
            12,
            Legacy,
            "00000000 00000000 0000 FF 0000 0000 00 00000000",
        );
        assert_eq!(p.fms_in_journey.unwrap().engine_temperature_c, 215);
    }

    #[test]
    fn bit13_obd_in_journey() {
        let p = decode(13, Legacy, &format!("{HEAD} 0457"));
        assert_eq!(
            p.obd_in_journey,
            Some(Box::new(InJourney {
                journey_fuel_l: Some(111.1),
                ..head()
            }))
        );
    }

    #[test]
    fn bit29_fms_in_journey_high_res() {
        let p = decode(29, Legacy, &format!("{HEAD} 0012D687"));
        assert_eq!(
            p.fms_in_journey_high_res,
            Some(Box::new(InJourney {
                total_fuel_l: Some(1234.567),
                ..head()
            }))
        );
    }

    #[test]
    fn bit14_obd_dtcs_keep_non_empty() {
        let p = decode(
            14,
            Legacy,
            "5030313731 0000000000 2020202020 4331323334 5530313030",
        );
        assert_eq!(p.obd_dtcs, vec!["P0171", "C1234", "U0100"]);
    }

    #[test]
    fn bit15_fms_journey_stop() {
        let p = decode(15, Legacy, "0F4240 2710 1F40 01F5 0E10 00C8");
        assert_eq!(
            p.fms_journey_stop,
            Some(Box::new(FmsJourneyStop {
                lifetime_odometer_km: 1_000_000,
                lifetime_running_hours: 10_000,
                axle_weight_kg: 8000,
                journey_fuel_l: 50.1,
                cruise_control_time_s: 3600,
                service_distance_km: 1000,
            }))
        );
    }

    #[test]
    fn bit16_obd_journey_stop() {
        let p = decode(16, Legacy, "00C350 03E8 003C 0007");
        assert_eq!(
            p.obd_journey_stop,
            Some(Box::new(ObdJourneyStop {
                lifetime_odometer_km: 50_000,
                running_hours: 1000,
                time_with_mil_on: 60,
                distance_with_mil_on: 7,
            }))
        );
    }

    #[test]
    fn bit25_nmea2000() {
        let p = decode(
            25,
            Legacy,
            "30D4 FF9C 50 62 0064 01 00000E10 000003E8 00000258 0032
             0FA0 0172 0168 0579 0019 00002710 0064 00C8 0001 0002 4B 3C
             000004D2 FE0C 03E8 7275
             00000000000000000000000000000000",
        );
        assert_eq!(
            p.nmea2000,
            Some(Box::new(Nmea2000 {
                fuel_level_percent: 50.0,
                oil_level_percent: -0.4,
                soc_percent: 80,
                soh_percent: 98,
                battery_capacity: 100,
                charger_on: 1,
                time_to_empty: 3600,
                distance_to_empty: 1000,
                trip_run_time: 600,
                trip_fuel: 50,
                oil_pressure_pa: 4000,
                oil_temperature_k: 370,
                engine_temperature_k: 360,
                alternator_voltage_v: 14.01,
                fuel_rate: 25,
                total_engine_hours: 10_000,
                coolant_pressure: 100,
                fuel_pressure: 200,
                discrete_status1: 1,
                discrete_status2: 2,
                load_percent: 75,
                torque_percent: 60,
                water_depth_m: 12.34,
                transducer_offset_m: 65.036,
                wind_speed_ms: 10.0,
                air_temperature_k: 293.01,
            }))
        );
    }

    #[test]
    fn bit28_fms_driver_ids() {
        let p = decode(
            28,
            Legacy,
            "4742313233343536373839303132333400000000
             000000000000000000000000000000000000",
        );
        assert_eq!(
            p.fms_driver_ids,
            Some(Box::new(SerialPair {
                serial1: "GB12345678901234".into(),
                serial2: String::new(),
            }))
        );
    }

    #[test]
    fn bit30_fms_driver_working_states() {
        let p = decode(30, Legacy, "00010203 05");
        assert_eq!(
            p.fms_driver_working_states,
            Some(Box::new(FmsDriverWorkingStates {
                working_states: 0x0001_0203,
                door_control1: 5,
            }))
        );
    }
}
