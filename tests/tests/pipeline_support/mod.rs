//! Shared by the end-to-end and fault tests: reading what the pipeline stored back out of
//! JetStream, and the checks every test makes (acknowledged → positions once, exact events).
#![allow(dead_code)]

use astra_proto::v1::{Event, EventType, Position};
use astra_tests::journey::{self, EVENTS, Kind, REPORTS};
use astra_tests::wait::{eventually, wait_until};
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn jetstream(url: &str) -> jetstream::Context {
    let urls: Vec<async_nats::ServerAddr> = url.split(',').map(|u| u.parse().unwrap()).collect();
    let client = async_nats::ConnectOptions::new()
        .connect(urls)
        .await
        .expect("connect to NATS");
    jetstream::new(client)
}

/// Waits until JetStream answers (a fresh cluster needs a few seconds to elect its leader).
pub async fn wait_jetstream(js: &jetstream::Context) {
    wait_until(Duration::from_secs(30), "JetStream", || async {
        js.query_account().await.is_ok()
    })
    .await;
}

async fn count(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Waits until `stream` holds at least `n` messages; returns how many it holds.
pub async fn wait_count(js: &jetstream::Context, stream: &str, n: u64, timeout: Duration) -> u64 {
    let reached = eventually(timeout, || async {
        let c = count(js, stream).await;
        (c >= n).then_some(c)
    })
    .await;
    match reached {
        Some(c) => c,
        None => count(js, stream).await,
    }
}

async fn all_messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::Message> {
    // Right after a cluster node is lost, stream leaders may still be in election: retry.
    let read = eventually(Duration::from_secs(60), || async {
        try_all_messages(js, stream).await.ok()
    })
    .await;
    match read {
        Some(m) => m,
        None => try_all_messages(js, stream)
            .await
            .unwrap_or_else(|e| panic!("reading {stream}: {e}")),
    }
}

async fn try_all_messages(
    js: &jetstream::Context,
    stream: &str,
) -> Result<Vec<jetstream::Message>, String> {
    let stream = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(100_000)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    while let Some(m) = batch.next().await {
        out.push(m.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

pub async fn positions(js: &jetstream::Context) -> Vec<Position> {
    all_messages(js, "ASTRA_POSITIONS")
        .await
        .iter()
        .map(|m| Position::decode(m.payload.as_ref()).expect("Position"))
        .collect()
}

pub async fn events(js: &jetstream::Context) -> Vec<Event> {
    all_messages(js, "ASTRA_EVENTS")
        .await
        .iter()
        .map(|m| Event::decode(m.payload.as_ref()).expect("Event"))
        .collect()
}

fn token(e: &Event) -> String {
    EventType::try_from(e.r#type)
        .map(|t| {
            t.as_str_name()
                .trim_start_matches("EVENT_TYPE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Every device's positions are its journey's reports, each exactly once and exact.
pub fn assert_positions(positions: &[Position], devices: &[(String, u32, Kind)]) {
    let mut by: BTreeMap<&str, Vec<&Position>> = BTreeMap::new();
    for p in positions {
        by.entry(p.imei.as_str()).or_default().push(p);
    }
    for (imei, n, kind) in devices {
        let mut got = by.remove(imei.as_str()).unwrap_or_default();
        got.sort_by_key(|p| p.sequence);
        let seqs: Vec<u32> = got.iter().map(|p| p.sequence).collect();
        assert_eq!(
            seqs,
            (0..REPORTS).collect::<Vec<_>>(),
            "{kind:?} {imei}: once each"
        );
        for p in got {
            let want = journey::report(*n, p.sequence);
            assert_eq!(p.protocol, kind.protocol.name(), "{imei}");
            assert_eq!(p.latitude, want.latitude, "{imei} #{}", p.sequence);
            assert_eq!(p.longitude, want.longitude, "{imei} #{}", p.sequence);
            assert_eq!(p.speed_kmh, want.speed_kmh, "{imei} #{}", p.sequence);
            assert_eq!(p.device_time, want.device_time, "{imei} #{}", p.sequence);
            assert_eq!(
                p.ignition,
                want.status_flags & 1 == 1,
                "{imei} #{}",
                p.sequence
            );
        }
    }
    assert!(
        by.is_empty(),
        "positions of unknown devices: {:?}",
        by.keys()
    );
}

/// Every device raised exactly its journey's events, once each and in order. Presence: online
/// first, then alternating; a TCP device ends offline (its session closed). With
/// `strict_presence`, exactly one online (and for TCP one offline): no reconnects happened.
pub fn assert_events(events: &[Event], devices: &[(String, u32, Kind)], strict_presence: bool) {
    let mut ids = std::collections::BTreeSet::new();
    for e in events {
        assert!(ids.insert(e.id.clone()), "event {} stored twice", e.id);
    }
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in events {
        by.entry(e.imei.as_str()).or_default().push(token(e));
    }
    for (imei, _, kind) in devices {
        let got = by.remove(imei.as_str()).unwrap_or_default();
        let rules: Vec<&str> = got
            .iter()
            .map(String::as_str)
            .filter(|t| !t.starts_with("device_o"))
            .collect();
        assert_eq!(rules, EVENTS, "{kind:?} {imei}: {got:?}");
        let presence: Vec<&str> = got
            .iter()
            .map(String::as_str)
            .filter(|t| t.starts_with("device_o"))
            .collect();
        for (i, p) in presence.iter().enumerate() {
            let want = if i % 2 == 0 {
                "device_online"
            } else {
                "device_offline"
            };
            assert_eq!(*p, want, "{kind:?} {imei}: presence alternates: {got:?}");
        }
        let ends_offline = presence.last() == Some(&"device_offline");
        assert_eq!(ends_offline, !kind.udp, "{kind:?} {imei}: {got:?}");
        if strict_presence {
            assert_eq!(
                presence.len(),
                if kind.udp { 1 } else { 2 },
                "{imei}: {got:?}"
            );
        }
        assert_eq!(
            got.first().map(String::as_str),
            Some("device_online"),
            "{imei}"
        );
    }
    assert!(by.is_empty(), "events of unknown devices: {:?}", by.keys());
}

/// Whether every device has its journey's events and (TCP) ended offline.
fn complete(events: &[Event], devices: &[(String, u32, Kind)]) -> bool {
    devices.iter().all(|(imei, _, kind)| {
        let mine: Vec<String> = events
            .iter()
            .filter(|e| &e.imei == imei)
            .map(token)
            .collect();
        let rules = mine.iter().filter(|t| !t.starts_with("device_o")).count();
        let last_presence = mine.iter().rev().find(|t| t.starts_with("device_o"));
        rules >= EVENTS.len()
            && (kind.udp || last_presence.map(String::as_str) == Some("device_offline"))
    })
}

/// Events expected from `devices` journeys (sessions of TCP devices closed at the end).
pub fn expected_events(devices: &[(String, u32, Kind)]) -> u64 {
    devices
        .iter()
        .map(|(_, _, k)| EVENTS.len() as u64 + if k.udp { 1 } else { 2 })
        .sum()
}

/// The test fleet: one device of every kind.
pub fn fleet(first: u32) -> Vec<(String, u32, Kind)> {
    Kind::all()
        .into_iter()
        .enumerate()
        .map(|(i, k)| (astra_tests::device::imei(first + i as u32), i as u32, k))
        .collect()
}

/// Starts every device's journey on its own thread, one report every `pace`.
pub fn drive(
    devices: &[(String, u32, Kind)],
    gateways: &[std::net::SocketAddr],
    pace: Duration,
) -> Vec<std::thread::JoinHandle<std::io::Result<()>>> {
    devices
        .iter()
        .cloned()
        .map(|(imei, n, kind)| {
            let gateways = gateways.to_vec();
            std::thread::spawn(move || {
                let frames = journey::frames(&imei, n, kind);
                journey::deliver(
                    &gateways,
                    kind,
                    &imei,
                    &frames,
                    pace,
                    Duration::from_secs(120),
                )
            })
        })
        .collect()
}

/// Waits for every device to finish, then checks that every acknowledged report is a position
/// exactly once and that every event came exactly once.
pub async fn finish_and_check(
    js: &jetstream::Context,
    devices: &[(String, u32, Kind)],
    threads: Vec<std::thread::JoinHandle<std::io::Result<()>>>,
) {
    for t in threads {
        t.join()
            .unwrap()
            .expect("every frame acknowledged in the end");
    }
    let reports = devices.len() as u64 * u64::from(REPORTS);
    let got = wait_count(js, "ASTRA_POSITIONS", reports, Duration::from_secs(90)).await;
    assert_eq!(got, reports, "positions");
    // Past the timeout the checks below say what is missing.
    let _ = eventually(Duration::from_secs(90), || async {
        complete(&events(js).await, devices).then_some(())
    })
    .await;
    // Anything doubled would arrive now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored = events(js).await;
    assert_positions(&positions(js).await, devices);
    assert_events(&stored, devices, false);
}
