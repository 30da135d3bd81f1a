//! Decoding throughput per protocol, in records per second on one core (criterion
//! `Throughput::Elements` = records), one benchmark group per protocol (`decode-K`, `decode-M`,
//! `decode-V`, `decode-C`, `decode-X4`, `decode-X6`, `decode-Z`). K and X include captured
//! packets; every protocol has frames made by the test encoder (`astra_tests::encoder`) with one
//! record and with a batch of records, as devices send after a coverage gap; C, M and V also
//! keep the synthetic frames of the documented record sizes. `scripts/bench.sh` reads
//! `target/criterion/decode-*/*/new/estimates.json`.
//!
//!   cargo bench -p astra-codec --bench decode                    # all groups
//!   cargo bench -p astra-codec --bench decode -- decode-K        # one protocol

use astra_codec::crc::crc16_modbus;
use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, decode_frame};
use astra_proto::Timestamp;
use astra_proto::v1::{LoginInfo, Position};
use astra_tests::device::imei;
use astra_tests::encoder::{EncodeOptions, Protocol, XMode, encode, login_line};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const K3: &str = "4b013c02213aec35c501ad031368b8ffcd1ad043e5c4500c79000100003101005c490c001c0009020200020015069600ae03136801ffcd1af143e5c452125e000100003101005c491200090011010000020015068500af0313629effcd1f4b43e5c45d1e46000100003101005c491e00080409040500040015068700b0031359d5ffcd35ad43e5c47b2a3b000001003101005c492a1b1a0d0b0f0b00080015068700b103134984ffcd4b1e43e5c4913354000100003101005c49340b0103090606000f0015067700b203132e1affcd5a5a43e5c4af3348000001003101005c4935070a08000a070017001505f700b30313192cffcd7af143e5c4cd3733000001003101005c4937091206050a0800200015058600b403130debffcda88743e5c4eb2c3e000001003101005c493707030601080600290015058600b377";
const X2: &str = "5800cb02052196881aff5b3c0000200010bf53cbfab10000000100393d5853cbfab0031b93affffb034b0000ae00000000010000000c000c00000000000000787e00000000000000000000000000000000000000000000000000000000000000000000000000000000003d0000200010bf53cbfae60000280000293c5853cbfae6031b93affffb034b0000ae00000000010000000d000c00000000000000ae7e0000000000000000000000000000000000000000000000000000000000000000000000000000000000e604";
const X6: &str = "58003d018b0000000000bf514f00b70000006000093e60514f00b6032fec49ffdc7627000041020000000100010000000000090001010000008f00aba3";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

/// A frame of `n` records of `size` bytes with a K-style header; `status_at` is the record
/// offset of the status field, set to 0x0031 so no extra block is announced.
fn synthetic(id: u8, size: usize, n: usize, status_at: usize) -> Vec<u8> {
    let mut f = vec![id, 0, 0, 0x05, 0x21, 0x96, 0x88, 0x1a, 0xe0, 0xce];
    for i in 0..n {
        let mut rec: Vec<u8> = (0..size).map(|j| (i * 31 + j * 7) as u8).collect();
        rec[status_at] = 0x00;
        rec[status_at + 1] = 0x31;
        f.extend_from_slice(&rec);
    }
    let len = (f.len() + 2) as u16;
    f[1..3].copy_from_slice(&len.to_be_bytes());
    let crc = crc16_modbus(&f);
    f.extend_from_slice(&crc.to_be_bytes());
    f
}

/// A typical moving-vehicle record (X/Z: GPS module 1 and, with `full`, the common modules:
/// analogue inputs 2, digital I/O 3, GSM 4, odometer 7 and 8).
fn record(i: usize, modular: bool, full: bool) -> Position {
    let t = Timestamp::from_unix(T0 + 30 * i as i64);
    Position {
        sequence: i as u32 % 256,
        device_time: Some(t),
        fix_time: Some(t),
        valid: true,
        latitude: Some(51.5 + i as f64 * 1e-4),
        longitude: Some(-0.125 - i as f64 * 1e-4),
        speed_kmh: Some(42.0),
        max_speed_kmh: Some(55.0),
        course_deg: Some(90.0),
        reason_flags: 1,
        status_flags: 1,
        battery_percent: Some(90),
        external_voltage_v: Some(12.4),
        satellites: Some(8),
        gsm_level: Some(10),
        journey_distance_m: Some(1200.0),
        module_mask: match (modular, full) {
            (false, _) => 0,
            (true, false) => 1 << 1,
            (true, true) => (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8),
        },
        ..Default::default()
    }
}

/// A frame of `n` records encoded by the test encoder, and the login its session needs.
fn encoded(protocol: Protocol, mode: XMode, n: usize, full: bool) -> (Vec<u8>, Option<LoginInfo>) {
    let records: Vec<Position> = (0..n)
        .map(|i| record(i, protocol.is_modular(), full))
        .collect();
    let opts = EncodeOptions {
        mode,
        ..EncodeOptions::default()
    };
    let imei = imei(18);
    let frame = encode(protocol, &imei, &records, &opts);
    let login = (protocol.is_modular() && mode == XMode::Mode6).then(|| {
        let line = login_line(protocol, &imei, "AT240", "7.0.22.0");
        parse_login(line.trim_ascii_end()).expect("login")
    });
    (frame, login)
}

struct Case {
    group: &'static str,
    name: String,
    frame: Vec<u8>,
    login: Option<LoginInfo>,
}

fn cases() -> Vec<Case> {
    let x6_login = parse_login(b"$ASTRA;AT240;860873041769307;;7.0.22.0;X;1").expect("login");
    let mut cases = vec![
        Case {
            group: "decode-K",
            name: "captured, 8 records".into(),
            frame: hex::decode(K3).expect("hex"),
            login: None,
        },
        Case {
            group: "decode-X4",
            name: "captured, 2 reports x 9 modules".into(),
            frame: hex::decode(X2).expect("hex"),
            login: None,
        },
        Case {
            group: "decode-X6",
            name: "captured, 1 report x 7 modules".into(),
            frame: hex::decode(X6).expect("hex"),
            login: Some(x6_login),
        },
        Case {
            group: "decode-M",
            name: "synthetic, 20 records".into(),
            frame: synthetic(b'M', 41, 20, 18),
            login: None,
        },
        Case {
            group: "decode-V",
            name: "synthetic, 12 records".into(),
            frame: synthetic(b'V', 72, 12, 22),
            login: None,
        },
        Case {
            group: "decode-C",
            name: "synthetic, 25 records".into(),
            frame: synthetic(b'C', 33, 25, 17),
            login: None,
        },
    ];
    let encoded_cases = [
        ("decode-K", Protocol::K, XMode::Mode4),
        ("decode-M", Protocol::M, XMode::Mode4),
        ("decode-V", Protocol::V, XMode::Mode4),
        ("decode-C", Protocol::C, XMode::Mode4),
        ("decode-X4", Protocol::X, XMode::Mode4),
        ("decode-X6", Protocol::X, XMode::Mode6),
        ("decode-Z", Protocol::Z, XMode::Mode6),
    ];
    for (group, protocol, mode) in encoded_cases {
        let modular = protocol.is_modular();
        let mut shapes = vec![(1, false), (16, false)];
        if modular {
            shapes.push((16, true));
        }
        for (n, full) in shapes {
            let (frame, login) = encoded(protocol, mode, n, full);
            let what = match (modular, full) {
                (false, _) => String::new(),
                (true, false) => " x GPS module".into(),
                (true, true) => " x 6 modules".into(),
            };
            let unit = if n == 1 { "record" } else { "records" };
            cases.push(Case {
                group,
                name: format!("encoded, {n} {unit}{what}"),
                frame,
                login,
            });
        }
    }
    cases
}

fn bench(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    let cases = cases();
    let mut groups: Vec<&str> = cases.iter().map(|c| c.group).collect();
    groups.dedup();
    groups.sort_unstable();
    groups.dedup();
    for name in groups {
        let mut group = c.benchmark_group(name);
        for case in cases.iter().filter(|c| c.group == name) {
            let records = decode_frame(&case.frame, case.login.as_ref(), &opts)
                .unwrap_or_else(|e| panic!("{name} {}: {e}", case.name))
                .len();
            group.throughput(Throughput::Elements(records as u64));
            group.bench_function(case.name.as_str(), |b| {
                b.iter(|| decode_frame(black_box(&case.frame), case.login.as_ref(), &opts))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
