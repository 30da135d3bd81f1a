//! Protocol V (CAN-bus variant of M): 72-byte records; 86 with the extra block; 98 when the
//! reason also has journey stop.

use crate::common::{Draw, assert_encodes, at, config, draw, legacy_round_trip};
use crate::legacy::{extra_block, legacy_record};
use astra_proto::v1::{Analog, DigitalIo, GeofenceReport, Position, VehicleCan};
use astra_tests::encoder::legacy::Clock;
use astra_tests::encoder::{EncodeOptions, Protocol};
use proptest::prelude::*;

/// V record size selector: basic (72), extra block (86), extra block + journey stop (98).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VSize {
    Basic,
    Extra,
    ExtraStop,
}

fn gen_v(d: &mut Draw, size: VSize) -> Position {
    let reason = |d: &mut Draw| {
        let stop = match size {
            VSize::Basic => d.u24() & 0x80,
            VSize::Extra => 0,
            VSize::ExtraStop => 0x80,
        };
        d.u24() & !0x80 | stop
    };
    let extra = Some(size != VSize::Basic);
    let (mut p, extra) = legacy_record(d, Clock::DeviceAndFix, reason, extra, |d, p| {
        p.io = Some(DigitalIo {
            raw: d.u24(),
            ..Default::default()
        });
        let (adc1, adc2) = (d.u24() & 0xFFF, d.u24() & 0xFFF);
        p.analog = Some(Analog {
            adc1_raw: adc1,
            adc2_raw: adc2,
            adc1_v: Some(f64::from(adc1 * 5) / 4096.0),
            adc2_v: Some(f64::from(adc2 * 15) / 4096.0),
        });
    });
    let obd_status = u32::from(d.u16());
    let mut can = VehicleCan {
        wheel_speed_kmh: u32::from(d.u8()),
        engine_rpm: u32::from(d.u8()) * 32,
        throttle_percent: u32::from(d.u8()),
        engine_load_percent: u32::from(d.u8()),
        can_journey_distance_km: f64::from(d.u16()) / 10.0,
        coolant_temperature_c: i32::from(d.u8()) - 40,
        fms_status: u32::from(d.u16()),
        obd_status,
        malfunction_lamp: obd_status & 0x80 != 0,
        can_monitoring_status: u32::from(d.u16()),
        fuel_level_raw: u32::from(d.u8()),
        total_fuel_used_l: f64::from(d.u32()) / 2.0,
        total_vehicle_distance_m: u64::from(d.u32()) * 5,
        average_wheel_speed_kmh: u32::from(d.u8()),
        average_engine_rpm: u32::from(d.u8()) * 32,
        average_throttle_percent: u32::from(d.u8()),
        average_engine_load_percent: u32::from(d.u8()),
        ..Default::default()
    };
    if extra {
        extra_block(d, &mut p);
        can.lifetime_running_time = Some(u32::from(d.u16()));
        let axle = u32::from(d.u16());
        can.axle_weight_kg = Some(axle);
        p.axle_weight_kg = Some(axle);
    }
    if size == VSize::ExtraStop {
        let hours = u32::from(d.u16());
        can.engine_on_hours = Some(hours);
        p.engine_hours = Some(hours);
        can.journey_fuel_l = Some(f64::from(d.u16()) / 10.0);
        can.cruise_control_time_s = Some(u32::from(d.u16()));
        can.service_distance_km = Some(u32::from(d.u16()) * 5);
        can.run_time_since_engine_start_s = Some(u32::from(d.u16()));
        can.distance_with_mil_on_km = Some(u32::from(d.u16()));
    }
    p.vehicle_can = Some(Box::new(can));
    p
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn v_round_trip(mut d in draw(), size in prop_oneof![
        Just(VSize::Basic), Just(VSize::Extra), Just(VSize::ExtraStop)
    ]) {
        legacy_round_trip(&mut d, Protocol::V, 4, |d| gen_v(d, size))?;
    }

    #[test]
    fn v_round_trip_mixed_sizes(mut d in draw()) {
        legacy_round_trip(&mut d, Protocol::V, 6, |d| {
            let size = [VSize::Basic, VSize::Extra, VSize::ExtraStop][d.below(3)];
            gen_v(d, size)
        })?;
    }
}

/// A hand-assembled 98-byte V record: extra block and journey-stop extension.
#[test]
fn v_example() {
    let p = Position {
        sequence: 3,
        device_time: at(0x4000_0010),
        latitude: Some(1.0),
        longitude: Some(-1.0),
        fix_time: at(0x4000_000F),
        speed_kmh: Some(4.0),
        course_deg: Some(2.0),
        reason_flags: 0x00_0080,
        status_flags: 0x0100,
        io: Some(DigitalIo {
            raw: 0x00_0001,
            ..Default::default()
        }),
        analog: Some(Analog {
            adc1_raw: 0xABC,
            adc2_raw: 0x123,
            ..Default::default()
        }),
        battery_percent: Some(1),
        external_voltage_v: Some(0.2),
        max_speed_kmh: Some(6.0),
        journey_distance_m: Some(200.0),
        idle_time_s: Some(2),
        altitude_m: Some(20.0),
        satellites: Some(1),
        gsm_level: Some(1),
        geofence: Some(GeofenceReport {
            entry: true,
            index: 0,
            ..Default::default()
        }),
        driver_id: "0102030405060A".to_owned(),
        odometer_m: Some(1000),
        vehicle_can: Some(Box::new(VehicleCan {
            wheel_speed_kmh: 90,
            engine_rpm: 64,
            throttle_percent: 10,
            engine_load_percent: 20,
            can_journey_distance_km: 1.5,
            coolant_temperature_c: 85,
            fms_status: 0x0102,
            obd_status: 0x0080,
            can_monitoring_status: 0x0304,
            fuel_level_raw: 50,
            total_fuel_used_l: 1.5,
            total_vehicle_distance_m: 50,
            average_wheel_speed_kmh: 60,
            average_engine_rpm: 96,
            average_throttle_percent: 5,
            average_engine_load_percent: 6,
            lifetime_running_time: Some(7),
            axle_weight_kg: Some(8000),
            engine_on_hours: Some(9),
            journey_fuel_l: Some(1.2),
            cruise_control_time_s: Some(11),
            service_distance_km: Some(60),
            run_time_since_engine_start_s: Some(13),
            distance_with_mil_on_km: Some(14),
            ..Default::default()
        })),
        ..Default::default()
    };
    let expected = concat!(
        "56006e",         // 'V', length 110
        "052196881ae0ce", // IMEI
        "03",             // seq
        "40000010",       // RTC time
        "000f4240",       // lat 1000000
        "fff0bdc0",       // lon -1000000
        "4000000f",       // fix time
        "02",             // speed 4 / 2
        "01",             // course 2 / 2
        "000080",         // reason: journey stop
        "0100",           // status: extra block
        "010000",         // digitals, little-endian
        "123abc",         // ADC2 0x123 << 12 | ADC1 0xABC
        "01",             // battery
        "01",             // 0.2 V × 5
        "03",             // max speed 6 / 2
        "000000000000",   // accelerometer
        "0002",           // journey 0.2 km
        "0002",           // idle
        "01",             // altitude 20 / 20
        "11",             // GSM level 1, 1 satellite
        "80",             // geofence entry, index 0
        "5a",             // wheel speed 90
        "02",             // rpm 64 / 32
        "0a",             // throttle
        "14",             // load
        "000f",           // CAN journey 1.5 km × 10
        "7d",             // coolant 85 + 40
        "0102",           // FMS status
        "0080",           // OBD status (MIL)
        "0304",           // CAN monitoring
        "32",             // fuel level
        "00000003",       // total fuel 1.5 L × 2
        "0000000a",       // total distance 50 m / 5
        "3c",             // average wheel speed
        "03",             // average rpm 96 / 32
        "05",             // average throttle
        "06",             // average load
        "0102030405060a", // driver ID
        "000001",         // odometer 1 km
        "0007",           // lifetime running time
        "1f40",           // axle 8000 kg
        "0009",           // engine-on hours
        "000c",           // journey fuel 1.2 L × 10
        "000b",           // cruise control 11 s
        "000c",           // service distance 60 km / 5
        "000d",           // run time 13 s
        "000e",           // MIL distance 14 km
        "de88",           // CRC
    );
    assert_encodes(
        Protocol::V,
        "860873041761486",
        p,
        &EncodeOptions::default(),
        expected,
    );
}
