//! A real nats-server with JetStream for tests: started on a free port in a temporary store
//! directory, stopped (or killed) and restarted on the same port and store, removed on drop.

use crate::wait::{eventually_blocking, wait_until_blocking};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NatsServer {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// Configuration file given to `-c` (accounts, users, permissions); the listen address,
    /// port and store directory of the command line override what it says.
    config: Option<PathBuf>,
    /// Where the server's log goes (`-DV` when `ASTRA_TEST_NATS_TRACE` is set, e.g. to see
    /// which subjects a permission list denies).
    log: Option<PathBuf>,
}

/// Path of the nats-server binary: `$NATS_SERVER_BIN`, else `.tools/nats/bin/nats-server`
/// (installed by `scripts/install-tools.sh`), else `nats-server` on PATH.
pub fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/nats/bin/nats-server");
    if local.exists() {
        return local;
    }
    PathBuf::from("nats-server")
}

fn unique_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("astra-nats-{}-{n}", std::process::id()))
}

impl NatsServer {
    /// Starts a JetStream-enabled server on a free port.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// Starts a JetStream-enabled server on a free port with the configuration file `config`
    /// (e.g. `deploy/nats/secure.conf` behind test passwords). Its log is kept in the server's
    /// temporary directory ([`log_path`](Self::log_path)).
    pub fn start_with_config(config: &Path) -> Self {
        Self::start_inner(Some(config.to_owned()))
    }

    fn start_inner(config: Option<PathBuf>) -> Self {
        let dir = unique_dir();
        std::fs::create_dir_all(&dir).expect("create nats temp dir");
        let log = config.as_ref().map(|_| dir.join("nats-server.log"));
        let mut server = Self {
            child: None,
            dir,
            port: 0,
            config,
            log,
        };
        server.spawn(None);
        server
    }

    /// The server's log file, when it was started with a configuration.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The temporary directory of this server (store, ports file, log); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn spawn(&mut self, port: Option<u16>) {
        let ports_dir = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir).expect("create ports dir");
        let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let mut command = Command::new(server_binary());
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        if let Some(log) = &self.log {
            command.arg("-l").arg(log);
            if std::env::var_os("ASTRA_TEST_NATS_TRACE").is_some() {
                command.arg("-DV");
            }
        }
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port_arg,
                "--ports_file_dir",
            ])
            .arg(&ports_dir)
            .arg("-sd")
            .arg(self.dir.join("store"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server (run scripts/install-tools.sh or set NATS_SERVER_BIN)");
        let pid = child.id();
        self.child = Some(child);
        let ports_file = ports_dir.join(format!("nats-server_{pid}.ports"));
        let port = eventually_blocking(Duration::from_secs(15), || {
            let port = std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|text| parse_client_port(&text));
            // A configuration the server refuses ends it at once: say why instead of waiting.
            if port.is_none()
                && let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait)
            {
                let log = self
                    .log
                    .as_ref()
                    .and_then(|l| std::fs::read_to_string(l).ok())
                    .unwrap_or_default();
                panic!("nats-server exited at start ({status}): {log}");
            }
            port
        });
        self.port = port.expect("nats-server did not report its port");
        // The ports file appears when listeners are up; wait until a client can connect.
        let addr = crate::process::local(self.port);
        wait_until_blocking(
            Duration::from_secs(15),
            "nats-server to accept connections",
            || std::net::TcpStream::connect(addr).is_ok(),
        );
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once (SIGKILL), as an outage.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port with the same JetStream store.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port;
        self.spawn(Some(port));
    }
}

fn parse_client_port(text: &str) -> Option<u16> {
    // {"nats":["nats://127.0.0.1:41234"], ...}
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let url = v.get("nats")?.get(0)?.as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
