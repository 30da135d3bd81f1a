//! Round trips through the test encoder and the decoder: random records of every protocol (and,
//! for X/Z, random module sets over bits 0-47 in both firmware layouts) are encoded, decoded and
//! compared with the original `Position`, which the generators build exactly as the decoder
//! contract defines the derived fields. A few fixed examples pin the encoder's bytes to
//! hand-written hex, two of them captured device frames.
//!
//! The generators draw every wire field as a raw integer from proptest bytes and derive the
//! `Position` from it (doubles as integer arithmetic and one division), so every value is
//! representable and compares bit-exactly.

use astra_decoder::codec::login::parse_login;
use astra_decoder::codec::{DecodeOptions, Layout, decode_frame};
use astra_proto::Timestamp;
use astra_proto::v1::{
    Accelerometer, AlcoholTest, Analog, AskollEs2, BatteryStatistics, Beacon, Beacons, CanEntry,
    Car2, CarrierAlarms, CarrierTemperatures, Cm2010, DebugNvData, DigitalIo, DriverIdSource,
    Ecooter, EnvironmentSensor, EnvironmentSensorType, FmsDriverWorkingStates, FmsJourneyStop,
    GenericCan, GenericDebug, GeofenceReport, GnssExtended, Gritter, Heinzmann, InJourney,
    LoginInfo, Nmea2000, ObdJourneyStop, OpaqueModule, Position, Rayvolt, RedforgeWeight,
    SegwayNinebot, SerialPair, SimImsi, StarsAcim, Status, TorrotMuvi, TorrotMuviBattery,
    TrailerId, VehicleCan,
};
use astra_tests::encoder::x_modules::{Variant, module_mask_for, nv_payload, z_size};
use astra_tests::encoder::{
    EncodeOptions, Protocol, XMode, encode, frame, imei_bytes, luhn_complete,
};
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------
// Raw draws

/// Wire-level values drawn from proptest bytes; past the end every draw is zero (shrinking
/// bytes towards zero shrinks the records towards all-zero fields).
#[derive(Clone)]
struct Draw {
    bytes: Vec<u8>,
    pos: usize,
}

impl std::fmt::Debug for Draw {
    /// The bytes up to the last non-zero one, in hex (shrunk cases are mostly zeros).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self
            .bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        write!(f, "Draw({})", hex::encode(&self.bytes[..end]))
    }
}

impl Draw {
    fn u8(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.u8())
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
    fn i8(&mut self) -> i8 {
        i8::from_be_bytes(self.array())
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.array())
    }
    fn u24(&mut self) -> u32 {
        let [a, b, c] = self.array();
        u32::from_be_bytes([0, a, b, c])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.array())
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).expect("range");
        lo + i64::try_from(u64::from(self.u32()) % span).expect("span")
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.range(0, i64::try_from(n).expect("n") - 1)).expect("index")
    }
    /// Text of `min..=max` characters from [A-Z0-9] (no padding characters, which the decoder
    /// trims from fixed-width ASCII fields).
    fn text(&mut self, min: usize, max: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let len = min + self.below(max - min + 1);
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }
    fn imei(&mut self) -> String {
        let prefix: String = (0..14)
            .map(|_| char::from(b'0' + u8::try_from(self.below(10)).expect("digit")))
            .collect();
        luhn_complete(&prefix)
    }
}

fn draw() -> impl Strategy<Value = Draw> {
    prop::collection::vec(any::<u8>(), 4096).prop_map(|bytes| Draw { bytes, pos: 0 })
}

// ------------------------------------------------------------------------------------------
// The decoder contract for derived fields (PROTOCOL.md §§2, 4, 5; protocol/common.rs)

const GPS_EPOCH_UNIX: i64 = 315_964_800;

fn ts(raw: u32) -> Timestamp {
    Timestamp {
        seconds: GPS_EPOCH_UNIX + i64::from(raw),
        nanos: 0,
    }
}

fn degrees(micro: i32) -> f64 {
    f64::from(micro) / 1e6
}

fn latitude(d: &mut Draw) -> f64 {
    degrees(i32::try_from(d.range(-90_000_000, 90_000_000)).expect("lat"))
}

fn longitude(d: &mut Draw) -> f64 {
    degrees(i32::try_from(d.range(-180_000_000, 180_000_000)).expect("lon"))
}

/// Reason bit n is enum value n + 1; every bit 0-31 has a name.
fn set_reasons(p: &mut Position, flags: u32) {
    p.reason_flags = flags;
    p.reasons = (0..32)
        .filter(|b| flags >> b & 1 == 1)
        .map(|b| b + 1)
        .collect();
}

/// X status meanings (applied to K/M/V too): ignition bit 0, GPS invalid bit 2, stored bit 5.
fn set_status(p: &mut Position, flags: u16) {
    let bit = |n: u16| flags >> n & 1 == 1;
    p.status_flags = u32::from(flags);
    p.ignition = bit(0);
    p.valid = !bit(2);
    p.stored = bit(5);
    p.status = Some(Status {
        ignition: bit(0),
        private_mode: bit(1),
        gps_invalid: bit(2),
        roaming: bit(3),
        more_reports_follow: bit(4),
        stored: bit(5),
        immobilised: bit(6),
        serial_device_error: bit(7),
        jammer_detected: bit(8),
        luggage_locked: bit(9),
        backup_battery_charging: bit(10),
        extra_block: false,
    });
}

/// Signal byte: satellites low nibble, GSM level high nibble, dBm = −111 + 4·level.
fn set_signal(p: &mut Position, byte: u8) {
    let level = byte >> 4;
    p.satellites = Some(u32::from(byte & 0x0F));
    p.gsm_level = Some(u32::from(level));
    p.gsm_dbm = Some(-111 + 4 * i32::from(level));
}

fn geofence(byte: u8) -> GeofenceReport {
    GeofenceReport {
        raw: u32::from(byte),
        entry: byte & 0x80 != 0,
        index: u32::from(byte & 0x7F),
    }
}

fn accelerometer(raw: [u8; 6]) -> Accelerometer {
    let v = raw.map(|b| f64::from(b) / 10.0);
    Accelerometer {
        x_max_ms2: v[0],
        x_min_ms2: v[1],
        y_max_ms2: v[2],
        y_min_ms2: v[3],
        z_max_ms2: v[4],
        z_min_ms2: v[5],
        raw: raw.to_vec(),
    }
}

fn hex_upper(b: &[u8]) -> String {
    hex::encode_upper(b)
}

// ------------------------------------------------------------------------------------------
// C, K, M, V records

/// The fields K, M and V share after the status word (PROTOCOL.md §§6-8): battery, supply,
/// max speed, accelerometer, journey distance, idle time, altitude, signal, geofence.
fn legacy_tail(d: &mut Draw, p: &mut Position) {
    p.battery_percent = Some(u32::from(d.u8()));
    p.external_voltage_v = Some(f64::from(d.u8()) / 5.0);
    p.max_speed_kmh = Some(f64::from(d.u8()) * 2.0);
    p.accelerometer = Some(accelerometer(d.array()));
    p.journey_distance_m = Some(f64::from(d.u16()) * 100.0);
    p.idle_time_s = Some(u32::from(d.u16()));
    p.altitude_m = Some(f64::from(d.u8()) * 20.0);
    set_signal(p, d.u8());
    p.geofence = Some(geofence(d.u8()));
}

/// Sequence, position, single time, speed, course, u24 reason and u16 status of K and M.
/// `extra` forces status bit 8 (the extra block) on or off; `None` draws it.
fn km_head(d: &mut Draw, protocol: &str, extra: Option<bool>) -> (Position, bool) {
    let mut p = Position {
        protocol: protocol.to_owned(),
        sequence: u32::from(d.u8()),
        latitude: Some(latitude(d)),
        longitude: Some(longitude(d)),
        ..Default::default()
    };
    let t = ts(d.u32());
    p.device_time = Some(t);
    p.fix_time = Some(t);
    p.speed_kmh = Some(f64::from(d.u8()) * 2.0);
    p.course_deg = Some(f64::from(d.u8()) * 2.0);
    set_reasons(&mut p, d.u24());
    let extra = extra.unwrap_or_else(|| d.bool());
    set_status(&mut p, d.u16() & !0x100 | u16::from(extra) << 8);
    (p, extra)
}

/// K/M extra block: 7-byte driver ID, u24 odometer km, u16 hours.
fn km_extra(d: &mut Draw, p: &mut Position) {
    if let Some(s) = p.status.as_mut() {
        s.extra_block = true;
    }
    p.driver_id = hex_upper(&d.bytes(7));
    p.odometer_m = Some(u64::from(d.u24()) * 1000);
    p.engine_hours = Some(u32::from(d.u16()));
}

fn gen_k(d: &mut Draw, extra: Option<bool>) -> Position {
    let (mut p, extra) = km_head(d, "K", extra);
    p.io = Some(DigitalIo {
        raw: u32::from(d.u8()),
        ..Default::default()
    });
    let adc1 = d.u8();
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc1_v: Some(f64::from(adc1) / 50.0),
        ..Default::default()
    });
    legacy_tail(d, &mut p);
    if extra {
        km_extra(d, &mut p);
    }
    p
}

fn gen_m(d: &mut Draw) -> Position {
    let (mut p, extra) = km_head(d, "M", None);
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
    legacy_tail(d, &mut p);
    if extra {
        km_extra(d, &mut p);
    }
    p
}

/// V record size selector: basic (72), extra block (86), extra block + journey stop (98).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VSize {
    Basic,
    Extra,
    ExtraStop,
}

fn gen_v(d: &mut Draw, size: VSize) -> Position {
    let mut p = Position {
        protocol: "V".to_owned(),
        sequence: u32::from(d.u8()),
        device_time: Some(ts(d.u32())),
        latitude: Some(latitude(d)),
        longitude: Some(longitude(d)),
        fix_time: Some(ts(d.u32())),
        speed_kmh: Some(f64::from(d.u8()) * 2.0),
        course_deg: Some(f64::from(d.u8()) * 2.0),
        ..Default::default()
    };
    let stop = match size {
        VSize::Basic => d.u24() & 0x80,
        VSize::Extra => 0,
        VSize::ExtraStop => 0x80,
    };
    set_reasons(&mut p, d.u24() & !0x80 | stop);
    let extra = u16::from(size != VSize::Basic) << 8;
    set_status(&mut p, d.u16() & !0x100 | extra);
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
    legacy_tail(d, &mut p);
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
    if size != VSize::Basic {
        if let Some(s) = p.status.as_mut() {
            s.extra_block = true;
        }
        p.driver_id = hex_upper(&d.bytes(7));
        p.odometer_m = Some(u64::from(d.u24()) * 1000);
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
    p.vehicle_can = Some(can);
    p
}

fn gen_c(d: &mut Draw) -> Position {
    let t = ts(d.u32());
    let mut p = Position {
        protocol: "C".to_owned(),
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

// ------------------------------------------------------------------------------------------
// X / Z reports

const ALL_MODULES: u64 = (1 << 48) - 1;

fn gen_x_report(d: &mut Draw, mask: u64, z: bool, layout: Layout) -> Position {
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
            p.trailer_id = Some(TrailerId {
                source: u32::from(d.u8()),
                trailer_id: d.text(1, 10),
                status: u32::from(d.u8()),
            });
        }
        9 => {
            let status = d.u8();
            p.alcohol_test = Some(AlcoholTest {
                status: u32::from(status),
                passed: status & 1 != 0,
                result_ug_per_l: u32::from(d.u16()),
            });
        }
        10 => p.axle_weight_kg = Some(u32::from(d.u16())),
        11 => {
            p.odometer_m = Some(u64::from(d.u24()) * 1000);
            p.engine_hours = Some(u32::from(d.u16()));
        }
        12 => {
            let mut j = in_journey(d);
            j.total_fuel_l = Some(f64::from(d.u32()) / 2.0);
            p.fms_in_journey = Some(j);
        }
        13 => {
            let mut j = in_journey(d);
            j.journey_fuel_l = Some(f64::from(d.u16()) / 10.0);
            p.obd_in_journey = Some(j);
        }
        14 => p.obd_dtcs = (0..5).map(|_| d.text(5, 5)).collect(),
        15 => {
            p.fms_journey_stop = Some(FmsJourneyStop {
                lifetime_odometer_km: d.u24(),
                lifetime_running_hours: u32::from(d.u16()),
                axle_weight_kg: u32::from(d.u16()),
                journey_fuel_l: f64::from(d.u16()) / 10.0,
                cruise_control_time_s: u32::from(d.u16()),
                service_distance_km: u32::from(d.u16()) * 5,
            });
        }
        16 => {
            p.obd_journey_stop = Some(ObdJourneyStop {
                lifetime_odometer_km: d.u24(),
                running_hours: u32::from(d.u16()),
                time_with_mil_on: u32::from(d.u16()),
                distance_with_mil_on: u32::from(d.u16()),
            });
        }
        17 => {
            // Signed temperatures and setpoints (PROTOCOL.md §10.3 [INFERRED]).
            p.carrier_temperatures = Some(CarrierTemperatures {
                return_temperatures_c: (0..6).map(|_| f64::from(d.i16()) / 10.0).collect(),
                setpoints_c: (0..3).map(|_| f64::from(d.i8()) / 2.0).collect(),
                fuel_level_raw: u32::from(d.u8()),
                engine_hours: u32::from(d.u16()),
                standby_hours: u32::from(d.u16()),
                status_mask: u32::from(d.u16()),
                alarm_flags: d.u24(),
            });
        }
        18 => {
            // (raw − 550) / 10 °C (PROTOCOL.md §10.3 [INFERRED]).
            p.one_wire_temperatures_c = (0..4)
                .map(|_| f64::from(i32::from(d.u16()) - 550) / 10.0)
                .collect();
        }
        19 => {
            p.carrier_alarms = Some(CarrierAlarms {
                count: u32::from(d.u8()),
                queue: d.bytes(16),
            });
        }
        20 => {
            p.rayvolt = Some(Rayvolt {
                controller_uid: d.u32(),
                firmware_version: u32::from(d.u16()),
                boot_version: u32::from(d.u16()),
                error_flags: u32::from(d.u16()),
                soc_percent: u32::from(d.u8()),
                battery_voltage_v: f64::from(d.u8()) / 4.0,
                controller_temperature_c: i32::from(d.i8()),
                speed_kmh: f64::from(d.u8()) / 2.0,
                status: u32::from(d.u16()),
            });
        }
        21 => p.econ_status = Some(d.u24()),
        22 => {
            p.gritter = Some(Gritter {
                plough_mode: u32::from(d.u8()),
                spreader_mode: u32::from(d.u8()),
                spinner_width_m: f64::from(d.u8()) / 10.0,
                rate_g_m2: u32::from(d.u8()),
            });
        }
        23 => {
            p.redforge_weight = Some(RedforgeWeight {
                front: u32::from(d.u8()),
                rear: u32::from(d.u8()),
                gross: u32::from(d.u8()),
                status: u32::from(d.u8()),
                fault1: u32::from(d.u8()),
                fault2: u32::from(d.u8()),
            });
        }
        24 => p.opaque_modules.push(OpaqueModule {
            bit: 24,
            data: d.bytes(4),
        }),
        25 => p.nmea2000 = Some(gen_nmea(d)),
        26 => {
            let raw = d.bytes(7);
            let mut be = [0u8; 8];
            be[1..].copy_from_slice(&raw);
            p.sim_imsi = Some(SimImsi {
                imsi: u64::from_be_bytes(be).to_string(),
                raw,
            });
        }
        27 => p.sim_iccid = d.text(18, 20),
        28 => {
            p.fms_driver_ids = Some(SerialPair {
                serial1: d.text(1, 19),
                serial2: d.text(1, 19),
            });
        }
        29 => {
            let mut j = in_journey(d);
            j.total_fuel_l = Some(f64::from(d.u32()) / 1000.0);
            p.fms_in_journey_high_res = Some(j);
        }
        30 => {
            p.fms_driver_working_states = Some(FmsDriverWorkingStates {
                working_states: d.u32(),
                door_control1: u32::from(d.u8()),
            });
        }
        31 => {
            let speed = f64::from(d.u8()) / 10.0;
            let mut v = (0..11).map(|_| u32::from(d.u8()));
            let mut next = || v.next().unwrap_or(0);
            p.segway_ninebot = Some(SegwayNinebot {
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
            });
        }
        32 => p.environment_sensors = (0..6).map(|_| gen_sensor(d)).collect(),
        33 => p.going_green_core_v = Some(f64::from(u32::from(d.u16()) * 15) / 10_000.0),
        34 => {
            p.ecooter = Some(Ecooter {
                soc1_percent: u32::from(d.u8()),
                soc2_percent: u32::from(d.u8()),
                temperature1_c: i32::from(d.i8()),
                temperature2_c: i32::from(d.i8()),
                current_ma: i32::from(d.i16()) * 10,
                status: u32::from(d.u8()),
            });
        }
        35 => p.torrot_muvi = Some(gen_torrot_muvi(d)),
        36 => {
            p.ecooter_serials = Some(SerialPair {
                serial1: d.text(1, 16),
                serial2: d.text(1, 16),
            });
        }
        37 => p.askoll_es2 = Some(gen_askoll(d)),
        38 => p.cash_in_transit_status = Some(u32::from(d.u8())),
        39 => {
            p.torrot_muvi_battery = Some(TorrotMuviBattery {
                serial1: d.text(1, 13),
                serial2: d.text(1, 13),
                cycles1: u32::from(d.u16()),
                cycles2: u32::from(d.u16()),
                distance1_km: f64::from(d.u24()) / 10.0,
                distance2_km: f64::from(d.u24()) / 10.0,
                status: u32::from(d.u8()),
            });
        }
        40 => {
            let mut v = (0..13).map(|_| d.u24()).collect::<Vec<_>>().into_iter();
            let mut next = || v.next().unwrap_or(0);
            p.battery_statistics = Some(BatteryStatistics {
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
            });
        }
        41 => p.stars_acim = Some(gen_stars(d)),
        42 => {
            p.car2 = Some(Car2 {
                soc_raw: u32::from(d.u16()),
                charging_mode: u32::from(d.u8()),
                seatbelt: u32::from(d.u8()),
                brake_position: u32::from(d.u16()),
                status: u32::from(d.u16()),
                faults: u32::from(d.u16()),
                can_time: Some(ts(d.u32())),
            });
        }
        43 => {
            // Also the report's HDOP and accuracy (the decoder contract).
            let g = gen_gnss_extended(d);
            p.hdop = Some(g.hdop);
            p.accuracy_m = Some(f64::from(g.position_error_m));
            p.gnss_extended = Some(g);
        }
        44 if layout == Layout::Legacy => {
            p.cm2010 = Some(Cm2010 {
                soc_percent: u32::from(d.u8()),
                speed_kmh: u32::from(d.u8()),
                battery1_v: f64::from(d.u16()) / 100.0,
                battery2_v: f64::from(d.u16()) / 100.0,
                trip_distance_m: u32::from(d.u16()),
                status: u32::from(d.u8()),
            });
        }
        44 => {
            let n = d.below(4);
            p.beacons = Some(Beacons {
                beacons: (0..n).map(|_| gen_beacon(d)).collect(),
            });
        }
        45 => {
            let n = d.below(4);
            p.generic_can = Some(GenericCan {
                entries: (0..n)
                    .map(|_| CanEntry {
                        can_id: d.u32(),
                        data: d.bytes(8),
                        age_s: u32::from(d.u8()),
                    })
                    .collect(),
            });
        }
        46 => {
            p.heinzmann = Some(Heinzmann {
                soc_percent: u32::from(d.u8()),
                battery_v: f64::from(d.u16()) / 1000.0,
                lifetime_odometer_m: d.u32(),
                can_time_s: d.u32(),
            });
        }
        47 => p.debug = Some(gen_debug(d)),
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
// Round-trip plumbing

fn login(protocol: &str, imei: &str) -> LoginInfo {
    parse_login(format!("$ASTRA;AT240;{imei};;7.0.1;{protocol};1").as_bytes()).expect("login")
}

/// Encodes, decodes, compares.
fn round_trip(
    protocol: Protocol,
    imei: &str,
    mut records: Vec<Position>,
    opts: &EncodeOptions,
) -> Result<(), TestCaseError> {
    for p in &mut records {
        p.imei = imei.to_owned();
        p.protocol = protocol.name().to_owned();
    }
    let bytes = encode(protocol, imei, &records, opts);
    let session =
        (protocol.is_modular() && opts.mode == XMode::Mode6).then(|| login(protocol.name(), imei));
    let decoded = decode_frame(
        &bytes,
        session.as_ref(),
        &DecodeOptions {
            layout: opts.layout,
        },
    );
    match decoded {
        Ok(decoded) if decoded == records => Ok(()),
        Ok(decoded) => Err(TestCaseError::fail(format!(
            "decoded != encoded; frame {}\n{}",
            hex::encode(&bytes),
            diff(&decoded, &records)
        ))),
        Err(e) => Err(TestCaseError::fail(format!(
            "decode failed: {e} ({}); frame {}",
            e.kind(),
            hex::encode(&bytes)
        ))),
    }
}

/// The fields that differ, as canonical proto JSON: `decoded` vs `expected`.
fn diff(decoded: &[Position], expected: &[Position]) -> String {
    let mut out = String::new();
    if decoded.len() != expected.len() {
        out += &format!(
            "{} records decoded, {} expected\n",
            decoded.len(),
            expected.len()
        );
    }
    for (i, (a, b)) in decoded.iter().zip(expected).enumerate() {
        let a = serde_json::to_value(a).expect("json");
        let b = serde_json::to_value(b).expect("json");
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            continue;
        };
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            if a.get(k) != b.get(k) {
                out += &format!(
                    "record {i} field {k}:\n  decoded:  {}\n  expected: {}\n",
                    a.get(k).map_or("<absent>".into(), ToString::to_string),
                    b.get(k).map_or("<absent>".into(), ToString::to_string)
                );
            }
        }
    }
    out
}

fn records(d: &mut Draw, max: usize, mut one: impl FnMut(&mut Draw) -> Position) -> Vec<Position> {
    let n = 1 + d.below(max);
    (0..n).map(|_| one(d)).collect()
}

fn layout(d: &mut Draw) -> Layout {
    if d.bool() {
        Layout::Current
    } else {
        Layout::Legacy
    }
}

fn modular(
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
fn core_mask(d: &mut Draw) -> u64 {
    u64::from(d.u8() & 0b11)
}

fn any_mask(d: &mut Draw) -> u64 {
    (u64::from(d.u32()) << 16 | u64::from(d.u16())) & ALL_MODULES
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn c_round_trip(mut d in draw()) {
        let imei = d.imei();
        let recs = records(&mut d, 8, gen_c);
        round_trip(Protocol::C, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn k_round_trip_mixed(mut d in draw()) {
        let imei = d.imei();
        let recs = records(&mut d, 8, |d| gen_k(d, None));
        round_trip(Protocol::K, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn k_round_trip_with_and_without_extra(mut d in draw(), extra in any::<bool>()) {
        let imei = d.imei();
        let recs = records(&mut d, 4, |d| gen_k(d, Some(extra)));
        round_trip(Protocol::K, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn m_round_trip(mut d in draw()) {
        let imei = d.imei();
        let recs = records(&mut d, 8, gen_m);
        round_trip(Protocol::M, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn v_round_trip(mut d in draw(), size in prop_oneof![
        Just(VSize::Basic), Just(VSize::Extra), Just(VSize::ExtraStop)
    ]) {
        let imei = d.imei();
        let recs = records(&mut d, 4, |d| gen_v(d, size));
        round_trip(Protocol::V, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn v_round_trip_mixed_sizes(mut d in draw()) {
        let imei = d.imei();
        let recs = records(&mut d, 6, |d| {
            let size = [VSize::Basic, VSize::Extra, VSize::ExtraStop][d.below(3)];
            gen_v(d, size)
        });
        round_trip(Protocol::V, &imei, recs, &EncodeOptions::default())?;
    }

    #[test]
    fn x_mode4_core_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode4, core_mask)?;
    }

    #[test]
    fn x_mode6_core_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode6, core_mask)?;
    }

    #[test]
    fn z_core_modules(mut d in draw(), mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::Z, mode, core_mask)?;
    }

    /// One module at a time, so a failure names its bit.
    #[test]
    fn x_single_module(mut d in draw(), bit in 0u8..48, mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::X, mode, |_| 1 << bit)?;
    }

    #[test]
    fn x_mode4_any_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode4, any_mask)?;
    }

    #[test]
    fn x_mode6_any_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode6, any_mask)?;
    }

    /// Every module at once: the largest reports (about 800 bytes each).
    #[test]
    fn x_and_z_all_modules(mut d in draw(), z in any::<bool>(), mode4 in any::<bool>()) {
        let protocol = if z { Protocol::Z } else { Protocol::X };
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, protocol, mode, |_| ALL_MODULES)?;
    }

    #[test]
    fn z_single_module(mut d in draw(), bit in 0u8..48) {
        modular(&mut d, Protocol::Z, XMode::Mode6, |_| 1 << bit)?;
    }

    #[test]
    fn z_any_modules(mut d in draw(), mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::Z, mode, any_mask)?;
    }
}

// ------------------------------------------------------------------------------------------
// Fixed examples: encoded bytes against hand-written hex

fn at(seconds_since_gps_epoch: u32) -> Option<Timestamp> {
    Some(ts(seconds_since_gps_epoch))
}

#[test]
fn frame_and_imei_helpers() {
    // 8 + 7 zero-padded digits: 01234567 / 0012345 (PROTOCOL.md §2).
    assert_eq!(
        imei_bytes("012345670012345"),
        [0x00, 0x12, 0xD6, 0x87, 0x00, 0x30, 0x39]
    );
    // "123456789" has the catalogued CRC-16/MODBUS 0x4B37; the frame adds 5 bytes.
    let f = frame(b'K', b"3456789");
    assert_eq!(&f[..3], &[b'K', 0x00, 12]);
    assert_eq!(f.len(), 12);
    assert_eq!(luhn_complete("86087304176148"), "860873041761486");
}

/// Captured vector traccar-K-2 (PROTOCOL.md §13).
#[test]
fn k_example_matches_capture() {
    let p = Position {
        sequence: 109,
        latitude: Some(52.58483),
        longitude: Some(-1.543166),
        fix_time: at(1_146_291_798),
        speed_kmh: Some(0.0),
        course_deg: Some(336.0),
        reason_flags: 1,
        status_flags: 0x0008,
        battery_percent: Some(100),
        external_voltage_v: Some(12.4),
        altitude_m: Some(120.0),
        satellites: Some(5),
        gsm_level: Some(9),
        ..Default::default()
    };
    let bytes = encode(
        Protocol::K,
        "862950025797534",
        &[p],
        &EncodeOptions::default(),
    );
    assert_eq!(
        hex::encode(bytes),
        "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb"
    );
}

/// Captured vector traccar-X-mode4-1: modules 0 and 1, IMEI in the header.
#[test]
fn x_mode4_example_matches_capture() {
    let p = Position {
        sequence: 31,
        module_mask: 0b11,
        device_time: at(0x53d3_d49e),
        reason_flags: 0x0010_2000,
        status_flags: 0x0009,
        external_voltage_v: Some(12.2),
        battery_percent: Some(35),
        fix_time: at(0x53d3_d49d),
        latitude: Some(52.138826),
        longitude: Some(-0.326804),
        speed_kmh: Some(0.0),
        max_speed_kmh: Some(0.0),
        course_deg: Some(320.0),
        altitude_m: Some(0.0),
        journey_distance_m: Some(0.0),
        ..Default::default()
    };
    let bytes = encode(
        Protocol::X,
        "860873041761486",
        &[p],
        &EncodeOptions::mode4(),
    );
    assert_eq!(
        hex::encode(bytes),
        "58003201052196881ae0ce1f00000000000353d3d49e0010200000093d2353d3d49d031b934afffb036c0000a0000000e0eb"
    );
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
    let bytes = encode(
        Protocol::C,
        "860873041761486",
        &[p],
        &EncodeOptions::default(),
    );
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
    assert_eq!(hex::encode(bytes), expected);
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
    let bytes = encode(
        Protocol::M,
        "860873041761486",
        &[p],
        &EncodeOptions::default(),
    );
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
    assert_eq!(hex::encode(bytes), expected);
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
        vehicle_can: Some(VehicleCan {
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
        }),
        ..Default::default()
    };
    let bytes = encode(
        Protocol::V,
        "860873041761486",
        &[p],
        &EncodeOptions::default(),
    );
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
    assert_eq!(hex::encode(bytes), expected);
}

/// A hand-assembled Z packet in $MODE,6: module 0 (as X) and Z module 30 (1 opaque byte).
#[test]
fn z_example() {
    let p = Position {
        sequence: 7,
        module_mask: 1 << 30 | 1,
        device_time: at(0x1234_5678),
        reason_flags: 0x8000_0001,
        status_flags: 0x0004,
        external_voltage_v: Some(4.2),
        battery_percent: Some(77),
        opaque_modules: vec![OpaqueModule {
            bit: 30,
            data: vec![0xEE],
        }],
        ..Default::default()
    };
    let bytes = encode(
        Protocol::Z,
        "860873043967941",
        &[p],
        &EncodeOptions::default(),
    );
    let expected = concat!(
        "5a001a",       // 'Z', length 26
        "01",           // one report, no IMEI ($MODE,6)
        "07",           // seq
        "000040000001", // module mask: bits 30 and 0
        "12345678",     // RTC time
        "80000001",     // reason
        "0004",         // status: GPS invalid
        "154d",         // module 0: 4.2 V × 5, 77 %
        "ee",           // Z module 30
        "dea5",         // CRC
    );
    assert_eq!(hex::encode(bytes), expected);
}

/// Every fixed module size, checked against PROTOCOL.md §10.3 through the encoder's output.
#[test]
fn x_module_sizes() {
    const SIZES: [usize; 48] = [
        2,
        18,
        4,
        4,
        8,
        1,
        4,
        1,
        9,
        12,
        2,
        5,
        20,
        18,
        25,
        13,
        9,
        25,
        8,
        17,
        18,
        3,
        4,
        6,
        4,
        73,
        7,
        20,
        38,
        20,
        5,
        12,
        18,
        2,
        9,
        44,
        32,
        39,
        6,
        39,
        39,
        42,
        22,
        28,
        11,
        6,
        13,
        1 + 2,
    ];
    for bit in 0..48u8 {
        let p = Position {
            module_mask: 1 << bit,
            ..Default::default()
        };
        let x = encode(Protocol::X, "", &[p], &EncodeOptions::default());
        // id + length + count + 17-byte header + module + CRC.
        assert_eq!(
            x.len(),
            3 + 1 + 17 + SIZES[usize::from(bit)] + 2,
            "X bit {bit}"
        );
    }
    let current = EncodeOptions::default().with_layout(Layout::Current);
    for (bit, size) in [(9u8, 8), (44, 7)] {
        let p = Position {
            module_mask: 1 << bit,
            ..Default::default()
        };
        let x = encode(Protocol::X, "", &[p], &current);
        assert_eq!(
            x.len(),
            3 + 1 + 17 + size + 2,
            "X bit {bit}, current layout"
        );
    }
}

/// NV data given only as fields (no payload) is laid out little-endian after a 2-byte inner
/// length, and decodes back to the same fields.
#[test]
fn debug_nv_from_fields() {
    let nv = DebugNvData {
        flags: 0x0102,
        pc: 0x0304_0506,
        lr: 0x0708_090A,
        watchdog_levels: (1..=15).collect(),
        service: "GNSS".to_owned(),
    };
    let payload = nv_payload(&nv);
    assert_eq!(payload.len(), 50);
    assert_eq!(&payload[2..12], &[2, 1, 6, 5, 4, 3, 0x0A, 9, 8, 7]);
    let p = Position {
        module_mask: 1 << 47,
        debug: Some(GenericDebug {
            r#type: 1,
            nv: Some(nv.clone()),
            payload: Vec::new(),
        }),
        ..Default::default()
    };
    let bytes = encode(
        Protocol::X,
        "860873041761486",
        &[p],
        &EncodeOptions::mode4(),
    );
    let decoded = decode_frame(&bytes, None, &DecodeOptions::default()).expect("decode");
    let debug = decoded[0].debug.clone().expect("module 47");
    assert_eq!(debug.nv, Some(nv));
    assert_eq!(debug.payload, payload);
}
