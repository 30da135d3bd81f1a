//! The event-worker as a process against a real nats-server: positions and session events in,
//! the exact events out, state checkpointed in KV, and the work stream partitioned by the same
//! hash as `partition_of`.

mod common;

use astra_platform::partition::partition_of;
use astra_platform::streams;
use astra_proto::Timestamp;
use astra_proto::v1::{DeviceState, EventType, SessionEvent, SessionEventKind};
use astra_tests::nats::NatsServer;
use common::*;
use prost::Message;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn journeys_in_events_out() {
    let nats = NatsServer::start();
    let (_worker, _admin) = worker(&nats, "solo", &[]);
    let js = connect(&nats).await;
    let devices = 5;
    // Device 0 logs in through a gateway first, as a TCP device does.
    let session = |kind: SessionEventKind| SessionEvent {
        imei: imei(0),
        kind: kind as i32,
        session_id: "s-1".into(),
        reason: if kind == SessionEventKind::Disconnected {
            "closed by device".into()
        } else {
            String::new()
        },
        time: Some(Timestamp::now()),
        ..Default::default()
    };
    publish_session(&js, &session(SessionEventKind::LoggedIn)).await;
    let journeys = u64::from(devices) * journey_events().len() as u64;
    wait_events(&js, 1, Duration::from_secs(30)).await;
    for k in 0..JOURNEY_STEPS {
        for n in 0..devices {
            publish_position(&js, &journey_step(n, k)).await;
        }
    }
    assert_eq!(
        wait_events(&js, journeys, Duration::from_secs(30)).await,
        journeys
    );
    // Then its session closes: offline, with the gateway's reason.
    publish_session(&js, &session(SessionEventKind::Disconnected)).await;
    let expected_total = journeys + 1;
    let got = wait_events(&js, expected_total, Duration::from_secs(30)).await;
    assert_eq!(got, expected_total);
    // A little longer: nothing more (no doubles) may arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = stored_events(&js).await;
    assert_eq!(events.len() as u64, expected_total);

    let per = per_device(&events);
    for n in 0..devices {
        let mut want = journey_events();
        if n == 0 {
            want.push(EventType::DeviceOffline);
        }
        let got: Vec<EventType> = per[&imei(n)].iter().map(|(t, _)| *t).collect();
        assert_eq!(got, want, "device {n}");
    }
    // Subjects, ids and details.
    let (subject, first) = &events
        .iter()
        .find(|(_, e)| e.imei == imei(1) && e.r#type == EventType::Overspeed as i32)
        .unwrap()
        .clone();
    assert_eq!(subject, &format!("astra.event.{}.overspeed", imei(1)));
    assert_eq!(
        first.id,
        format!("{}:overspeed:p{}.2", imei(1), (T0 + 60) * 1000)
    );
    assert_eq!(first.speed_kmh, Some(120.0));
    assert_eq!(first.speed_limit_kmh, Some(100.0));
    assert_eq!(first.occurred_at, Some(Timestamp::from_unix(T0 + 60)));
    let ids: Vec<&str> = per[&imei(0)].iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids.first(),
        Some(&format!("{}:device_online:ss-1", imei(0)).as_str())
    );
    assert_eq!(
        ids.last(),
        Some(&format!("{}:device_offline:ss-1", imei(0)).as_str())
    );

    // The checkpoint holds the device's state.
    let kv = js.get_key_value(streams::KV_STATE).await.unwrap();
    let entry = kv.get(imei(2)).await.unwrap().unwrap();
    let state = DeviceState::decode(entry).unwrap();
    assert!(state.online);
    assert!(!state.ignition);
    assert_eq!(state.last_position.as_ref().map(|p| p.sequence), Some(11));
    assert!(
        (state.distance_m - 4000.0).abs() < 1.0,
        "{}",
        state.distance_m
    );

    // A geofence created while the worker runs applies to the next position: device 3, parked
    // where its journey ended, finds itself inside one.
    let mut arrive = journey_step(3, 12);
    arrive.device_time = Some(Timestamp::from_unix(T0 + 3600));
    let depot = astra_proto::v1::Geofence {
        id: "depot".into(),
        name: "Depot".into(),
        shape: Some(astra_proto::v1::geofence::Shape::Circle(
            astra_proto::v1::Circle {
                center: Some(astra_proto::v1::LatLon {
                    latitude: arrive.latitude.unwrap(),
                    longitude: -1.3,
                }),
                radius_m: 100.0,
            },
        )),
        ..Default::default()
    };
    let fences = js.get_key_value(streams::KV_GEOFENCES).await.unwrap();
    fences
        .put("depot", depot.encode_to_vec().into())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish_position(&js, &arrive).await;
    assert_eq!(
        wait_events(&js, expected_total + 1, Duration::from_secs(20)).await,
        expected_total + 1
    );
    let events = stored_events(&js).await;
    let (subject, enter) = events.last().unwrap();
    assert_eq!(subject, &format!("astra.event.{}.geofence_enter", imei(3)));
    assert_eq!(
        (enter.geofence_id.as_str(), enter.geofence_name.as_str()),
        ("depot", "Depot")
    );

    // NATS' partition() stored every device's positions where partition_of says, and no
    // second copy of them exists.
    let positions = js.get_stream(streams::POSITIONS).await.unwrap();
    assert!(js.get_stream("ASTRA_EVENT_WORK").await.is_err());
    for n in 0..devices {
        let id = imei(n);
        let subject = format!("astra.position.{}.{id}", partition_of(&id, 8));
        let last = positions.get_last_raw_message_by_subject(&subject).await;
        assert!(last.is_ok(), "nothing on {subject}");
    }
}
