//! Device order with several replicas (issue 15), against a real nats-server with the real
//! binary: a backlog of frames from many devices, drained by three replicas of which one is
//! SIGKILLed mid-drain, must come out in ASTRA_POSITIONS with each device's positions in the
//! order of its frames, none missing, none twice. And partitions move: a replica started later
//! takes its share within seconds, a dead one's share moves within the lease TTL.

mod common;

use astra_platform::streams;
use astra_proto::v1::Position;
use common::*;
use prost::Message as _;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

const DEVICES: u32 = 48;
const FRAMES_PER_DEVICE: u32 = 50;
const RECORDS_PER_FRAME: u32 = 2;
/// Unix time of the first record of every device.
const BASE: i64 = 1_750_000_000;

/// A valid IMEI (check digit included: the decoder refuses others) per device.
fn imei(device: u32) -> String {
    astra_tests::device::imei(700 + device)
}

/// The backlog, published as a gateway would (to `astra.raw.<imei>`, pipelined on one
/// connection): frame `k` of every device, then frame `k + 1`; record `r` of frame `k` has
/// device time `BASE + k·RECORDS + r` and sequence `k`, so a position tells its place.
async fn publish_backlog(js: &async_nats::jetstream::Context) {
    let mut acks = Vec::new();
    for k in 0..FRAMES_PER_DEVICE {
        for d in 0..DEVICES {
            let imei = imei(d);
            let reports: Vec<XReport> = (0..RECORDS_PER_FRAME)
                .map(|r| {
                    let unix = BASE + i64::from(k * RECORDS_PER_FRAME + r);
                    XReport {
                        seq: u8::try_from(k).expect("seq"),
                        rtc: gps(unix),
                        reason: 1,
                        status: 1,
                        modules: power_and_gps(gps(unix)),
                    }
                })
                .collect();
            let raw = raw_frame(&imei, x_frame(&imei, &reports), None);
            acks.push(
                js.publish(streams::raw_subject(&imei), raw.encode_to_vec().into())
                    .await
                    .expect("publish"),
            );
            if acks.len() >= 500 {
                for ack in acks.drain(..) {
                    ack.await.expect("ack");
                }
            }
        }
    }
    for ack in acks {
        ack.await.expect("ack");
    }
}

/// Per device: positions out of its frames' order, missing, stored twice.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    positions: u64,
    out_of_order: u64,
    missing: u64,
    duplicated: u64,
}

fn judge(positions: &[Position]) -> (Verdict, BTreeMap<String, Verdict>) {
    let mut per_device: HashMap<String, Vec<i64>> = HashMap::new();
    for p in positions {
        let place = p.device_time.expect("device time").seconds - BASE;
        per_device.entry(p.imei.clone()).or_default().push(place);
    }
    let expected_per_device = i64::from(FRAMES_PER_DEVICE * RECORDS_PER_FRAME);
    let mut total = Verdict::default();
    let mut by_device = BTreeMap::new();
    for d in 0..DEVICES {
        let places = per_device.remove(&imei(d)).unwrap_or_default();
        let mut v = Verdict {
            positions: places.len() as u64,
            ..Verdict::default()
        };
        let mut newest = -1;
        let mut seen = HashSet::new();
        for &place in &places {
            if !seen.insert(place) {
                v.duplicated += 1;
            } else if place < newest {
                v.out_of_order += 1;
            }
            newest = newest.max(place);
        }
        v.missing = (0..expected_per_device)
            .filter(|p| !seen.contains(p))
            .count() as u64;
        total.positions += v.positions;
        total.out_of_order += v.out_of_order;
        total.missing += v.missing;
        total.duplicated += v.duplicated;
        by_device.insert(imei(d), v);
    }
    // Positions of devices that were never sent would be a bug too.
    total.duplicated += per_device.values().map(|v| v.len() as u64).sum::<u64>();
    (total, by_device)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_keep_each_devices_order_through_a_sigkill() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    publish_backlog(&js).await;
    let frames = u64::from(DEVICES * FRAMES_PER_DEVICE);
    let expected = frames * u64::from(RECORDS_PER_FRAME);
    assert_eq!(count(&js, streams::RAW).await, frames);

    // Few frames in flight per replica, so the drain lasts long enough to kill one mid-way.
    let args = ["--batch", "20", "--in-flight", "2", "--geocoder", "none"];
    let start = Instant::now();
    let mut replicas: Vec<Proc> = ["order-a", "order-b", "order-c"]
        .iter()
        .map(|name| spawn_run(&url, name, &args))
        .collect();
    for r in &replicas {
        wait_ready(r).await;
    }
    // Kill a replica that holds partitions, once the drain is under way and the partitions are
    // divided between the three.
    wait_until(Duration::from_secs(30), "partitions divided", || async {
        replicas.iter().all(|r| partitions_owned(r) > 0)
    })
    .await;
    wait_until(
        Duration::from_secs(60),
        "a fifth of the positions",
        || async { count(&js, streams::POSITIONS).await >= expected / 5 },
    )
    .await;
    let victim_partitions = partitions_owned(&replicas[0]);
    let victim_frames = replica_metric(&replicas[0], "astra_decoder_frames_consumed_total");
    replicas[0].kill();
    let at_kill = count(&js, streams::POSITIONS).await;
    let killed_after = start.elapsed();
    assert!(
        at_kill < expected,
        "the replica was killed after the drain ended"
    );
    assert!(victim_partitions > 0);

    wait_until(Duration::from_secs(120), "every position", || async {
        count(&js, streams::POSITIONS).await >= expected
    })
    .await;
    wait_until(
        Duration::from_secs(30),
        "every partition drained",
        || async { decoder_drained(&js).await },
    )
    .await;
    let elapsed = start.elapsed();
    // The dead replica's partitions all move to the survivors (within the lease TTL).
    wait_until(
        Duration::from_secs(15),
        "survivors hold every partition",
        || async { replicas[1..].iter().map(partitions_owned).sum::<u32>() == PARTITIONS },
    )
    .await;
    let survivors: Vec<u32> = replicas[1..].iter().map(partitions_owned).collect();

    let stored = read_all(&js, streams::POSITIONS).await;
    let mut per_instance: HashMap<String, u64> = HashMap::new();
    let positions: Vec<Position> = stored
        .iter()
        .map(|m| {
            *per_instance
                .entry(header(m, "Astra-Decoder-Instance").unwrap_or_default())
                .or_default() += 1;
            Position::decode(m.payload.clone()).expect("position")
        })
        .collect();
    let (total, by_device) = judge(&positions);
    let redelivered: f64 = replicas[1..]
        .iter()
        .filter_map(|r| replica_metric(r, "astra_decoder_frames_redelivered_total"))
        .sum();
    let collapsed: f64 = replicas[1..]
        .iter()
        .filter_map(|r| replica_metric(r, "astra_decoder_duplicate_positions_total"))
        .sum();
    eprintln!(
        "{frames} frames ({expected} positions) of {DEVICES} devices, 3 replicas, order-a \
         (holding {victim_partitions} partitions, {victim_frames:?} frames handled) SIGKILLed at \
         {at_kill} positions after {killed_after:?}; drained in {elapsed:?}; per replica \
         {per_instance:?}; survivors hold {survivors:?}; {redelivered} frames taken over, \
         {collapsed} re-published positions collapsed; stored {} positions: {} out of order, \
         {} missing, {} duplicated",
        total.positions, total.out_of_order, total.missing, total.duplicated
    );
    let bad: Vec<_> = by_device
        .iter()
        .filter(|(_, v)| v.out_of_order + v.missing + v.duplicated > 0)
        .collect();
    assert!(bad.is_empty(), "devices out of order: {bad:?}");
    assert_eq!(total.positions, expected);
    for name in ["order-a", "order-b", "order-c"] {
        assert!(
            per_instance.get(name).copied().unwrap_or(0) > 0,
            "{name} published nothing: {per_instance:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_takes_a_share_within_seconds_and_a_dead_ones_share_moves() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    let args = ["--geocoder", "none"];
    let a = spawn_run(&url, "share-a", &args);
    wait_ready(&a).await;
    wait_until(
        Duration::from_secs(10),
        "a holds every partition",
        || async { partitions_owned(&a) == PARTITIONS },
    )
    .await;

    let mut b = spawn_run(&url, "share-b", &args);
    wait_ready(&b).await;
    let joined = Instant::now();
    wait_until(Duration::from_secs(5), "b takes a share", || async {
        partitions_owned(&b) > 0
    })
    .await;
    let took = joined.elapsed();
    wait_until(
        Duration::from_secs(10),
        "a and b divide the partitions",
        || async {
            let (pa, pb) = (partitions_owned(&a), partitions_owned(&b));
            pa > 0 && pb > 0 && pa + pb == PARTITIONS
        },
    )
    .await;
    let b_share = partitions_owned(&b);

    // Frames are decoded whichever replica holds their partition.
    let frames = 64u32;
    for d in 0..frames {
        let imei = imei(d);
        let unix = BASE + i64::from(d);
        let report = XReport {
            seq: 1,
            rtc: gps(unix),
            reason: 1,
            status: 1,
            modules: power_and_gps(gps(unix)),
        };
        publish_raw(&js, &raw_frame(&imei, x_frame(&imei, &[report]), None)).await;
    }
    wait_until(Duration::from_secs(20), "every position", || async {
        count(&js, streams::POSITIONS).await == u64::from(frames)
    })
    .await;

    // A dead replica's partitions move once its leases expire (3 s).
    b.kill();
    let died = Instant::now();
    wait_until(Duration::from_secs(10), "a takes b's share", || async {
        partitions_owned(&a) == PARTITIONS
    })
    .await;
    let moved = died.elapsed();
    wait_until(
        Duration::from_secs(20),
        "every partition drained",
        || async { decoder_drained(&js).await },
    )
    .await;
    eprintln!(
        "share-b took {b_share} partitions; its first {took:?} after it was ready; its share \
         moved back {moved:?} after SIGKILL"
    );
}
