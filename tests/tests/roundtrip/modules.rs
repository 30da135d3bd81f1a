//! X and Z reports: every module as the decoder contract maps it (PROTOCOL.md §10.3,
//! docs/oxt-module-layouts.md), in both firmware layouts, and their round trip.

use crate::common::{
    Draw, accelerometer, geofence, hex_upper, latitude, longitude, records, round_trip,
    set_reasons, set_signal, set_status, ts,
};
use astra_codec::Layout;
use astra_proto::v1::{
    AlcoholTest, Analog, AskollEs2, BatteryStatistics, Beacon, Beacons, CanEntry, Car2,
    CarrierAlarms, CarrierTemperatures, Cm2010, DebugNvData, DigitalIo, DriverIdSource, Ecooter,
    EnvironmentSensor, EnvironmentSensorType, FmsDriverWorkingStates, FmsJourneyStop, GenericCan,
    GenericDebug, GnssExtended, Gritter, Heinzmann, InJourney, Nmea2000, ObdJourneyStop,
    OpaqueModule, Position, Rayvolt, RedforgeWeight, SegwayNinebot, SerialPair, SimImsi, StarsAcim,
    TorrotMuvi, TorrotMuviBattery, TrailerId,
};
use astra_tests::encoder::x_modules::{Variant, module_mask_for, z_size};
use astra_tests::encoder::{EncodeOptions, Protocol, XMode};
use proptest::prelude::*;

pub const ALL_MODULES: u64 = (1 << 48) - 1;

pub fn gen_x_report(d: &mut Draw, mask: u64, z: bool, layout: Layout) -> Position {
    let mut p = Position {
        sequence: u32::from(d.u8()),
        module_mask: mask,
        device_time: Some(ts(d.u32())),
        ..Default::default()
    };
    set_reasons(&mut p, d.u32());
    set_status(&mut p, d.u16());
    for bit in 0..48u8 {
        if mask >> bit & 1 == 1 {
            match z_size(bit) {
                Some(n) if z => p.opaque_modules.push(OpaqueModule {
                    bit: u32::from(bit),
                    data: d.bytes(n),
                }),
                _ => gen_module(d, bit, &mut p, layout),
            }
        }
    }
    p
}

/// An in-journey block (modules 12, 13, 29) without its last field.
fn in_journey(d: &mut Draw) -> InJourney {
    InJourney {
        max_wheel_speed_kmh: u32::from(d.u8()),
        average_wheel_speed_kmh: u32::from(d.u8()),
        max_rpm: u32::from(d.u8()) * 32,
        average_rpm: u32::from(d.u8()) * 32,
        max_accelerator_percent: u32::from(d.u8()),
        average_accelerator_percent: u32::from(d.u8()),
        max_load_percent: u32::from(d.u8()),
        average_load_percent: u32::from(d.u8()),
        journey_distance_km: f64::from(d.u16()) / 10.0,
        engine_temperature_c: i32::from(d.u8()) - 40,
        status: u32::from(d.u16()),
        events: u32::from(d.u16()),
        fuel_level_raw: u32::from(d.u8()),
        ..Default::default()
    }
}

/// Module `bit` as the decoder contract maps it (PROTOCOL.md §10.3, docs/oxt-module-layouts.md).
#[allow(clippy::too_many_lines)]
fn gen_module(d: &mut Draw, bit: u8, p: &mut Position, layout: Layout) {
    match bit {
        0 => {
            p.external_voltage_v = Some(f64::from(d.u8()) / 5.0);
            p.battery_percent = Some(u32::from(d.u8()));
        }
        1 => {
            p.fix_time = Some(ts(d.u32()));
            p.latitude = Some(latitude(d));
            p.longitude = Some(longitude(d));
            p.speed_kmh = Some(f64::from(d.u8()) * 2.0);
            p.max_speed_kmh = Some(f64::from(d.u8()) * 2.0);
            p.course_deg = Some(f64::from(d.u8()) * 2.0);
            p.altitude_m = Some(f64::from(d.u8()) * 20.0);
            p.journey_distance_m = Some(f64::from(d.u16()) * 100.0);
        }
        2 => {
            let (states, changes) = (d.u16(), d.u16());
            p.io = Some(DigitalIo {
                inputs: u32::from(states & 0xFF),
                outputs: u32::from(states >> 8),
                input_changes: u32::from(changes & 0xFF),
                output_changes: u32::from(changes >> 8),
                // The decoder contract for X: states in the low half, changes in the high half.
                raw: u32::from(states) | u32::from(changes) << 16,
            });
        }
        3 => {
            p.analog = Some(Analog {
                adc1_raw: u32::from(d.u16()),
                adc2_raw: u32::from(d.u16()),
                ..Default::default()
            });
        }
        4 => {
            p.accelerometer = Some(accelerometer(d.array()));
            p.idle_time_s = Some(u32::from(d.u16()));
        }
        5 => set_signal(p, d.u8()),
        6 => {
            p.mcc = Some(u32::from(d.u16()));
            p.mnc = Some(u32::from(d.u16()));
        }
        7 => p.geofence = Some(geofence(d.u8())),
        8 => {
            let source = match d.below(7) {
                0 => DriverIdSource::None,
                1 => DriverIdSource::Ibutton,
                2 => DriverIdSource::Rfid,
                3 => DriverIdSource::Bluetooth,
                4 => DriverIdSource::Cr002,
                _ => DriverIdSource::Other,
            };
            p.set_driver_id_source(source);
            p.driver_id = hex_upper(&d.bytes(8));
        }
        9 if layout == Layout::Legacy => {
            p.trailer_id = Some(Box::new(TrailerId {
                source: u32::from(d.u8()),
                trailer_id: d.text(1, 10),
                status: u32::from(d.u8()),
            }));
        }
        9 => {
            let status = d.u8();
            p.alcohol_test = Some(Box::new(AlcoholTest {
                status: u32::from(status),
                passed: status & 1 != 0,
                result_ug_per_l: u32::from(d.u16()),
            }));
        }
        10 => p.axle_weight_kg = Some(u32::from(d.u16())),
        11 => {
            p.odometer_m = Some(u64::from(d.u24()) * 1000);
            p.engine_hours = Some(u32::from(d.u16()));
        }
        12 => {
            let mut j = in_journey(d);
            j.total_fuel_l = Some(f64::from(d.u32()) / 2.0);
            p.fms_in_journey = Some(Box::new(j));
        }
        13 => {
            let mut j = in_journey(d);
            j.journey_fuel_l = Some(f64::from(d.u16()) / 10.0);
            p.obd_in_journey = Some(Box::new(j));
        }
        14 => p.obd_dtcs = (0..5).map(|_| d.text(5, 5)).collect(),
        15 => {
            p.fms_journey_stop = Some(Box::new(FmsJourneyStop {
                lifetime_odometer_km: d.u24(),
                lifetime_running_hours: u32::from(d.u16()),
                axle_weight_kg: u32::from(d.u16()),
                journey_fuel_l: f64::from(d.u16()) / 10.0,
                cruise_control_time_s: u32::from(d.u16()),
                service_distance_km: u32::from(d.u16()) * 5,
            }));
        }
        16 => {
            p.obd_journey_stop = Some(Box::new(ObdJourneyStop {
                lifetime_odometer_km: d.u24(),
                running_hours: u32::from(d.u16()),
                time_with_mil_on: u32::from(d.u16()),
                distance_with_mil_on: u32::from(d.u16()),
            }));
        }
        17 => {
            // Signed temperatures and setpoints (PROTOCOL.md §10.3 [INFERRED]).
            p.carrier_temperatures = Some(Box::new(CarrierTemperatures {
                return_temperatures_c: (0..6).map(|_| f64::from(d.i16()) / 10.0).collect(),
                setpoints_c: (0..3).map(|_| f64::from(d.i8()) / 2.0).collect(),
                fuel_level_raw: u32::from(d.u8()),
                engine_hours: u32::from(d.u16()),
                standby_hours: u32::from(d.u16()),
                status_mask: u32::from(d.u16()),
                alarm_flags: d.u24(),
            }));
        }
        18 => {
            // (raw − 550) / 10 °C (PROTOCOL.md §10.3 [INFERRED]).
            p.one_wire_temperatures_c = (0..4)
                .map(|_| f64::from(i32::from(d.u16()) - 550) / 10.0)
                .collect();
        }
        19 => {
            p.carrier_alarms = Some(Box::new(CarrierAlarms {
                count: u32::from(d.u8()),
                queue: d.bytes(16),
            }));
        }
        20 => {
            p.rayvolt = Some(Box::new(Rayvolt {
                controller_uid: d.u32(),
                firmware_version: u32::from(d.u16()),
                boot_version: u32::from(d.u16()),
                error_flags: u32::from(d.u16()),
                soc_percent: u32::from(d.u8()),
                battery_voltage_v: f64::from(d.u8()) / 4.0,
                controller_temperature_c: i32::from(d.i8()),
                speed_kmh: f64::from(d.u8()) / 2.0,
                status: u32::from(d.u16()),
            }));
        }
        21 => p.econ_status = Some(d.u24()),
        22 => {
            p.gritter = Some(Box::new(Gritter {
                plough_mode: u32::from(d.u8()),
                spreader_mode: u32::from(d.u8()),
                spinner_width_m: f64::from(d.u8()) / 10.0,
                rate_g_m2: u32::from(d.u8()),
            }));
        }
        23 => {
            p.redforge_weight = Some(Box::new(RedforgeWeight {
                front: u32::from(d.u8()),
                rear: u32::from(d.u8()),
                gross: u32::from(d.u8()),
                status: u32::from(d.u8()),
                fault1: u32::from(d.u8()),
                fault2: u32::from(d.u8()),
            }));
        }
        24 => p.opaque_modules.push(OpaqueModule {
            bit: 24,
            data: d.bytes(4),
        }),
        25 => p.nmea2000 = Some(Box::new(gen_nmea(d))),
        26 => {
            let raw = d.bytes(7);
            let mut be = [0u8; 8];
            be[1..].copy_from_slice(&raw);
            p.sim_imsi = Some(Box::new(SimImsi {
                imsi: u64::from_be_bytes(be).to_string(),
                raw,
            }));
        }
        27 => p.sim_iccid = d.text(18, 20),
        28 => {
            p.fms_driver_ids = Some(Box::new(SerialPair {
                serial1: d.text(1, 19),
                serial2: d.text(1, 19),
            }));
        }
        29 => {
            let mut j = in_journey(d);
            j.total_fuel_l = Some(f64::from(d.u32()) / 1000.0);
            p.fms_in_journey_high_res = Some(Box::new(j));
        }
        30 => {
            p.fms_driver_working_states = Some(Box::new(FmsDriverWorkingStates {
                working_states: d.u32(),
                door_control1: u32::from(d.u8()),
            }));
        }
        31 => {
            let speed = f64::from(d.u8()) / 10.0;
            let mut v = (0..11).map(|_| u32::from(d.u8()));
            let mut next = || v.next().unwrap_or(0);
            p.segway_ninebot = Some(Box::new(SegwayNinebot {
                speed_kmh: speed,
                internal_battery_voltage_raw: next(),
                external_battery_voltage_raw: next(),
                dry_battery_voltage_raw: next(),
                internal_battery_soc_percent: next(),
                external_battery_soc_percent: next(),
                overall_battery_soc_percent: next(),
                internal_battery_temperature1_c: next(),
                internal_battery_temperature2_c: next(),
                external_battery_temperature1_c: next(),
                external_battery_temperature2_c: next(),
                status: next(),
            }));
        }
        32 => p.environment_sensors = (0..6).map(|_| gen_sensor(d)).collect(),
        33 => p.going_green_core_v = Some(f64::from(u32::from(d.u16()) * 15) / 10_000.0),
        34 => {
            p.ecooter = Some(Box::new(Ecooter {
                soc1_percent: u32::from(d.u8()),
                soc2_percent: u32::from(d.u8()),
                temperature1_c: i32::from(d.i8()),
                temperature2_c: i32::from(d.i8()),
                current_ma: i32::from(d.i16()) * 10,
                status: u32::from(d.u8()),
            }));
        }
        35 => p.torrot_muvi = Some(Box::new(gen_torrot_muvi(d))),
        36 => {
            p.ecooter_serials = Some(Box::new(SerialPair {
                serial1: d.text(1, 16),
                serial2: d.text(1, 16),
            }));
        }
        37 => p.askoll_es2 = Some(Box::new(gen_askoll(d))),
        38 => p.cash_in_transit_status = Some(u32::from(d.u8())),
        39 => {
            p.torrot_muvi_battery = Some(Box::new(TorrotMuviBattery {
                serial1: d.text(1, 13),
                serial2: d.text(1, 13),
                cycles1: u32::from(d.u16()),
                cycles2: u32::from(d.u16()),
                distance1_km: f64::from(d.u24()) / 10.0,
                distance2_km: f64::from(d.u24()) / 10.0,
                status: u32::from(d.u8()),
            }));
        }
        40 => {
            let mut v = (0..13).map(|_| d.u24()).collect::<Vec<_>>().into_iter();
            let mut next = || v.next().unwrap_or(0);
            p.battery_statistics = Some(Box::new(BatteryStatistics {
                gnss_acquiring_s: next(),
                gnss_fixing_s: next(),
                modem_on_s: next(),
                cs_registered_s: next(),
                ps_registered_s: next(),
                pdp_active_s: next(),
                socket_open_s: next(),
                awake_s: next(),
                asleep_s: next(),
                external_power_on_s: next(),
                ble_on_s: next(),
                wake_cycles: next(),
                reports_sent: next(),
            }));
        }
        41 => p.stars_acim = Some(Box::new(gen_stars(d))),
        42 => {
            p.car2 = Some(Box::new(Car2 {
                soc_raw: u32::from(d.u16()),
                charging_mode: u32::from(d.u8()),
                seatbelt: u32::from(d.u8()),
                brake_position: u32::from(d.u16()),
                status: u32::from(d.u16()),
                faults: u32::from(d.u16()),
                can_time: Some(ts(d.u32())),
            }));
        }
        43 => {
            // Also the report's HDOP and accuracy (the decoder contract).
            let g = gen_gnss_extended(d);
            p.hdop = Some(g.hdop);
            p.accuracy_m = Some(f64::from(g.position_error_m));
            p.gnss_extended = Some(Box::new(g));
        }
        44 if layout == Layout::Legacy => {
            p.cm2010 = Some(Box::new(Cm2010 {
                soc_percent: u32::from(d.u8()),
                speed_kmh: u32::from(d.u8()),
                battery1_v: f64::from(d.u16()) / 100.0,
                battery2_v: f64::from(d.u16()) / 100.0,
                trip_distance_m: u32::from(d.u16()),
                status: u32::from(d.u8()),
            }));
        }
        44 => {
            let n = d.below(4);
            p.beacons = Some(Box::new(Beacons {
                beacons: (0..n).map(|_| gen_beacon(d)).collect(),
            }));
        }
        45 => {
            let n = d.below(4);
            p.generic_can = Some(Box::new(GenericCan {
                entries: (0..n)
                    .map(|_| CanEntry {
                        can_id: d.u32(),
                        data: d.bytes(8),
                        age_s: u32::from(d.u8()),
                    })
                    .collect(),
            }));
        }
        46 => {
            p.heinzmann = Some(Box::new(Heinzmann {
                soc_percent: u32::from(d.u8()),
                battery_v: f64::from(d.u16()) / 1000.0,
                lifetime_odometer_m: d.u32(),
                can_time_s: d.u32(),
            }));
        }
        47 => p.debug = Some(Box::new(gen_debug(d))),
        _ => unreachable!("bit {bit}"),
    }
}

fn gen_nmea(d: &mut Draw) -> Nmea2000 {
    Nmea2000 {
        fuel_level_percent: f64::from(i32::from(d.i16()) * 4) / 1000.0,
        oil_level_percent: f64::from(i32::from(d.i16()) * 4) / 1000.0,
        soc_percent: u32::from(d.u8()),
        soh_percent: u32::from(d.u8()),
        battery_capacity: u32::from(d.u16()),
        charger_on: u32::from(d.u8()),
        time_to_empty: d.u32(),
        distance_to_empty: d.u32(),
        trip_run_time: d.u32(),
        trip_fuel: u32::from(d.u16()),
        oil_pressure_pa: u32::from(d.u16()),
        oil_temperature_k: u32::from(d.u16()),
        engine_temperature_k: u32::from(d.u16()),
        alternator_voltage_v: f64::from(d.u16()) / 100.0,
        fuel_rate: u32::from(d.u16()),
        total_engine_hours: d.u32(),
        coolant_pressure: u32::from(d.u16()),
        fuel_pressure: u32::from(d.u16()),
        discrete_status1: u32::from(d.u16()),
        discrete_status2: u32::from(d.u16()),
        load_percent: u32::from(d.u8()),
        torque_percent: u32::from(d.u8()),
        water_depth_m: f64::from(d.u32()) / 100.0,
        transducer_offset_m: f64::from(d.u16()) / 1000.0,
        wind_speed_ms: f64::from(d.u16()) / 100.0,
        air_temperature_k: f64::from(d.u16()) / 100.0,
    }
}

/// One module-32 entry. The valid flag is drawn as 0x80 or 0 in the high nibble, the reading both
/// official parsers agree on (OXN tests 0x80, OXT any of 0xF0).
fn gen_sensor(d: &mut Draw) -> EnvironmentSensor {
    let kind = d.u8() & 0x0F;
    let valid = d.bool();
    let header = u8::from(valid) << 7 | kind;
    let raw = d.u16();
    let (ty, value) = match kind {
        0 => (EnvironmentSensorType::Unassigned, None),
        1 => (
            EnvironmentSensorType::Temperature,
            Some(f64::from(raw.cast_signed()) / 100.0),
        ),
        2 => (
            EnvironmentSensorType::Humidity,
            Some(f64::from(raw) / 100.0),
        ),
        3 => (EnvironmentSensorType::Light, None),
        _ => (EnvironmentSensorType::Other, None),
    };
    let mut s = EnvironmentSensor {
        header: u32::from(header),
        valid,
        raw: u32::from(raw),
        value,
        ..Default::default()
    };
    s.set_type(ty);
    s
}

fn gen_torrot_muvi(d: &mut Draw) -> TorrotMuvi {
    TorrotMuvi {
        battery1_soc_percent: u32::from(d.u8()),
        battery2_soc_percent: u32::from(d.u8()),
        battery1_current_raw: i32::from(d.i16()),
        battery2_current_raw: i32::from(d.i16()),
        battery1_voltage_raw: i32::from(d.i16()),
        battery2_voltage_raw: i32::from(d.i16()),
        battery1_user_capacity_raw: u32::from(d.u16()),
        battery2_user_capacity_raw: u32::from(d.u16()),
        battery1_rated_capacity_raw: u32::from(d.u16()),
        battery2_rated_capacity_raw: u32::from(d.u16()),
        battery1_capacity_remaining_raw: u32::from(d.u16()),
        battery2_capacity_remaining_raw: u32::from(d.u8()),
        battery1_alarm: u32::from(d.u8()),
        battery2_alarm: u32::from(d.u8()),
        battery_status: u32::from(d.u16()),
        rpm: d.u32(),
        ecu_heartbeat: u32::from(d.u8()),
        controller_temperature_c: u32::from(d.u8()),
        motor_temperature_raw: u32::from(d.u8()),
        throttle_raw: u32::from(d.u8()),
        speed_kmh: i32::from(d.i8()),
        lifetime_odometer_m: i64::from(d.i32()) * 100,
        scooter_status: u32::from(d.u8()),
        range_eco_km: u32::from(d.u8()),
        range_full_km: u32::from(d.u8()),
        driving_mode: u32::from(d.u8()),
    }
}

fn gen_askoll(d: &mut Draw) -> AskollEs2 {
    AskollEs2 {
        can_time: Some(ts(d.u32())),
        battery1_soc_percent: u32::from(d.u8()),
        battery2_soc_percent: u32::from(d.u8()),
        battery1_serial: d.u32(),
        battery2_serial: d.u32(),
        battery_temperature_c: i32::from(d.i8()),
        battery_voltage_mv: u32::from(d.u16()) * 100,
        battery_current_ma: u32::from(d.u8()) * 100,
        battery_heartbeat_flags: u32::from(d.u8()),
        speed_kmh: u32::from(d.u8()),
        lifetime_odometer_m: u64::from(d.u32()) * 100,
        trip_distance_m: u32::from(d.u16()) * 100,
        estimated_range_km: u32::from(d.u16()),
        status_2020_model: u32::from(d.u8()),
        status_2021_model: u32::from(d.u8()),
        driving_profile: u32::from(d.u8()),
        remaining_capacity_mah: u32::from(d.u16()) * 10,
        error_flags: u32::from(d.u16()),
        hdop: f64::from(d.u8()) / 10.0,
        position_error_m: u32::from(d.u8()),
    }
}

fn gen_stars(d: &mut Draw) -> StarsAcim {
    StarsAcim {
        rpm_left: i32::from(d.i16()),
        rpm_right: i32::from(d.i16()),
        motor_temperature_left_c: i32::from(d.i16()),
        motor_temperature_right_c: i32::from(d.i16()),
        controller_temperature_left_c: i32::from(d.i16()),
        controller_temperature_right_c: i32::from(d.i16()),
        battery_voltage_v: f64::from(d.i16()) / 100.0,
        battery_soc_percent: u32::from(d.u8()),
        motor_voltage_left_v: f64::from(d.i16()) / 100.0,
        motor_voltage_right_v: f64::from(d.i16()) / 100.0,
        motor_current_left_a: i32::from(d.i16()),
        motor_current_right_a: i32::from(d.i16()),
        speed_kmh: u32::from(d.u8()),
        lifetime_odometer_raw: u32::from(d.u16()),
        status: u32::from(d.u16()),
        error0: u32::from(d.u16()),
        error1: u32::from(d.u16()),
        error2: u32::from(d.u16()),
        can_time: Some(ts(d.u32())),
    }
}

fn gen_gnss_extended(d: &mut Draw) -> GnssExtended {
    GnssExtended {
        last_good_fix_time: Some(ts(d.u32())),
        latitude: latitude(d),
        longitude: longitude(d),
        speed_kmh: f64::from(d.u8()) * 2.0,
        max_speed_kmh: f64::from(d.u8()) * 2.0,
        course_deg: f64::from(d.u8()) * 2.0,
        altitude_m: f64::from(d.u8()) * 20.0,
        journey_distance_m: f64::from(d.u16()) * 100.0,
        valid_fix_percent: u32::from(d.u8()),
        satellites_in_view: u32::from(d.u8()),
        position_error_m: u32::from(d.u8()),
        hdop: f64::from(d.u8()) / 10.0,
        jammer_hits: u32::from(d.u8()),
        constellations: u32::from(d.u8()),
    }
}

/// A beacon entry: MAC rendered as colon-separated uppercase hex (the decoder contract; the
/// official parser prints the 12 digits unseparated); type 1 carries a u16 height in cm.
fn gen_beacon(d: &mut Draw) -> Beacon {
    let kind = d.below(3);
    let n = d.below(5);
    let metadata = d.bytes(n);
    Beacon {
        mac: d
            .bytes(6)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        rssi_dbm: i32::from(d.i8()),
        companion: u32::from(d.u8()),
        last_seen_s: u32::from(d.u16()),
        r#type: u32::try_from(kind).expect("type"),
        // Type 1: the height is the first two metadata bytes, if there are two.
        height_cm: match (kind, metadata.as_slice()) {
            (1, [hi, lo, ..]) => Some(u32::from(u16::from_be_bytes([*hi, *lo]))),
            _ => None,
        },
        metadata,
    }
}

/// Module 47: NV data (type 1: 2-byte inner length, then little-endian fields) or another type.
/// The payload after the type byte is always kept whole; NV data is parsed from it as well.
fn gen_debug(d: &mut Draw) -> GenericDebug {
    if d.bool() {
        let nv = DebugNvData {
            flags: u32::from(d.u16()),
            pc: d.u32(),
            lr: d.u32(),
            watchdog_levels: (0..15).map(|_| u32::from(d.u16())).collect(),
            service: d.text(1, 8),
        };
        let mut payload = d.bytes(2);
        payload.extend_from_slice(&u16::try_from(nv.flags).expect("u16").to_le_bytes());
        payload.extend_from_slice(&nv.pc.to_le_bytes());
        payload.extend_from_slice(&nv.lr.to_le_bytes());
        for &level in &nv.watchdog_levels {
            payload.extend_from_slice(&u16::try_from(level).expect("u16").to_le_bytes());
        }
        let mut service = nv.service.clone().into_bytes();
        service.resize(8, 0);
        payload.extend_from_slice(&service);
        GenericDebug {
            r#type: 1,
            nv: Some(nv),
            payload,
        }
    } else {
        let n = d.below(24);
        GenericDebug {
            r#type: 2 + u32::from(d.u8() % 200),
            nv: None,
            payload: d.bytes(n),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Round trips

fn layout(d: &mut Draw) -> Layout {
    if d.bool() {
        Layout::Current
    } else {
        Layout::Legacy
    }
}

pub fn modular(
    d: &mut Draw,
    protocol: Protocol,
    mode: XMode,
    mask: impl Fn(&mut Draw) -> u64,
) -> Result<(), TestCaseError> {
    let imei = d.imei();
    let layout = layout(d);
    let z = protocol == Protocol::Z;
    let recs = records(d, 3, |d| {
        let m = mask(d);
        gen_x_report(d, m, z, layout)
    });
    let variant = if z { Variant::Z } else { Variant::X };
    for p in &recs {
        prop_assert_eq!(module_mask_for(p, variant, layout), p.module_mask);
    }
    let opts = EncodeOptions { mode, layout };
    round_trip(protocol, &imei, recs, &opts)
}

/// Modules 0 and 1 only: what the decoder supported before the module work.
pub fn core_mask(d: &mut Draw) -> u64 {
    u64::from(d.u8() & 0b11)
}

pub fn any_mask(d: &mut Draw) -> u64 {
    (u64::from(d.u32()) << 16 | u64::from(d.u16())) & ALL_MODULES
}
