//! Protocol M: 41-byte records (K with a little-endian u24 digital field and a second ADC), 53
//! with the extra block.

use crate::common::{Draw, assert_encodes, at, config, draw, legacy_round_trip};
use crate::legacy::{km_extra, legacy_record};
use astra_proto::v1::{Accelerometer, Analog, DigitalIo, GeofenceReport, Position};
use astra_tests::encoder::legacy::Clock;
use astra_tests::encoder::{EncodeOptions, Protocol};
use proptest::prelude::*;

fn gen_m(d: &mut Draw) -> Position {
    let (mut p, extra) = legacy_record(d, Clock::Single, Draw::u24, None, |d, p| {
        p.io = Some(DigitalIo {
            raw: d.u24(),
            ..Default::default()
        });
        let (adc1, adc2) = (d.u8(), d.u8());
        p.analog = Some(Analog {
            adc1_raw: u32::from(adc1),
            adc2_raw: u32::from(adc2),
            adc1_v: Some(f64::from(adc1) / 50.0),
            adc2_v: Some(f64::from(u32::from(adc2) * 59) / 1000.0),
        });
    });
    if extra {
        km_extra(d, &mut p);
    }
    p
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn m_round_trip(mut d in draw()) {
        legacy_round_trip(&mut d, Protocol::M, 8, gen_m)?;
    }
}

/// A hand-assembled M record (41 bytes) with the extra block (status bit 8): 53 bytes.
#[test]
fn m_example() {
    let p = Position {
        sequence: 2,
        latitude: Some(-33.856784),
        longitude: Some(151.215297),
        fix_time: at(0x4000_0001),
        speed_kmh: Some(50.0),
        course_deg: Some(180.0),
        reason_flags: 0x00_0080,
        status_flags: 0x0101,
        io: Some(DigitalIo {
            raw: 0x03_0201,
            ..Default::default()
        }),
        analog: Some(Analog {
            adc1_raw: 0x11,
            adc2_raw: 0x22,
            ..Default::default()
        }),
        battery_percent: Some(80),
        external_voltage_v: Some(24.0),
        max_speed_kmh: Some(80.0),
        accelerometer: Some(Accelerometer {
            x_max_ms2: 0.1,
            x_min_ms2: 0.2,
            y_max_ms2: 0.3,
            y_min_ms2: 0.4,
            z_max_ms2: 0.5,
            z_min_ms2: 0.6,
            ..Default::default()
        }),
        journey_distance_m: Some(100.0),
        idle_time_s: Some(1),
        altitude_m: Some(200.0),
        satellites: Some(7),
        gsm_level: Some(12),
        geofence: Some(GeofenceReport {
            entry: false,
            index: 5,
            ..Default::default()
        }),
        driver_id: "01A1B2C3D4E5F6".to_owned(),
        odometer_m: Some(123_456_000),
        engine_hours: Some(4321),
        ..Default::default()
    };
    let expected = concat!(
        "4d0041",         // 'M', length 65
        "052196881ae0ce", // IMEI
        "02",             // seq
        "fdfb62f0",       // lat -33856784
        "09035cc1",       // lon 151215297
        "40000001",       // time
        "19",             // speed 50 / 2
        "5a",             // course 180 / 2
        "000080",         // reason: journey stop
        "0101",           // status: ignition, extra block
        "010203",         // digitals, little-endian u24 0x030201
        "11",             // ADC1
        "22",             // ADC2
        "50",             // battery 80 %
        "78",             // 24 V × 5
        "28",             // max speed 80 / 2
        "010203040506",   // accelerometer ×10
        "0001",           // journey 0.1 km
        "0001",           // idle 1 s
        "0a",             // altitude 200 / 20
        "c7",             // GSM level 12, 7 satellites
        "05",             // geofence exit, index 5
        "01a1b2c3d4e5f6", // driver ID
        "01e240",         // odometer 123456 km
        "10e1",           // hours 4321
        "49d3",           // CRC
    );
    assert_encodes(
        Protocol::M,
        "860873041761486",
        p,
        &EncodeOptions::default(),
        expected,
    );
}
