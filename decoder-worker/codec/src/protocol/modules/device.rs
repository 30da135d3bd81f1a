//! X modules about the tracker itself and its own sensors: SIM IMSI and ICCID (26, 27),
//! temperature/humidity sensors (32), battery usage statistics (40) and extended GNSS (43).

use super::super::common::{degrees, journey_m};
use crate::error::DecodeError;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::{
    BatteryStatistics, EnvironmentSensor, EnvironmentSensorType, GnssExtended, Position, SimImsi,
};

/// Bit 26: the 7 IMSI bytes, also as one big-endian integer in decimal (as OYT prints it).
pub fn sim_imsi(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let raw = m.bytes(7)?;
    let value = raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    p.sim_imsi = Some(Box::new(SimImsi {
        imsi: value.to_string(),
        raw: raw.to_vec(),
    }));
    Ok(())
}

/// Bit 27: 20-byte ASCII ICCID.
pub fn sim_iccid(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.sim_iccid = m.ascii(20)?;
    Ok(())
}

/// Bit 32: six 3-byte sensor entries (u8 header, 16-bit value).
pub fn environment_sensors(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    for _ in 0..6 {
        let header = m.u8()?;
        let raw = m.u16()?;
        let (kind, value) = match header & 0x0F {
            0 => (EnvironmentSensorType::Unassigned, None),
            1 => (
                EnvironmentSensorType::Temperature,
                Some(f64::from(i16::from_be_bytes(raw.to_be_bytes())) / 100.0),
            ),
            2 => (
                EnvironmentSensorType::Humidity,
                Some(f64::from(raw) / 100.0),
            ),
            3 => (EnvironmentSensorType::Light, None),
            _ => (EnvironmentSensorType::Other, None),
        };
        p.environment_sensors.push(EnvironmentSensor {
            header: u32::from(header),
            r#type: kind as i32,
            // Conflict: OXT treats any high-nibble bit as valid, OXN only 0x80; the .NET test is
            // used (PROTOCOL.md records both without choosing).
            valid: header & 0x80 != 0,
            raw: u32::from(raw),
            value,
        });
    }
    Ok(())
}

/// Bit 40: battery usage statistics, 13 × u24.
pub fn battery_statistics(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.battery_statistics = Some(Box::new(BatteryStatistics {
        gnss_acquiring_s: m.u24()?,
        gnss_fixing_s: m.u24()?,
        modem_on_s: m.u24()?,
        cs_registered_s: m.u24()?,
        ps_registered_s: m.u24()?,
        pdp_active_s: m.u24()?,
        socket_open_s: m.u24()?,
        awake_s: m.u24()?,
        asleep_s: m.u24()?,
        external_power_on_s: m.u24()?,
        ble_on_s: m.u24()?,
        wake_cycles: m.u24()?,
        reports_sent: m.u24()?,
    }));
    Ok(())
}

/// Bit 43: GNSS extended data, 4 reserved. Also sets the report's HDOP and accuracy.
pub fn gnss_extended(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let g = GnssExtended {
        last_good_fix_time: Some(from_gps(m.u32()?)),
        latitude: degrees(m.i32()?),
        longitude: degrees(m.i32()?),
        speed_kmh: f64::from(u32::from(m.u8()?) * 2),
        max_speed_kmh: f64::from(u32::from(m.u8()?) * 2),
        course_deg: f64::from(u32::from(m.u8()?) * 2),
        altitude_m: f64::from(u32::from(m.u8()?) * 20),
        journey_distance_m: journey_m(m.u16()?),
        valid_fix_percent: u32::from(m.u8()?),
        satellites_in_view: u32::from(m.u8()?),
        position_error_m: u32::from(m.u8()?),
        hdop: f64::from(m.u8()?) / 10.0,
        jammer_hits: u32::from(m.u8()?),
        constellations: u32::from(m.u8()?),
    };
    m.skip(4)?;
    p.hdop = Some(g.hdop);
    p.accuracy_m = Some(f64::from(g.position_error_m));
    p.gnss_extended = Some(Box::new(g));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::Legacy;
    use crate::time::from_gps;
    use astra_proto::v1::{
        BatteryStatistics, EnvironmentSensor, EnvironmentSensorType as T, GnssExtended, SimImsi,
    };

    #[test]
    fn bit26_sim_imsi() {
        // 234150123456789 = 0x00D4_F552_EEC915.
        let p = decode(26, Legacy, "00D4F552EEC915");
        assert_eq!(
            p.sim_imsi,
            Some(Box::new(SimImsi {
                imsi: "234150123456789".into(),
                raw: vec![0x00, 0xD4, 0xF5, 0x52, 0xEE, 0xC9, 0x15],
            }))
        );
        let max = decode(26, Legacy, "FFFFFFFFFFFFFF");
        assert_eq!(max.sim_imsi.unwrap().imsi, "72057594037927935");
    }

    #[test]
    fn bit27_sim_iccid() {
        let p = decode(27, Legacy, "3839343431303030303030303030303030303146");
        assert_eq!(p.sim_iccid, "8944100000000000001F");
    }

    #[test]
    fn bit32_environment_sensors() {
        let p = decode(
            32,
            Legacy,
            "81 F830  92 1388  13 0064  00 0000  85 0001  40 FFFF",
        );
        let s = |header, kind: T, valid, raw, value| EnvironmentSensor {
            header,
            r#type: kind as i32,
            valid,
            raw,
            value,
        };
        assert_eq!(
            p.environment_sensors,
            vec![
                s(0x81, T::Temperature, true, 0xF830, Some(-20.0)),
                s(0x92, T::Humidity, true, 5000, Some(50.0)),
                s(0x13, T::Light, false, 100, None),
                s(0x00, T::Unassigned, false, 0, None),
                s(0x85, T::Other, true, 1, None),
                s(0x40, T::Unassigned, false, 0xFFFF, None),
            ]
        );
    }

    #[test]
    fn bit40_battery_statistics() {
        let p = decode(
            40,
            Legacy,
            "000001 000002 000003 000004 000005 000006 000007 000008 000009 00000A 00000B
             00000C FFFFFF",
        );
        assert_eq!(
            p.battery_statistics,
            Some(Box::new(BatteryStatistics {
                gnss_acquiring_s: 1,
                gnss_fixing_s: 2,
                modem_on_s: 3,
                cs_registered_s: 4,
                ps_registered_s: 5,
                pdp_active_s: 6,
                socket_open_s: 7,
                awake_s: 8,
                asleep_s: 9,
                external_power_on_s: 10,
                ble_on_s: 11,
                wake_cycles: 12,
                reports_sent: 0xFF_FFFF,
            }))
        );
    }

    #[test]
    fn bit43_gnss_extended_sets_hdop_and_accuracy() {
        let p = decode(
            43,
            Legacy,
            "2A0B1C4D 031B8F4A FFFB0374 1E 2D 5A 07 0123 62 0E 04 0D 02 05 00000000",
        );
        assert_eq!(
            p.gnss_extended,
            Some(Box::new(GnssExtended {
                last_good_fix_time: Some(from_gps(0x2A0B_1C4D)),
                latitude: 52.137802,
                longitude: -0.326796,
                speed_kmh: 60.0,
                max_speed_kmh: 90.0,
                course_deg: 180.0,
                altitude_m: 140.0,
                journey_distance_m: 29100.0,
                valid_fix_percent: 98,
                satellites_in_view: 14,
                position_error_m: 4,
                hdop: 1.3,
                jammer_hits: 2,
                constellations: 5,
            }))
        );
        assert_eq!(p.hdop, Some(1.3));
        assert_eq!(p.accuracy_m, Some(4.0));
        // The top-level position is module 1's, not this one's.
        assert_eq!(p.latitude, None);
    }
}
