//! Shared test support: runs the real `gateway` binary against a real nats-server, simulated
//! devices on real sockets (the test support's one device, with the byte-exact checks these
//! tests make), frame builders, and readers for what landed in JetStream.

#![allow(dead_code)]

use astra_codec::crc::crc16_modbus;
use astra_proto::v1::{RawFrame, SessionEvent};
use astra_tests::device::{ACK, AsyncDevice};
use async_nats::jetstream;
use prost::Message;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use astra_tests::device::Read;
pub use astra_tests::nats::NatsServer;
pub use astra_tests::process::{free_port, local};
pub use astra_tests::wait::eventually;

/// traccar-K-2: a K frame of IMEI 862950025797534.
pub const K2: &str = "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb";
pub const K2_IMEI: &str = "862950025797534";
/// traccar-X-mode6-historic: an X frame without IMEI (needs a login).
pub const X_MODE6: &str = "58003d018b0000000000bf514f00b70000006000093e60514f00b6032fec49ffdc7627000041020000000100010000000000090001010000008f00aba3";
pub const LOGIN_IMEI: &str = "860873045366969";
pub const LOGIN: &str = "$ASTRA;AT240;860873045366969;;7.0.70.3;X;1\r\n";

pub fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

/// A valid K frame for `imei`, made unique by `seq` (CRC recomputed).
pub fn k_frame(imei: &str, seq: u32) -> Vec<u8> {
    let mut f = hex(K2);
    let head: u32 = imei[..8].parse().expect("imei");
    let tail: u32 = imei[8..].parse().expect("imei");
    f[3..7].copy_from_slice(&head.to_be_bytes());
    f[7..10].copy_from_slice(&tail.to_be_bytes()[1..]);
    f[10..14].copy_from_slice(&seq.to_be_bytes());
    let n = f.len();
    let crc = crc16_modbus(&f[..n - 2]);
    f[n - 2..].copy_from_slice(&crc.to_be_bytes());
    f
}

/// A 15-digit IMEI numbered `n` (not necessarily Luhn-valid; K frames do not need it).
pub fn imei(n: u32) -> String {
    format!("35000000{n:07}")
}

/// A running `gateway` process.
pub struct Gateway {
    child: Option<Child>,
    pub port: u16,
    pub admin: u16,
    pub grpc: u16,
    pub id: String,
    log: PathBuf,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("--login-deadline", "5s"),
    ("--publish-timeout", "1s"),
    ("--publish-retry", "200ms"),
    ("--shutdown-deadline", "5s"),
    ("--command-timeout", "2s"),
];

impl Gateway {
    /// Starts a gateway and waits until `/readyz` answers 200.
    pub async fn start(nats_url: &str, extra: &[&str]) -> Self {
        Self::start_with_nofile(nats_url, extra, None).await
    }

    /// As [`Gateway::start`], with the process's descriptor limit (soft and hard) set to
    /// `nofile` when given.
    pub async fn start_with_nofile(nats_url: &str, extra: &[&str], nofile: Option<u64>) -> Self {
        let port = free_port();
        let admin = free_port();
        let grpc = free_port();
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "gw-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let log = std::env::temp_dir().join(format!("astra-{id}.log"));
        let mut args: Vec<String> = vec![
            format!("--listen=127.0.0.1:{port}"),
            format!("--admin-addr=127.0.0.1:{admin}"),
            format!("--grpc-addr=127.0.0.1:{grpc}"),
            format!("--nats-url={nats_url}"),
            format!("--instance-id={id}"),
        ];
        for (flag, value) in DEFAULTS {
            if !extra.iter().any(|a| a.starts_with(flag)) {
                args.push(format!("{flag}={value}"));
            }
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .args(&args)
            .env("RUST_LOG", "info,gateway=debug,async_nats=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start gateway");
        let mut gw = Self {
            child: Some(child),
            port,
            admin,
            grpc,
            id,
            log,
        };
        let wait = Duration::from_secs(15);
        let ready = eventually(wait, || {
            if let Some(status) = gw.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("gateway exited early ({status}): {}", gw.logs());
            }
            async move { (http_status(admin, "/readyz").await == Some(200)).then_some(()) }
        })
        .await;
        assert!(ready.is_some(), "gateway not ready: {}", gw.logs());
        // Readiness is about NATS; the gRPC listener may come up a moment later.
        let listening = eventually(wait, || async {
            TcpStream::connect(local(grpc)).await.ok().map(drop)
        })
        .await;
        assert!(
            listening.is_some(),
            "gateway gRPC not listening: {}",
            gw.logs()
        );
        gw
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn sigterm(&self) {
        let pid = i32::try_from(self.pid()).expect("pid");
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }

    /// Waits for the process to exit; returns its exit code if it did within `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let status = eventually(timeout, || {
            let status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            async move { status }
        })
        .await?;
        self.child = None;
        Some(status.code().unwrap_or(-1))
    }

    pub async fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").await.unwrap_or_default()
    }

    /// Value of one metric line (exact name with labels), 0 if absent.
    pub async fn metric(&self, name: &str) -> f64 {
        metric_value(&self.metrics().await, name)
    }

    pub async fn connect(&self) -> Device {
        Device::connect(self.port).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::env::var_os("KEEP_GATEWAY_LOGS").is_none() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

pub fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = tokio::time::timeout(
        Duration::from_secs(2),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .ok()?
    .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

pub async fn http_status(port: u16, path: &str) -> Option<u16> {
    let text = http_get(port, path).await?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The test support's device on a TCP connection, with the checks these tests make on exactly
/// what the gateway writes (its reads are byte-exact: an ack is a 0x06 and nothing else).
/// Everything else of [`AsyncDevice`], such as its `stream`, is reached through it.
pub struct Device(AsyncDevice);

impl Deref for Device {
    type Target = AsyncDevice;

    fn deref(&self) -> &AsyncDevice {
        &self.0
    }
}

impl DerefMut for Device {
    fn deref_mut(&mut self) -> &mut AsyncDevice {
        &mut self.0
    }
}

impl Device {
    pub async fn connect(port: u16) -> Self {
        let device = AsyncDevice::connect(local(port), None, 5 * SEC)
            .await
            .expect("connect");
        Self(device)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.0.send(bytes).await.expect("send");
    }

    /// Reads exactly `n` bytes within `timeout` (fewer if the connection closes or time runs out).
    pub async fn read_n(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        self.0.read_exact_within(n, timeout).await
    }

    /// Expects exactly `n` acks (0x06), and nothing else, within `timeout`.
    pub async fn expect_acks(&mut self, n: usize, timeout: Duration) {
        let got = self.read_n(n, timeout).await;
        assert_eq!(got, vec![ACK; n], "expected {n} acks");
    }

    /// What arrives within `wait`.
    pub async fn read_some(&mut self, wait: Duration) -> Read {
        self.0.read_raw(wait).await
    }

    /// Reads one line (up to and with its LF), skipping leading acks.
    pub async fn read_line(&mut self, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let [b] = self.read_n(1, left).await[..] else {
                break;
            };
            if line.is_empty() && b == ACK {
                continue;
            }
            line.push(b);
            if b == b'\n' {
                break;
            }
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

pub async fn jetstream(nats: &NatsServer) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(nats.url()).await.expect("nats connect");
    let js = jetstream::new(client.clone());
    (client, js)
}

/// Every message of a stream, decoded.
pub async fn stream_messages<M: Message + Default>(
    js: &jetstream::Context,
    stream: &str,
) -> Vec<M> {
    let mut s = js.get_stream(stream).await.expect("stream");
    let info = s.info().await.expect("stream info");
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut out = Vec::new();
    if info.state.messages == 0 {
        return out;
    }
    for seq in first..=last {
        if let Ok(m) = s.get_raw_message(seq).await {
            out.push(M::decode(m.payload).expect("decode"));
        }
    }
    out
}

pub async fn raw_frames(js: &jetstream::Context) -> Vec<RawFrame> {
    stream_messages(js, "ASTRA_RAW").await
}

pub async fn session_events(js: &jetstream::Context) -> Vec<SessionEvent> {
    stream_messages(js, "ASTRA_SESSIONS").await
}

pub const SEC: Duration = Duration::from_secs(1);
