//! Running the cluster's binaries as real processes in tests: finding them in the target
//! directory, picking free ports (the one port helper of every test), waiting until they listen,
//! and stopping them (SIGTERM or SIGKILL).

use crate::wait::eventually_blocking;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

/// Path of a workspace binary (`gateway`, `decoder-worker`, `event-worker`) next to the running
/// test executable (target/<profile>/deps/… → target/<profile>/<name>).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A loopback port free for both TCP and UDP (a gateway listens on both with one port). It is
/// bound then released, so another process could take it in between: good enough for tests.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `127.0.0.1:port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_listening(addr: SocketAddr, timeout: Duration) -> bool {
    eventually_blocking(timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .ok()
            .map(drop)
    })
    .is_some()
}

/// A child process that is killed when dropped.
pub struct Service {
    pub child: Child,
    pub name: String,
}

impl Service {
    pub fn spawn(name: &str, args: &[String]) -> Self {
        let child = Command::new(binary(name))
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self {
            child,
            name: name.to_owned(),
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        eventually_blocking(timeout, || self.child.try_wait().ok().flatten())
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
