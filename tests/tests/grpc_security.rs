//! TLS and bearer tokens on the gRPC servers of the three services, run as real processes with
//! a CA made in the test:
//!
//! * decoder-worker `Decoder`: server TLS and `--grpc-token`;
//! * event-worker `Fleet`: mutual TLS (`--grpc-tls-client-ca`) and `--grpc-token`;
//! * gateway `Commands`: TLS and the token from the environment (`ASTRA_GRPC_TLS_*` and
//!   `ASTRA_GRPC_TOKEN`, the names every service reads).
//!
//! For each: a plain-text connection fails, a client that does not trust the CA fails; over
//! TLS no token and a wrong token are UNAUTHENTICATED and the right one gets the real answer;
//! health answers SERVING without a token. For mutual TLS, a client without a certificate, or
//! with one from another CA, cannot call at all.

mod ops_support;

use astra_proto::v1::commands_client::CommandsClient;
use astra_proto::v1::decoder_client::DecoderClient;
use astra_proto::v1::fleet_client::FleetClient;
use astra_proto::v1::{DecodeRequest, ListDevicesRequest, SendCommandRequest};
use astra_tests::device::{imei, k_frame};
use astra_tests::nats::NatsServer;
use astra_tests::pki::{Issued, TestCa};
use astra_tests::process::{Service, binary, free_port, local};
use ops_support::wait_ready;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SEC: Duration = Duration::from_secs(1);
const DECODER_TOKEN: &str = "decoder-token-0123456789";
const FLEET_TOKEN: &str = "fleet-token-0123456789";
const SHARED_TOKEN: &str = "shared-token-0123456789";

fn bearer<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(t) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("ASCII token"),
        );
    }
    request
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// A TLS channel trusting `ca`, optionally presenting `client` (mutual TLS).
async fn tls_channel(
    addr: SocketAddr,
    ca: &TestCa,
    client: Option<&Issued>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.cert_pem))
        .domain_name("localhost");
    if let Some(c) = client {
        tls = tls.identity(Identity::from_pem(&c.cert_pem, &c.key_pem));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .connect_timeout(5 * SEC)
        .tls_config(tls)?
        .connect()
        .await
}

/// A plain-text (h2c) channel, as a client that forgot TLS would open.
async fn plain_channel(addr: SocketAddr) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(5 * SEC)
        .timeout(5 * SEC)
        .connect()
        .await
}

/// How a call failed: with a gRPC status the server sent, or at the transport (the channel
/// did not connect, or the server dropped the connection before answering: TLS refused).
#[derive(Debug, PartialEq, Eq)]
enum Failed {
    Status(Code),
    Transport,
}

/// A status the server sent has no local cause; one tonic made from a connection failure
/// (its code, `Cancelled`, `Unavailable` or `Internal`, depends on when hyper or h2 noticed
/// the close) carries the transport error as its source.
fn classify(status: tonic::Status) -> Failed {
    use std::error::Error;
    if status.source().is_some() {
        Failed::Transport
    } else {
        Failed::Status(status.code())
    }
}

const TRANSPORT: Failed = Failed::Transport;
const UNAUTHENTICATED: Failed = Failed::Status(Code::Unauthenticated);

async fn health(channel: Channel, service: &str) -> Result<ServingStatus, Failed> {
    let response = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(classify)?;
    Ok(response.into_inner().status())
}

async fn decode(
    channel: Result<Channel, tonic::transport::Error>,
    token: Option<&str>,
) -> Result<usize, Failed> {
    let Ok(channel) = channel else {
        return Err(Failed::Transport);
    };
    let request = DecodeRequest {
        frame: k_frame(&imei(1), 0, 2, 1_767_225_600),
        ..Default::default()
    };
    DecoderClient::new(channel)
        .decode(bearer(token, request))
        .await
        .map(|r| r.into_inner().positions.len())
        .map_err(classify)
}

async fn list_devices(
    channel: Result<Channel, tonic::transport::Error>,
    token: Option<&str>,
) -> Result<usize, Failed> {
    let Ok(channel) = channel else {
        return Err(Failed::Transport);
    };
    FleetClient::new(channel)
        .list_devices(bearer(token, ListDevicesRequest::default()))
        .await
        .map(|r| r.into_inner().devices.len())
        .map_err(classify)
}

async fn send_command(
    channel: Result<Channel, tonic::transport::Error>,
    token: Option<&str>,
) -> Result<String, Failed> {
    let Ok(channel) = channel else {
        return Err(Failed::Transport);
    };
    let request = SendCommandRequest {
        imei: imei(2),
        line: "$POLL".into(),
        timeout_ms: 500,
    };
    CommandsClient::new(channel)
        .send(bearer(token, request))
        .await
        .map(|r| r.into_inner().reply)
        .map_err(classify)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_mutual_tls_and_tokens_on_every_grpc_server() {
    let nats = NatsServer::start();
    let ca = TestCa::new("Astra test CA");
    let other_ca = TestCa::new("Someone else's CA");
    let server = ca.server("grpc-server");
    let client = ca.client("operator");
    let stranger = other_ca.client("stranger");

    // decoder-worker: TLS + token on the command line.
    let (decoder_admin, decoder_grpc) = (local(free_port()), local(free_port()));
    let mut decoder = Service::spawn(
        "decoder-worker",
        &args(&[
            "run",
            "--nats-url",
            &nats.url(),
            // One partition count per cluster (ASTRA_POSITIONS is stored by partition).
            "--partitions",
            "4",
            "--admin-addr",
            &decoder_admin.to_string(),
            "--grpc-addr",
            &decoder_grpc.to_string(),
            "--grpc-token",
            DECODER_TOKEN,
            "--grpc-tls-cert",
            path(&server.cert_path),
            "--grpc-tls-key",
            path(&server.key_path),
        ]),
    );
    // event-worker: mutual TLS + token.
    let (worker_admin, fleet_grpc) = (local(free_port()), local(free_port()));
    let mut worker = Service::spawn(
        "event-worker",
        &args(&[
            "--nats-url",
            &nats.url(),
            "--instance-id",
            "w1",
            "--partitions",
            "4",
            "--admin-addr",
            &worker_admin.to_string(),
            "--grpc-addr",
            &fleet_grpc.to_string(),
            "--grpc-token",
            FLEET_TOKEN,
            "--grpc-tls-cert",
            path(&server.cert_path),
            "--grpc-tls-key",
            path(&server.key_path),
            "--grpc-tls-client-ca",
            path(&ca.cert_path),
        ]),
    );
    // gateway: everything from the environment (the variables every service shares).
    let (gateway_admin, gateway_grpc) = (local(free_port()), local(free_port()));
    let child = std::process::Command::new(binary("gateway"))
        .args(args(&[
            "--nats-url",
            &nats.url(),
            "--partitions",
            "4",
            "--listen",
            &local(free_port()).to_string(),
            "--no-udp",
            "--admin-addr",
            &gateway_admin.to_string(),
            "--grpc-addr",
            &gateway_grpc.to_string(),
        ]))
        .env("RUST_LOG", "warn")
        .env("ASTRA_GRPC_TOKEN", SHARED_TOKEN)
        .env("ASTRA_GRPC_TLS_CERT", &server.cert_path)
        .env("ASTRA_GRPC_TLS_KEY", &server.key_path)
        .spawn()
        .expect("start gateway");
    let mut gateway = Service {
        child,
        name: "gateway".into(),
    };
    for (service, admin) in [
        (&mut decoder, decoder_admin),
        (&mut worker, worker_admin),
        (&mut gateway, gateway_admin),
    ] {
        wait_ready(service, admin, 30 * SEC);
    }

    // --- Decoder: server TLS.
    let secure = || tls_channel(decoder_grpc, &ca, None);
    assert_eq!(
        decode(plain_channel(decoder_grpc).await, Some(DECODER_TOKEN)).await,
        Err(TRANSPORT),
        "plain text"
    );
    assert_eq!(
        decode(
            tls_channel(decoder_grpc, &other_ca, None).await,
            Some(DECODER_TOKEN)
        )
        .await,
        Err(TRANSPORT),
        "a client that does not trust the server's CA"
    );
    assert_eq!(decode(secure().await, None).await, Err(UNAUTHENTICATED));
    assert_eq!(
        decode(secure().await, Some("wrong")).await,
        Err(UNAUTHENTICATED)
    );
    assert_eq!(
        decode(secure().await, Some(FLEET_TOKEN)).await,
        Err(UNAUTHENTICATED)
    );
    assert_eq!(decode(secure().await, Some(DECODER_TOKEN)).await, Ok(2));
    assert_eq!(
        health(secure().await.unwrap(), "astra.v1.Decoder").await,
        Ok(ServingStatus::Serving),
        "health needs no token"
    );

    // --- Fleet: mutual TLS.
    let secure = || tls_channel(fleet_grpc, &ca, Some(&client));
    assert_eq!(
        list_devices(plain_channel(fleet_grpc).await, Some(FLEET_TOKEN)).await,
        Err(TRANSPORT),
        "plain text"
    );
    assert_eq!(
        list_devices(tls_channel(fleet_grpc, &ca, None).await, Some(FLEET_TOKEN)).await,
        Err(TRANSPORT),
        "no client certificate"
    );
    assert_eq!(
        list_devices(
            tls_channel(fleet_grpc, &ca, Some(&stranger)).await,
            Some(FLEET_TOKEN)
        )
        .await,
        Err(TRANSPORT),
        "client certificate from another CA"
    );
    assert_eq!(
        list_devices(secure().await, None).await,
        Err(UNAUTHENTICATED)
    );
    assert_eq!(
        list_devices(secure().await, Some("wrong")).await,
        Err(UNAUTHENTICATED)
    );
    assert_eq!(list_devices(secure().await, Some(FLEET_TOKEN)).await, Ok(0));
    assert_eq!(
        health(secure().await.unwrap(), "astra.v1.Fleet").await,
        Ok(ServingStatus::Serving)
    );

    // --- Commands: TLS and the shared token, from the environment.
    let secure = || tls_channel(gateway_grpc, &ca, None);
    assert_eq!(
        send_command(plain_channel(gateway_grpc).await, Some(SHARED_TOKEN)).await,
        Err(TRANSPORT),
        "plain text"
    );
    assert_eq!(
        send_command(secure().await, None).await,
        Err(UNAUTHENTICATED)
    );
    assert_eq!(
        send_command(secure().await, Some("wrong")).await,
        Err(UNAUTHENTICATED)
    );
    // Past authentication: the real answer for a device no gateway holds.
    assert_eq!(
        send_command(secure().await, Some(SHARED_TOKEN)).await,
        Err(Failed::Status(Code::NotFound))
    );
    assert_eq!(
        health(secure().await.unwrap(), "astra.v1.Commands").await,
        Ok(ServingStatus::Serving)
    );

    // Refusals are counted on each service's /metrics.
    for (admin, metric, refused) in [
        (
            decoder_admin,
            "astra_decoder_grpc_unauthenticated_total",
            [1, 2],
        ),
        (
            worker_admin,
            "astra_event_worker_grpc_unauthenticated_total",
            [1, 1],
        ),
        (
            gateway_admin,
            "astra_gateway_grpc_unauthenticated_total",
            [1, 1],
        ),
    ] {
        let (_, text) = ops_support::http_get(admin, "/metrics").expect("metrics");
        for (reason, n) in ["missing", "invalid"].iter().zip(refused) {
            let line = format!("{metric}{{reason=\"{reason}\"}} {n}");
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    for mut s in [gateway, decoder, worker] {
        let status = s.terminate(30 * SEC).expect("exits on SIGTERM");
        assert!(status.success(), "{} exit status {status}", s.name);
    }
}
