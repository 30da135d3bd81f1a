//! The 48 Protocol X modules (PROTOCOL.md §10.3, docs/oxt-module-layouts.md), written from the
//! `Position` fields the decoder fills, and the Z builds of bits 17, 19, 20, 25 and 30-38, which
//! are opaque byte runs taken from `Position.opaque_modules` (as is X bit 24, whose layout is
//! unpublished). Missing sub-messages encode as zeros of the module's size.

use super::wire::{
    Writer, accel_bytes, div, fit, geofence_byte, gps_time, hex_bytes, int, micro_degrees,
    or_default, scale, signal_byte,
};
use astra_codec::Layout;
use astra_proto::v1::{DriverIdSource, EnvironmentSensorType, InJourney, Position};

/// Which module table applies: the login line's protocol id (X or Z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    X,
    Z,
}

/// The size of a module whose Z layout differs from X (PROTOCOL.md §10.3 "Protocol Z").
pub fn z_size(bit: u8) -> Option<usize> {
    const Z: [(u8, usize); 13] = [
        (17, 17),
        (19, 10),
        (20, 19),
        (25, 6),
        (30, 1),
        (31, 25),
        (32, 46),
        (33, 38),
        (34, 106),
        (35, 9),
        (36, 31),
        (37, 26),
        (38, 71),
    ];
    Z.iter().find(|(b, _)| *b == bit).map(|&(_, n)| n)
}

/// The size of a fixed-size X module, `None` for the variable ones (44 current, 45, 47).
pub fn x_size(bit: u8, layout: Layout) -> Option<usize> {
    const X: [usize; 48] = [
        2, 18, 4, 4, 8, 1, 4, 1, 9, 12, 2, 5, 20, 18, 25, 13, 9, 25, 8, 17, 18, 3, 4, 6, 4, 73, 7,
        20, 38, 20, 5, 12, 18, 2, 9, 44, 32, 39, 6, 39, 39, 42, 22, 28, 11, 0, 13, 0,
    ];
    match (bit, layout) {
        (9, Layout::Current) => Some(8),
        (44, Layout::Current) | (45 | 47, _) => None,
        _ => X.get(usize::from(bit)).copied(),
    }
}

/// The bytes of opaque module `bit`, or an empty slice if the position has none.
fn opaque(p: &Position, bit: u8) -> &[u8] {
    p.opaque_modules
        .iter()
        .find(|m| m.bit == u32::from(bit))
        .map_or(&[], |m| &m.data[..])
}

/// Appends module `bit` of `p`.
pub fn write_module(w: &mut Writer, bit: u8, p: &Position, variant: Variant, layout: Layout) {
    if let (Variant::Z, Some(n)) = (variant, z_size(bit)) {
        w.fixed(opaque(p, bit), n, &format!("Z opaque module {bit}"));
        return;
    }
    let start = w.len();
    match bit {
        0..=8 => basic(w, bit, p),
        9..=19 => vehicle(w, bit, p, layout),
        20..=31 => accessories(w, bit, p),
        32..=43 => scooters(w, bit, p),
        44..=47 => variable(w, bit, p, layout),
        _ => panic!("module bit {bit} has no known layout"),
    }
    if let Some(n) = x_size(bit, layout) {
        debug_assert_eq!(w.len() - start, n, "module {bit} size");
    }
}

/// Bits 0-8: power, GPS, I/O, analogues, driver behaviour, signal, network, geofence, driver ID.
fn basic(w: &mut Writer, bit: u8, p: &Position) {
    match bit {
        0 => {
            w.u8(scale(
                p.external_voltage_v.unwrap_or(0.0),
                5.0,
                "external_voltage_v",
            ))
            .u8(int(p.battery_percent.unwrap_or(0), "battery_percent"));
        }
        1 => {
            w.u32(gps_time(p.fix_time.as_ref(), "fix_time"))
                .i32(micro_degrees(p.latitude, "latitude"))
                .i32(micro_degrees(p.longitude, "longitude"))
                .u8(scale(p.speed_kmh.unwrap_or(0.0), 0.5, "speed_kmh"))
                .u8(scale(p.max_speed_kmh.unwrap_or(0.0), 0.5, "max_speed_kmh"))
                .u8(scale(p.course_deg.unwrap_or(0.0), 0.5, "course_deg"))
                .u8(scale(p.altitude_m.unwrap_or(0.0), 0.05, "altitude_m"))
                .u16(scale(
                    p.journey_distance_m.unwrap_or(0.0),
                    0.01,
                    "journey_distance_m",
                ));
        }
        2 => {
            let io = or_default(&p.io);
            let half = |lo: u32, hi: u32, f: &str| -> u16 {
                let lo: u8 = int(lo, f);
                let hi: u8 = int(hi, f);
                u16::from(hi) << 8 | u16::from(lo)
            };
            w.u16(half(io.inputs, io.outputs, "io states")).u16(half(
                io.input_changes,
                io.output_changes,
                "io changes",
            ));
        }
        3 => {
            let a = or_default(&p.analog);
            w.u16(int(a.adc1_raw, "adc1_raw"))
                .u16(int(a.adc2_raw, "adc2_raw"));
        }
        4 => {
            w.bytes(&accel_bytes(p.accelerometer.as_ref()))
                .u16(int(p.idle_time_s.unwrap_or(0), "idle_time_s"));
        }
        5 => {
            w.u8(signal_byte(p.gsm_level, p.satellites));
        }
        6 => {
            w.u16(int(p.mcc.unwrap_or(0), "mcc"))
                .u16(int(p.mnc.unwrap_or(0), "mnc"));
        }
        7 => {
            w.u8(geofence_byte(p.geofence.as_ref()));
        }
        8 => {
            let source = match p.driver_id_source() {
                DriverIdSource::Unspecified | DriverIdSource::None => 0,
                DriverIdSource::Ibutton => 1,
                DriverIdSource::Rfid => 2,
                DriverIdSource::Bluetooth => 3,
                DriverIdSource::Cr002 => 4,
                DriverIdSource::Other => 5,
            };
            w.u8(source).bytes(&hex_bytes(&p.driver_id, 8, "driver_id"));
        }
        _ => unreachable!(),
    }
}

/// The last field of the in-journey modules 12, 13 and 29.
#[derive(Clone, Copy)]
enum FuelField {
    /// Module 12: u32 total fuel ×0.5 L.
    Total,
    /// Module 13: u16 journey fuel ×0.1 L.
    Journey,
    /// Module 29: u32 total fuel ×0.001 L.
    TotalHighRes,
}

fn in_journey(w: &mut Writer, j: Option<&InJourney>, fuel: FuelField) {
    let j = j.cloned().unwrap_or_default();
    w.u8(int(j.max_wheel_speed_kmh, "max_wheel_speed_kmh"))
        .u8(int(j.average_wheel_speed_kmh, "average_wheel_speed_kmh"))
        .u8(div(j.max_rpm, 32, "max_rpm"))
        .u8(div(j.average_rpm, 32, "average_rpm"))
        .u8(int(j.max_accelerator_percent, "max_accelerator_percent"))
        .u8(int(
            j.average_accelerator_percent,
            "average_accelerator_percent",
        ))
        .u8(int(j.max_load_percent, "max_load_percent"))
        .u8(int(j.average_load_percent, "average_load_percent"))
        .u16(scale(j.journey_distance_km, 10.0, "journey_distance_km"))
        .u8(int(
            i64::from(j.engine_temperature_c) + 40,
            "engine_temperature_c",
        ))
        .u16(int(j.status, "in-journey status"))
        .u16(int(j.events, "in-journey events"))
        .u8(int(j.fuel_level_raw, "fuel_level_raw"));
    match fuel {
        FuelField::Total => w.u32(scale(j.total_fuel_l.unwrap_or(0.0), 2.0, "total_fuel_l")),
        FuelField::Journey => w.u16(scale(
            j.journey_fuel_l.unwrap_or(0.0),
            10.0,
            "journey_fuel_l",
        )),
        FuelField::TotalHighRes => {
            w.u32(scale(j.total_fuel_l.unwrap_or(0.0), 1000.0, "total_fuel_l"))
        }
    };
}

/// Bits 9-19: trailer ID / alcohol test, FMS and OBD data, refrigeration, 1-Wire probes.
fn vehicle(w: &mut Writer, bit: u8, p: &Position, layout: Layout) {
    match bit {
        9 if layout == Layout::Legacy => {
            let t = or_default(&p.trailer_id);
            w.u8(int(t.source, "trailer source"))
                .ascii(&t.trailer_id, 10)
                .u8(int(t.status, "trailer status"));
        }
        9 => {
            let a = or_default(&p.alcohol_test);
            w.u8(int(a.status, "alcohol status"))
                .u16(int(a.result_ug_per_l, "alcohol result"))
                .zeros(5);
        }
        10 => {
            w.u16(int(p.axle_weight_kg.unwrap_or(0), "axle_weight_kg"));
        }
        11 => {
            w.u24(super::k::odometer_km(p))
                .u16(int(p.engine_hours.unwrap_or(0), "engine_hours"));
        }
        12 => in_journey(w, p.fms_in_journey.as_deref(), FuelField::Total),
        13 => in_journey(w, p.obd_in_journey.as_deref(), FuelField::Journey),
        14 => {
            assert!(p.obd_dtcs.len() <= 5, "at most 5 OBD DTCs");
            for i in 0..5 {
                w.ascii(p.obd_dtcs.get(i).map_or("", String::as_str), 5);
            }
        }
        15 => {
            let s = or_default(&p.fms_journey_stop);
            w.u24(s.lifetime_odometer_km)
                .u16(int(s.lifetime_running_hours, "lifetime_running_hours"))
                .u16(int(s.axle_weight_kg, "axle_weight_kg"))
                .u16(scale(s.journey_fuel_l, 10.0, "journey_fuel_l"))
                .u16(int(s.cruise_control_time_s, "cruise_control_time_s"))
                .u16(div(s.service_distance_km, 5, "service_distance_km"));
        }
        16 => {
            let s = or_default(&p.obd_journey_stop);
            w.u24(s.lifetime_odometer_km)
                .u16(int(s.running_hours, "running_hours"))
                .u16(int(s.time_with_mil_on, "time_with_mil_on"))
                .u16(int(s.distance_with_mil_on, "distance_with_mil_on"));
        }
        17 => {
            let c = or_default(&p.carrier_temperatures);
            assert!(c.return_temperatures_c.len() <= 6 && c.setpoints_c.len() <= 3);
            for i in 0..6 {
                let t = c.return_temperatures_c.get(i).copied().unwrap_or(0.0);
                w.i16(scale(t, 10.0, "return temperature"));
            }
            for i in 0..3 {
                let t = c.setpoints_c.get(i).copied().unwrap_or(0.0);
                w.i8(scale(t, 2.0, "setpoint"));
            }
            w.u8(int(c.fuel_level_raw, "carrier fuel level"))
                .u16(int(c.engine_hours, "carrier engine hours"))
                .u16(int(c.standby_hours, "carrier standby hours"))
                .u16(int(c.status_mask, "carrier status mask"))
                .u24(c.alarm_flags);
        }
        18 => {
            assert!(p.one_wire_temperatures_c.len() <= 4, "at most 4 probes");
            for i in 0..4 {
                // (raw − 550) / 10 °C, the reading PROTOCOL.md infers as right.
                let t = p.one_wire_temperatures_c.get(i).copied().unwrap_or(-55.0);
                let tenths: i64 = scale(t, 10.0, "1-Wire temperature");
                w.u16(fit(tenths + 550, "1-Wire temperature"));
            }
        }
        19 => {
            let a = or_default(&p.carrier_alarms);
            w.u8(int(a.count, "alarm count"))
                .fixed(&a.queue, 16, "alarm queue");
        }
        _ => unreachable!(),
    }
}

/// Bits 20-31: e-bike, gritters, weights, NMEA 2000, SIM identity, FMS driver data, Segway.
fn accessories(w: &mut Writer, bit: u8, p: &Position) {
    match bit {
        20 => {
            let r = or_default(&p.rayvolt);
            w.u32(r.controller_uid)
                .u16(int(r.firmware_version, "rayvolt firmware"))
                .u16(int(r.boot_version, "rayvolt boot"))
                .u16(int(r.error_flags, "rayvolt errors"))
                .u8(int(r.soc_percent, "rayvolt soc"))
                .u8(scale(r.battery_voltage_v, 4.0, "rayvolt voltage"))
                .i8(int(r.controller_temperature_c, "rayvolt temperature"))
                .u8(scale(r.speed_kmh, 2.0, "rayvolt speed"))
                .u16(int(r.status, "rayvolt status"))
                .zeros(2);
        }
        21 => {
            w.u24(p.econ_status.unwrap_or(0));
        }
        22 => {
            let g = or_default(&p.gritter);
            w.u8(int(g.plough_mode, "plough mode"))
                .u8(int(g.spreader_mode, "spreader mode"))
                .u8(scale(g.spinner_width_m, 10.0, "spinner width"))
                .u8(int(g.rate_g_m2, "spread rate"));
        }
        23 => {
            let r = or_default(&p.redforge_weight);
            for (v, f) in [
                (r.front, "front"),
                (r.rear, "rear"),
                (r.gross, "gross"),
                (r.status, "status"),
                (r.fault1, "fault1"),
                (r.fault2, "fault2"),
            ] {
                w.u8(int(v, f));
            }
        }
        24 => {
            w.fixed(opaque(p, 24), 4, "opaque module 24");
        }
        25 => nmea2000(w, p),
        26 => {
            let s = or_default(&p.sim_imsi);
            if s.raw.is_empty() && !s.imsi.is_empty() {
                let v: u64 = s.imsi.parse().expect("sim_imsi.imsi is decimal");
                assert!(v < 1 << 56, "IMSI exceeds 7 bytes");
                w.bytes(&v.to_be_bytes()[1..]);
            } else {
                w.fixed(&s.raw, 7, "sim_imsi.raw");
            }
        }
        27 => {
            w.ascii(&p.sim_iccid, 20);
        }
        28 => {
            let d = or_default(&p.fms_driver_ids);
            w.ascii(&d.serial1, 19).ascii(&d.serial2, 19);
        }
        29 => in_journey(
            w,
            p.fms_in_journey_high_res.as_deref(),
            FuelField::TotalHighRes,
        ),
        30 => {
            let s = or_default(&p.fms_driver_working_states);
            w.u32(s.working_states)
                .u8(int(s.door_control1, "door control 1"));
        }
        31 => {
            let s = or_default(&p.segway_ninebot);
            w.u8(scale(s.speed_kmh, 10.0, "segway speed"));
            for (v, f) in [
                (s.internal_battery_voltage_raw, "internal voltage"),
                (s.external_battery_voltage_raw, "external voltage"),
                (s.dry_battery_voltage_raw, "dry voltage"),
                (s.internal_battery_soc_percent, "internal soc"),
                (s.external_battery_soc_percent, "external soc"),
                (s.overall_battery_soc_percent, "overall soc"),
                (s.internal_battery_temperature1_c, "internal temperature 1"),
                (s.internal_battery_temperature2_c, "internal temperature 2"),
                (s.external_battery_temperature1_c, "external temperature 1"),
                (s.external_battery_temperature2_c, "external temperature 2"),
                (s.status, "segway status"),
            ] {
                w.u8(int(v, f));
            }
        }
        _ => unreachable!(),
    }
}

fn nmea2000(w: &mut Writer, p: &Position) {
    let n = or_default(&p.nmea2000);
    w.i16(scale(n.fuel_level_percent, 250.0, "fuel level ×0.004 %"))
        .i16(scale(n.oil_level_percent, 250.0, "oil level ×0.004 %"))
        .u8(int(n.soc_percent, "nmea soc"))
        .u8(int(n.soh_percent, "nmea soh"))
        .u16(int(n.battery_capacity, "battery capacity"))
        .u8(int(n.charger_on, "charger"))
        .u32(n.time_to_empty)
        .u32(n.distance_to_empty)
        .u32(n.trip_run_time)
        .u16(int(n.trip_fuel, "trip fuel"))
        .u16(int(n.oil_pressure_pa, "oil pressure"))
        .u16(int(n.oil_temperature_k, "oil temperature"))
        .u16(int(n.engine_temperature_k, "engine temperature"))
        .u16(scale(n.alternator_voltage_v, 100.0, "alternator ×10 mV"))
        .u16(int(n.fuel_rate, "fuel rate"))
        .u32(n.total_engine_hours)
        .u16(int(n.coolant_pressure, "coolant pressure"))
        .u16(int(n.fuel_pressure, "fuel pressure"))
        .u16(int(n.discrete_status1, "discrete status 1"))
        .u16(int(n.discrete_status2, "discrete status 2"))
        .u8(int(n.load_percent, "load"))
        .u8(int(n.torque_percent, "torque"))
        .u32(scale(n.water_depth_m, 100.0, "water depth ×0.01 m"))
        .u16(scale(
            n.transducer_offset_m,
            1000.0,
            "transducer offset ×0.001 m",
        ))
        .u16(scale(n.wind_speed_ms, 100.0, "wind speed ×0.01 m/s"))
        .u16(scale(n.air_temperature_k, 100.0, "air temperature ×0.01 K"))
        .zeros(16);
}

/// Bits 32-43: environment sensors, scooters, cash-in-transit, battery statistics, CAN vehicles,
/// GNSS extended.
fn scooters(w: &mut Writer, bit: u8, p: &Position) {
    match bit {
        32 => {
            assert!(p.environment_sensors.len() <= 6, "at most 6 sensors");
            for i in 0..6 {
                let Some(s) = p.environment_sensors.get(i) else {
                    w.zeros(3);
                    continue;
                };
                let value: u16 = match (s.r#type(), s.value) {
                    (EnvironmentSensorType::Temperature, Some(v)) => {
                        scale::<i16>(v, 100.0, "sensor temperature").cast_unsigned()
                    }
                    (EnvironmentSensorType::Humidity, Some(v)) => {
                        scale(v, 100.0, "sensor humidity")
                    }
                    _ => int(s.raw, "sensor raw"),
                };
                w.u8(int(s.header, "sensor header")).u16(value);
            }
        }
        33 => {
            let v = p.going_green_core_v.unwrap_or(0.0);
            w.u16(scale(v, 10_000.0 / 15.0, "going green ×0.0015 V"));
        }
        34 => {
            let e = or_default(&p.ecooter);
            w.u8(int(e.soc1_percent, "ecooter soc1"))
                .u8(int(e.soc2_percent, "ecooter soc2"))
                .i8(int(e.temperature1_c, "ecooter temperature1"))
                .i8(int(e.temperature2_c, "ecooter temperature2"))
                .i16(div(e.current_ma, 10, "ecooter current ×10 mA"))
                .u8(int(e.status, "ecooter status"))
                .zeros(2);
        }
        35 => torrot_muvi(w, p),
        36 => {
            let s = or_default(&p.ecooter_serials);
            w.ascii(&s.serial1, 16).ascii(&s.serial2, 16);
        }
        37 => askoll(w, p),
        38 => {
            w.u8(int(
                p.cash_in_transit_status.unwrap_or(0),
                "cash-in-transit",
            ))
            .zeros(5);
        }
        39 => {
            let b = or_default(&p.torrot_muvi_battery);
            w.ascii(&b.serial1, 13)
                .ascii(&b.serial2, 13)
                .u16(int(b.cycles1, "cycles1"))
                .u16(int(b.cycles2, "cycles2"))
                .u24(scale(b.distance1_km, 10.0, "distance1 ×0.1 km"))
                .u24(scale(b.distance2_km, 10.0, "distance2 ×0.1 km"))
                .u8(int(b.status, "muvi battery status"))
                .zeros(2);
        }
        40 => {
            let s = or_default(&p.battery_statistics);
            for v in [
                s.gnss_acquiring_s,
                s.gnss_fixing_s,
                s.modem_on_s,
                s.cs_registered_s,
                s.ps_registered_s,
                s.pdp_active_s,
                s.socket_open_s,
                s.awake_s,
                s.asleep_s,
                s.external_power_on_s,
                s.ble_on_s,
                s.wake_cycles,
                s.reports_sent,
            ] {
                w.u24(v);
            }
        }
        41 => stars_acim(w, p),
        42 => {
            let c = or_default(&p.car2);
            w.u16(int(c.soc_raw, "car2 soc"))
                .u8(int(c.charging_mode, "car2 charging mode"))
                .u8(int(c.seatbelt, "car2 seatbelt"))
                .u16(int(c.brake_position, "car2 brake"))
                .u16(int(c.status, "car2 status"))
                .u16(int(c.faults, "car2 faults"))
                .u32(gps_time(c.can_time.as_ref(), "car2 can_time"))
                .zeros(8);
        }
        43 => {
            let g = or_default(&p.gnss_extended);
            w.u32(gps_time(
                g.last_good_fix_time.as_ref(),
                "last_good_fix_time",
            ))
            .i32(micro_degrees(Some(g.latitude), "gnss latitude"))
            .i32(micro_degrees(Some(g.longitude), "gnss longitude"))
            .u8(scale(g.speed_kmh, 0.5, "gnss speed"))
            .u8(scale(g.max_speed_kmh, 0.5, "gnss max speed"))
            .u8(scale(g.course_deg, 0.5, "gnss course"))
            .u8(scale(g.altitude_m, 0.05, "gnss altitude"))
            .u16(scale(g.journey_distance_m, 0.01, "gnss journey ×100 m"))
            .u8(int(g.valid_fix_percent, "valid fix %"))
            .u8(int(g.satellites_in_view, "satellites in view"))
            .u8(int(g.position_error_m, "position error"))
            .u8(scale(g.hdop, 10.0, "hdop ×0.1"))
            .u8(int(g.jammer_hits, "jammer hits"))
            .u8(int(g.constellations, "constellations"))
            .zeros(4);
        }
        _ => unreachable!(),
    }
}

fn torrot_muvi(w: &mut Writer, p: &Position) {
    let t = or_default(&p.torrot_muvi);
    w.u8(int(t.battery1_soc_percent, "muvi soc1"))
        .u8(int(t.battery2_soc_percent, "muvi soc2"))
        .i16(int(t.battery1_current_raw, "muvi current1"))
        .i16(int(t.battery2_current_raw, "muvi current2"))
        .i16(int(t.battery1_voltage_raw, "muvi voltage1"))
        .i16(int(t.battery2_voltage_raw, "muvi voltage2"))
        .u16(int(t.battery1_user_capacity_raw, "muvi user capacity1"))
        .u16(int(t.battery2_user_capacity_raw, "muvi user capacity2"))
        .u16(int(t.battery1_rated_capacity_raw, "muvi rated capacity1"))
        .u16(int(t.battery2_rated_capacity_raw, "muvi rated capacity2"))
        .u16(int(t.battery1_capacity_remaining_raw, "muvi remaining1"))
        .u8(int(
            t.battery2_capacity_remaining_raw,
            "muvi remaining2 (1 byte)",
        ))
        .u8(int(t.battery1_alarm, "muvi alarm1"))
        .u8(int(t.battery2_alarm, "muvi alarm2"))
        .u16(int(t.battery_status, "muvi battery status"))
        .u32(t.rpm)
        .u8(int(t.ecu_heartbeat, "muvi heartbeat"))
        .u8(int(
            t.controller_temperature_c,
            "muvi controller temperature",
        ))
        .u8(int(t.motor_temperature_raw, "muvi motor temperature"))
        .u8(int(t.throttle_raw, "muvi throttle"))
        .i8(int(t.speed_kmh, "muvi speed"))
        .i32(div(t.lifetime_odometer_m, 100, "muvi odometer ×100 m"))
        .u8(int(t.scooter_status, "muvi scooter status"))
        .u8(int(t.range_eco_km, "muvi range eco"))
        .u8(int(t.range_full_km, "muvi range full"))
        .u8(int(t.driving_mode, "muvi driving mode"))
        .zeros(2);
}

fn askoll(w: &mut Writer, p: &Position) {
    let a = or_default(&p.askoll_es2);
    let odometer = i64::try_from(a.lifetime_odometer_m).unwrap_or(i64::MAX);
    w.u32(gps_time(a.can_time.as_ref(), "askoll can_time"))
        .u8(int(a.battery1_soc_percent, "askoll soc1"))
        .u8(int(a.battery2_soc_percent, "askoll soc2"))
        .u32(a.battery1_serial)
        .u32(a.battery2_serial)
        .i8(int(a.battery_temperature_c, "askoll temperature"))
        .u16(div(a.battery_voltage_mv, 100, "askoll voltage ×100 mV"))
        .u8(div(a.battery_current_ma, 100, "askoll current ×100 mA"))
        .u8(int(a.battery_heartbeat_flags, "askoll heartbeat"))
        .u8(int(a.speed_kmh, "askoll speed"))
        .u32(div(odometer, 100, "askoll odometer ×100 m"))
        .u16(div(a.trip_distance_m, 100, "askoll trip ×100 m"))
        .u16(int(a.estimated_range_km, "askoll range"))
        .u8(int(a.status_2020_model, "askoll status 2020"))
        .u8(int(a.status_2021_model, "askoll status 2021"))
        .u8(int(a.driving_profile, "askoll profile"))
        .u16(div(a.remaining_capacity_mah, 10, "askoll capacity ×10 mAh"))
        .u16(int(a.error_flags, "askoll errors"))
        .u8(scale(a.hdop, 10.0, "askoll hdop ×0.1"))
        .u8(int(a.position_error_m, "askoll position error"))
        .zeros(2);
}

fn stars_acim(w: &mut Writer, p: &Position) {
    let s = or_default(&p.stars_acim);
    w.i16(int(s.rpm_left, "rpm left"))
        .i16(int(s.rpm_right, "rpm right"))
        .i16(int(s.motor_temperature_left_c, "motor temperature left"))
        .i16(int(s.motor_temperature_right_c, "motor temperature right"))
        .i16(int(
            s.controller_temperature_left_c,
            "controller temperature left",
        ))
        .i16(int(
            s.controller_temperature_right_c,
            "controller temperature right",
        ))
        .i16(scale(s.battery_voltage_v, 100.0, "battery ÷100 V"))
        .u8(int(s.battery_soc_percent, "stars soc"))
        .i16(scale(s.motor_voltage_left_v, 100.0, "motor voltage left"))
        .i16(scale(s.motor_voltage_right_v, 100.0, "motor voltage right"))
        .i16(int(s.motor_current_left_a, "motor current left"))
        .i16(int(s.motor_current_right_a, "motor current right"))
        .u8(int(s.speed_kmh, "stars speed"))
        .u16(int(s.lifetime_odometer_raw, "stars odometer"))
        .u16(int(s.status, "stars status"))
        .u16(int(s.error0, "stars error0"))
        .u16(int(s.error1, "stars error1"))
        .u16(int(s.error2, "stars error2"))
        .u32(gps_time(s.can_time.as_ref(), "stars can_time"))
        .zeros(4);
}

/// Bits 44-47: CM2010 / beacons (by layout), generic CAN, Heinzmann, generic debug.
fn variable(w: &mut Writer, bit: u8, p: &Position, layout: Layout) {
    match bit {
        44 if layout == Layout::Legacy => {
            let c = or_default(&p.cm2010);
            w.u8(int(c.soc_percent, "cm2010 soc"))
                .u8(int(c.speed_kmh, "cm2010 speed"))
                .u16(scale(c.battery1_v, 100.0, "cm2010 battery1 ÷100 V"))
                .u16(scale(c.battery2_v, 100.0, "cm2010 battery2 ÷100 V"))
                .u16(int(c.trip_distance_m, "cm2010 trip"))
                .u8(int(c.status, "cm2010 status"))
                .zeros(2);
        }
        44 => beacons(w, p),
        45 => {
            let entries = or_default(&p.generic_can).entries;
            w.u16(int(6 + 13 * entries.len() as i64, "generic CAN length"))
                .zeros(4);
            for e in &entries {
                w.u32(e.can_id)
                    .fixed(&e.data, 8, "CAN data")
                    .u8(int(e.age_s, "CAN data age"));
            }
        }
        46 => {
            let h = or_default(&p.heinzmann);
            w.u8(int(h.soc_percent, "heinzmann soc"))
                .u16(scale(h.battery_v, 1000.0, "heinzmann battery ÷1000 V"))
                .u32(h.lifetime_odometer_m)
                .u32(h.can_time_s)
                .zeros(2);
        }
        47 => debug(w, p),
        _ => unreachable!(),
    }
}

/// Bit 44, current layout: u8 count, u16 entry bytes, 4 reserved, then the entries.
fn beacons(w: &mut Writer, p: &Position) {
    let list = or_default(&p.beacons).beacons;
    let mut entries = Writer::new();
    for b in &list {
        let mac: String = b.mac.chars().filter(|c| !matches!(c, ':' | '-')).collect();
        let metadata = match (b.metadata.is_empty(), b.height_cm) {
            (true, Some(h)) => int::<u16>(h, "beacon height").to_be_bytes().to_vec(),
            _ => b.metadata.clone(),
        };
        entries
            .bytes(&hex_bytes(&mac, 6, "beacon mac"))
            .i8(int(b.rssi_dbm, "beacon rssi"))
            .u8(int(b.companion, "beacon companion"))
            .u16(int(b.last_seen_s, "beacon last seen"))
            .u8(int(b.r#type, "beacon type"))
            .u8(int(metadata.len() as i64, "beacon metadata length"))
            .bytes(&metadata);
    }
    let entries = entries.into_bytes();
    w.u8(int(list.len() as i64, "beacon count"))
        .u16(int(entries.len() as i64, "beacon bytes"))
        .zeros(4)
        .bytes(&entries);
}

/// Bit 47: u16 N, then N bytes: u8 type and its payload. `payload` is written as sent when
/// present; otherwise NV data (type 1) is built from `nv`: a 2-byte inner length, then
/// little-endian fields (PROTOCOL.md §10.3).
fn debug(w: &mut Writer, p: &Position) {
    let d = or_default(&p.debug);
    let payload = match (&d.nv, d.r#type) {
        (Some(nv), 1) if d.payload.is_empty() => nv_payload(nv),
        _ => d.payload.clone(),
    };
    w.u16(int(1 + payload.len() as i64, "debug length"))
        .u8(int(d.r#type, "debug type"))
        .bytes(&payload);
}

/// The 50-byte NV-data payload of module 47.
pub fn nv_payload(nv: &astra_proto::v1::DebugNvData) -> Vec<u8> {
    assert!(nv.watchdog_levels.len() <= 15, "at most 15 watchdog levels");
    let mut n = Writer::new();
    n.u16_le(48)
        .u16_le(int(nv.flags, "nv flags"))
        .u32_le(nv.pc)
        .u32_le(nv.lr);
    for i in 0..15 {
        let level = nv.watchdog_levels.get(i).copied().unwrap_or(0);
        n.u16_le(int(level, "watchdog level"));
    }
    n.ascii(&nv.service, 8);
    n.into_bytes()
}

/// The module mask that carries every field set in `p`, for callers (the simulator) that fill a
/// `Position` and let the encoder pick the modules. Z-specific and X bit 24 modules come from
/// `opaque_modules`; with `variant` Z the X meanings of the Z-specific bits are not considered.
pub fn module_mask_for(p: &Position, variant: Variant, layout: Layout) -> u64 {
    let present: [bool; 48] = [
        p.external_voltage_v.is_some() || p.battery_percent.is_some(),
        p.latitude.is_some() || p.longitude.is_some() || p.fix_time.is_some(),
        p.io.is_some(),
        p.analog.is_some(),
        p.accelerometer.is_some() || p.idle_time_s.is_some(),
        p.satellites.is_some() || p.gsm_level.is_some(),
        p.mcc.is_some() || p.mnc.is_some(),
        p.geofence.is_some(),
        !p.driver_id.is_empty(),
        match layout {
            Layout::Legacy => p.trailer_id.is_some(),
            Layout::Current => p.alcohol_test.is_some(),
        },
        p.axle_weight_kg.is_some(),
        p.odometer_m.is_some() || p.engine_hours.is_some(),
        p.fms_in_journey.is_some(),
        p.obd_in_journey.is_some(),
        !p.obd_dtcs.is_empty(),
        p.fms_journey_stop.is_some(),
        p.obd_journey_stop.is_some(),
        p.carrier_temperatures.is_some(),
        !p.one_wire_temperatures_c.is_empty(),
        p.carrier_alarms.is_some(),
        p.rayvolt.is_some(),
        p.econ_status.is_some(),
        p.gritter.is_some(),
        p.redforge_weight.is_some(),
        false, // 24: opaque
        p.nmea2000.is_some(),
        p.sim_imsi.is_some(),
        !p.sim_iccid.is_empty(),
        p.fms_driver_ids.is_some(),
        p.fms_in_journey_high_res.is_some(),
        p.fms_driver_working_states.is_some(),
        p.segway_ninebot.is_some(),
        !p.environment_sensors.is_empty(),
        p.going_green_core_v.is_some(),
        p.ecooter.is_some(),
        p.torrot_muvi.is_some(),
        p.ecooter_serials.is_some(),
        p.askoll_es2.is_some(),
        p.cash_in_transit_status.is_some(),
        p.torrot_muvi_battery.is_some(),
        p.battery_statistics.is_some(),
        p.stars_acim.is_some(),
        p.car2.is_some(),
        p.gnss_extended.is_some(),
        match layout {
            Layout::Legacy => p.cm2010.is_some(),
            Layout::Current => p.beacons.is_some(),
        },
        p.generic_can.is_some(),
        p.heinzmann.is_some(),
        p.debug.is_some(),
    ];
    let mut mask = 0u64;
    for (bit, &set) in (0u8..).zip(&present) {
        let z_specific = variant == Variant::Z && z_size(bit).is_some();
        if set && !z_specific {
            mask |= 1 << bit;
        }
    }
    for m in &p.opaque_modules {
        let bit = u8::try_from(m.bit).unwrap_or(u8::MAX);
        if bit == 24 || (variant == Variant::Z && z_size(bit).is_some()) {
            mask |= 1 << bit;
        }
    }
    mask
}
