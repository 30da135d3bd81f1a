//! Protocol C (legacy): 33-byte records with a u16 reason field, a u8 status and two raw
//! accelerometer bytes.

use crate::common::{
    Draw, assert_encodes, at, config, draw, geofence, latitude, legacy_round_trip, longitude,
    set_reasons, ts,
};
use astra_proto::v1::{Accelerometer, Analog, DigitalIo, GeofenceReport, Position, Status};
use astra_tests::encoder::{EncodeOptions, Protocol};
use proptest::prelude::*;

fn gen_c(d: &mut Draw) -> Position {
    let t = ts(d.u32());
    let mut p = Position {
        sequence: u32::from(d.u8()),
        latitude: Some(latitude(d)),
        longitude: Some(longitude(d)),
        device_time: Some(t),
        fix_time: Some(t),
        speed_kmh: Some(f64::from(d.u8()) * 2.0),
        course_deg: Some(f64::from(d.u8()) * 2.0),
        altitude_m: Some(f64::from(d.u8()) * 20.0),
        ..Default::default()
    };
    set_reasons(&mut p, u32::from(d.u16()));
    // C: a u8 status with only bit 4 documented; `valid` is fixed to true.
    let status = d.u8();
    p.status_flags = u32::from(status);
    p.valid = true;
    p.ignition = status & 1 != 0;
    p.status = Some(Status {
        ignition: p.ignition,
        more_reports_follow: status & 0x10 != 0,
        ..Default::default()
    });
    p.geofence = Some(geofence(d.u8()));
    let (states, changes) = (d.u8(), d.u8());
    p.io = Some(DigitalIo {
        inputs: u32::from(states),
        input_changes: u32::from(changes),
        raw: u32::from(states) | u32::from(changes) << 8,
        ..Default::default()
    });
    let (adc1, adc2) = (d.u8(), d.u8());
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc2_raw: u32::from(adc2),
        adc1_v: Some(f64::from(adc1) / 128.0),
        adc2_v: Some(f64::from(adc2) / 128.0),
    });
    p.battery_percent = Some(u32::from(d.u8()));
    p.external_voltage_v = Some(f64::from(d.u8()) / 5.0);
    p.max_speed_kmh = Some(f64::from(d.u8()) * 2.0);
    p.accelerometer = Some(Accelerometer {
        raw: d.bytes(2),
        ..Default::default()
    });
    p.journey_distance_m = Some(f64::from(d.u16()) * 100.0);
    p.idle_time_s = Some(u32::from(d.u16()));
    p
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn c_round_trip(mut d in draw()) {
        legacy_round_trip(&mut d, Protocol::C, 8, gen_c)?;
    }
}

/// A hand-assembled C record (33 bytes), every field distinct.
#[test]
fn c_example() {
    let p = Position {
        sequence: 1,
        latitude: Some(51.5),
        longitude: Some(-0.125),
        fix_time: at(0x4000_0000),
        speed_kmh: Some(100.0),
        course_deg: Some(90.0),
        altitude_m: Some(60.0),
        reason_flags: 0x0041,
        status_flags: 0x11,
        geofence: Some(GeofenceReport {
            entry: true,
            index: 3,
            ..Default::default()
        }),
        io: Some(DigitalIo {
            inputs: 0x05,
            input_changes: 0x04,
            ..Default::default()
        }),
        analog: Some(Analog {
            adc1_raw: 0x40,
            adc2_raw: 0x20,
            ..Default::default()
        }),
        battery_percent: Some(99),
        external_voltage_v: Some(12.6),
        max_speed_kmh: Some(120.0),
        accelerometer: Some(Accelerometer {
            raw: vec![0x0A, 0x0B],
            ..Default::default()
        }),
        journey_distance_m: Some(12_300.0),
        idle_time_s: Some(300),
        ..Default::default()
    };
    let expected = concat!(
        "43002d",         // 'C', length 45
        "052196881ae0ce", // IMEI 86087304 / 1761486
        "01",             // seq
        "0311d3e0",       // lat 51500000
        "fffe17b8",       // lon -125000
        "40000000",       // time
        "32",             // speed 100 / 2
        "2d",             // course 90 / 2
        "03",             // altitude 60 / 20
        "0041",           // reason
        "11",             // status
        "83",             // geofence: entry, index 3
        "05",             // digital states
        "04",             // digital changes
        "20",             // ADC2
        "40",             // ADC1
        "63",             // battery 99 %
        "3f",             // 12.6 V × 5
        "3c",             // max speed 120 / 2
        "0a0b",           // accelerometer
        "007b",           // 12.3 km = 123 × 0.1 km
        "012c",           // idle 300 s
        "fd12",           // CRC
    );
    assert_encodes(
        Protocol::C,
        "860873041761486",
        p,
        &EncodeOptions::default(),
        expected,
    );
}
