//! Shared by the operations tests (NATS permissions, metrics and dashboard): plain HTTP against
//! the services' admin endpoints, waiting for readiness, and the secure NATS configuration of
//! `deploy/nats/secure.conf` made runnable on a test port with test passwords.
#![allow(dead_code)]

use astra_tests::nats::NatsServer;
use astra_tests::process::Service;
use astra_tests::wait::wait_until_blocking;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository root (this crate is `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_owned()
}

/// `GET path` over HTTP/1.0; returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits until `GET /readyz` answers 200, failing early if the process exited.
pub fn wait_ready(service: &mut Service, admin: SocketAddr, timeout: Duration) {
    let what = format!("{} to be ready", service.name);
    wait_until_blocking(timeout, &what, || {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("{} exited before it was ready: {status}", service.name);
        }
        matches!(http_get(admin, "/readyz"), Ok((200, _)))
    });
}

/// Test passwords of the users of `deploy/nats/secure.conf`.
pub const GATEWAY_PASSWORD: &str = "gateway-test-password";
pub const DECODER_PASSWORD: &str = "decoder-test-password";
pub const EVENT_WORKER_PASSWORD: &str = "event-worker-test-password";
pub const ADMIN_PASSWORD: &str = "admin-test-password";

pub fn password_env() -> [(&'static str, &'static str); 4] {
    [
        ("ASTRA_NATS_GATEWAY_PASSWORD", GATEWAY_PASSWORD),
        ("ASTRA_NATS_DECODER_PASSWORD", DECODER_PASSWORD),
        ("ASTRA_NATS_EVENT_WORKER_PASSWORD", EVENT_WORKER_PASSWORD),
        ("ASTRA_NATS_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ]
}

/// `deploy/nats/secure.conf` as a test server runs it: the passwords, which the file reads from
/// the environment, defined as configuration variables ahead of it (nats-server looks a `$NAME`
/// up there first), and the production store directory and fixed monitoring port taken out
/// (the test server gets a temporary store and a free port on its command line). Everything
/// else (accounts, users, permissions) is used exactly as shipped.
pub struct SecureNats {
    pub server: NatsServer,
    _config_dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl Drop for SecureNats {
    /// With `ASTRA_TEST_NATS_TRACE=<file>` the server ran with `-DV`: keep its log there, since
    /// its directory goes with it.
    fn drop(&mut self) {
        if let (Some(dst), Some(log)) = (
            std::env::var_os("ASTRA_TEST_NATS_TRACE"),
            self.server.log_path(),
        ) {
            let _ = std::fs::copy(log, dst);
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl SecureNats {
    pub fn start() -> Self {
        let shipped = std::fs::read_to_string(repo_root().join("deploy/nats/secure.conf"))
            .expect("read deploy/nats/secure.conf");
        let mut text = String::new();
        for (name, value) in password_env() {
            text.push_str(&format!("{name}: \"{value}\"\n"));
        }
        let mut body = shipped.clone();
        for line in ["store_dir: /data/jetstream", "http: 0.0.0.0:8222"] {
            assert_eq!(
                body.matches(line).count(),
                1,
                "secure.conf should say `{line}` once"
            );
            body = body.replace(line, "");
        }
        text.push_str(&body);
        let dir = std::env::temp_dir().join(format!(
            "astra-secure-conf-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("config dir");
        let path = dir.join("secure-test.conf");
        std::fs::write(&path, text).expect("write test config");
        let server = NatsServer::start_with_config(&path);
        Self {
            server,
            _config_dir: TempDir(dir),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server
            .log_path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Lines of the server log that report a denied publish or subscription (the log says
    /// "Publish Violation" / "Subscription Violation"; the client is sent "Permissions
    /// Violation").
    pub fn violations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("Violation"))
            .map(str::to_owned)
            .collect()
    }
}

/// `--nats-user`/`--nats-password` arguments of a service.
pub fn nats_user_args(url: &str, user: &str, password: &str) -> Vec<String> {
    vec![
        "--nats-url".into(),
        url.into(),
        "--nats-user".into(),
        user.into(),
        "--nats-password".into(),
        password.into(),
    ]
}

/// A stand-in for a Nominatim server on a free loopback port: every request gets the same
/// address ("Test Road", Testville). Lets a test use the decoder's remote-geocoder path (and so
/// its shared KV cache `astra-geocode`) without a network. The thread lives as long as the test
/// process and serves only connections from the test's own services.
pub fn fake_nominatim() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake nominatim");
    let addr = listener.local_addr().expect("fake nominatim address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"display_name":"Test Road, Testville, United Kingdom","address":{"road":"Test Road","city":"Testville","country":"United Kingdom","country_code":"gb"}}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}
