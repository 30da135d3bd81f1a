//! A real 3-node NATS cluster with JetStream for fault tests: each node on its own client and
//! route port and store, so one node can be killed and restarted while the others serve.

use crate::nats::server_binary;
use crate::process::{free_port, local};
use crate::wait::wait_until_blocking;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NatsCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

struct Node {
    name: String,
    port: u16,
    route_port: u16,
    child: Option<Child>,
}

impl NatsCluster {
    /// Starts `size` nodes that route to each other. JetStream needs a few more seconds to elect
    /// its meta leader: wait for it from a client before starting services.
    pub fn start(size: usize) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "astra-nats-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let nodes = (0..size)
            .map(|i| Node {
                name: format!("n{}", i + 1),
                port: free_port(),
                route_port: free_port(),
                child: None,
            })
            .collect();
        let mut cluster = Self { nodes, dir };
        for i in 0..size {
            cluster.spawn(i);
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.route_port))
            .collect();
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let child = Command::new(server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &node.port.to_string()])
            .args(["--server_name", &node.name, "--cluster_name", "astra"])
            .args([
                "--cluster",
                &format!("nats://127.0.0.1:{}", node.route_port),
            ])
            .args(["--routes", &routes.join(",")])
            .arg("-sd")
            .arg(self.dir.join(&node.name))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        node.child = Some(child);
        let addr = local(node.port);
        wait_until_blocking(
            Duration::from_secs(15),
            &format!("node {} to start", node.name),
            || std::net::TcpStream::connect(addr).is_ok(),
        );
    }

    /// Every node's client URL, comma separated (what services take in `--nats`).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn url(&self, i: usize) -> String {
        self.nodes
            .get(i)
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .unwrap_or_default()
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes.get_mut(i).and_then(|n| n.child.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again on its ports and store.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
