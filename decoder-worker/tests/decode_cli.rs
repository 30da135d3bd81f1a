//! Black-box tests of `decoder-worker decode`, the contract decoding is checked against: hex
//! arguments, stdin lines and raw files in; one canonical-JSON Position per line out; errors on
//! stderr and exit status 1.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const K2: &str = "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb";
const X6: &str = "58003d018b0000000000bf514f00b70000006000093e60514f00b6032fec49ffdc7627000041020000000100010000000000090001010000008f00aba3";
const LOGIN: &str = "$ASTRA;AT240;860873041769307;;7.0.22.0;X;1";

fn decode(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_decoder-worker"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start decoder-worker");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(data) = stdin {
        input.write_all(data).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("decoder-worker output")
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

#[test]
fn hex_argument_gives_canonical_json() {
    let out = decode(&[K2], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(
        r#"{"imei":"862950025797534","protocol":"K","sequence":109,"deviceTime":"2016-05-03T06:23:18Z","fixTime":"2016-05-03T06:23:18Z","valid":true,"latitude":52.58483,"longitude":-1.543166,"altitudeM":120.0,"speedKmh":0.0,"maxSpeedKmh":0.0,"courseDeg":336.0,"satellites":5,"gsmLevel":9,"gsmDbm":-75,"reasonFlags":1,"statusFlags":8,"reasons":["REASON_TIMED_INTERVAL_ELAPSED"]"#
    ), "{text}");
    assert_eq!(text.lines().count(), 1);
    assert!(out.stderr.is_empty());
}

#[test]
fn stdin_lines_ignore_whitespace_and_report_each_failure() {
    let spaced: String = K2
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let mut bad_crc = K2.to_owned();
    bad_crc.replace_range(K2.len() - 4.., "0000");
    let input = format!("{spaced}\n\n{bad_crc}\nzz\n{K2}\n");
    let out = decode(&[], Some(input.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let positions = lines(&out.stdout);
    assert_eq!(positions.len(), 2);
    assert!(positions.iter().all(|p| p["imei"] == "862950025797534"));
    let err = String::from_utf8(out.stderr).unwrap();
    let err_lines: Vec<&str> = err.lines().collect();
    assert_eq!(err_lines.len(), 2, "{err}");
    assert_eq!(
        err_lines[0],
        "line 3: bad_crc: bad CRC: trailer 0x0000, computed 0xe7bb"
    );
    assert!(err_lines[1].starts_with("line 4: invalid_hex: "), "{err}");
}

#[test]
fn mode6_needs_login() {
    let out = decode(&[X6], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("frame 1: missing_login: "));

    let out = decode(&["--login", LOGIN, X6], None);
    assert_eq!(out.status.code(), Some(0));
    let p = &lines(&out.stdout)[0];
    assert_eq!(p["imei"], "860873041769307");
    assert_eq!(p["sequence"], 139);
    assert_eq!(p["latitude"], 53.472329);
    assert_eq!(p["deviceTime"], "2023-03-29T13:33:43Z");
}

#[test]
fn raw_file_with_login_line_and_several_frames() {
    let dir = std::env::temp_dir().join(format!("astra-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.bin");
    let mut data = format!("{LOGIN}\r\n").into_bytes();
    data.extend(hex::decode(X6).unwrap());
    data.push(0x06);
    data.extend(hex::decode(X6).unwrap());
    std::fs::write(&path, &data).unwrap();
    let out = decode(&["--login", LOGIN, "--file", path.to_str().unwrap()], None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out.stdout).len(), 2);
}

#[test]
fn invalid_login_is_a_usage_error() {
    let out = decode(&["--login", "$ASTRA;AT240;123", K2], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--login: invalid login line"));
}
