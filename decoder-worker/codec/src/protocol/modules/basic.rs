//! X modules 0-11, the ones every device sends: power, GPS, I/O, analogues, driver behaviour,
//! signal, network, geofences, driver ID, trailer ID / alcohol test, journey start and stop data.

use super::super::common::{degrees, geofence, hex_upper, journey_m, read_accel, set_signal};
use crate::error::DecodeError;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::{AlcoholTest, Analog, DigitalIo, DriverIdSource, Position, TrailerId};

/// Bit 0: u8 external voltage ×0.2 V; u8 battery %.
pub fn device_power(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.external_voltage_v = Some(f64::from(m.u8()?) / 5.0);
    p.battery_percent = Some(u32::from(m.u8()?));
    Ok(())
}

/// Bit 1: last-good fix time, position, speeds ×2 km/h, heading ×2°, altitude ×20 m, journey
/// distance ×0.1 km.
pub fn gps(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.fix_time = Some(from_gps(m.u32()?));
    p.latitude = Some(degrees(m.i32()?));
    p.longitude = Some(degrees(m.i32()?));
    p.speed_kmh = Some(f64::from(u32::from(m.u8()?) * 2));
    p.max_speed_kmh = Some(f64::from(u32::from(m.u8()?) * 2));
    p.course_deg = Some(f64::from(u32::from(m.u8()?) * 2));
    p.altitude_m = Some(f64::from(u32::from(m.u8()?) * 20));
    p.journey_distance_m = Some(journey_m(m.u16()?));
    Ok(())
}

/// Bit 2: u16 states, u16 changes; bits 0-7 inputs 1-8, bits 8-15 outputs 1-8.
pub fn digital_io(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let states = u32::from(m.u16()?);
    let changes = u32::from(m.u16()?);
    p.io = Some(DigitalIo {
        inputs: states & 0xFF,
        outputs: states >> 8,
        input_changes: changes & 0xFF,
        output_changes: changes >> 8,
        raw: states | changes << 16,
    });
    Ok(())
}

/// Bit 3: two raw ADC readings; X publishes no units, so no volts.
pub fn analogues(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.analog = Some(Analog {
        adc1_raw: u32::from(m.u16()?),
        adc2_raw: u32::from(m.u16()?),
        adc1_v: None,
        adc2_v: None,
    });
    Ok(())
}

/// Bit 4: six accelerometer extremes ÷10 m/s², u16 idle time s.
pub fn driver_behaviour(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    // Conflict: Traccar reads the extremes signed and calls the u16 idle hours; PROTOCOL.md
    // follows the official parsers (unsigned, seconds).
    p.accelerometer = Some(read_accel(m)?);
    p.idle_time_s = Some(u32::from(m.u16()?));
    Ok(())
}

/// Bit 5: satellites in use and GSM level.
pub fn signal_quality(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    set_signal(p, m.u8()?);
    Ok(())
}

/// Bit 6: u16 MCC, u16 MNC.
pub fn gsm_network(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.mcc = Some(u32::from(m.u16()?));
    p.mnc = Some(u32::from(m.u16()?));
    Ok(())
}

/// Bit 7: the geofence event byte.
pub fn geofences(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.geofence = Some(geofence(m.u8()?));
    Ok(())
}

/// Bit 8: u8 source, 8-byte ID as uppercase hex.
pub fn driver_id(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let source = match m.u8()? {
        0 => DriverIdSource::None,
        1 => DriverIdSource::Ibutton,
        2 => DriverIdSource::Rfid,
        3 => DriverIdSource::Bluetooth,
        4 => DriverIdSource::Cr002,
        _ => DriverIdSource::Other,
    };
    p.driver_id_source = source as i32;
    p.driver_id = hex_upper(m.bytes(8)?);
    Ok(())
}

/// Bit 9, legacy layout: u8 source, 10-byte ASCII trailer ID, u8 status.
pub fn trailer_id(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.trailer_id = Some(Box::new(TrailerId {
        source: u32::from(m.u8()?),
        trailer_id: m.ascii(10)?,
        status: u32::from(m.u8()?),
    }));
    Ok(())
}

/// Bit 9, current layout: u8 status (bit 0 = pass), u16 result µg/L, 5 reserved.
pub fn alcohol_test(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let status = m.u8()?;
    p.alcohol_test = Some(Box::new(AlcoholTest {
        status: u32::from(status),
        passed: status & 0x01 != 0,
        result_ug_per_l: u32::from(m.u16()?),
    }));
    m.skip(5)
}

/// Bit 10 (FMS journey start): u16 axle weight kg.
pub fn fms_journey_start(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.axle_weight_kg = Some(u32::from(m.u16()?));
    Ok(())
}

/// Bit 11 (GNSS stop-report data): u24 lifetime odometer km, u16 engine running hours.
pub fn stop_report(m: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    p.odometer_m = Some(u64::from(m.u24()?) * 1000);
    p.engine_hours = Some(u32::from(m.u16()?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::decode;
    use crate::options::Layout::{Current, Legacy};
    use crate::time::from_gps;
    use astra_proto::v1::{
        Accelerometer, AlcoholTest, Analog, DigitalIo, DriverIdSource, GeofenceReport, TrailerId,
    };

    #[test]
    fn bit0_device_power() {
        let p = decode(0, Legacy, "3F 55");
        assert_eq!(p.external_voltage_v, Some(12.6));
        assert_eq!(p.battery_percent, Some(85));
    }

    #[test]
    fn bit1_gps() {
        let p = decode(1, Legacy, "2A0B1C4D 031B8F4A FFFB0374 1E 2D 5A 07 0123");
        assert_eq!(p.fix_time, Some(from_gps(0x2A0B_1C4D)));
        assert_eq!(p.latitude, Some(52.137802));
        assert_eq!(p.longitude, Some(-0.326796));
        assert_eq!(p.speed_kmh, Some(60.0));
        assert_eq!(p.max_speed_kmh, Some(90.0));
        assert_eq!(p.course_deg, Some(180.0));
        assert_eq!(p.altitude_m, Some(140.0));
        assert_eq!(p.journey_distance_m, Some(29100.0));
    }

    #[test]
    fn bit2_digital_io() {
        let p = decode(2, Legacy, "0381 0201");
        assert_eq!(
            p.io,
            Some(DigitalIo {
                inputs: 0x81,
                outputs: 0x03,
                input_changes: 0x01,
                output_changes: 0x02,
                raw: 0x0201_0381,
            })
        );
    }

    #[test]
    fn bit3_analogues() {
        let p = decode(3, Legacy, "0FFF 0123");
        assert_eq!(
            p.analog,
            Some(Analog {
                adc1_raw: 4095,
                adc2_raw: 291,
                adc1_v: None,
                adc2_v: None
            })
        );
    }

    #[test]
    fn bit4_driver_behaviour() {
        let p = decode(4, Legacy, "0A 00 FF 01 63 7B 0E10");
        assert_eq!(
            p.accelerometer,
            Some(Accelerometer {
                x_max_ms2: 1.0,
                x_min_ms2: 0.0,
                y_max_ms2: 25.5,
                y_min_ms2: 0.1,
                z_max_ms2: 9.9,
                z_min_ms2: 12.3,
                raw: vec![0x0A, 0x00, 0xFF, 0x01, 0x63, 0x7B],
            })
        );
        assert_eq!(p.idle_time_s, Some(3600));
    }

    #[test]
    fn bit5_signal_quality() {
        let p = decode(5, Legacy, "A9");
        assert_eq!(p.satellites, Some(9));
        assert_eq!(p.gsm_level, Some(10));
        assert_eq!(p.gsm_dbm, Some(-71));
    }

    #[test]
    fn bit6_gsm_network() {
        let p = decode(6, Legacy, "00EA 000F");
        assert_eq!((p.mcc, p.mnc), (Some(234), Some(15)));
    }

    #[test]
    fn bit7_geofences() {
        let p = decode(7, Legacy, "85");
        assert_eq!(
            p.geofence,
            Some(GeofenceReport {
                raw: 0x85,
                entry: true,
                index: 5
            })
        );
    }

    #[test]
    fn bit8_driver_id() {
        let p = decode(8, Legacy, "01 0000 01A2B3C4D5E6");
        assert_eq!(p.driver_id_source, DriverIdSource::Ibutton as i32);
        assert_eq!(p.driver_id, "000001A2B3C4D5E6");
        let sources = [
            ("00", DriverIdSource::None),
            ("02", DriverIdSource::Rfid),
            ("03", DriverIdSource::Bluetooth),
            ("04", DriverIdSource::Cr002),
            ("05", DriverIdSource::Other),
            ("FF", DriverIdSource::Other),
        ];
        for (byte, source) in sources {
            let p = decode(8, Legacy, &format!("{byte} 0000000000000000"));
            assert_eq!(p.driver_id_source, source as i32, "{byte}");
        }
    }

    #[test]
    fn bit9_is_trailer_id_in_legacy_layout() {
        let p = decode(9, Legacy, "01 54524C2D3132333400 00 02");
        assert_eq!(
            p.trailer_id,
            Some(Box::new(TrailerId {
                source: 1,
                trailer_id: "TRL-1234".into(),
                status: 2
            }))
        );
        assert_eq!(p.alcohol_test, None);
    }

    #[test]
    fn bit9_is_alcohol_test_in_current_layout() {
        let p = decode(9, Current, "03 00C8 0000000000");
        assert_eq!(
            p.alcohol_test,
            Some(Box::new(AlcoholTest {
                status: 3,
                passed: true,
                result_ug_per_l: 200
            }))
        );
        assert_eq!(p.trailer_id, None);
        let failed = decode(9, Current, "02 0000 FFFFFFFFFF");
        assert!(!failed.alcohol_test.unwrap().passed);
    }

    #[test]
    fn bit10_axle_weight() {
        let p = decode(10, Legacy, "2EE0");
        assert_eq!(p.axle_weight_kg, Some(12000));
    }

    #[test]
    fn bit11_stop_report() {
        let p = decode(11, Legacy, "01E240 04D2");
        assert_eq!(p.odometer_m, Some(123_456_000));
        assert_eq!(p.engine_hours, Some(1234));
        let max = decode(11, Legacy, "FFFFFF 0000");
        assert_eq!(max.odometer_m, Some(16_777_215_000));
    }
}
