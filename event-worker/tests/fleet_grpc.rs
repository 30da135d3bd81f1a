//! The `astra.v1.Fleet` gRPC service in-process against a real nats-server: device and geofence
//! CRUD with exact values and status codes, device state from KV, filtered position and event
//! watches, health, and watches ending on shutdown.

use astra_events::fleet::{self, FleetService};
use astra_platform::grpc::{self, GrpcServeError};
use astra_platform::grpc_security::GrpcSecurity;
use astra_platform::streams;
use astra_proto::v1::fleet_client::FleetClient;
use astra_proto::v1::{self as pb, geofence::Shape};
use astra_tests::nats::NatsServer;
use astra_tests::process::local;
use async_nats::jetstream::kv;
use futures::StreamExt;
use prost::Message;
use std::time::Duration;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Status};

const A: &str = "860873041761486";
const B: &str = "866224026657899";
const SEC: Duration = Duration::from_secs(1);

struct Fixture {
    _nats: NatsServer,
    client: async_nats::Client,
    geofences: kv::Store,
    state: kv::Store,
    grpc: FleetClient<Channel>,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), GrpcServeError>>,
}

async fn start() -> Fixture {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let devices = streams::ensure_kv(&js, streams::KV_DEVICES, 1)
        .await
        .unwrap();
    let geofences = streams::ensure_kv(&js, streams::KV_GEOFENCES, 1)
        .await
        .unwrap();
    let state = streams::ensure_kv(&js, streams::KV_STATE, 1).await.unwrap();
    let service = FleetService::new(client.clone(), devices, geofences.clone(), state.clone());
    // Port 0: the system picks a free port, and the bound listener keeps it (no race).
    let listener = grpc::bind(local(0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(fleet::serve(
        listener,
        service,
        GrpcSecurity::none(),
        async {
            let _ = stopped.await;
        },
    ));
    // The listener is bound already, so the first connection succeeds.
    let grpc = FleetClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("Fleet server up");
    Fixture {
        _nats: nats,
        client,
        geofences,
        state,
        grpc,
        port,
        stop: Some(stop),
        server,
    }
}

fn imei(imei: &str) -> pb::ImeiRequest {
    pb::ImeiRequest { imei: imei.into() }
}

fn id(id: &str) -> pb::IdRequest {
    pb::IdRequest { id: id.into() }
}

fn assert_status<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, message: &str) {
    let e = r.expect_err("an error status");
    assert_eq!((e.code(), e.message()), (code, message), "{e:?}");
}

fn device(imei: &str, name: &str) -> pb::DeviceConfig {
    pb::DeviceConfig {
        imei: imei.into(),
        name: name.into(),
        groups: vec!["vans".into(), "north".into()],
        speed_limit_kmh: Some(90.0),
        offline_after_s: Some(900),
        long_idle_after_s: None,
        input_alarms: [(2, "panic".to_owned())].into(),
        moving_speed_kmh: Some(7.5),
        stopped_after_s: Some(240),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_upsert_get_list_delete() {
    let mut f = start().await;
    let a = device(A, "van 1");
    let b = device(B, "van 2");
    assert_eq!(
        f.grpc.upsert_device(b.clone()).await.unwrap().into_inner(),
        b
    );
    assert_eq!(
        f.grpc.upsert_device(a.clone()).await.unwrap().into_inner(),
        a
    );
    assert_eq!(f.grpc.get_device(imei(A)).await.unwrap().into_inner(), a);
    let list = f
        .grpc
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    assert_eq!(list.into_inner().devices, [a.clone(), b.clone()]);

    let a2 = pb::DeviceConfig {
        name: "van 1 (new)".into(),
        disabled: true,
        speed_limit_kmh: None,
        ..a.clone()
    };
    f.grpc.upsert_device(a2.clone()).await.unwrap();
    assert_eq!(f.grpc.get_device(imei(A)).await.unwrap().into_inner(), a2);

    let deleted = f.grpc.delete_device(imei(A)).await.unwrap().into_inner();
    assert_eq!(deleted, pb::DeleteResponse { deleted: true });
    let again = f.grpc.delete_device(imei(A)).await.unwrap().into_inner();
    assert_eq!(again, pb::DeleteResponse { deleted: false });
    assert_status(
        f.grpc.get_device(imei(A)).await,
        Code::NotFound,
        "device 860873041761486 not found",
    );
    let list = f
        .grpc
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    assert_eq!(list.into_inner().devices, [b]);
    // Upsert after delete brings it back.
    f.grpc.upsert_device(a.clone()).await.unwrap();
    assert_eq!(f.grpc.get_device(imei(A)).await.unwrap().into_inner(), a);
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_reject_bad_input() {
    let mut f = start().await;
    let bad_luhn = "860873041761487";
    let msg = format!("imei {bad_luhn:?} is not an IMEI (15 digits with a valid Luhn check digit)");
    assert_status(
        f.grpc.upsert_device(device(bad_luhn, "x")).await,
        Code::InvalidArgument,
        &msg,
    );
    assert_status(
        f.grpc.get_device(imei(bad_luhn)).await,
        Code::InvalidArgument,
        &msg,
    );
    assert_status(
        f.grpc.delete_device(imei(bad_luhn)).await,
        Code::InvalidArgument,
        &msg,
    );
    assert_status(
        f.grpc.get_device(imei("12345")).await,
        Code::InvalidArgument,
        "imei \"12345\" is not an IMEI (15 digits with a valid Luhn check digit)",
    );
    let negative = pb::DeviceConfig {
        speed_limit_kmh: Some(-5.0),
        ..device(A, "x")
    };
    assert_status(
        f.grpc.upsert_device(negative).await,
        Code::InvalidArgument,
        "speed_limit_kmh must be a finite number of at least 0, got -5",
    );
    let zero = pb::DeviceConfig {
        offline_after_s: Some(0),
        ..device(A, "x")
    };
    assert_status(
        f.grpc.upsert_device(zero).await,
        Code::InvalidArgument,
        "offline_after_s must be at least 1 when set",
    );
    let tow = pb::DeviceConfig {
        tow_speed_kmh: Some(-10.0),
        ..device(A, "x")
    };
    assert_status(
        f.grpc.upsert_device(tow).await,
        Code::InvalidArgument,
        "tow_speed_kmh must be a finite number above 0, got -10",
    );
    let input = pb::DeviceConfig {
        input_alarms: [(9, "panic".to_owned())].into(),
        ..device(A, "x")
    };
    assert_status(
        f.grpc.upsert_device(input).await,
        Code::InvalidArgument,
        "input_alarms: 9 is not a digital input number (1-8)",
    );
    // Nothing was stored.
    let list = f
        .grpc
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    assert!(list.into_inner().devices.is_empty());
    assert_status(
        f.grpc.get_device(imei(A)).await,
        Code::NotFound,
        "device 860873041761486 not found",
    );
}

fn ll(latitude: f64, longitude: f64) -> pb::LatLon {
    pb::LatLon {
        latitude,
        longitude,
    }
}

fn ring(points: &[(f64, f64)]) -> pb::Ring {
    pb::Ring {
        points: points.iter().map(|&(a, b)| ll(a, b)).collect(),
    }
}

fn polygon(id: &str, outer: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> pb::Geofence {
    pb::Geofence {
        id: id.into(),
        name: format!("polygon {id}"),
        shape: Some(Shape::Polygon(pb::Polygon {
            outer: Some(ring(outer)),
            holes: holes.iter().map(|h| ring(h)).collect(),
        })),
        ..Default::default()
    }
}

fn circle(id: &str, radius_m: f64) -> pb::Geofence {
    pb::Geofence {
        id: id.into(),
        name: "depot".into(),
        shape: Some(Shape::Circle(pb::Circle {
            center: Some(ll(51.5, -0.12)),
            radius_m,
        })),
        speed_limit_kmh: Some(20.0),
        imeis: vec![A.into()],
        dwell_s: 60,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn geofences_validate_round_trip_and_delete() {
    let mut f = start().await;
    let open = polygon(
        "open",
        &[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)],
        &[],
    );
    assert_status(
        f.grpc.upsert_geofence(open).await,
        Code::InvalidArgument,
        "outer ring is not closed: its last point must repeat its first",
    );
    let bow_tie = polygon(
        "bow-tie",
        &[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)],
        &[],
    );
    assert_status(
        f.grpc.upsert_geofence(bow_tie).await,
        Code::InvalidArgument,
        "outer ring intersects itself",
    );
    assert_status(
        f.grpc.upsert_geofence(circle("c", 0.0)).await,
        Code::InvalidArgument,
        "circle radius_m must be a finite number above 0, got 0",
    );
    assert_status(
        f.grpc.upsert_geofence(circle("", 10.0)).await,
        Code::InvalidArgument,
        "geofence id is empty",
    );
    let no_shape = pb::Geofence {
        id: "x".into(),
        ..Default::default()
    };
    assert_status(
        f.grpc.upsert_geofence(no_shape).await,
        Code::InvalidArgument,
        "geofence has no shape: set one of circle, polygon or corridor",
    );
    let negative = pb::Geofence {
        speed_limit_kmh: Some(-1.0),
        ..circle("c", 10.0)
    };
    assert_status(
        f.grpc.upsert_geofence(negative).await,
        Code::InvalidArgument,
        "speed_limit_kmh must be a finite number of at least 0, got -1",
    );

    let depot = circle("depot", 250.0);
    let yard = polygon(
        "yard",
        &[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)],
        &[&[(0.4, 0.4), (0.4, 0.6), (0.6, 0.6), (0.4, 0.4)]],
    );
    let road = pb::Geofence {
        id: "a1.road".into(),
        name: "A1".into(),
        shape: Some(Shape::Corridor(pb::Corridor {
            polyline: vec![ll(52.0, 0.0), ll(52.5, 0.1), ll(53.0, 0.05)],
            width_m: 40.0,
        })),
        groups: vec!["trucks".into()],
        ..Default::default()
    };
    for g in [&depot, &yard, &road] {
        let stored = f
            .grpc
            .upsert_geofence(g.clone())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&stored, g);
        assert_eq!(
            &f.grpc.get_geofence(id(&g.id)).await.unwrap().into_inner(),
            g
        );
    }
    let list = f
        .grpc
        .list_geofences(pb::ListGeofencesRequest {})
        .await
        .unwrap();
    assert_eq!(
        list.into_inner().geofences,
        [road.clone(), depot.clone(), yard.clone()]
    );
    // Stored exactly as protobuf under the id, for the workers' watchers.
    let raw = f.geofences.get("yard").await.unwrap().unwrap();
    assert_eq!(pb::Geofence::decode(raw).unwrap(), yard);

    assert!(
        f.grpc
            .delete_geofence(id("yard"))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    assert!(
        !f.grpc
            .delete_geofence(id("yard"))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    assert!(
        !f.grpc
            .delete_geofence(id("never"))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    assert_status(
        f.grpc.get_geofence(id("yard")).await,
        Code::NotFound,
        "geofence \"yard\" not found",
    );
    assert_status(
        f.grpc.get_geofence(id("a b")).await,
        Code::InvalidArgument,
        "geofence id \"a b\" is invalid: use 1-128 characters from A-Z a-z 0-9 _ - = and dots \
         (not first, last or doubled)",
    );
    let list = f
        .grpc
        .list_geofences(pb::ListGeofencesRequest {})
        .await
        .unwrap();
    assert_eq!(list.into_inner().geofences, [road, depot]);

    // A value that does not decode is an INTERNAL error, not a panic or a silent gap.
    f.geofences
        .put("corrupt", vec![0xff, 0xff, 0xff].into())
        .await
        .unwrap();
    let e = f.grpc.get_geofence(id("corrupt")).await.unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    assert!(
        e.message()
            .starts_with("KV astra-geofences: entry \"corrupt\" cannot be decoded: "),
        "{e:?}"
    );
    let e = f
        .grpc
        .list_geofences(pb::ListGeofencesRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn device_state_is_read_from_kv() {
    let mut f = start().await;
    assert_status(
        f.grpc.get_device_state(imei(A)).await,
        Code::NotFound,
        "no state recorded for device 860873041761486",
    );
    let state = pb::DeviceState {
        imei: A.into(),
        online: true,
        ignition: true,
        motion: pb::Motion::Moving as i32,
        inside_geofences: vec!["depot".into()],
        distance_m: 1234.5,
        last_position: Some(position(A, 7)),
        applied_seq: 99,
        ..Default::default()
    };
    f.state.put(A, state.encode_to_vec().into()).await.unwrap();
    let got = f.grpc.get_device_state(imei(A)).await.unwrap().into_inner();
    assert_eq!(got, state);
    assert_status(
        f.grpc.get_device_state(imei(B)).await,
        Code::NotFound,
        "no state recorded for device 866224026657899",
    );
}

fn position(imei: &str, sequence: u32) -> pb::Position {
    pb::Position {
        imei: imei.into(),
        protocol: "X".into(),
        sequence,
        valid: true,
        latitude: Some(51.0 + f64::from(sequence) / 1000.0),
        longitude: Some(-0.1),
        speed_kmh: Some(f64::from(sequence)),
        ..Default::default()
    }
}

fn event(imei: &str, n: u32) -> pb::Event {
    pb::Event {
        id: format!("{imei}:{n}"),
        imei: imei.into(),
        r#type: pb::EventType::Overspeed as i32,
        speed_kmh: Some(100.0 + f64::from(n)),
        speed_limit_kmh: Some(90.0),
        ..Default::default()
    }
}

/// Next item of a watch, or None if nothing arrives within `wait`.
async fn next_within<T>(
    stream: &mut tonic::Streaming<T>,
    wait: Duration,
) -> Option<Result<T, Status>> {
    tokio::time::timeout(wait, stream.next())
        .await
        .ok()
        .flatten()
}

async fn publish<T: Message>(client: &async_nats::Client, subject: String, m: &T) {
    client
        .publish(subject, m.encode_to_vec().into())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_positions_delivers_only_the_requested_imeis_in_order() {
    let mut f = start().await;
    let mut only_a = f
        .grpc
        .watch_positions(pb::WatchRequest {
            imeis: vec![A.into(), A.into()],
        })
        .await
        .unwrap()
        .into_inner();
    let mut all = f
        .grpc
        .watch_positions(pb::WatchRequest { imeis: vec![] })
        .await
        .unwrap()
        .into_inner();
    let sent = [
        position(A, 1),
        position(B, 1),
        position(A, 2),
        position(B, 2),
        position(A, 3),
    ];
    // Published on the service's own connection, so NATS has the subscriptions first.
    for p in &sent {
        publish(&f.client, streams::position_subject(&p.imei), p).await;
    }
    // Garbage on the subject is skipped, not fatal.
    f.client
        .publish(streams::position_subject(A), vec![0xff, 0xff].into())
        .await
        .unwrap();
    publish(&f.client, streams::position_subject(A), &position(A, 4)).await;
    f.client.flush().await.unwrap();

    let want_a = [
        position(A, 1),
        position(A, 2),
        position(A, 3),
        position(A, 4),
    ];
    for want in &want_a {
        let got = next_within(&mut only_a, 5 * SEC)
            .await
            .expect("a position")
            .unwrap();
        assert_eq!(&got, want);
    }
    assert!(
        next_within(&mut only_a, SEC / 2).await.is_none(),
        "only A's positions"
    );
    for want in sent.iter().chain([&position(A, 4)]) {
        let got = next_within(&mut all, 5 * SEC)
            .await
            .expect("a position")
            .unwrap();
        assert_eq!(&got, want);
    }
    assert!(next_within(&mut all, SEC / 2).await.is_none());

    assert_status(
        f.grpc
            .watch_positions(pb::WatchRequest {
                imeis: vec![A.into(), "1234".into()],
            })
            .await,
        Code::InvalidArgument,
        "imei \"1234\" is not an IMEI (15 digits with a valid Luhn check digit)",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_events_delivers_only_the_requested_imeis_in_order() {
    let mut f = start().await;
    let mut only_b = f
        .grpc
        .watch_events(pb::WatchRequest {
            imeis: vec![B.into()],
        })
        .await
        .unwrap()
        .into_inner();
    let mut all = f
        .grpc
        .watch_events(pb::WatchRequest { imeis: vec![] })
        .await
        .unwrap()
        .into_inner();
    let sent = [
        event(A, 1),
        event(B, 1),
        event(B, 2),
        event(A, 2),
        event(B, 3),
    ];
    for (n, e) in sent.iter().enumerate() {
        let kind = if n % 2 == 0 { "overspeed" } else { "alarm" };
        publish(&f.client, streams::event_subject(&e.imei, kind), e).await;
    }
    f.client.flush().await.unwrap();
    for want in [event(B, 1), event(B, 2), event(B, 3)] {
        let got = next_within(&mut only_b, 5 * SEC)
            .await
            .expect("an event")
            .unwrap();
        assert_eq!(got, want);
    }
    assert!(
        next_within(&mut only_b, SEC / 2).await.is_none(),
        "only B's events"
    );
    for want in &sent {
        let got = next_within(&mut all, 5 * SEC)
            .await
            .expect("an event")
            .unwrap();
        assert_eq!(&got, want);
    }
    assert!(next_within(&mut all, SEC / 2).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_serving_and_watches_end_on_shutdown() {
    let mut f = start().await;
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", f.port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "astra.v1.Fleet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut watch = f
        .grpc
        .watch_positions(pb::WatchRequest {
            imeis: vec![A.into()],
        })
        .await
        .unwrap()
        .into_inner();
    // A client that goes away must not keep the server from stopping either.
    let gone = f
        .grpc
        .watch_events(pb::WatchRequest { imeis: vec![] })
        .await
        .unwrap();
    drop(gone);

    f.stop.take().unwrap().send(()).unwrap();
    let end = next_within(&mut watch, 5 * SEC)
        .await
        .expect("the watch ends");
    let e = end.expect_err("UNAVAILABLE");
    assert_eq!(
        (e.code(), e.message()),
        (Code::Unavailable, "server is shutting down")
    );
    tokio::time::timeout(5 * SEC, &mut f.server)
        .await
        .expect("server stopped in time")
        .unwrap()
        .unwrap();
}
