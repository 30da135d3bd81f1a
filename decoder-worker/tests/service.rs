//! End-to-end tests of `decoder-worker run` / `replay` against a real nats-server, running the
//! real binary as processes: replicas sharing the work and surviving a SIGKILL without loss or
//! duplicates, the DLQ and its replay after a "fix", and the gRPC Decode service. Device order
//! over several replicas and partition hand-over are in `order.rs`.

mod common;

use astra_codec::login::parse_login;
use astra_platform::streams;
use astra_proto::v1::decoder_client::DecoderClient;
use astra_proto::v1::{DecodeRequest, ModuleLayout, Position, RawFrame};
use common::*;
use prost::Message as _;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const IMEI_A: &str = "860873041761486";
const IMEI_B: &str = "860873041769307";
const LOGIN: &str = "$ASTRA;AT402;860873045366969;;7.0.70.3;X;1;8A1B";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_a_sigkill_loses_and_duplicates_nothing() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;

    // 1500 frames of 2 reports each, over two devices; every record has its own device time.
    const FRAMES: u32 = 1500;
    publish_x_load(&js, FRAMES, 2, [IMEI_A, IMEI_B]).await;
    let expected = u64::from(FRAMES) * 2;

    let start = Instant::now();
    // No geocoder: both replicas start consuming at once (loading the offline data set would
    // let one of them take the first fifth alone; tests/geocode.rs covers addresses).
    let args = ["--batch", "50", "--in-flight", "64", "--geocoder", "none"];
    let mut a = spawn_run(&url, "replica-a", &args);
    let b = spawn_run(&url, "replica-b", &args);
    wait_until(
        Duration::from_secs(30),
        "first fifth of the positions",
        || async { count(&js, streams::POSITIONS).await >= expected / 5 },
    )
    .await;
    let at_kill = count(&js, streams::POSITIONS).await;
    a.kill();
    assert!(
        at_kill < expected,
        "replica A was killed after the run ended"
    );

    wait_until(Duration::from_secs(60), "every position", || async {
        count(&js, streams::POSITIONS).await >= expected
    })
    .await;
    let elapsed = start.elapsed();
    // A's partitions move to B when A's leases expire (3 s); B starts them at their ack floor,
    // so what A had not acknowledged is published again (and collapses on the dedup ids).
    wait_until(Duration::from_secs(30), "consumer drained", || async {
        decoder_drained(&js).await
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(&js, streams::POSITIONS).await,
        expected,
        "log B:\n{}",
        b.log_tail()
    );
    assert_eq!(count(&js, streams::DLQ).await, 0);
    // A held unacknowledged frames when it died (and handed one partition over at B's start):
    // B got them again.
    let (_, metrics_b) = http_get(b.admin_port, "/metrics").unwrap();
    let redelivered = metric(&metrics_b, "astra_decoder_frames_redelivered_total").unwrap();
    assert!(redelivered > 0.0, "{metrics_b}");

    let all = read_all(&js, streams::POSITIONS).await;
    let mut ids = HashSet::new();
    let mut per_instance: HashMap<String, u64> = HashMap::new();
    for m in &all {
        let p = Position::decode(m.payload.clone()).unwrap();
        let id = header(m, "Nats-Msg-Id").unwrap();
        assert_eq!(
            id,
            format!(
                "{}:{}:{}",
                p.imei,
                p.device_time.unwrap().seconds,
                p.sequence
            )
        );
        // Stored under the device's partition (ASTRA_POSITIONS' subject transform).
        let partition = astra_platform::partition::partition_of(&p.imei, PARTITIONS);
        assert_eq!(
            m.subject.as_str(),
            format!("astra.position.{partition}.{}", p.imei)
        );
        assert!(ids.insert(id), "duplicate position");
        *per_instance
            .entry(header(m, "Astra-Decoder-Instance").unwrap())
            .or_default() += 1;
    }
    assert_eq!(ids.len() as u64, expected);
    assert!(
        per_instance.get("replica-a").copied().unwrap_or(0) > 0,
        "{per_instance:?}"
    );
    assert!(
        per_instance.get("replica-b").copied().unwrap_or(0) > 0,
        "{per_instance:?}"
    );
    eprintln!(
        "{expected} positions from {FRAMES} frames in {elapsed:?} with a crash at {at_kill}: {:.0} positions/s; per replica {per_instance:?}; {redelivered} frames redelivered, {} duplicate publishes collapsed",
        expected as f64 / elapsed.as_secs_f64(),
        metric(&metrics_b, "astra_decoder_duplicate_positions_total").unwrap_or(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_go_to_the_dlq_and_replay_after_a_fix_recovers_them() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;

    let k3 = raw_frame("357322043523841", vector("traccar-K-3"), None);
    let mut bad_bytes = vector("traccar-K-2");
    if let Some(last) = bad_bytes.last_mut() {
        *last ^= 0xFF;
    }
    let bad = raw_frame("862950025797534", bad_bytes, None);
    let rtc = gps(1_750_000_100);
    let mut modules = power_and_gps(rtc);
    modules.push(beacon_module());
    let beacon_frame = x_frame(
        IMEI_A,
        &[XReport {
            seq: 9,
            rtc,
            reason: 1,
            status: 0x0021, // ignition + stored
            modules,
        }],
    );
    let beacon = raw_frame(IMEI_A, beacon_frame, None);
    let login = parse_login(LOGIN.as_bytes()).unwrap();
    let mode6 = raw_frame(
        "860873045366969",
        vector("traccar-X-mode6-historic"),
        Some(login),
    );
    assert_eq!(publish_raw(&js, &k3).await, 1);
    assert_eq!(publish_raw(&js, &bad).await, 2);
    assert_eq!(publish_raw(&js, &beacon).await, 3);
    assert_eq!(publish_raw(&js, &mode6).await, 4);
    js.publish(
        streams::raw_subject(IMEI_B),
        "not a protobuf \u{1}\u{2}".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let worker = spawn_run(&url, "dlq-a", &["--layout", "legacy"]);
    wait_until(
        Duration::from_secs(30),
        "positions and DLQ entries",
        || async {
            count(&js, streams::POSITIONS).await == 9 && count(&js, streams::DLQ).await == 3
        },
    )
    .await;
    wait_until(Duration::from_secs(10), "consumer drained", || async {
        decoder_drained(&js).await
    })
    .await;

    // Positions: the K frame's 8 buffered records keep their device time and are stored; the
    // mode-6 frame was decoded with the session's login.
    let positions: Vec<Position> = read_all(&js, streams::POSITIONS)
        .await
        .iter()
        .map(|m| Position::decode(m.payload.clone()).unwrap())
        .collect();
    let k: Vec<&Position> = positions.iter().filter(|p| p.protocol == "K").collect();
    assert_eq!(k.len(), 8);
    assert!(k.iter().all(|p| p.stored && p.imei == "357322043523841"));
    let times: HashSet<i64> = k.iter().map(|p| p.device_time.unwrap().seconds).collect();
    assert_eq!(
        times.len(),
        8,
        "each stored record keeps its own device time"
    );
    assert!(
        positions
            .iter()
            .all(|p| p.received_time == k3.received_time)
    );
    let m6: Vec<&Position> = positions
        .iter()
        .filter(|p| p.imei == "860873045366969")
        .collect();
    assert_eq!(m6.len(), 1);
    assert_eq!(m6[0].sequence, 139);

    // DLQ: the original RawFrame as payload, the verdict and origin in headers.
    let dlq = read_all(&js, streams::DLQ).await;
    let by_seq: HashMap<String, &async_nats::jetstream::Message> = dlq
        .iter()
        .map(|m| (header(m, "Astra-Source-Sequence").unwrap(), m))
        .collect();
    let crc = by_seq["2"];
    assert_eq!(crc.subject.as_str(), "astra.dlq.862950025797534");
    assert_eq!(header(crc, "Astra-Error-Kind").as_deref(), Some("bad_crc"));
    assert!(header(crc, "Astra-Error").unwrap().contains("CRC"));
    assert_eq!(
        header(crc, "Astra-Source-Stream").as_deref(),
        Some("ASTRA_RAW")
    );
    assert_eq!(
        header(crc, "Nats-Msg-Id").as_deref(),
        Some("dlq:ASTRA_RAW:2")
    );
    assert_eq!(RawFrame::decode(crc.payload.clone()).unwrap(), bad);
    let x = by_seq["3"];
    assert_eq!(x.subject.as_str(), format!("astra.dlq.{IMEI_A}"));
    assert_eq!(header(x, "Astra-Layout").as_deref(), Some("legacy"));
    assert_ne!(header(x, "Astra-Error-Kind").as_deref(), Some("bad_crc"));
    let garbage = by_seq["5"];
    assert_eq!(
        header(garbage, "Astra-Error-Kind").as_deref(),
        Some("invalid_raw_frame")
    );
    assert_eq!(garbage.subject.as_str(), format!("astra.dlq.{IMEI_B}"));

    let (_, metrics) = http_get(worker.admin_port, "/metrics").unwrap();
    assert!(
        metrics.contains("astra_decoder_decode_errors_total{kind=\"bad_crc\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("astra_decoder_records_decoded_total{protocol=\"K\"} 8"));
    assert!(metrics.contains("astra_decoder_publish_latency_seconds_count 2"));
    drop(worker);

    // The "fix": the device runs current firmware. Replaying the DLQ recovers the X frame and
    // removes it; the others still fail, stay, and are reported.
    let (code, lines) = run_replay(&url, &["dlq", "--layout", "current"]);
    assert_eq!(code, 1, "{lines:?}");
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["scanned"], 3, "{lines:?}");
    assert_eq!(summary["decoded"], 1);
    assert_eq!(summary["removed"], 1);
    assert_eq!(summary["failed"], 2);
    let recovered = lines.iter().find(|l| l["result"] == "decoded").unwrap();
    assert_eq!(recovered["imei"], IMEI_A);
    assert_eq!(recovered["positions"], 1);
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "bad_crc" && l["result"] == "failed")
    );
    assert_eq!(count(&js, streams::DLQ).await, 2);
    assert_eq!(count(&js, streams::POSITIONS).await, 10);
    let positions = read_all(&js, streams::POSITIONS).await;
    let last = Position::decode(positions.last().unwrap().payload.clone()).unwrap();
    assert_eq!(last.imei, IMEI_A);
    assert_eq!(last.beacons.as_ref().unwrap().beacons.len(), 1);
    assert!(last.stored);
    assert_eq!(last.device_time.unwrap().seconds, 1_750_000_100);
    assert_eq!(
        header(positions.last().unwrap(), "Nats-Msg-Id").as_deref(),
        Some(format!("{IMEI_A}:1750000100:9").as_str())
    );

    // Replaying a range of ASTRA_RAW re-publishes with the same ids: everything collapses.
    let (code, lines) = run_replay(
        &url,
        &[
            "raw",
            "--from-seq",
            "1",
            "--to-seq",
            "4",
            "--layout",
            "current",
        ],
    );
    assert_eq!(code, 1, "{lines:?}");
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["scanned"], 4, "{lines:?}");
    assert_eq!(summary["positions"], 10);
    assert_eq!(summary["duplicates"], 10);
    assert_eq!(count(&js, streams::POSITIONS).await, 10);

    // IMEI filter: only that device's DLQ entries are looked at.
    let (code, lines) = run_replay(&url, &["dlq", "--imei", "862950025797534", "--dry-run"]);
    assert_eq!(code, 1);
    assert_eq!(lines.last().unwrap()["summary"]["scanned"], 1, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_decode_returns_positions_or_a_typed_error() {
    let nats = NatsServer::start();
    let worker = spawn_run(&nats.url(), "grpc-a", &[]);
    wait_ready(&worker).await;
    let endpoint = format!("http://127.0.0.1:{}", worker.grpc_port);
    let mut client = DecoderClient::connect(endpoint.clone()).await.unwrap();

    let reply = client
        .decode(DecodeRequest {
            frame: vector("traccar-K-3"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.error, None);
    assert_eq!(reply.positions.len(), 8);
    assert_eq!(reply.positions[0].imei, "357322043523841");

    let reply = client
        .decode(DecodeRequest {
            frame: vector("traccar-X-mode6-historic"),
            login: LOGIN.into(),
            layout: ModuleLayout::Current as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.positions.len(), 1);
    assert_eq!(reply.positions[0].imei, "860873045366969");

    let mut bad = vector("traccar-K-1");
    if let Some(b) = bad.last_mut() {
        *b ^= 0x55;
    }
    let reply = client
        .decode(DecodeRequest {
            frame: bad,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.positions.is_empty());
    let error = reply.error.unwrap();
    assert_eq!(error.kind, "bad_crc");
    assert!(error.message.contains("CRC"), "{}", error.message);

    let reply = client
        .decode(DecodeRequest {
            frame: vector("traccar-X-mode6-historic"),
            login: "$ASTRA;nonsense".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.error.unwrap().kind, "invalid_login");

    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "astra.v1.Decoder".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    assert_eq!(http_get(worker.admin_port, "/healthz").unwrap().0, 200);
    let (_, metrics) = http_get(worker.admin_port, "/metrics").unwrap();
    assert!(metrics.contains("astra_decoder_grpc_requests_total{outcome=\"bad_crc\"} 1"));
    assert!(
        metrics.contains("astra_decoder_consumer_pending 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_mid_run_loses_and_duplicates_nothing() {
    let mut nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    const FRAMES: u32 = 1000;
    publish_x_load(&js, FRAMES, 2, [IMEI_A, IMEI_B]).await;
    let expected = u64::from(FRAMES) * 2;
    let worker = spawn_run(&url, "outage", &["--batch", "50", "--in-flight", "64"]);
    wait_until(Duration::from_secs(30), "first positions", || async {
        count(&js, streams::POSITIONS).await >= expected / 5
    })
    .await;
    // Publishes and acks in flight fail; the frames are nak'd or redelivered, never dropped.
    let before = count(&js, streams::POSITIONS).await;
    nats.restart();
    assert!(before < expected, "the outage came after the run ended");
    let js = jetstream(&url).await;
    wait_until(Duration::from_secs(60), "every position", || async {
        count(&js, streams::POSITIONS).await >= expected
    })
    .await;
    wait_until(Duration::from_secs(60), "consumer drained", || async {
        decoder_drained(&js).await
    })
    .await;
    assert_eq!(
        count(&js, streams::POSITIONS).await,
        expected,
        "{}",
        worker.log_tail()
    );
    let ids: HashSet<String> = read_all(&js, streams::POSITIONS)
        .await
        .iter()
        .filter_map(|m| header(m, "Nats-Msg-Id"))
        .collect();
    assert_eq!(ids.len() as u64, expected);
    wait_ready(&worker).await;
    let (_, metrics) = http_get(worker.admin_port, "/metrics").unwrap();
    let value = |name: &str| metric(&metrics, name).unwrap_or(0.0);
    eprintln!(
        "outage at {before}/{expected}: {} redelivered, {} publish naks, {} ack failures, {} duplicates collapsed",
        value("astra_decoder_frames_redelivered_total"),
        value("astra_decoder_naks_total{stage=\"publish\"}"),
        value("astra_decoder_ack_failures_total"),
        value("astra_decoder_duplicate_positions_total"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_fails_fast_without_nats_and_is_not_ready_when_nats_is_gone() {
    // Nothing listens on this port: the replica must exit with an error, not hang.
    let port = free_port();
    let mut p = spawn_run(&format!("nats://127.0.0.1:{port}"), "no-nats", &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "replica did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());

    let mut nats = NatsServer::start();
    let worker = spawn_run(&nats.url(), "readiness", &[]);
    wait_ready(&worker).await;
    nats.kill();
    wait_until(Duration::from_secs(10), "not ready", || async {
        http_get(worker.admin_port, "/readyz").map(|r| r.0) == Some(503)
    })
    .await;
    nats.restart();
    wait_ready(&worker).await;

    // SIGTERM: a clean, prompt exit.
    let mut worker = worker;
    let pid = worker.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = worker.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}\n{}", worker.log_tail());
}

/// Throughput of one replica (run with `--release -- --ignored --nocapture`): 20 000 frames of
/// 2 records already queued, measured from the first position to the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check; run in release"]
async fn throughput_of_one_replica() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    const FRAMES: u32 = 20_000;
    publish_x_load(&js, FRAMES, 2, [IMEI_A, IMEI_B]).await;
    let expected = u64::from(FRAMES) * 2;
    let _worker = spawn_run(&url, "throughput", &[]);
    wait_until(Duration::from_secs(60), "first position", || async {
        count(&js, streams::POSITIONS).await > 0
    })
    .await;
    let start = Instant::now();
    wait_until(Duration::from_secs(600), "every position", || async {
        count(&js, streams::POSITIONS).await >= expected
    })
    .await;
    let elapsed = start.elapsed();
    eprintln!(
        "one replica: {expected} positions ({FRAMES} frames) in {elapsed:?}: {:.0} positions/s, {:.0} frames/s",
        expected as f64 / elapsed.as_secs_f64(),
        f64::from(FRAMES) / elapsed.as_secs_f64()
    );
}
