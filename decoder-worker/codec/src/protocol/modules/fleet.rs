//! X modules for fleet accessories: Carrier refrigeration (17, 19), 1-Wire probes (18), ECON and
//! gritter controllers (21, 22, 24), Redforge weighing (23) and cash-in-transit status (38).

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{
    CarrierAlarms, CarrierTemperatures, Gritter, OpaqueModule, Position, RedforgeWeight,
};

/// Bit 17: Carrier refrigeration temperatures.
pub fn carrier_temperatures(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    // Conflict: OXT reads temperatures and setpoints unsigned and doubles the hours; Traccar reads
    // them signed and the hours raw. PROTOCOL.md infers signed (loads go below 0 °C), hours raw.
    let mut return_temperatures_c = Vec::with_capacity(6);
    for _ in 0..6 {
        return_temperatures_c.push(f64::from(m.i16()?) / 10.0);
    }
    let mut setpoints_c = Vec::with_capacity(3);
    for _ in 0..3 {
        setpoints_c.push(f64::from(m.i8()?) / 2.0);
    }
    p.carrier_temperatures = Some(Box::new(CarrierTemperatures {
        return_temperatures_c,
        setpoints_c,
        fuel_level_raw: u32::from(m.u8()?),
        engine_hours: u32::from(m.u16()?),
        standby_hours: u32::from(m.u16()?),
        status_mask: u32::from(m.u16()?),
        alarm_flags: m.u24()?,
    }));
    Ok(())
}

/// Bit 18: four 1-Wire probes.
pub fn one_wire_temperatures(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    // Conflict: OXT/OYT compute raw/10 − 550; PROTOCOL.md takes Traccar's (raw − 550)/10, whose
    // −55 °C floor matches DS18B20 probes.
    for _ in 0..4 {
        p.one_wire_temperatures_c
            .push(f64::from(i32::from(m.u16()?) - 550) / 10.0);
    }
    Ok(())
}

/// Bit 19: Carrier two-way alarms: u8 count, 16-byte queue.
pub fn carrier_alarms(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.carrier_alarms = Some(Box::new(CarrierAlarms {
        count: u32::from(m.u8()?),
        queue: m.bytes(16)?.to_vec(),
    }));
    Ok(())
}

/// Bit 21: ECON 3-byte status.
pub fn econ_status(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.econ_status = Some(m.u24()?);
    Ok(())
}

/// Bit 22: gritter data (BS EN 15430).
pub fn gritter(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.gritter = Some(Box::new(Gritter {
        plough_mode: u32::from(m.u8()?),
        spreader_mode: u32::from(m.u8()?),
        spinner_width_m: f64::from(m.u8()?) / 10.0,
        rate_g_m2: u32::from(m.u8()?),
    }));
    Ok(())
}

/// Bit 23: Redforge weight, six u8.
pub fn redforge_weight(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.redforge_weight = Some(Box::new(RedforgeWeight {
        front: u32::from(m.u8()?),
        rear: u32::from(m.u8()?),
        gross: u32::from(m.u8()?),
        status: u32::from(m.u8()?),
        fault1: u32::from(m.u8()?),
        fault2: u32::from(m.u8()?),
    }));
    Ok(())
}

/// Bit 24: ECON "1-gram" gritter; only its size (4) is known, so it is kept whole.
pub fn econ_one_gram(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.opaque_modules.push(OpaqueModule {
        bit: 24,
        data: m.bytes(4)?.to_vec(),
    });
    Ok(())
}

/// Bit 38: cash-in-transit extended status, 5 reserved.
pub fn cash_in_transit(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.cash_in_transit_status = Some(u32::from(m.u8()?));
    m.skip(5)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::Legacy;
    use astra_proto::v1::{
        CarrierAlarms, CarrierTemperatures, Gritter, OpaqueModule, RedforgeWeight,
    };

    #[test]
    fn bit17_carrier_temperatures_are_signed() {
        let p = decode(
            17,
            Legacy,
            "FF38 00C8 8000 7FFF 0000 FFFF  F6 0A 81  64 04D2 0010 8001 ABCDEF",
        );
        assert_eq!(
            p.carrier_temperatures,
            Some(Box::new(CarrierTemperatures {
                return_temperatures_c: vec![-20.0, 20.0, -3276.8, 3276.7, 0.0, -0.1],
                setpoints_c: vec![-5.0, 5.0, -63.5],
                fuel_level_raw: 100,
                engine_hours: 1234,
                standby_hours: 16,
                status_mask: 0x8001,
                alarm_flags: 0xAB_CDEF,
            }))
        );
    }

    #[test]
    fn bit18_one_wire_is_raw_minus_550_over_10() {
        let p = decode(18, Legacy, "0000 0226 0339 FFFF");
        assert_eq!(p.one_wire_temperatures_c, vec![-55.0, 0.0, 27.5, 6498.5]);
    }

    #[test]
    fn bit19_carrier_alarms() {
        let p = decode(19, Legacy, "02 0102030405060708090A0B0C0D0E0F10");
        assert_eq!(
            p.carrier_alarms,
            Some(Box::new(CarrierAlarms {
                count: 2,
                queue: (1..=16).collect(),
            }))
        );
    }

    #[test]
    fn bit21_econ_status() {
        let p = decode(21, Legacy, "123456");
        assert_eq!(p.econ_status, Some(0x12_3456));
    }

    #[test]
    fn bit22_gritter() {
        let p = decode(22, Legacy, "01 02 4B 14");
        assert_eq!(
            p.gritter,
            Some(Box::new(Gritter {
                plough_mode: 1,
                spreader_mode: 2,
                spinner_width_m: 7.5,
                rate_g_m2: 20,
            }))
        );
    }

    #[test]
    fn bit23_redforge_weight() {
        let p = decode(23, Legacy, "0A 14 1E 01 02 03");
        assert_eq!(
            p.redforge_weight,
            Some(Box::new(RedforgeWeight {
                front: 10,
                rear: 20,
                gross: 30,
                status: 1,
                fault1: 2,
                fault2: 3,
            }))
        );
    }

    #[test]
    fn bit24_is_kept_opaque() {
        let p = decode(24, Legacy, "DEADBEEF");
        assert_eq!(
            p.opaque_modules,
            vec![OpaqueModule {
                bit: 24,
                data: vec![0xDE, 0xAD, 0xBE, 0xEF],
            }]
        );
    }

    #[test]
    fn bit38_cash_in_transit() {
        let p = decode(38, Legacy, "81 FFFFFFFFFF");
        assert_eq!(p.cash_in_transit_status, Some(0x81));
    }
}
