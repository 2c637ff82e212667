//! Real `nats-server` processes for the NATS journal tests: a cluster of 1 or 3 nodes on
//! loopback ports, with JetStream stores in a temp dir. Nodes can be killed and restarted.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use super::{wait_for, wait_for_explained};

/// The `nats-server` binary; a test needing it fails (never skips) when it is missing.
pub fn nats_server() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let path = PathBuf::from(dir).join("nats-server");
        if path.is_file() {
            return path;
        }
    }
    for path in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(path).is_file() {
            return PathBuf::from(path);
        }
    }
    panic!("nats-server is not installed; these tests need it: apt-get install nats-server");
}

/// A free port for a node, below the kernel's ephemeral range. A node restarted on its ports
/// must find them free; a port in that range can be taken in between as the source port of any
/// connection, or by any listener on port 0, of this test binary or of another process.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    assert!(
        ephemeral > LOWEST + 1_000,
        "the ephemeral port range starts at {ephemeral}; these tests need ports {LOWEST}-{ephemeral} outside it"
    );
    let span = ephemeral - LOWEST;
    // One random start per process, so that two test runs at once rarely try the same ports;
    // within the process, each call takes the next ports.
    static START: OnceLock<u32> = OnceLock::new();
    let start = *START.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
    for _ in 0..span {
        let port = LOWEST + start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("a port below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOWEST}-{ephemeral}");
}

struct Node {
    name: String,
    client_port: u16,
    http_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A running NATS cluster (or single server).
pub struct Cluster {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts `n` nodes (1 or 3) and waits until JetStream is ready.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut nodes = Vec::new();
        for (i, &(client_port, route_port, http_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let mut text = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{http_port}\n\
                 max_payload: 33554432\n\
                 jetstream {{ store_dir: \"{}\", max_memory_store: 67108864, max_file_store: 4294967296 }}\n",
                store.display()
            );
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .map(|(_, route, _)| format!("nats-route://127.0.0.1:{route}"))
                    .collect();
                text += &format!(
                    "cluster {{ name: tap, listen: 127.0.0.1:{route_port}, routes: [{}] }}\n",
                    routes.join(", ")
                );
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, text).expect("write nats config");
            nodes.push(Node {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port,
                http_port,
                config,
                child: None,
            });
        }
        let mut cluster = Cluster { _dir: dir, nodes };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.wait_ready();
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("nats log");
        let child = Command::new(nats_server())
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        node.child = Some(child);
    }

    /// Client URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    /// The `journal` setting for a stream on this cluster.
    pub fn journal(&self, stream: &str, replicas: usize) -> Value {
        serde_json::json!({
            "kind": "nats",
            "servers": self.urls(),
            "stream": stream,
            "replicas": replicas,
            "publish_timeout_seconds": 5,
            "connect_timeout_seconds": 10,
        })
    }

    fn healthz(&self, i: usize) -> bool {
        let url = format!(
            "http://127.0.0.1:{}/healthz?js-enabled-only=true",
            self.nodes[i].http_port
        );
        super::client()
            .get(url)
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .is_ok_and(|r| r.status().is_success())
    }

    /// Waits until every running node answers and (for a cluster) a JetStream meta leader
    /// has been elected.
    pub fn wait_ready(&self) {
        wait_for_explained(
            "nats-server to be ready",
            || {
                let running = (0..self.nodes.len()).filter(|&i| self.nodes[i].child.is_some());
                running.clone().all(|i| self.healthz(i)).then_some(())
            },
            || (0..self.nodes.len()).map(|i| self.log(i)).collect(),
        );
        if self.nodes.len() > 1 {
            wait_for("a JetStream meta leader", || {
                self.nodes
                    .iter()
                    .any(|n| {
                        std::fs::read_to_string(&n.log)
                            .is_ok_and(|log| log.contains("JetStream cluster new metadata leader"))
                    })
                    .then_some(())
            });
        }
    }

    /// SIGKILLs node `i`.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn kill_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
    }

    /// Restarts node `i` with its config and store, and waits until it answers.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        wait_for_explained(
            "a restarted nats-server",
            || self.healthz(i).then_some(()),
            || self.log(i),
        );
    }

    /// The end of node `i`'s log, for a failure message.
    fn log(&self, i: usize) -> String {
        let node = &self.nodes[i];
        let text = std::fs::read_to_string(&node.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!(
            "{} ({}), last lines:\n{tail}\n",
            node.name,
            node.log.display()
        )
    }

    /// The node leading `stream`, as a running node sees it.
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            let url = format!(
                "http://127.0.0.1:{}/jsz?accounts=true&streams=true",
                node.http_port
            );
            let Ok(reply) = super::client().get(url).send() else {
                continue;
            };
            let Some(jsz) = reply
                .text()
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            else {
                continue;
            };
            let accounts = jsz["account_details"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for account in accounts {
                for detail in account["stream_detail"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    if detail["name"] == stream
                        && let Some(leader) = detail["cluster"]["leader"].as_str()
                    {
                        return self.nodes.iter().position(|n| n.name == leader);
                    }
                }
            }
        }
        None
    }

    /// A running node that does not lead `stream`.
    pub fn follower(&self, stream: &str) -> usize {
        let leader = wait_for("a stream leader", || self.stream_leader(stream));
        (0..self.nodes.len())
            .find(|&i| i != leader && self.nodes[i].child.is_some())
            .expect("a follower")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}
