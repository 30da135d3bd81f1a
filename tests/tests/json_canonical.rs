//! Our JSON is canonical proto3 JSON: for the same protobuf bytes it equals what Google's
//! reference implementation (Python `protobuf`, installed by scripts/install-tools.sh) prints,
//! and it parses back to the same message.

use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, Layout, decode_frame};
use astra_proto::v1::Position;
use astra_tests::encoder::{EncodeOptions, Protocol, encode};
use prost::Message;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn vectors() -> Vec<Position> {
    let v: Value = serde_json::from_str(include_str!("../vectors/astra-vectors.json")).unwrap();
    let login = parse_login(b"$ASTRA;AT240;860873041769307;;7.0.22.0;X;1").unwrap();
    let mut out = Vec::new();
    for vector in v["binary_vectors"].as_array().unwrap() {
        let bytes = hex::decode(vector["hex"].as_str().unwrap()).unwrap();
        let mode6 = vector["decoded_per_notes"]["mode"] == "6";
        let login = mode6.then_some(&login);
        out.extend(decode_frame(&bytes, login, &DecodeOptions::default()).unwrap());
    }
    out
}

/// One X report with every module set (current layout), so nested messages, repeated fields,
/// enums, bytes, 64-bit integers and negative numbers all appear.
fn every_module() -> Position {
    let p = Position {
        sequence: 7,
        module_mask: (1u64 << 48) - 1,
        reason_flags: 0x8000_0011,
        status_flags: 0x0125,
        ..Default::default()
    };
    let opts = EncodeOptions {
        layout: Layout::Current,
        ..EncodeOptions::mode4()
    };
    let bytes = encode(Protocol::X, "860873041761486", &[p], &opts);
    let decoded = decode_frame(
        &bytes,
        None,
        &DecodeOptions {
            layout: Layout::Current,
        },
    )
    .unwrap();
    decoded.into_iter().next().unwrap()
}

fn reference_json(positions: &[Position]) -> Option<Vec<Value>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python_path = root.join("../.tools/python");
    if !python_path.join("google/protobuf").exists() {
        return None;
    }
    let fds = std::env::temp_dir().join(format!("astra-fds-{}.bin", std::process::id()));
    std::fs::write(&fds, astra_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut child = Command::new("python3")
        .arg(root.join("scripts/pb_json.py"))
        .arg(&fds)
        .arg("astra.v1.Position")
        .env("PYTHONPATH", &python_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut stdin = child.stdin.take().unwrap();
    for p in positions {
        writeln!(stdin, "{}", hex::encode(p.encode_to_vec())).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&fds);
    assert!(out.status.success(), "pb_json.py failed");
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// JSON numbers compare by value: the reference prints a double 12 as `12`, serde_json as `12.0`.
fn numbers_as_f64(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_f64).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, numbers_as_f64(v))).collect())
        }
        other => other,
    }
}

#[test]
fn json_equals_the_reference_implementation() {
    let mut positions = vectors();
    positions.push(every_module());
    let Some(reference) = reference_json(&positions) else {
        panic!("Google's protobuf Python package is missing: run scripts/install-tools.sh");
    };
    assert_eq!(reference.len(), positions.len());
    for (p, want) in positions.iter().zip(reference) {
        let ours = numbers_as_f64(serde_json::to_value(p).unwrap());
        assert_eq!(
            ours,
            numbers_as_f64(want),
            "position {} of {}",
            p.sequence,
            p.imei
        );
    }
}

#[test]
fn json_round_trips() {
    let mut positions = vectors();
    positions.push(every_module());
    for p in positions {
        let text = serde_json::to_string(&p).unwrap();
        let back: Position = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}
