//! Decoding throughput per protocol, in records per second (criterion `Throughput::Elements`).
//! K and X use captured packets; C, M and V (no capture exists) use synthetic frames of the
//! documented record sizes.

use astra_decoder::codec::crc::crc16_modbus;
use astra_decoder::codec::login::parse_login;
use astra_decoder::codec::{DecodeOptions, decode_frame};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const K3: &str = "4b013c02213aec35c501ad031368b8ffcd1ad043e5c4500c79000100003101005c490c001c0009020200020015069600ae03136801ffcd1af143e5c452125e000100003101005c491200090011010000020015068500af0313629effcd1f4b43e5c45d1e46000100003101005c491e00080409040500040015068700b0031359d5ffcd35ad43e5c47b2a3b000001003101005c492a1b1a0d0b0f0b00080015068700b103134984ffcd4b1e43e5c4913354000100003101005c49340b0103090606000f0015067700b203132e1affcd5a5a43e5c4af3348000001003101005c4935070a08000a070017001505f700b30313192cffcd7af143e5c4cd3733000001003101005c4937091206050a0800200015058600b403130debffcda88743e5c4eb2c3e000001003101005c493707030601080600290015058600b377";
const X2: &str = "5800cb02052196881aff5b3c0000200010bf53cbfab10000000100393d5853cbfab0031b93affffb034b0000ae00000000010000000c000c00000000000000787e00000000000000000000000000000000000000000000000000000000000000000000000000000000003d0000200010bf53cbfae60000280000293c5853cbfae6031b93affffb034b0000ae00000000010000000d000c00000000000000ae7e0000000000000000000000000000000000000000000000000000000000000000000000000000000000e604";
const X6: &str = "58003d018b0000000000bf514f00b70000006000093e60514f00b6032fec49ffdc7627000041020000000100010000000000090001010000008f00aba3";

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

fn bench(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    let login = parse_login(b"$ASTRA;AT240;860873041769307;;7.0.22.0;X;1").expect("login");
    let cases: Vec<(&str, Vec<u8>, Option<_>)> = vec![
        (
            "K (captured, 8 records)",
            hex::decode(K3).expect("hex"),
            None,
        ),
        (
            "X mode 4 (captured, 2 reports, 9 modules)",
            hex::decode(X2).expect("hex"),
            None,
        ),
        (
            "X mode 6 (captured, 1 report, 7 modules)",
            hex::decode(X6).expect("hex"),
            Some(login),
        ),
        (
            "M (synthetic, 20 records)",
            synthetic(b'M', 41, 20, 18),
            None,
        ),
        (
            "V (synthetic, 12 records)",
            synthetic(b'V', 72, 12, 22),
            None,
        ),
        (
            "C (synthetic, 25 records)",
            synthetic(b'C', 33, 25, 17),
            None,
        ),
    ];
    let mut group = c.benchmark_group("decode");
    for (name, frame, login) in &cases {
        let records = decode_frame(frame, login.as_ref(), &opts)
            .expect("bench frame decodes")
            .len();
        group.throughput(Throughput::Elements(records as u64));
        group.bench_function(*name, |b| {
            b.iter(|| decode_frame(black_box(frame), login.as_ref(), &opts))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
