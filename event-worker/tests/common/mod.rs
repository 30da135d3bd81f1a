//! Shared by the event-worker's integration tests: a real nats-server, real worker processes,
//! scripted journeys published as positions, and the events read back from `ASTRA_EVENTS`.
#![allow(dead_code)]

use astra_platform::streams;
use astra_proto::Timestamp;
use astra_proto::v1::{Event, EventType, Position, Reason, SessionEvent};
use astra_tests::nats::NatsServer;
use astra_tests::process::{Service, free_port, local, wait_listening};
use astra_tests::wait::eventually;
use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use futures::StreamExt;
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

pub fn imei(n: u32) -> String {
    astra_tests::device::imei(n)
}

/// Starts an event-worker process; returns it with its admin address.
pub fn worker(nats: &NatsServer, id: &str, extra: &[&str]) -> (Service, std::net::SocketAddr) {
    let admin = local(free_port());
    let grpc = local(free_port());
    let mut args: Vec<String> = [
        "--nats-url",
        &nats.url(),
        "--instance-id",
        id,
        "--admin-addr",
        &admin.to_string(),
        "--grpc-addr",
        &grpc.to_string(),
        "--partitions",
        "8",
        "--lease-ttl",
        "2s",
        "--ack-wait",
        "3s",
        "--speed-limit-kmh",
        "100",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let service = Service::spawn("event-worker", &args);
    assert!(
        wait_listening(admin, Duration::from_secs(30)),
        "worker {id} did not start"
    );
    (service, admin)
}

pub async fn connect(nats: &NatsServer) -> jetstream::Context {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    for s in [streams::POSITIONS, streams::SESSIONS, streams::EVENTS] {
        // The workers' partition count: a stream with another would be refused.
        let layout = streams::Layout {
            replicas: 1,
            partitions: 8,
        };
        streams::ensure_stream(&js, s, &layout).await.unwrap();
    }
    js
}

/// Step `k` of device `n`'s journey: a drive with overspeed, a panic press, a journey stop,
/// ignition off and on, a second drive with overspeed, and a final stop.
pub fn journey_step(n: u32, k: u32) -> Position {
    let north = |m: f64| 51.0 + f64::from(n) * 0.01 + m / 111_195.0;
    let (speed, metres, ignition, reason) = match k {
        0 => (0.0, 0.0, true, None),
        1 => (40.0, 300.0, true, None),
        2 => (120.0, 1300.0, true, None),
        3 => (60.0, 1800.0, true, None),
        4 => (60.0, 2300.0, true, Some(Reason::PanicSwitchActivated)),
        5 => (0.0, 2400.0, true, Some(Reason::JourneyStop)),
        6 => (0.0, 2400.0, false, None),
        7 => (0.0, 2400.0, true, None),
        8 => (50.0, 2800.0, true, None),
        9 => (130.0, 3800.0, true, None),
        10 => (0.0, 4000.0, true, Some(Reason::JourneyStop)),
        _ => (0.0, 4000.0, false, None),
    };
    let t = T0 + i64::from(k) * 30;
    Position {
        imei: imei(n),
        protocol: "X".into(),
        sequence: k,
        device_time: Some(Timestamp::from_unix(t)),
        fix_time: Some(Timestamp::from_unix(t)),
        received_time: Some(Timestamp::now()),
        valid: true,
        latitude: Some(north(metres)),
        longitude: Some(-1.3),
        speed_kmh: Some(speed),
        ignition,
        reasons: reason.map(|r| vec![r as i32]).unwrap_or_default(),
        ..Default::default()
    }
}

pub const JOURNEY_STEPS: u32 = 12;

/// The event types one journey raises (the rules' contract, DESIGN §5).
pub fn journey_events() -> Vec<EventType> {
    use EventType::*;
    vec![
        DeviceOnline,
        DeviceMoving,
        Overspeed,
        Alarm,
        DeviceStopped,
        IgnitionOff,
        IgnitionOn,
        DeviceMoving,
        Overspeed,
        DeviceStopped,
        IgnitionOff,
    ]
}

/// Publishes a position as the decoder-worker does (same subject and `Nats-Msg-Id`).
pub async fn publish_position(js: &jetstream::Context, p: &Position) {
    let t = p.device_time.map_or(0, |t| t.seconds);
    let id = format!("{}:{}:{}", p.imei, t, p.sequence);
    let msg = PublishMessage::build()
        .payload(p.encode_to_vec().into())
        .message_id(id);
    js.send_publish(streams::position_subject(&p.imei), msg)
        .await
        .unwrap()
        .await
        .unwrap();
}

pub async fn publish_session(js: &jetstream::Context, s: &SessionEvent) {
    let msg = PublishMessage::build()
        .payload(s.encode_to_vec().into())
        .message_id(format!("{}:{}", s.session_id, s.kind));
    js.send_publish(streams::session_subject(&s.imei), msg)
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Every event stored in ASTRA_EVENTS, in stream order.
pub async fn stored_events(js: &jetstream::Context) -> Vec<(String, Event)> {
    let stream = js.get_stream(streams::EVENTS).await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut messages = consumer
        .fetch()
        .max_messages(100_000)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(m)) = messages.next().await {
        let e = Event::decode(m.payload.clone()).unwrap();
        out.push((m.subject.to_string(), e));
    }
    out
}

/// Waits until ASTRA_EVENTS holds `count` messages (or the timeout passes); returns the count.
pub async fn wait_events(js: &jetstream::Context, count: u64, timeout: Duration) -> u64 {
    let stream = js.get_stream(streams::EVENTS).await.unwrap();
    let stored = || {
        let mut stream = stream.clone();
        async move { stream.info().await.map(|i| i.state.messages).unwrap_or(0) }
    };
    let reached = eventually(timeout, || async {
        let n = stored().await;
        (n >= count).then_some(n)
    })
    .await;
    match reached {
        Some(n) => n,
        None => stored().await,
    }
}

/// Event (type, id) sequences per device.
pub fn per_device(events: &[(String, Event)]) -> BTreeMap<String, Vec<(EventType, String)>> {
    let mut map: BTreeMap<String, Vec<(EventType, String)>> = BTreeMap::new();
    for (_, e) in events {
        let kind = EventType::try_from(e.r#type).unwrap_or(EventType::Unspecified);
        map.entry(e.imei.clone())
            .or_default()
            .push((kind, e.id.clone()));
    }
    map
}
