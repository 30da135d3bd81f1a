//! One packet's path is one trace: the `traceparent` the gateway puts on the raw frame is
//! continued by the decoder-worker on the position and by the event-worker on the event it
//! causes (same trace id, each hop its own span).

mod pipeline_support;

use astra_proto::v1::{Event, EventType, Position, RawFrame};
use astra_tests::cluster::{self, Options};
use astra_tests::encoder::Protocol;
use astra_tests::journey::{self, Kind};
use astra_tests::nats::NatsServer;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use pipeline_support::*;
use prost::Message;
use std::time::Duration;

/// (trace id, span id) of a message's `traceparent` (`00-<trace>-<span>-<flags>`).
fn traceparent(m: &jetstream::Message) -> (String, String) {
    let value = m
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| panic!("no traceparent on {}", m.subject));
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1].len(), 32);
    assert_ne!(parts[1], "0".repeat(32));
    (parts[1].to_owned(), parts[2].to_owned())
}

async fn messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::Message> {
    let consumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(Ok(m)) = batch.next().await {
        out.push(m);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_its_position_and_its_event_share_one_trace() {
    let nats = NatsServer::start();
    let o = Options::new(nats.url());
    let _decoder = cluster::decoder(&o);
    let _worker = cluster::event_worker(&o, "w1");
    let gw = cluster::gateway(&o, "gw1", None);
    let js = jetstream(&nats.url()).await;

    let kind = Kind::tcp(Protocol::K);
    let imei = astra_tests::device::imei(700);
    let frames = journey::frames(&imei, 0, kind);
    journey::deliver(
        &[gw.devices],
        kind,
        &imei,
        &frames,
        Duration::ZERO,
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(wait_count(&js, "ASTRA_EVENTS", 5, Duration::from_secs(30)).await >= 5);

    // Report 2 (120 km/h) is the overspeed.
    let raw = messages(&js, "ASTRA_RAW").await;
    let raw2 = raw
        .iter()
        .find(|m| RawFrame::decode(m.payload.clone()).unwrap().frame == frames[2])
        .expect("raw frame of report 2");
    let positions = messages(&js, "ASTRA_POSITIONS").await;
    let p2 = positions
        .iter()
        .find(|m| Position::decode(m.payload.clone()).unwrap().sequence == 2)
        .expect("position of report 2");
    let events = messages(&js, "ASTRA_EVENTS").await;
    let overspeed = events
        .iter()
        .find(|m| Event::decode(m.payload.clone()).unwrap().r#type == EventType::Overspeed as i32)
        .expect("overspeed event");

    // The trace header must not displace the dedup id on any hop.
    for m in [raw2, p2, overspeed] {
        let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id"));
        assert!(id.is_some(), "Nats-Msg-Id kept on {}", m.subject);
    }
    let (raw_trace, raw_span) = traceparent(raw2);
    let (pos_trace, pos_span) = traceparent(p2);
    let (event_trace, event_span) = traceparent(overspeed);
    assert_eq!(
        pos_trace, raw_trace,
        "decoder continues the gateway's trace"
    );
    assert_eq!(event_trace, raw_trace, "event-worker continues it too");
    assert_ne!(pos_span, raw_span);
    assert_ne!(event_span, pos_span);
    // Every frame starts its own trace.
    let other = raw
        .iter()
        .find(|m| RawFrame::decode(m.payload.clone()).unwrap().frame == frames[3])
        .unwrap();
    assert_ne!(traceparent(other).0, raw_trace);
}
