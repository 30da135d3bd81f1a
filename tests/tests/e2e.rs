//! End to end: real nats-server, real `gateway` and `decoder-worker` processes, simulated devices
//! on real sockets. What a device gets acknowledged comes out as positions on
//! `astra.position.<imei>`, decoded exactly, once each.

use astra_proto::v1::Position;
use astra_tests::device::{Device, imei, k_frame};
use astra_tests::encoder::Protocol;
use astra_tests::encoder::login_line;
use astra_tests::nats::NatsServer;
use astra_tests::process::{Service, free_port, local, wait_listening};
use astra_tests::wait::eventually;
use futures::StreamExt;
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

const X6: &str = "58003d018b0000000000bf514f00b70000006000093e60514f00b6032fec49ffdc7627000041020000000100010000000000090001010000008f00aba3";
const T0: i64 = 1_700_000_000;

fn start_cluster(nats: &NatsServer) -> (Service, Service, std::net::SocketAddr) {
    let decoder = Service::spawn(
        "decoder-worker",
        &[
            "run".into(),
            "--nats-url".into(),
            nats.url(),
            "--admin-addr".into(),
            local(free_port()).to_string(),
            "--grpc-addr".into(),
            local(free_port()).to_string(),
        ],
    );
    let device_addr = local(free_port());
    let gateway = Service::spawn(
        "gateway",
        &[
            "--nats-url".into(),
            nats.url(),
            "--listen".into(),
            device_addr.to_string(),
            "--admin-addr".into(),
            local(free_port()).to_string(),
            "--grpc-addr".into(),
            local(free_port()).to_string(),
        ],
    );
    assert!(
        wait_listening(device_addr, Duration::from_secs(30)),
        "gateway did not listen"
    );
    (gateway, decoder, device_addr)
}

/// Every position in ASTRA_POSITIONS once `expected` have arrived (or the timeout passed).
async fn positions(url: &str, expected: usize) -> Vec<Position> {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    // Past the timeout, whatever arrived is checked (and the test says what is missing).
    let _ = eventually(Duration::from_secs(30), || async {
        let mut stream = js.get_stream("ASTRA_POSITIONS").await.ok()?;
        let info = stream.info().await.expect("stream info");
        (info.state.messages as usize >= expected).then_some(())
    })
    .await;
    let stream = js
        .get_stream("ASTRA_POSITIONS")
        .await
        .expect("positions stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .expect("consumer");
    let mut out = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .expect("fetch");
    while let Some(Ok(msg)) = batch.next().await {
        let p = Position::decode(msg.payload.as_ref()).expect("Position protobuf");
        // Stored under the device's partition (ASTRA_POSITIONS' subject transform; the
        // services run with the default partition count).
        let partition = astra_platform::partition::partition_of(
            &p.imei,
            astra_platform::streams::DEFAULT_PARTITIONS,
        );
        assert_eq!(
            msg.subject.as_str(),
            format!("astra.position.{partition}.{}", p.imei)
        );
        out.push(p);
    }
    out
}

#[test]
fn acknowledged_frames_become_positions_exactly_once() {
    let nats = NatsServer::start();
    let (mut gateway, mut decoder, addr) = start_cluster(&nats);

    // A K device: three frames of two records each, the second frame sent twice (a re-send).
    let k_imei = imei(1);
    let mut k = Device::connect(addr, None).expect("connect K device");
    let frames: Vec<Vec<u8>> = (0..3u8)
        .map(|i| k_frame(&k_imei, i * 2, 2, T0 + i64::from(i) * 60))
        .collect();
    for f in &frames {
        assert!(
            k.send_and_wait(f, Duration::from_secs(10)).unwrap(),
            "K frame acknowledged"
        );
    }
    assert!(
        k.send_and_wait(&frames[1], Duration::from_secs(10))
            .unwrap(),
        "re-sent frame acknowledged"
    );

    // An X device in $MODE,6: login line, then the captured mode-6 report.
    let x_imei = imei(2);
    let login = login_line(Protocol::X, &x_imei, "AT240", "7.0.22.0");
    let mut x = Device::connect(addr, Some(&login)).expect("X device logs in");
    assert!(
        x.send_and_wait(&hex::decode(X6).unwrap(), Duration::from_secs(10))
            .unwrap()
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let got = runtime.block_on(positions(&nats.url(), 7));
    let mut by_device: BTreeMap<&str, Vec<&Position>> = BTreeMap::new();
    for p in &got {
        by_device.entry(p.imei.as_str()).or_default().push(p);
    }
    let k_positions = &by_device[k_imei.as_str()];
    let mut seqs: Vec<u32> = k_positions.iter().map(|p| p.sequence).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        vec![0, 1, 2, 3, 4, 5],
        "each K record once, the re-send collapsed"
    );
    for p in k_positions {
        assert_eq!(p.protocol, "K");
        assert_eq!(p.latitude, Some(51.5 + f64::from(p.sequence) / 1e4));
        assert_eq!(p.speed_kmh, Some(42.0));
        assert!(
            p.received_time.is_some(),
            "received time carried from the gateway"
        );
    }
    let x_positions = &by_device[x_imei.as_str()];
    assert_eq!(x_positions.len(), 1);
    assert_eq!(x_positions[0].sequence, 139);
    assert_eq!(x_positions[0].latitude, Some(53.472329));
    assert_eq!(x_positions[0].protocol, "X");
    assert_eq!(got.len(), 7);

    let status = gateway
        .terminate(Duration::from_secs(30))
        .expect("gateway exits on SIGTERM");
    assert!(status.success(), "gateway exit status {status}");
    let status = decoder
        .terminate(Duration::from_secs(30))
        .expect("decoder exits on SIGTERM");
    assert!(status.success(), "decoder exit status {status}");
}
