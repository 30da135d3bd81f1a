//! Shared helpers of the service tests: real nats-server, the real `decoder-worker` binary as
//! child processes, raw frames built from the captured vectors or by hand, stream readers.

#![allow(dead_code)]

use astra_codec::crc::crc16_modbus;
use astra_platform::streams;
use astra_proto::Timestamp;
use astra_proto::v1::{LoginInfo, RawFrame, Transport};
use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
use futures::StreamExt;
use prost::Message as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use astra_tests::nats::NatsServer;
pub use astra_tests::process::free_port;
use astra_tests::wait::eventually;
pub use astra_tests::wait::wait_until;

/// A `decoder-worker` child process, killed on drop; its stderr goes to a log file.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub admin_port: u16,
    pub grpc_port: u16,
}

impl Proc {
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn log_path(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "decoder-worker-test-{}-{n}-{name}.log",
        std::process::id()
    ))
}

/// Starts `decoder-worker run` against `nats_url` with test-friendly timings.
pub fn spawn_run(nats_url: &str, instance: &str, extra: &[&str]) -> Proc {
    let admin_port = free_port();
    let grpc_port = free_port();
    let log = log_path(instance);
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_decoder-worker"))
        .arg("run")
        .args(["--nats-url", nats_url])
        .args(["--instance-id", instance])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .args(["--grpc-addr", &format!("127.0.0.1:{grpc_port}")])
        .args([
            "--ack-wait",
            "2s",
            "--lag-interval",
            "200ms",
            "--retry-delay",
            "100ms",
            // The first replica creates the lease bucket with it: partitions of a dead replica
            // move within 3 s, rounds every second.
            "--lease-ttl",
            "3s",
        ])
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("ASTRA_LAYOUT")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start decoder-worker");
    Proc {
        child,
        log,
        admin_port,
        grpc_port,
    }
}

/// Runs `decoder-worker replay ...` to completion: (exit code, stdout lines).
pub fn run_replay(nats_url: &str, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_decoder-worker"))
        .arg("replay")
        .args(args)
        .args(["--nats-url", nats_url])
        .env("RUST_LOG", "warn")
        .env_remove("ASTRA_LAYOUT")
        .output()
        .expect("run replay");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    if out.status.code().is_none() || out.status.code() == Some(2) {
        panic!("replay failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    (out.status.code().unwrap_or(-1), lines)
}

/// Plain HTTP GET on 127.0.0.1: (status code, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((status, body))
}

/// Waits until the replica answers 200 on /readyz.
pub async fn wait_ready(p: &Proc) {
    let port = p.admin_port;
    let ready = eventually(Duration::from_secs(20), || async {
        (http_get(port, "/readyz").map(|r| r.0) == Some(200)).then_some(())
    })
    .await;
    assert!(ready.is_some(), "replica not ready; log:\n{}", p.log_tail());
}

/// JetStream context with the cluster's streams created.
pub async fn jetstream(url: &str) -> jetstream::Context {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    for s in [streams::RAW, streams::POSITIONS, streams::DLQ] {
        streams::ensure_stream(&js, s, &streams::Layout::single())
            .await
            .expect("stream");
    }
    js
}

/// Partitions of ASTRA_RAW in the tests (the default of every service).
pub const PARTITIONS: u32 = streams::DEFAULT_PARTITIONS;

/// Whether every partition has its decoder consumer (`decoder-<n>`) and none has frames left
/// to deliver or to acknowledge.
pub async fn decoder_drained(js: &jetstream::Context) -> bool {
    let Ok(stream) = js.get_stream(streams::RAW).await else {
        return false;
    };
    let mut consumers = stream.consumers();
    let mut bound = 0;
    while let Some(info) = consumers.next().await {
        let Ok(info) = info else {
            return false;
        };
        if !info.name.starts_with("decoder-") {
            continue;
        }
        if info.num_pending > 0 || info.num_ack_pending > 0 {
            return false;
        }
        bound += 1;
    }
    bound == PARTITIONS
}

/// A replica's metric, read from /metrics.
pub fn replica_metric(p: &Proc, name: &str) -> Option<f64> {
    let (_, text) = http_get(p.admin_port, "/metrics")?;
    metric(&text, name)
}

/// Partitions a replica holds (its `astra_decoder_partitions_owned` gauge).
pub fn partitions_owned(p: &Proc) -> u32 {
    replica_metric(p, "astra_decoder_partitions_owned").map_or(0, |v| v as u32)
}

pub async fn count(js: &jetstream::Context, stream: &str) -> u64 {
    let mut s = js.get_stream(stream).await.expect("stream");
    s.info().await.expect("info").state.messages
}

/// Every message of a stream, in order.
pub async fn read_all(js: &jetstream::Context, stream: &str) -> Vec<jetstream::Message> {
    let s = js.get_stream(stream).await.expect("stream");
    let consumer = s
        .create_consumer(OrderedConfig::default())
        .await
        .expect("consumer");
    let n = usize::try_from(consumer.cached_info().num_pending).expect("count");
    consumer
        .messages()
        .await
        .expect("messages")
        .take(n)
        .map(|m| m.expect("message"))
        .collect()
        .await
}

pub fn header(m: &async_nats::Message, name: &str) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
}

/// A `RawFrame` as a gateway would publish it.
pub fn raw_frame(imei: &str, frame: Vec<u8>, login: Option<LoginInfo>) -> RawFrame {
    RawFrame {
        imei: imei.to_owned(),
        protocol: frame
            .first()
            .map(|b| char::from(*b).to_string())
            .unwrap_or_default(),
        transport: Transport::Tcp as i32,
        remote_addr: "192.0.2.7:40000".into(),
        gateway_id: "gw-test".into(),
        received_time: Some(Timestamp {
            seconds: 1_750_000_000,
            nanos: 123_000_000,
        }),
        login,
        frame,
        session_id: "s-1".into(),
    }
}

/// Publishes a raw frame to ASTRA_RAW; returns its stream sequence.
pub async fn publish_raw(js: &jetstream::Context, raw: &RawFrame) -> u64 {
    js.publish(streams::raw_subject(&raw.imei), raw.encode_to_vec().into())
        .await
        .expect("publish")
        .await
        .expect("ack")
        .sequence
}

/// The hex of a captured vector in tests/vectors/astra-vectors.json.
pub fn vector(id: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/astra-vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("vectors");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let hex = v["binary_vectors"]
        .as_array()
        .expect("binary_vectors")
        .iter()
        .find(|e| e["id"] == id)
        .and_then(|e| e["hex"].as_str())
        .expect("vector id");
    hex::decode(hex).expect("hex")
}

/// One Protocol X report: header fields and its modules as (bit, bytes) in ascending order.
pub struct XReport {
    pub seq: u8,
    pub rtc: u32,
    pub reason: u32,
    pub status: u16,
    pub modules: Vec<(u8, Vec<u8>)>,
}

/// Power (bit 0) and GPS (bit 1) modules for a report at `rtc` (GPS seconds).
pub fn power_and_gps(rtc: u32) -> Vec<(u8, Vec<u8>)> {
    let mut gps = Vec::new();
    gps.extend(rtc.to_be_bytes()); // fix time
    gps.extend(52_138_826i32.to_be_bytes());
    gps.extend((-326_804i32).to_be_bytes());
    gps.extend([10, 20, 160, 2]); // speed/2, max speed/2, course/2, altitude/20
    gps.extend(12u16.to_be_bytes()); // journey, 0.1 km
    vec![(0, vec![61, 35]), (1, gps)]
}

/// A $MODE,4 X frame (IMEI in the header) with a correct length and CRC.
pub fn x_frame(imei: &str, reports: &[XReport]) -> Vec<u8> {
    let head: u32 = imei[..8].parse().expect("imei");
    let tail: u32 = imei[8..].parse().expect("imei");
    let mut p = vec![b'X', 0, 0, u8::try_from(reports.len()).expect("count")];
    p.extend(head.to_be_bytes());
    p.extend(&tail.to_be_bytes()[1..]);
    for r in reports {
        let mask: u64 = r.modules.iter().map(|(bit, _)| 1u64 << bit).sum();
        p.push(r.seq);
        p.extend(&mask.to_be_bytes()[2..]);
        p.extend(r.rtc.to_be_bytes());
        p.extend(r.reason.to_be_bytes());
        p.extend(r.status.to_be_bytes());
        for (_, m) in &r.modules {
            p.extend(m);
        }
    }
    let total = u16::try_from(p.len() + 2).expect("length");
    p[1..3].copy_from_slice(&total.to_be_bytes());
    let crc = crc16_modbus(&p);
    p.extend(crc.to_be_bytes());
    p
}

/// Module 44 in the *current* (beacon) layout with one beacon: count 1, B = 12, 4 reserved,
/// then MAC, RSSI, companion, last seen, type, metadata length 0. 19 bytes; the legacy layout
/// reads 11, so under `--layout legacy` the frame fails.
pub fn beacon_module() -> (u8, Vec<u8>) {
    let mut m = vec![1];
    m.extend(12u16.to_be_bytes());
    m.extend([0, 0, 0, 0]);
    m.extend([0xAC, 0x23, 0x3F, 0x01, 0x02, 0x03]);
    m.push(0xC4); // -60 dBm
    m.push(0);
    m.extend(5u16.to_be_bytes());
    m.push(2);
    m.push(0);
    (44, m)
}

/// GPS seconds for a unix time.
pub fn gps(unix: i64) -> u32 {
    u32::try_from(unix - 315_964_800).expect("gps time")
}

/// The value of an unlabelled (or fully spelled, `name{label="x"}`) sample in /metrics text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `count` X frames of `reports` records each, alternating over two devices, every record
/// with its own device time (so its own dedup id). Published pipelined; waits for all acks.
pub async fn publish_x_load(js: &jetstream::Context, count: u32, reports: u32, imeis: [&str; 2]) {
    let base = gps(1_750_000_000);
    let mut acks = Vec::new();
    for i in 0..count {
        let imei = imeis[usize::try_from(i % 2).expect("index")];
        let rs: Vec<XReport> = (0..reports)
            .map(|r| XReport {
                seq: u8::try_from(i % 250).expect("seq"),
                rtc: base + i * reports + r,
                reason: 1,
                status: 1,
                modules: power_and_gps(base + i * reports + r),
            })
            .collect();
        let raw = raw_frame(imei, x_frame(imei, &rs), None);
        acks.push(
            js.publish(streams::raw_subject(imei), raw.encode_to_vec().into())
                .await
                .expect("publish"),
        );
        if acks.len() >= 1000 {
            for ack in acks.drain(..) {
                ack.await.expect("ack");
            }
        }
    }
    for ack in acks {
        ack.await.expect("ack");
    }
}
