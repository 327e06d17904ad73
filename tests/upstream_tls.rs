//! Upstream mode against a three-node nats-server 2.15 cluster with TLS on its client port:
//! the gateway's `[upstream] tls` settings (`ca_file`, `cert_file`/`key_file`, `required`,
//! `tls://` URLs) decide whether it connects, and traffic flows through it once it has.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cluster::{Cluster, ClusterTls};
use common::tls::{Pki, s};
use common::{Server, eventually};
use futures::StreamExt;

/// A gateway in front of `servers` with `tls` as its `[upstream] tls` table, with monitoring.
fn gateway(servers: &[String], tls: &str) -> Server {
    let servers: Vec<String> = servers.iter().map(|u| format!("\"{u}\"")).collect();
    let config = format!(
        "[upstream]\nservers = [{}]\ntls = {{ {tls} }}\n",
        servers.join(", ")
    );
    Server::with_config(&config, &["-m", "-1"])
}

/// `ca_file = ".."` plus, given a certificate, `cert_file` and `key_file`.
fn tls_keys(ca: &Path, cert: Option<&(std::path::PathBuf, std::path::PathBuf)>) -> String {
    let mut keys = format!("ca_file = \"{}\"", s(ca));
    if let Some((cert, key)) = cert {
        keys.push_str(&format!(
            ", cert_file = \"{}\", key_file = \"{}\"",
            s(cert),
            s(key)
        ));
    }
    keys
}

async fn healthz(server: &Server) -> u16 {
    match reqwest::get(format!("{}/healthz", server.monitor_url())).await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}

async fn upstream_connected(server: &Server) -> serde_json::Value {
    let varz: serde_json::Value = reqwest::get(format!("{}/varz", server.monitor_url()))
        .await
        .expect("varz")
        .json()
        .await
        .expect("varz json");
    varz["upstream"]["connected"].clone()
}

/// Waits for `good` to become ready, then checks that none of `bad` does meanwhile nor in
/// the next three seconds (the gateway retries every few hundred milliseconds).
async fn only_good_connects(good: &Server, bad: &[&Server]) {
    let ready = eventually(Duration::from_secs(30), || async {
        healthz(good).await == 200
    })
    .await;
    assert!(ready, "the correctly configured gateway never became ready");
    assert_eq!(upstream_connected(good).await, true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        for (i, gw) in bad.iter().enumerate() {
            assert_eq!(
                healthz(gw).await,
                503,
                "misconfigured gateway {i} became ready"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for gw in bad {
        assert_eq!(upstream_connected(gw).await, false);
    }
}

/// A client of the cluster itself (node 0), over TLS with `client` as its certificate.
async fn direct_client(
    cluster: &Cluster,
    pki: &Pki,
    client: Option<&(std::path::PathBuf, std::path::PathBuf)>,
) -> async_nats::Client {
    let mut opts = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca());
    if let Some((cert, key)) = client {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    opts.connect(cluster.url(0))
        .await
        .expect("direct TLS client")
}

/// Messages cross the gateway's TLS connection both ways: cluster -> gateway client and
/// gateway client -> cluster.
async fn exchange(gw: &Server, direct: &async_nats::Client, subject: &str) {
    let nc = async_nats::connect(gw.url())
        .await
        .expect("connect gateway");
    let mut via_gateway = nc.subscribe(format!("{subject}.down")).await.unwrap();
    common::sync(&nc).await;
    let mut at_cluster = direct.subscribe(format!("{subject}.up")).await.unwrap();
    direct.flush().await.unwrap();

    // The gateway's subscription reaches the cluster asynchronously: publish until one
    // comes through.
    let mut got = None;
    for _ in 0..100 {
        direct
            .publish(format!("{subject}.down"), "from the cluster".into())
            .await
            .unwrap();
        if let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(100), via_gateway.next()).await
        {
            got = Some(m);
            break;
        }
    }
    let m = got.expect("a message from the cluster through the TLS gateway");
    assert_eq!(&m.payload[..], b"from the cluster");

    nc.publish(format!("{subject}.up"), "from the gateway".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), at_cluster.next())
        .await
        .expect("the gateway's publish within 10 s")
        .expect("subscription open");
    assert_eq!(&m.payload[..], b"from the gateway");
}

/// The cluster's CA, another CA, and a cluster with TLS on its client port whose node
/// certificate the first CA signed (`verify`: client certificates required).
fn tls_cluster(verify: bool) -> (Pki, Pki, Cluster) {
    let pki = Pki::new("cluster CA");
    let other = Pki::new("some other CA");
    let (cert, key) = pki.server();
    let cluster = Cluster::start_tls(&ClusterTls {
        cert: &cert,
        key: &key,
        ca: &pki.ca(),
        verify,
    });
    (pki, other, cluster)
}

/// No client verification: the gateway checks the cluster's certificate with its
/// `ca_file` (`tls://` URLs), connects and carries messages; one trusting another CA does
/// not connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_verifies_the_cluster_certificate_with_its_ca_file() {
    let (pki, other, cluster) = tls_cluster(false);
    let urls = cluster.tls_urls();
    let good = gateway(&urls, &tls_keys(&pki.ca(), None));
    let wrong_ca = gateway(&urls, &tls_keys(&other.ca(), None));
    only_good_connects(&good, &[&wrong_ca]).await;

    let direct = direct_client(&cluster, &pki, None).await;
    exchange(&good, &direct, "tls.verified").await;
}

/// `verify: true` on the cluster: the gateway's client certificate (`cert_file`,
/// `key_file`) is required. With it the gateway connects (here over `nats://` URLs with
/// `required = true`) and carries messages; without it, or trusting another CA, it never
/// becomes ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_that_verifies_clients_needs_the_gateway_certificate() {
    let (pki, other, cluster) = tls_cluster(true);
    let client_cert = pki.client("sluice-gateway", "Sluice");
    let required = |keys: String| format!("required = true, {keys}");
    let urls: Vec<String> = (0..3).map(|i| cluster.url(i)).collect();
    let good = gateway(&urls, &required(tls_keys(&pki.ca(), Some(&client_cert))));
    let no_cert = gateway(&urls, &required(tls_keys(&pki.ca(), None)));
    let wrong_ca = gateway(
        &cluster.tls_urls(),
        &tls_keys(&other.ca(), Some(&client_cert)),
    );
    only_good_connects(&good, &[&no_cert, &wrong_ca]).await;

    // The cluster really demands the certificate: a direct client without one is refused.
    let refused = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca())
        .connect(cluster.url(0))
        .await;
    assert!(
        refused.is_err(),
        "the cluster accepted a client without a certificate"
    );

    let direct = direct_client(&cluster, &pki, Some(&client_cert)).await;
    exchange(&good, &direct, "tls.mutual").await;
}
