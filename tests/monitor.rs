//! The monitoring port with nats-server's field names, and Prometheus /metrics.

mod common;

use std::time::Duration;

use common::{Server, eventually};

async fn get_json(url: String) -> serde_json::Value {
    let resp = reqwest::get(&url).await.expect("GET");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.expect("json")
}

#[tokio::test]
async fn varz_connz_subsz_healthz_metrics() {
    let server = Server::start(&["-m", "-1", "-n", "mon-test"]);
    let base = server.monitor_url();
    let nc = async_nats::ConnectOptions::new()
        .name("watcher")
        .connect(server.url())
        .await
        .unwrap();
    let _a = nc.subscribe("a.b").await.unwrap();
    let _q = nc.queue_subscribe("a.*", "grp".into()).await.unwrap();
    nc.publish("a.b", "12345".into()).await.unwrap();
    nc.flush().await.unwrap();
    // Ops are handled in order, so once the publish is counted the subscriptions exist.
    assert!(
        eventually(Duration::from_secs(5), || async {
            get_json(format!("{base}/varz")).await["in_msgs"] == 1
        })
        .await
    );

    let health = get_json(format!("{base}/healthz")).await;
    assert_eq!(health, serde_json::json!({"status": "ok"}));

    let varz = get_json(format!("{base}/varz")).await;
    assert_eq!(varz["server_name"], "mon-test");
    assert_eq!(varz["connections"], 1);
    assert_eq!(varz["subscriptions"], 2);
    assert_eq!(varz["in_msgs"], 1);
    assert_eq!(varz["in_bytes"], 5);
    assert_eq!(varz["out_msgs"], 2);
    assert_eq!(varz["max_payload"], 1024 * 1024);
    assert!(varz["mem"].as_u64().unwrap() > 0);
    for key in [
        "server_id",
        "version",
        "start",
        "now",
        "uptime",
        "total_connections",
        "slow_consumers",
        "ping_interval",
        "write_deadline",
    ] {
        assert!(varz.get(key).is_some(), "varz lacks {key}");
    }

    let connz = get_json(format!("{base}/connz?subs=1")).await;
    assert_eq!(connz["num_connections"], 1);
    let conn = &connz["connections"][0];
    assert_eq!(conn["name"], "watcher");
    assert_eq!(conn["lang"], "rust");
    assert_eq!(conn["subscriptions"], 2);
    let mut subs: Vec<String> = conn["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    subs.sort();
    assert_eq!(subs, ["a.*", "a.b"]);
    let paged = get_json(format!("{base}/connz?offset=1&limit=1")).await;
    assert_eq!(paged["total"], 1);
    assert_eq!(paged["connections"].as_array().unwrap().len(), 0);
    let bad = reqwest::get(format!("{base}/connz?sort=bogus"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let subsz = get_json(format!("{base}/subsz?subs=1")).await;
    assert_eq!(subsz["num_subscriptions"], 2);
    let list = subsz["subscriptions_list"].as_array().unwrap();
    assert!(list.iter().any(|s| s["qgroup"] == "grp"));

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "sluice_connections 1",
        "sluice_subscriptions 2",
        "sluice_messages_received_total 1",
        "sluice_messages_sent_total 2",
        "# TYPE sluice_slow_consumers_total counter",
    ] {
        assert!(metrics.contains(line), "metrics lacks {line:?}:\n{metrics}");
    }
}
