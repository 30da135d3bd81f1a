//! End to end, every tier as a real process: simulated devices of every protocol over TCP and
//! UDP drive a journey through gateway → decoder-worker → event-worker, and exactly their
//! positions and exactly their events come out.

mod pipeline_support;

use astra_tests::cluster::{self, Options};
use astra_tests::device::imei;
use astra_tests::journey::{self, Kind};
use astra_tests::nats::NatsServer;
use pipeline_support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_protocol_over_tcp_and_udp_yields_exact_positions_and_events() {
    let nats = NatsServer::start();
    let o = Options::new(nats.url());
    let _decoder = cluster::decoder(&o);
    let _events = cluster::event_worker(&o, "w1");
    let gw = cluster::gateway(&o, "gw1", None);
    let js = jetstream(&nats.url()).await;

    let devices: Vec<(String, u32, Kind)> = Kind::all()
        .into_iter()
        .enumerate()
        .map(|(i, k)| (imei(100 + i as u32), i as u32, k))
        .collect();
    let addr = [gw.devices];
    let threads: Vec<_> = devices
        .iter()
        .cloned()
        .map(|(imei, n, kind)| {
            std::thread::spawn(move || {
                let frames = journey::frames(&imei, n, kind);
                journey::deliver(
                    &addr,
                    kind,
                    &imei,
                    &frames,
                    Duration::ZERO,
                    Duration::from_secs(60),
                )
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().expect("every frame acknowledged");
    }

    let reports = devices.len() as u64 * u64::from(journey::REPORTS);
    assert_eq!(
        wait_count(&js, "ASTRA_POSITIONS", reports, Duration::from_secs(60)).await,
        reports
    );
    let want = expected_events(&devices);
    assert_eq!(
        wait_count(&js, "ASTRA_EVENTS", want, Duration::from_secs(60)).await,
        want
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_positions(&positions(&js).await, &devices);
    assert_events(&events(&js).await, &devices, true);
}
