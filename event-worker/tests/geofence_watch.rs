//! The geofence watcher against a real nats-server: the first load skips invalid entries, then
//! puts, changes and deletes in KV `astra-geofences` reach the index without a restart, also
//! across a nats-server restart.

use astra_events::geofence::{self, LoadReport, SharedIndex};
use astra_platform::streams;
use astra_proto::v1::{self as pb, geofence::Shape};
use astra_tests::nats::NatsServer;
use astra_tests::wait::wait_until;
use async_nats::jetstream::kv;
use prost::Message;
use std::time::Duration;

const IMEI: &str = "860873041761486";

fn circle(id: &str, lat: f64, lon: f64, radius_m: f64) -> pb::Geofence {
    pb::Geofence {
        id: id.into(),
        name: format!("fence {id}"),
        shape: Some(Shape::Circle(pb::Circle {
            center: Some(pb::LatLon {
                latitude: lat,
                longitude: lon,
            }),
            radius_m,
        })),
        ..Default::default()
    }
}

fn square(id: &str, lat: f64, lon: f64) -> pb::Geofence {
    let ll = |latitude, longitude| pb::LatLon {
        latitude,
        longitude,
    };
    pb::Geofence {
        id: id.into(),
        shape: Some(Shape::Polygon(pb::Polygon {
            outer: Some(pb::Ring {
                points: vec![
                    ll(lat, lon),
                    ll(lat, lon + 0.1),
                    ll(lat + 0.1, lon + 0.1),
                    ll(lat + 0.1, lon),
                    ll(lat, lon),
                ],
            }),
            holes: vec![],
        })),
        speed_limit_kmh: Some(30.0),
        ..Default::default()
    }
}

async fn put(kv: &kv::Store, g: &pb::Geofence) {
    kv.put(&g.id, g.encode_to_vec().into()).await.unwrap();
}

async fn bucket(nats: &NatsServer) -> kv::Store {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    streams::ensure_kv(&js, streams::KV_GEOFENCES, 1)
        .await
        .unwrap()
}

/// Ids of the fences containing the point for any device.
fn at(index: &SharedIndex, lat: f64, lon: f64) -> Vec<String> {
    index
        .read()
        .unwrap()
        .containing(lat, lon, IMEI, &[])
        .iter()
        .map(|f| f.id.clone())
        .collect()
}

fn ids(index: &SharedIndex) -> Vec<String> {
    let mut ids: Vec<String> = index.read().unwrap().iter().map(|f| f.id.clone()).collect();
    ids.sort();
    ids
}

/// Polls until `check` holds, failing with `what` after `timeout` (the index is read in place,
/// so each look is a ready future).
async fn eventually(what: &str, timeout: Duration, check: impl Fn() -> bool) {
    wait_until(timeout, what, || std::future::ready(check())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loads_then_applies_puts_changes_and_deletes() {
    let nats = NatsServer::start();
    let kv = bucket(&nats).await;
    put(&kv, &circle("depot", 51.5, -0.1, 200.0)).await;
    put(&kv, &circle("yard", 48.1, 11.6, 300.0)).await;
    // Invalid entries: undecodable, invalid shape, id differing from its key.
    kv.put("broken", vec![0xff, 0xff, 0xff].into())
        .await
        .unwrap();
    put(&kv, &circle("zero", 0.0, 0.0, 0.0)).await;
    kv.put(
        "alias",
        circle("other", 1.0, 1.0, 10.0).encode_to_vec().into(),
    )
    .await
    .unwrap();
    // A deleted key leaves a tombstone that the load must not turn into a fence.
    put(&kv, &circle("gone", 2.0, 2.0, 10.0)).await;
    kv.delete("gone").await.unwrap();

    let index = SharedIndex::default();
    let (report, follower) = geofence::start(kv.clone(), index.clone()).await.unwrap();
    assert_eq!(
        report,
        LoadReport {
            fences: 2,
            skipped: 3
        }
    );
    assert_eq!(ids(&index), ["depot", "yard"]);
    assert_eq!(at(&index, 51.5, -0.1), ["depot"]);
    assert_eq!(at(&index, 48.1, 11.6), ["yard"]);
    assert_eq!(at(&index, 2.0, 2.0), Vec::<String>::new());

    let deadline = Duration::from_secs(5);
    // A change moves the fence.
    put(&kv, &circle("depot", 10.0, 10.0, 200.0)).await;
    eventually("depot moved", deadline, || {
        at(&index, 10.0, 10.0) == ["depot"] && at(&index, 51.5, -0.1).is_empty()
    })
    .await;
    // A new fence appears, overlapping the moved one: sorted by id.
    put(&kv, &square("area", 9.95, 9.95)).await;
    eventually("new polygon", deadline, || {
        at(&index, 10.0, 10.0) == ["area", "depot"]
    })
    .await;
    assert_eq!(
        index.read().unwrap().get("area").unwrap().speed_limit_kmh,
        Some(30.0)
    );
    // A delete removes it.
    kv.delete("yard").await.unwrap();
    eventually("yard deleted", deadline, || {
        ids(&index) == ["area", "depot"]
    })
    .await;
    assert!(at(&index, 48.1, 11.6).is_empty());
    // A stored fence that turns invalid is dropped, and an invalid key fixed later is picked up.
    put(&kv, &circle("depot", 10.0, 10.0, -1.0)).await;
    put(&kv, &circle("zero", 0.0, 0.0, 50.0)).await;
    eventually("depot dropped, zero fixed", deadline, || {
        ids(&index) == ["area", "zero"]
    })
    .await;
    assert_eq!(at(&index, 10.0, 10.0), ["area"]);
    assert_eq!(at(&index, 0.0, 0.0), ["zero"]);
    // Purge removes as well.
    kv.purge("area").await.unwrap();
    eventually("area purged", deadline, || ids(&index) == ["zero"]).await;
    follower.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_bucket_is_ready_at_once_and_watch_reports_readiness() {
    let nats = NatsServer::start();
    let kv = bucket(&nats).await;
    let index = SharedIndex::default();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(geofence::watch(kv.clone(), index.clone(), Some(ready_tx)));
    let report = tokio::time::timeout(Duration::from_secs(5), ready_rx)
        .await
        .expect("ready in time")
        .unwrap();
    assert_eq!(
        report,
        LoadReport {
            fences: 0,
            skipped: 0
        }
    );
    assert!(index.read().unwrap().is_empty());
    put(&kv, &circle("first", 1.0, 1.0, 100.0)).await;
    eventually("first fence", Duration::from_secs(5), || {
        at(&index, 1.0, 1.0) == ["first"]
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn start_returns_only_after_every_fence_is_loaded() {
    let nats = NatsServer::start();
    let kv = bucket(&nats).await;
    for i in 0..500 {
        let g = circle(&format!("f{i:03}"), f64::from(i) / 10.0, 0.0, 100.0);
        put(&kv, &g).await;
    }
    // Overwritten values count once, with their latest shape.
    put(&kv, &circle("f000", -10.0, -10.0, 100.0)).await;
    let index = SharedIndex::default();
    let (report, follower) = geofence::start(kv, index.clone()).await.unwrap();
    assert_eq!(
        report,
        LoadReport {
            fences: 500,
            skipped: 0
        }
    );
    assert_eq!(index.read().unwrap().len(), 500);
    assert_eq!(at(&index, 49.9, 0.0), ["f499"]);
    assert_eq!(at(&index, -10.0, -10.0), ["f000"]);
    assert!(at(&index, 0.0, 0.0).is_empty());
    follower.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn follows_changes_made_while_nats_restarted() {
    let mut nats = NatsServer::start();
    let kv = bucket(&nats).await;
    put(&kv, &circle("a", 1.0, 1.0, 100.0)).await;
    put(&kv, &circle("b", 2.0, 2.0, 100.0)).await;
    let index = SharedIndex::default();
    let (_, follower) = geofence::start(kv.clone(), index.clone()).await.unwrap();
    assert_eq!(ids(&index), ["a", "b"]);

    nats.restart();
    // Writes go through a separate connection; the watcher must catch up on both.
    let writer = bucket(&nats).await;
    writer.delete("a").await.unwrap();
    put(&writer, &circle("c", 3.0, 3.0, 100.0)).await;
    eventually("changes after restart", Duration::from_secs(30), || {
        ids(&index) == ["b", "c"]
    })
    .await;
    follower.abort();
}
