//! `deploy/nats/secure.conf` against the real services: a nats-server runs that configuration
//! (test passwords, see `ops_support`), the gateway, decoder-worker and event-worker run as
//! processes each with its own tier user, and everything they do passes without the server
//! denying anything: a device registered over Fleet gRPC (the gateway admits registered
//! devices only) sends a frame that comes out as a position with a geocoded address (remote
//! geocoder, so the shared KV cache is used) and as a DEVICE_ONLINE event, in ASTRA_EVENTS and
//! on a Fleet watch; its state is read back; a gRPC command reaches the device through the
//! gateway and its answer comes back. Then each tier's user is shown to be refused outside its
//! subjects: publishes to another tier's subjects, subscriptions, stream deletion and purge.
//!
//! Set `ASTRA_TEST_NATS_TRACE=/tmp/nats.log` to run the server with `-DV` and keep its log
//! there: it shows every subject each client used and each one denied.

mod ops_support;

use astra_proto::v1::commands_client::CommandsClient;
use astra_proto::v1::fleet_client::FleetClient;
use astra_proto::v1::{
    DeviceConfig, Event, EventType, ImeiRequest, ListDevicesRequest, Position, SendCommandRequest,
    WatchRequest,
};
use astra_tests::device::{Device, imei, k_frame};
use astra_tests::process::{Service, free_port, local, wait_listening};
use astra_tests::wait::eventually;
use async_nats::jetstream::{self, context::PublishErrorKind};
use futures::StreamExt;
use ops_support::*;
use prost::Message;
use std::time::Duration;
use tokio::sync::mpsc;

const SEC: Duration = Duration::from_secs(1);
const T0: i64 = 1_767_225_600;
const GRPC_TOKEN: &str = "gateway-commands-token";
const FLEET_TOKEN: &str = "event-worker-fleet-token";

fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII token"),
    );
    request
}

/// A client of `user` whose server errors (`-ERR …`) are collected.
async fn connect_as(
    url: &str,
    user: &str,
    password: &str,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(async_nats::ServerError::Other(text)) = event
                {
                    let _ = tx.send(text);
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
    (client, rx)
}

/// The next server error within `timeout`.
async fn next_error(errors: &mut mpsc::UnboundedReceiver<String>, timeout: Duration) -> String {
    tokio::time::timeout(timeout, errors.recv())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "(no server error)".into())
}

/// A JetStream publish that the server must refuse: the message is dropped (no ack, so the
/// publish times out) and the server reports the violation to the client.
async fn assert_publish_denied(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    user: &str,
    subject: &str,
) {
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(1500))
        .build(client.clone());
    let result = match js.publish(subject.to_owned(), "x".into()).await {
        Ok(ack) => ack.await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = result.expect_err(&format!("{user} must not publish to {subject}"));
    assert_eq!(
        err.kind(),
        PublishErrorKind::TimedOut,
        "{user} → {subject}: {err}"
    );
    assert_eq!(
        next_error(errors, 5 * SEC).await,
        format!("Permissions Violation for Publish to \"{subject}\""),
        "{user} → {subject}"
    );
}

async fn assert_subscribe_denied(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    user: &str,
    subject: &str,
) {
    // The client sends SUB and returns; the server refuses it asynchronously.
    let _sub = client.subscribe(subject.to_owned()).await.unwrap();
    assert_eq!(
        next_error(errors, 5 * SEC).await,
        format!("Permissions Violation for Subscription to \"{subject}\""),
        "{user} subscribing {subject}"
    );
}

async fn stream_messages(js: &jetstream::Context, stream: &str) -> u64 {
    let mut s = js.get_stream(stream).await.expect(stream);
    s.info().await.expect("stream info").state.messages
}

/// Every message of `stream` (read as admin, with an ephemeral consumer).
async fn read_all(js: &jetstream::Context, stream: &str) -> Vec<(String, bytes::Bytes)> {
    let consumer = js
        .get_stream(stream)
        .await
        .expect(stream)
        .create_consumer(jetstream::consumer::pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(SEC)
        .messages()
        .await
        .expect("fetch");
    while let Some(Ok(m)) = batch.next().await {
        out.push((m.subject.to_string(), m.payload.clone()));
    }
    out
}

#[test]
fn shipped_secure_conf_is_valid_with_passwords_from_the_environment() {
    let conf = repo_root().join("deploy/nats/secure.conf");
    let check = |with_env: bool| {
        let mut cmd = std::process::Command::new(astra_tests::nats::server_binary());
        cmd.arg("-c").arg(&conf).arg("-t");
        if with_env {
            cmd.envs(password_env());
        }
        cmd.output().expect("run nats-server -t")
    };
    let ok = check(true);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Without the passwords the server refuses to start rather than run with no password.
    let missing = check(false);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("variable reference for 'ASTRA_NATS_GATEWAY_PASSWORD'"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_tier_works_with_its_own_user_and_is_refused_elsewhere() {
    let nats = SecureNats::start();
    let url = nats.url();

    // No anonymous access, and a wrong password is refused.
    assert!(
        async_nats::connect(&url).await.is_err(),
        "anonymous connect"
    );
    let wrong = async_nats::ConnectOptions::with_user_and_password("gateway".into(), "nope".into())
        .connect(&url)
        .await;
    assert!(wrong.is_err(), "wrong password");

    // The three tiers, each as its own user.
    let decoder_admin = local(free_port());
    let mut args = vec!["run".to_owned()];
    args.extend(nats_user_args(&url, "decoder", DECODER_PASSWORD));
    args.extend([
        // One partition count per cluster (positions and sessions are stored by partition).
        "--partitions".into(),
        "8".into(),
        "--admin-addr".into(),
        decoder_admin.to_string(),
        "--grpc-addr".into(),
        local(free_port()).to_string(),
        "--geocoder".into(),
        "nominatim".into(),
        "--geocoder-url".into(),
        format!("http://{}", fake_nominatim()),
        "--geocoder-timeout".into(),
        "5s".into(),
    ]);
    let mut decoder = Service::spawn("decoder-worker", &args);

    let worker_admin = local(free_port());
    let fleet_addr = local(free_port());
    let mut args = nats_user_args(&url, "event-worker", EVENT_WORKER_PASSWORD);
    args.extend(
        [
            "--instance-id",
            "w1",
            "--admin-addr",
            &worker_admin.to_string(),
            "--grpc-addr",
            &fleet_addr.to_string(),
            "--grpc-token",
            FLEET_TOKEN,
            "--partitions",
            "8",
            "--lease-ttl",
            "2s",
        ]
        .map(String::from),
    );
    let mut worker = Service::spawn("event-worker", &args);

    let device_addr = local(free_port());
    let gateway_admin = local(free_port());
    let gateway_grpc = local(free_port());
    let mut args = nats_user_args(&url, "gateway", GATEWAY_PASSWORD);
    args.extend(
        [
            "--partitions",
            "8",
            "--listen",
            &device_addr.to_string(),
            "--no-udp",
            "--admin-addr",
            &gateway_admin.to_string(),
            "--grpc-addr",
            &gateway_grpc.to_string(),
            "--grpc-token",
            GRPC_TOKEN,
            "--device-policy",
            "registered",
        ]
        .map(String::from),
    );
    let mut gateway = Service::spawn("gateway", &args);
    for (service, admin) in [
        (&mut decoder, decoder_admin),
        (&mut worker, worker_admin),
        (&mut gateway, gateway_admin),
    ] {
        wait_ready(service, admin, 30 * SEC);
    }
    assert!(wait_listening(device_addr, 10 * SEC));

    // Register the device over Fleet gRPC (the gateway admits registered devices only) and
    // watch its events.
    let device_imei = imei(7);
    let mut fleet = FleetClient::connect(format!("http://{fleet_addr}"))
        .await
        .expect("Fleet connect");
    let config = DeviceConfig {
        imei: device_imei.clone(),
        name: "van 7".into(),
        ..Default::default()
    };
    fleet
        .upsert_device(bearer(FLEET_TOKEN, config))
        .await
        .expect("device registered");
    let mut watch = fleet
        .watch_events(bearer(
            FLEET_TOKEN,
            WatchRequest {
                imeis: vec![device_imei.clone()],
            },
        ))
        .await
        .expect("watch events")
        .into_inner();

    // A device frame: acknowledged, decoded into a position with an address, and the device
    // comes online.
    let frame = k_frame(&device_imei, 0, 1, T0);
    let mut device = tokio::task::spawn_blocking(move || {
        let mut d = Device::connect(device_addr, None).expect("device connects");
        assert!(
            d.send_and_wait(&frame, 10 * SEC).expect("send"),
            "frame acknowledged"
        );
        d
    })
    .await
    .unwrap();

    let (admin, _) = connect_as(&url, "admin", ADMIN_PASSWORD).await;
    let js = jetstream::new(admin.clone());
    let position = eventually(30 * SEC, || async {
        read_all(&js, "ASTRA_POSITIONS")
            .await
            .into_iter()
            .map(|(_, p)| Position::decode(p).expect("Position"))
            .find(|p| p.imei == device_imei)
    })
    .await
    .expect("a position within 30s");
    assert_eq!(position.sequence, 0);
    assert_eq!(position.latitude, Some(51.5));
    let address = position.address.expect("geocoded address");
    assert_eq!(
        (address.street.as_str(), address.locality.as_str()),
        ("Test Road", "Testville")
    );
    let online = eventually(30 * SEC, || async {
        read_all(&js, "ASTRA_EVENTS")
            .await
            .into_iter()
            .find(|(_, e)| {
                Event::decode(e.clone()).is_ok_and(|e| {
                    e.imei == device_imei && e.r#type == EventType::DeviceOnline as i32
                })
            })
    })
    .await
    .expect("DEVICE_ONLINE within 30s");
    assert_eq!(online.0, format!("astra.event.{device_imei}.device_online"));
    let watched = tokio::time::timeout(10 * SEC, watch.message())
        .await
        .expect("an event on the watch")
        .expect("watch stream")
        .expect("not ended");
    assert_eq!(
        (watched.imei.as_str(), watched.r#type),
        (device_imei.as_str(), EventType::DeviceOnline as i32)
    );
    let state = eventually(10 * SEC, || {
        // A clone per look: the client is a cheap handle, and the look owns its call.
        let mut fleet = fleet.clone();
        let imei = device_imei.clone();
        async move {
            fleet
                .get_device_state(bearer(FLEET_TOKEN, ImeiRequest { imei }))
                .await
                .ok()
        }
    })
    .await
    .expect("device state within 10s")
    .into_inner();
    assert!(state.online);
    let listed = fleet
        .list_devices(bearer(FLEET_TOKEN, ListDevicesRequest::default()))
        .await
        .expect("list devices")
        .into_inner();
    let names: Vec<(&str, &str)> = listed
        .devices
        .iter()
        .map(|d| (d.imei.as_str(), d.name.as_str()))
        .collect();
    assert_eq!(names, vec![(device_imei.as_str(), "van 7")]);

    // A command over gRPC: refused without the token; with it, routed over NATS
    // (astra.cmd.<imei>, answered through allow_responses) to the device and back.
    let mut grpc = CommandsClient::connect(format!("http://{gateway_grpc}"))
        .await
        .expect("gRPC connect");
    let request = || SendCommandRequest {
        imei: device_imei.clone(),
        line: "$POLL".into(),
        timeout_ms: 5000,
    };
    let err = grpc.send(request()).await.expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let authorized = bearer(GRPC_TOKEN, request());
    let call = tokio::spawn(async move { grpc.send(authorized).await });
    device = tokio::task::spawn_blocking(move || {
        assert_eq!(
            device.read_line(10 * SEC).expect("read").as_deref(),
            Some("$POLL")
        );
        device.reply("$POLL,OK").expect("reply");
        device
    })
    .await
    .unwrap();
    let reply = call.await.unwrap().expect("command reply");
    assert_eq!(reply.into_inner().reply, "$POLL,OK");
    // The device leaves: its session closes and it goes offline (the last event it causes).
    drop(device);
    let offline = tokio::time::timeout(10 * SEC, watch.message())
        .await
        .expect("DEVICE_OFFLINE on the watch")
        .expect("watch stream")
        .expect("not ended");
    assert_eq!(offline.r#type, EventType::DeviceOffline as i32);
    drop(watch);

    // Everything above ran within the permission lists.
    assert_eq!(
        nats.violations(),
        Vec::<String>::new(),
        "denied while working"
    );

    // Now each tier's user outside its subjects.
    let positions_before = stream_messages(&js, "ASTRA_POSITIONS").await;
    let events_before = stream_messages(&js, "ASTRA_EVENTS").await;
    let raw_before = stream_messages(&js, "ASTRA_RAW").await;

    let (gw, mut gw_errors) = connect_as(&url, "gateway", GATEWAY_PASSWORD).await;
    assert_publish_denied(&gw, &mut gw_errors, "gateway", "astra.position.x").await;
    assert_publish_denied(&gw, &mut gw_errors, "gateway", "astra.event.x").await;
    assert_publish_denied(&gw, &mut gw_errors, "gateway", "astra.dlq.x").await;
    assert_subscribe_denied(&gw, &mut gw_errors, "gateway", "astra.raw.>").await;

    let (dec, mut dec_errors) = connect_as(&url, "decoder", DECODER_PASSWORD).await;
    assert_publish_denied(&dec, &mut dec_errors, "decoder", "astra.raw.x").await;
    assert_publish_denied(&dec, &mut dec_errors, "decoder", "astra.event.x").await;
    assert_subscribe_denied(&dec, &mut dec_errors, "decoder", "astra.position.>").await;

    let (ev, mut ev_errors) = connect_as(&url, "event-worker", EVENT_WORKER_PASSWORD).await;
    assert_publish_denied(&ev, &mut ev_errors, "event-worker", "astra.raw.x").await;
    assert_publish_denied(&ev, &mut ev_errors, "event-worker", "astra.position.x").await;
    assert_subscribe_denied(&ev, &mut ev_errors, "event-worker", "astra.raw.>").await;

    // JetStream administration is the admin's: a tier cannot delete or purge a stream.
    let gw_js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(1500))
        .build(gw.clone());
    assert!(gw_js.delete_stream("ASTRA_RAW").await.is_err());
    assert_eq!(
        next_error(&mut gw_errors, 5 * SEC).await,
        "Permissions Violation for Publish to \"$JS.API.STREAM.DELETE.ASTRA_RAW\""
    );
    let dec_js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(1500))
        .build(dec.clone());
    let positions = dec_js
        .get_stream("ASTRA_POSITIONS")
        .await
        .expect("info is allowed");
    assert!(positions.purge().await.is_err());
    assert_eq!(
        next_error(&mut dec_errors, 5 * SEC).await,
        "Permissions Violation for Publish to \"$JS.API.STREAM.PURGE.ASTRA_POSITIONS\""
    );

    // The event-worker reads positions only through its partitions' consumers: a consumer
    // over the whole stream is refused.
    let ev_js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(1500))
        .build(ev.clone());
    let positions = ev_js
        .get_stream("ASTRA_POSITIONS")
        .await
        .expect("info is allowed");
    let whole = jetstream::consumer::pull::Config {
        durable_name: Some("x".into()),
        filter_subject: "astra.position.>".into(),
        ..Default::default()
    };
    assert!(positions.create_consumer(whole).await.is_err());
    assert_eq!(
        next_error(&mut ev_errors, 5 * SEC).await,
        "Permissions Violation for Publish to \"$JS.API.CONSUMER.CREATE.ASTRA_POSITIONS.x.astra.position.>\""
    );

    // Nothing of that reached a stream.
    assert_eq!(
        stream_messages(&js, "ASTRA_POSITIONS").await,
        positions_before
    );
    assert_eq!(stream_messages(&js, "ASTRA_EVENTS").await, events_before);
    assert_eq!(stream_messages(&js, "ASTRA_RAW").await, raw_before);
    // The log check above can see denials: each of the 13 above is in it.
    let denied = nats.violations();
    assert_eq!(denied.len(), 13, "denials in the server log: {denied:#?}");
    assert!(
        denied
            .iter()
            .any(|l| l
                .contains("Publish Violation - Subject \"$JS.API.STREAM.PURGE.ASTRA_POSITIONS\"")),
        "denials in the server log: {denied:#?}"
    );

    for mut s in [gateway, decoder, worker] {
        let status = s.terminate(30 * SEC).expect("exits on SIGTERM");
        assert!(status.success(), "{} exit status {status}", s.name);
    }
}
