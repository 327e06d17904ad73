//! Hostile and broken plugins cost only their own messages: an endless loop, a memory bomb,
//! a trap and a flood of emitted messages each follow their binding's `on_error`, the broker
//! and other subjects keep working; bad uploads are refused with a clear 4xx and leave the
//! running version alone; the admin routes refuse non-admins.

mod common;

use std::time::Duration;

use common::plugins::{get, put, put_bytes, wasm};
use common::{Server, sync};
use futures::StreamExt;
use serde_json::Value;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open")
}

async fn quiet(sub: &mut async_nats::Subscriber) {
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "expected nothing"
    );
}

#[tokio::test]
async fn runaway_plugins_cost_only_their_own_messages() {
    let server = Server::start(&["-m", "-1"]);
    for (name, component, query) in [
        (
            "loop",
            "endless_loop",
            "subjects=t.loop.>&on_error=pass&deadline_ms=20",
        ),
        (
            "bomb",
            "memory_bomb",
            "subjects=t.bomb.>&on_error=dead-letter:t.dlq.bomb",
        ),
        ("trap", "trap", "subjects=t.trap.>"),
        ("flood", "flood", "subjects=t.flood.>&max_emit=50"),
        ("fine", "redact_json", "subjects=t.fine.>&config.fields=k"),
    ] {
        let (status, body) = put(&server, name, component, query).await;
        assert_eq!(status, 201, "{name}: {body}");
    }
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut all = nc.subscribe("t.>").await.unwrap();
    sync(&nc).await;

    // Endless loop, on_error=pass: stopped at the deadline, the message goes on unchanged.
    let started = std::time::Instant::now();
    nc.publish("t.loop.a", "1".into()).await.unwrap();
    let m = next(&mut all).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("t.loop.a", &b"1"[..])
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Memory bomb, dead-letter: the original goes to the dead-letter subject with the error.
    nc.publish("t.bomb.a", "2".into()).await.unwrap();
    let m = next(&mut all).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("t.dlq.bomb", &b"2"[..])
    );
    let headers = m.headers.expect("error headers");
    let error = headers
        .get("Sluice-Plugin-Error")
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(error.starts_with("bomb: "), "{error}");
    assert_eq!(
        headers
            .get("Sluice-Original-Subject")
            .map(|v| v.to_string())
            .as_deref(),
        Some("t.bomb.a")
    );

    // Trap and flood, on_error=drop: the message is gone, nothing else is.
    nc.publish("t.trap.a", "3".into()).await.unwrap();
    nc.publish("t.flood.a", "4".into()).await.unwrap();
    nc.publish("t.fine.a", r#"{"k":"v"}"#.into()).await.unwrap();
    let m = next(&mut all).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("t.fine.a", &br#"{"k":"***"}"#[..])
    );
    quiet(&mut all).await;

    // Each failing plugin keeps failing cleanly (fresh instances after a trap), and the
    // broker answers as before.
    nc.publish("t.trap.b", "5".into()).await.unwrap();
    nc.publish("t.loop.b", "6".into()).await.unwrap();
    assert_eq!(&next(&mut all).await.payload[..], b"6");
    sync(&nc).await;

    let metrics = |name: &str, v: &Value| {
        v["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["metrics"]
            .clone()
    };
    let list = get(&server, "/v1/plugins").await;
    assert_eq!(metrics("loop", &list)["deadline_exceeded"], 2, "{list}");
    assert_eq!(metrics("bomb", &list)["memory_exceeded"], 1, "{list}");
    assert_eq!(metrics("trap", &list)["traps"], 2, "{list}");
    assert_eq!(metrics("flood", &list)["errors"], 1, "{list}");
    assert_eq!(metrics("fine", &list)["modify"], 1, "{list}");

    let text = reqwest::get(format!("{}/metrics", server.monitor_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("sluice_plugin_errors_total{plugin=\"loop\",kind=\"deadline\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_the_old_version_keeps_running() {
    let server = Server::with_config("[plugins]\nmax_size = \"200KB\"\n", &[]);
    assert_eq!(
        put(&server, "p", "redact_json", "subjects=a.>&config.fields=x")
            .await
            .0,
        201
    );
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (wasm("wrong_world"), "subjects=a.>", 400, "filter"),
        (b"\0asm garbage".to_vec(), "subjects=a.>", 400, ""),
        (vec![7u8; 1000], "subjects=a.>", 400, ""),
        (wasm("init_fails"), "subjects=a.>", 400, "bad config"),
        (wasm("redact_json"), "subjects=a..b", 400, "subjects"),
        (wasm("redact_json"), "on_error=drop", 400, "subjects"),
        (vec![0u8; 300 * 1024], "subjects=a.>", 413, "max_size"),
    ];
    for (bytes, query, status, needle) in cases {
        let (got, body) = put_bytes(&server, "p", bytes, query).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains(needle),
            "{needle:?} not in {body}"
        );
    }
    // Wrong media type and wrong names.
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/plugins/p?subjects=a", server.api_url()))
        .header("content-type", "application/octet-stream")
        .body(wasm("passthrough"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        put(&server, "..%2Fetc", "passthrough", "subjects=a")
            .await
            .0,
        400
    );

    // The first version still runs, unchanged.
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("a.>").await.unwrap();
    sync(&nc).await;
    nc.publish("a.1", r#"{"x":1}"#.into()).await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], br#"{"x":"***"}"#);
    assert_eq!(
        get(&server, "/v1/plugins").await["plugins"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn dry_runs_patches_and_removal() {
    let server = Server::start(&[]);
    assert_eq!(
        put(&server, "v", "validate_json", "subjects=v.>").await.0,
        201
    );
    let client = reqwest::Client::new();
    let test = |body: Value| {
        let client = client.clone();
        let url = format!("{}/v1/plugins/v/test", server.api_url());
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let r = test(serde_json::json!({"subject": "v.1", "data": "nope"})).await;
    assert_eq!(r["verdict"], "reject", "{r}");
    let r = test(serde_json::json!({"subject": "v.1", "data": "{}"})).await;
    assert_eq!(
        (r["verdict"].as_str(), r["messages"][0]["data"].as_str()),
        (Some("pass"), Some("{}"))
    );
    // PATCH the config: init runs again; a config the plugin refuses leaves the old binding.
    let patch = |body: Value| {
        let client = client.clone();
        let url = format!("{}/v1/plugins/v", server.api_url());
        async move { client.patch(url).json(&body).send().await.unwrap() }
    };
    assert_eq!(
        patch(serde_json::json!({"config": {"required": "id"}}))
            .await
            .status(),
        200
    );
    let r = test(serde_json::json!({"subject": "v.1", "data": "{}"})).await;
    assert_eq!(r["verdict"], "reject", "{r}");
    assert_eq!(patch(serde_json::json!({"bogus": 1})).await.status(), 400);
    assert_eq!(
        patch(serde_json::json!({"on_error": "explode"}))
            .await
            .status(),
        400
    );
    assert_eq!(
        get(&server, "/v1/plugins/v").await["binding"]["config"]["required"],
        "id"
    );
    // DELETE, then it is gone.
    let del = client
        .delete(format!("{}/v1/plugins/v", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let gone = client
        .get(format!("{}/v1/plugins/v", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("v.>").await.unwrap();
    sync(&nc).await;
    nc.publish("v.1", "not json".into()).await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"not json");
}

#[tokio::test]
async fn only_admins_manage_plugins() {
    let toml = r#"
[[auth.users]]
user = "ops"
password = "pw"
admin = true
[[auth.users]]
user = "app"
password = "pw"
"#;
    let server = Server::with_config(toml, &[]);
    let url = format!("{}/v1/plugins/p?subjects=a", server.api_url());
    let upload = |user: Option<&str>| {
        let mut req = reqwest::Client::new()
            .put(url.clone())
            .header("content-type", "application/wasm")
            .body(wasm("passthrough"));
        if let Some(u) = user {
            req = req.basic_auth(u, Some("pw"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(upload(None).await, 401);
    assert_eq!(upload(Some("app")).await, 403);
    assert_eq!(upload(Some("ops")).await, 201);
    let list = reqwest::Client::new()
        .get(format!("{}/v1/plugins", server.api_url()))
        .basic_auth("app", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 403);
}
