//! The NATS authentication methods of `NatsArgs` (shared by every service) against a real
//! nats-server: an NKey seed file over mutual TLS with a CA made in the test, and a token; and a
//! service process given its NKey and TLS files by environment variable. User and password are
//! covered with the real tier users in `nats_permissions.rs`.

mod ops_support;

use astra_platform::nats::{NatsArgs, NatsSetupError, Secret};
use astra_tests::nats::NatsServer;
use astra_tests::pki::TestCa;
use astra_tests::process::{Service, binary, free_port, local};
use futures::StreamExt;
use ops_support::TempDir;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("astra-nats-auth-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Connects with `args` and checks the connection carries a message both ways.
async fn round_trip(args: &NatsArgs) -> Result<(), NatsSetupError> {
    let client = args.try_connect("auth-test").await?;
    let mut sub = client.subscribe("auth.check").await.expect("subscribe");
    client
        .publish("auth.check", "ping".into())
        .await
        .expect("publish");
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message in time")
        .expect("subscription open");
    assert_eq!(msg.payload.as_ref(), b"ping");
    Ok(())
}

fn is_refused(result: &Result<(), NatsSetupError>) -> bool {
    matches!(result, Err(NatsSetupError::Connect { .. }))
}

#[tokio::test(flavor = "multi_thread")]
async fn nkey_over_mutual_tls() {
    let dir = temp_dir("nkey");
    let ca = TestCa::new("NATS test CA");
    let server_cert = ca.server("nats");
    let client_cert = ca.client("gateway");
    let other_ca = TestCa::new("another CA");
    let user = nkeys::KeyPair::new_user();
    let seed_file = write(
        &dir.0,
        "gateway.nk",
        &format!("# gateway's NKey\n{}\n", user.seed().expect("seed")),
    );
    let stranger = write(
        &dir.0,
        "stranger.nk",
        &nkeys::KeyPair::new_user().seed().expect("seed"),
    );
    let config = write(
        &dir.0,
        "nats.conf",
        &format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n}}\n\
             authorization {{\n  users: [ {{ nkey: {:?} }} ]\n}}\n",
            server_cert.cert_path,
            server_cert.key_path,
            ca.cert_path,
            user.public_key()
        ),
    );
    let nats = NatsServer::start_with_config(&config);
    let good = NatsArgs {
        url: format!("tls://localhost:{}", nats.port()),
        nkey: Some(seed_file.clone()),
        tls_ca: Some(ca.cert_path.clone()),
        tls_cert: Some(client_cert.cert_path.clone()),
        tls_key: Some(client_cert.key_path.clone()),
        ..NatsArgs::default()
    };
    round_trip(&good).await.expect("NKey over mutual TLS");

    let unknown_key = NatsArgs {
        nkey: Some(stranger),
        ..good.clone()
    };
    assert!(is_refused(&round_trip(&unknown_key).await), "unknown NKey");
    let no_key = NatsArgs {
        nkey: None,
        ..good.clone()
    };
    assert!(is_refused(&round_trip(&no_key).await), "no credentials");
    let no_client_cert = NatsArgs {
        tls_cert: None,
        tls_key: None,
        ..good.clone()
    };
    assert!(
        is_refused(&round_trip(&no_client_cert).await),
        "no client certificate"
    );
    let wrong_ca = NatsArgs {
        tls_ca: Some(other_ca.cert_path.clone()),
        ..good.clone()
    };
    assert!(
        is_refused(&round_trip(&wrong_ca).await),
        "server certificate not trusted"
    );
    let missing_file = NatsArgs {
        nkey: Some(dir.0.join("missing.nk")),
        ..good.clone()
    };
    assert!(matches!(
        round_trip(&missing_file).await,
        Err(NatsSetupError::NkeyFile { .. })
    ));

    // A service takes the same settings from its environment: the decoder becomes ready.
    let admin = local(free_port());
    let child = std::process::Command::new(binary("decoder-worker"))
        .args([
            "run",
            "--admin-addr",
            &admin.to_string(),
            "--grpc-addr",
            &local(free_port()).to_string(),
        ])
        .env("RUST_LOG", "warn")
        .env("ASTRA_NATS_URL", &good.url)
        .env("ASTRA_NATS_NKEY", &seed_file)
        .env("ASTRA_NATS_TLS_CA", &ca.cert_path)
        .env("ASTRA_NATS_TLS_CERT", &client_cert.cert_path)
        .env("ASTRA_NATS_TLS_KEY", &client_cert.key_path)
        .spawn()
        .expect("start decoder-worker");
    let mut decoder = Service {
        child,
        name: "decoder-worker".into(),
    };
    ops_support::wait_ready(&mut decoder, admin, Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread")]
async fn token() {
    let dir = temp_dir("token");
    let config = write(
        &dir.0,
        "nats.conf",
        "authorization {\n  token: \"s3cret-t0ken\"\n}\n",
    );
    let nats = NatsServer::start_with_config(&config);
    let good = NatsArgs {
        token: Some(Secret::new("s3cret-t0ken")),
        ..NatsArgs::for_url(nats.url())
    };
    round_trip(&good).await.expect("token");
    let wrong = NatsArgs {
        token: Some(Secret::new("guess")),
        ..NatsArgs::for_url(nats.url())
    };
    assert!(is_refused(&round_trip(&wrong).await), "wrong token");
    assert!(
        is_refused(&round_trip(&NatsArgs::for_url(nats.url())).await),
        "no token"
    );
    let empty = NatsArgs {
        token: Some(Secret::new("")),
        ..NatsArgs::for_url(nats.url())
    };
    assert!(matches!(
        round_trip(&empty).await,
        Err(NatsSetupError::Empty("token"))
    ));
}
