//! Golden tests: every captured packet in `tests/vectors/astra-vectors.json` (a copy of
//! `shared/astra/vectors.json`) decodes to exactly the values recorded there.

use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, decode_frame};
use astra_proto::v1::Position;
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("../vectors/astra-vectors.json");
    serde_json::from_str(text).expect("vectors.json parses")
}

fn rfc3339(ts: &Option<astra_proto::Timestamp>) -> String {
    ts.expect("timestamp present").to_string()
}

fn hex_u32(v: &Value) -> u32 {
    u32::from_str_radix(v.as_str().expect("hex string"), 16).expect("hex")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn u(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("unsigned")).expect("fits u32")
}

/// Fields every protocol records in the vectors.
fn check_common(p: &Position, r: &Value, id: &str) {
    let ctx = format!("{id} seq {}", r["seq"]);
    assert_eq!(p.sequence, u(&r["seq"]), "{ctx}");
    assert_eq!(p.latitude, Some(f(&r["lat"])), "{ctx} lat");
    assert_eq!(p.longitude, Some(f(&r["lon"])), "{ctx} lon");
    assert_eq!(p.speed_kmh, Some(f(&r["speed_kmh"])), "{ctx} speed");
    assert_eq!(
        p.max_speed_kmh,
        Some(f(&r["max_speed_kmh"])),
        "{ctx} max speed"
    );
    assert_eq!(p.altitude_m, Some(f(&r["altitude_m"])), "{ctx} altitude");
    assert_eq!(p.reason_flags, hex_u32(&r["reason"]), "{ctx} reason");
    let bits: Vec<i32> = r["reason_bits"]
        .as_array()
        .expect("reason bits")
        .iter()
        .map(|b| i32::try_from(u(b) + 1).expect("small"))
        .collect();
    assert_eq!(p.reasons, bits, "{ctx} reasons");
    let status = hex_u32(&r["status"]);
    assert_eq!(p.status_flags, status, "{ctx} status");
    assert_eq!(p.ignition, status & 1 != 0, "{ctx} ignition");
    assert_eq!(p.valid, status & 4 == 0, "{ctx} valid");
    assert_eq!(p.stored, status & 0x20 != 0, "{ctx} stored");
    assert_eq!(
        p.battery_percent,
        Some(u(&r["battery_pct"])),
        "{ctx} battery"
    );
    assert_eq!(
        p.journey_distance_m,
        Some(f(&r["journey_distance_km"]) * 1000.0),
        "{ctx} journey"
    );
}

fn accel(p: &Position) -> Vec<u8> {
    p.accelerometer.as_ref().expect("accelerometer").raw.clone()
}

fn u8s(v: &Value) -> Vec<u8> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| u8::try_from(u(x)).expect("byte"))
        .collect()
}

fn check_k(p: &Position, r: &Value, id: &str) {
    check_common(p, r, id);
    assert_eq!(p.protocol, "K");
    assert_eq!(rfc3339(&p.device_time), r["time"].as_str().unwrap(), "{id}");
    assert_eq!(rfc3339(&p.fix_time), r["time"].as_str().unwrap(), "{id}");
    assert_eq!(p.course_deg, Some(f(&r["course_deg"])));
    assert_eq!(p.external_voltage_v, Some(f(&r["ext_power_v"])));
    assert_eq!(p.io.as_ref().unwrap().raw, hex_u32(&r["digital_io"]));
    assert_eq!(p.analog.as_ref().unwrap().adc1_raw, u(&r["adc1_raw"]));
    assert_eq!(accel(p), u8s(&r["accel_raw"]));
    assert_eq!(p.idle_time_s, Some(u(&r["journey_idle_s"])));
    assert_eq!(p.satellites, Some(u(&r["sats"])));
    assert_eq!(p.gsm_level, Some(u(&r["gsm_level_0_15"])));
    assert_eq!(p.geofence.as_ref().unwrap().raw, hex_u32(&r["geofence"]));
    if let Some(driver) = r.get("driver_id_raw") {
        assert_eq!(p.driver_id, driver.as_str().unwrap().to_uppercase());
        assert_eq!(p.odometer_m, Some(u64::from(u(&r["odometer_km"])) * 1000));
        assert_eq!(p.engine_hours, Some(u(&r["engine_hours_or_runtime_raw"])));
        assert!(p.status.as_ref().unwrap().extra_block);
    } else {
        assert_eq!(p.driver_id, "");
        assert_eq!(p.odometer_m, None);
    }
}

fn check_x(p: &Position, r: &Value, id: &str) {
    check_common(p, r, id);
    assert_eq!(p.protocol, "X");
    assert_eq!(
        rfc3339(&p.device_time),
        r["rtc_time"].as_str().unwrap(),
        "{id}"
    );
    assert_eq!(
        rfc3339(&p.fix_time),
        r["gps_fix_time"].as_str().unwrap(),
        "{id}"
    );
    assert_eq!(p.course_deg, Some(f(&r["heading_deg"])));
    assert_eq!(p.external_voltage_v, Some(f(&r["ext_voltage_v"])));
    assert_eq!(
        p.module_mask,
        u64::from_str_radix(r["module_mask"].as_str().unwrap(), 16).unwrap()
    );
    if let Some(states) = r.get("dig_states") {
        let io = p.io.as_ref().expect("io");
        let states = hex_u32(states);
        let changes = hex_u32(&r["dig_changes"]);
        assert_eq!((io.inputs, io.outputs), (states & 0xFF, states >> 8));
        assert_eq!(
            (io.input_changes, io.output_changes),
            (changes & 0xFF, changes >> 8)
        );
        let analog = p.analog.as_ref().expect("analog");
        assert_eq!(
            (analog.adc1_raw, analog.adc2_raw),
            (u(&r["adc1"]), u(&r["adc2"]))
        );
        assert_eq!(accel(p), u8s(&r["accel_x_max_min_y_max_min_z_max_min_raw"]));
        assert_eq!(p.idle_time_s, Some(u(&r["idle_time_s"])));
        assert_eq!(p.satellites, Some(u(&r["sats"])));
        assert_eq!(p.gsm_level, Some(u(&r["gsm_nibble"])));
        assert_eq!(p.gsm_dbm, r["rssi_dbm_official"].as_i64().map(|d| d as i32));
        assert_eq!(p.geofence.as_ref().unwrap().raw, hex_u32(&r["geofence"]));
    } else {
        assert_eq!(p.io, None);
        assert_eq!(p.satellites, None);
    }
    for (key, got) in [
        ("fms_in_journey", &p.fms_in_journey),
        ("fms_in_journey_high_res", &p.fms_in_journey_high_res),
    ] {
        let Some(want) = r.get(key) else {
            assert_eq!(*got, None, "{id} {key}");
            continue;
        };
        let got = got.as_ref().expect(key);
        assert_eq!(got.max_wheel_speed_kmh, u(&want["max_wheel_speed_kmh"]));
        assert_eq!(got.average_wheel_speed_kmh, u(&want["avg_wheel_speed_kmh"]));
        assert_eq!(got.max_rpm, u(&want["max_rpm"]));
        assert_eq!(got.average_rpm, u(&want["avg_rpm"]));
        assert_eq!(got.max_accelerator_percent, u(&want["max_accel_pedal_pct"]));
        assert_eq!(
            got.average_accelerator_percent,
            u(&want["avg_accel_pedal_pct"])
        );
        assert_eq!(got.max_load_percent, u(&want["max_engine_load_pct"]));
        assert_eq!(got.average_load_percent, u(&want["avg_engine_load_pct"]));
        assert_eq!(got.journey_distance_km, f(&want["journey_distance_km"]));
        assert_eq!(
            i64::from(got.engine_temperature_c),
            want["engine_temp_degC(raw-40)"].as_i64().unwrap()
        );
        assert_eq!(got.status, u(&want["fms_status"]));
        assert_eq!(got.events, u(&want["fms_events"]));
        assert_eq!(got.fuel_level_raw, u(&want["fuel_level_raw"]));
        assert_eq!(got.total_fuel_l, Some(f(&want["total_fuel_l"])));
    }
}

/// Mode-6 frames carry no IMEI; the session's login supplies it (any valid one will do here).
const LOGIN: &str = "$ASTRA;AT240;860873041769307;;7.0.22.0;X;1\r\n";

#[test]
fn every_binary_vector_decodes_exactly() {
    let vectors = vectors();
    let list = vectors["binary_vectors"].as_array().expect("vectors");
    assert_eq!(list.len(), 6);
    for v in list {
        let id = v["id"].as_str().unwrap();
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let notes = &v["decoded_per_notes"];
        let mode6 = notes["mode"] == "6";
        let login = mode6.then(|| parse_login(LOGIN.as_bytes()).unwrap());
        let positions = decode_frame(&bytes, login.as_ref(), &DecodeOptions::default())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let records = notes["records"].as_array().unwrap();
        assert_eq!(positions.len(), records.len(), "{id}: record count");
        let imei = if mode6 {
            "860873041769307"
        } else {
            notes["imei"].as_str().unwrap()
        };
        for (p, r) in positions.iter().zip(records) {
            assert_eq!(p.imei, imei, "{id}");
            match v["protocol"].as_str().unwrap() {
                "K" => check_k(p, r, id),
                "X" => check_x(p, r, id),
                other => panic!("{id}: unexpected protocol {other}"),
            }
        }
    }
}

#[test]
fn mode6_vector_without_login_is_a_clear_error() {
    let vectors = vectors();
    let v = vectors["binary_vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "traccar-X-mode6-historic")
        .unwrap();
    let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
    let err = decode_frame(&bytes, None, &DecodeOptions::default()).unwrap_err();
    assert_eq!(err.kind(), "missing_login");
}

#[test]
fn ascii_login_vector_parses() {
    let vectors = vectors();
    let v = &vectors["ascii_vectors"][0];
    assert_eq!(v["id"], "silence-login-Z");
    let login = parse_login(v["text"].as_str().unwrap().as_bytes()).unwrap();
    let want = &v["decoded_per_notes"];
    assert_eq!(login.model, want["model"].as_str().unwrap());
    assert_eq!(login.imei, want["imei"].as_str().unwrap());
    assert_eq!(login.vin, want["vin"].as_str().unwrap());
    assert_eq!(login.firmware, want["firmware"].as_str().unwrap());
    assert_eq!(login.protocol, want["protocol_id"].as_str().unwrap());
    assert_eq!(
        login.hardware_revision,
        want["hardware_revision"].as_str().unwrap()
    );
    assert_eq!(login.settings_checksum, "");
}
