//! Commands over gRPC: reply, timeout and not connected, each a distinct status; routed over
//! NATS to whichever gateway holds the device; plus gRPC health.

mod common;

use astra_proto::v1::SendCommandRequest;
use astra_proto::v1::commands_client::CommandsClient;
use common::*;
use tonic::Code;

async fn client(port: u16) -> CommandsClient<tonic::transport::Channel> {
    CommandsClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("grpc connect")
}

fn request(imei: &str, line: &str, timeout_ms: u32) -> SendCommandRequest {
    SendCommandRequest {
        imei: imei.into(),
        line: line.into(),
        timeout_ms,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_timeout_and_not_connected() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let mut dev = gw.connect().await;
    dev.send(LOGIN.as_bytes()).await;
    dev.expect_acks(1, 5 * SEC).await;
    let mut grpc = client(gw.grpc).await;

    // Reply.
    let call = tokio::spawn({
        let mut grpc = grpc.clone();
        async move { grpc.send(request(LOGIN_IMEI, "$POLL", 5000)).await }
    });
    assert_eq!(dev.read_line(5 * SEC).await, "$POLL\r\n");
    dev.send(b"$POLL,OK\r\n").await;
    let reply = call.await.unwrap().expect("reply");
    assert_eq!(reply.into_inner().reply, "$POLL,OK");

    // Frames keep flowing alongside.
    dev.send(&hex(X_MODE6)).await;
    dev.expect_acks(1, 5 * SEC).await;

    // Timeout: the device says nothing.
    let err = grpc
        .send(request(LOGIN_IMEI, "$DIST,5000", 300))
        .await
        .expect_err("timeout");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert_eq!(dev.read_line(SEC).await, "$DIST,5000\r\n");

    // Not connected.
    let err = grpc
        .send(request("356000000000001", "$POLL", 300))
        .await
        .expect_err("not connected");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // Bad request.
    let err = grpc
        .send(request(LOGIN_IMEI, "$POLL\r\n$X", 300))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);

    // After the device leaves: not connected again.
    drop(dev);
    let gone = eventually(3 * SEC, || {
        let mut grpc = grpc.clone();
        async move {
            let r = grpc.send(request(LOGIN_IMEI, "$POLL", 300)).await;
            matches!(r, Err(ref e) if e.code() == Code::NotFound).then_some(())
        }
    })
    .await;
    assert!(gone.is_some());
    assert!(
        gw.metric("astra_gateway_commands_total{outcome=\"ok\"}")
            .await
            >= 1.0
    );

    // grpc.health.v1
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", gw.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "astra.v1.Commands".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        i32::from(tonic_health::pb::health_check_response::ServingStatus::Serving)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn command_is_written_after_pending_acks_and_unrelated_lines_are_ignored() {
    let nats = NatsServer::start();
    let gw = Gateway::start(&nats.url(), &[]).await;
    let mut dev = gw.connect().await;
    let id = imei(5);
    dev.send(&k_frame(&id, 0)).await;
    dev.expect_acks(1, 5 * SEC).await;
    let mut grpc = client(gw.grpc).await;
    let call = tokio::spawn(async move { grpc.send(request(&id, "$IMEI", 5000)).await });
    // Device sends frames and an unsolicited line, then answers.
    let id = imei(5);
    let burst: Vec<u8> = (1..20).flat_map(|i| k_frame(&id, i)).collect();
    dev.send(&burst).await;
    dev.send(b"$DRID,AT110,CHECK,1\r\n").await;
    // Everything before the command line is acks only; the command line is whole.
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n") {
        let got = dev.read_n(1, 5 * SEC).await;
        assert!(!got.is_empty(), "command line expected; got {seen:?}");
        seen.extend(got);
    }
    let text_start = seen.iter().position(|&b| b != 0x06).unwrap();
    assert_eq!(&seen[text_start..], b"$IMEI\r\n");
    dev.send(b"$IMEI,350000000000005\r").await;
    let reply = call.await.unwrap().expect("reply").into_inner().reply;
    assert_eq!(reply, "$IMEI,350000000000005");
    // All 20 frames acked in total.
    let rest = 19 - text_start;
    dev.expect_acks(rest, 5 * SEC).await;
}
