//! Two gateway processes on one NATS: a device that reconnects to the other gateway has its
//! older session closed, and commands reach it through either gateway.

mod common;

use astra_proto::v1::commands_client::CommandsClient;
use astra_proto::v1::{SendCommandRequest, SessionEventKind};
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn reconnect_elsewhere_closes_older_session_and_commands_follow() {
    let nats = NatsServer::start();
    let a = Gateway::start(&nats.url(), &[]).await;
    let b = Gateway::start(&nats.url(), &[]).await;
    let (_c, js) = jetstream(&nats).await;

    let mut on_a = a.connect().await;
    on_a.send(LOGIN.as_bytes()).await;
    on_a.expect_acks(1, 5 * SEC).await;

    // Command through B reaches the device on A.
    let mut grpc_b = CommandsClient::connect(format!("http://127.0.0.1:{}", b.grpc))
        .await
        .unwrap();
    let call = tokio::spawn({
        let mut grpc_b = grpc_b.clone();
        async move {
            grpc_b
                .send(SendCommandRequest {
                    imei: LOGIN_IMEI.into(),
                    line: "$POLL".into(),
                    timeout_ms: 5000,
                })
                .await
        }
    });
    assert_eq!(on_a.read_line(5 * SEC).await, "$POLL\r\n");
    on_a.send(b"$POLL,OK\r\n").await;
    assert_eq!(call.await.unwrap().unwrap().into_inner().reply, "$POLL,OK");

    // The device comes back through B (e.g. after a NAT rebinding): A's session is closed.
    let mut on_b = b.connect().await;
    on_b.send(LOGIN.as_bytes()).await;
    on_b.expect_acks(1, 5 * SEC).await;
    assert!(
        on_a.closed_within(5 * SEC).await,
        "older session on A must close"
    );
    on_b.send(&hex(X_MODE6)).await;
    on_b.expect_acks(1, 5 * SEC).await;

    let disconnect = eventually(5 * SEC, || async {
        session_events(&js)
            .await
            .into_iter()
            .find(|e| e.kind == i32::from(SessionEventKind::Disconnected))
    })
    .await
    .expect("disconnect event from A");
    assert_eq!(disconnect.gateway_id, a.id);
    assert!(disconnect.reason.contains(&b.id), "{}", disconnect.reason);

    // Commands now go to B's session only.
    let call = tokio::spawn(async move {
        grpc_b
            .send(SendCommandRequest {
                imei: LOGIN_IMEI.into(),
                line: "$IMEI".into(),
                timeout_ms: 5000,
            })
            .await
    });
    assert_eq!(on_b.read_line(5 * SEC).await, "$IMEI\r\n");
    on_b.send(format!("$IMEI,{LOGIN_IMEI}\r\n").as_bytes())
        .await;
    assert_eq!(
        call.await.unwrap().unwrap().into_inner().reply,
        format!("$IMEI,{LOGIN_IMEI}")
    );
}
