//! Failover: two workers share the partitions; one is killed with SIGKILL mid-journey. The other
//! takes its partitions over after the lease TTL and resumes from the checkpoints, so every
//! device's event sequence equals the one a single worker produces: nothing missing, nothing
//! doubled.

mod common;

use astra_proto::v1::EventType;
use astra_tests::nats::NatsServer;
use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const DEVICES: u32 = 24;

type Sequences = BTreeMap<String, Vec<(EventType, String)>>;

async fn publish_steps(js: &async_nats::jetstream::Context, steps: std::ops::Range<u32>) {
    for k in steps {
        for n in 0..DEVICES {
            publish_position(js, &journey_step(n, k)).await;
        }
    }
}

fn expected_total() -> u64 {
    u64::from(DEVICES) * journey_events().len() as u64
}

async fn single_worker_run() -> Sequences {
    let nats = NatsServer::start();
    let (_w, _) = worker(&nats, "solo", &[]);
    let js = connect(&nats).await;
    publish_steps(&js, 0..JOURNEY_STEPS).await;
    assert_eq!(
        wait_events(&js, expected_total(), Duration::from_secs(60)).await,
        expected_total()
    );
    per_device(&stored_events(&js).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_worker_mid_journey_loses_and_doubles_nothing() {
    let reference = single_worker_run().await;
    assert_eq!(reference.len(), DEVICES as usize);
    for seq in reference.values() {
        let types: Vec<EventType> = seq.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, journey_events());
    }

    let nats = NatsServer::start();
    let (mut a, _) = worker(&nats, "worker-a", &[]);
    let js = connect(&nats).await;
    let (_b, _) = worker(&nats, "worker-b", &[]);
    // Both hold partitions once b's arrival has been rebalanced.
    let leases = loop {
        if let Ok(kv) = js.get_key_value("astra-partitions").await {
            let mut holders = std::collections::BTreeSet::new();
            for p in 0..8 {
                if let Ok(Some(v)) = kv.get(format!("p.{p}")).await {
                    holders.insert(String::from_utf8_lossy(&v).into_owned());
                }
            }
            if holders.len() == 2 {
                break holders;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        leases.into_iter().collect::<Vec<_>>(),
        ["worker-a", "worker-b"]
    );

    publish_steps(&js, 0..6).await;
    // Let part of it be processed, then crash a while it is busy.
    wait_events(&js, expected_total() / 4, Duration::from_secs(30)).await;
    a.kill();
    publish_steps(&js, 6..JOURNEY_STEPS).await;

    let got = wait_events(&js, expected_total(), Duration::from_secs(60)).await;
    assert_eq!(got, expected_total(), "events after failover");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = stored_events(&js).await;
    assert_eq!(events.len() as u64, expected_total(), "no event doubled");
    assert_eq!(per_device(&events), reference);
    // The survivor holds every partition.
    let kv = js.get_key_value("astra-partitions").await.unwrap();
    for p in 0..8 {
        let holder = kv.get(format!("p.{p}")).await.unwrap().unwrap();
        assert_eq!(&holder[..], b"worker-b", "partition {p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn timers_resume_on_the_worker_that_took_over() {
    let nats = NatsServer::start();
    let short = ["--offline-after", "4s"];
    let (mut a, _) = worker(&nats, "worker-a", &short);
    let js = connect(&nats).await;
    // Online, then silent: only a timer can take the device offline.
    publish_position(&js, &journey_step(7, 0)).await;
    assert_eq!(wait_events(&js, 1, Duration::from_secs(20)).await, 1);
    a.kill();
    let (_b, _) = worker(&nats, "worker-b", &short);
    // b gets the partition after a's lease expires (2 s), re-arms the timer from the
    // checkpoint, and raises the offline that a never got to.
    assert_eq!(wait_events(&js, 2, Duration::from_secs(30)).await, 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = stored_events(&js).await;
    let kinds: Vec<EventType> = per_device(&events)[&imei(7)]
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(kinds, [EventType::DeviceOnline, EventType::DeviceOffline]);
    assert_eq!(events[1].1.reason, "no frame");
}
