//! Fault tests, every tier a real process: a gateway, a decoder-worker or an event-worker killed
//! with SIGKILL mid-journey, a nats-server restart, and the loss of one node of a 3-node NATS
//! cluster. In each, every report a device got acknowledged ends up as its position exactly
//! once, and every event is raised exactly once.

mod pipeline_support;

use astra_tests::cluster::{self, Options};
use astra_tests::nats::NatsServer;
use astra_tests::nats_cluster::NatsCluster;
use pipeline_support::*;
use std::time::Duration;

const PACE: Duration = Duration::from_millis(150);
const MID_JOURNEY: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread")]
async fn gateway_killed_devices_reconnect_to_the_other() {
    let nats = NatsServer::start();
    let o = Options::new(nats.url());
    let _decoder = cluster::decoder(&o);
    let _worker = cluster::event_worker(&o, "w1");
    let mut gw1 = cluster::gateway(&o, "gw1", None);
    let gw2 = cluster::gateway(&o, "gw2", None);
    let js = jetstream(&nats.url()).await;
    let devices = fleet(200);
    let threads = drive(&devices, &[gw1.devices, gw2.devices], PACE);
    tokio::time::sleep(MID_JOURNEY).await;
    gw1.service.kill();
    finish_and_check(&js, &devices, threads).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn decoder_worker_killed_the_other_replica_takes_over() {
    let nats = NatsServer::start();
    let o = Options::new(nats.url());
    let mut d1 = cluster::decoder(&o);
    let _d2 = cluster::decoder(&o);
    let _worker = cluster::event_worker(&o, "w1");
    let gw = cluster::gateway(&o, "gw1", None);
    let js = jetstream(&nats.url()).await;
    let devices = fleet(300);
    let threads = drive(&devices, &[gw.devices], PACE);
    tokio::time::sleep(MID_JOURNEY).await;
    d1.kill();
    finish_and_check(&js, &devices, threads).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn event_worker_killed_the_other_takes_its_partitions() {
    let nats = NatsServer::start();
    let o = Options::new(nats.url());
    let _decoder = cluster::decoder(&o);
    let mut w1 = cluster::event_worker(&o, "w1");
    let _w2 = cluster::event_worker(&o, "w2");
    let gw = cluster::gateway(&o, "gw1", None);
    let js = jetstream(&nats.url()).await;
    // Let w2's arrival rebalance the partitions before the journey starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let devices = fleet(400);
    let threads = drive(&devices, &[gw.devices], PACE);
    tokio::time::sleep(MID_JOURNEY).await;
    w1.kill();
    finish_and_check(&js, &devices, threads).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_server_restart_loses_nothing() {
    let mut nats = NatsServer::start();
    let o = Options::new(nats.url());
    let _decoder = cluster::decoder(&o);
    let _worker = cluster::event_worker(&o, "w1");
    let gw = cluster::gateway(&o, "gw1", None);
    let devices = fleet(500);
    let threads = drive(&devices, &[gw.devices], PACE);
    tokio::time::sleep(MID_JOURNEY).await;
    nats.restart();
    let js = jetstream(&nats.url()).await;
    finish_and_check(&js, &devices, threads).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_one_node_of_a_three_node_cluster_loses_nothing() {
    let mut nats = NatsCluster::start(3);
    let js = jetstream(&nats.urls()).await;
    wait_jetstream(&js).await;
    let mut o = Options::new(nats.urls());
    o.stream_replicas = 3;
    let _decoder = cluster::decoder(&o);
    let _worker = cluster::event_worker(&o, "w1");
    let gw = cluster::gateway(&o, "gw1", None);
    let devices = fleet(600);
    let threads = drive(&devices, &[gw.devices], PACE);
    tokio::time::sleep(MID_JOURNEY).await;
    nats.kill(0);
    finish_and_check(&js, &devices, threads).await;
}
