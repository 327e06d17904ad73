//! Plugins end to end: the example plugins from `plugins/`, uploaded through the real API,
//! change what real NATS and HTTP clients see; chains run in order; bindings match by
//! wildcard; plugins survive a restart; a hot swap under load loses and repeats nothing.

mod common;

use std::time::Duration;

use common::plugins::{get, put, wasm};
use common::{Server, sync};
use futures::StreamExt;
use serde_json::{Value, json};

async fn next_json(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open");
    (
        m.subject.to_string(),
        serde_json::from_slice(&m.payload).expect("JSON payload"),
    )
}

#[tokio::test]
async fn redact_json_changes_what_nats_subscribers_see() {
    let server = Server::start(&[]);
    let (status, info) = put(
        &server,
        "redact",
        "redact_json",
        "subjects=users.>&config.fields=email,ssn",
    )
    .await;
    assert_eq!(status, 201, "{info}");
    assert!(
        info["digest"].as_str().unwrap().starts_with("sha256:"),
        "{info}"
    );
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("users.>").await.unwrap();
    sync(&nc).await;
    nc.publish(
        "users.new",
        r#"{"name":"ann","email":"ann@x.io","ssn":"123"}"#.into(),
    )
    .await
    .unwrap();
    nc.publish("users.new", "not json".into()).await.unwrap();
    let (_, v) = next_json(&mut sub).await;
    assert_eq!(v, json!({"name": "ann", "email": "***", "ssn": "***"}));
    let raw = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&raw.payload[..], b"not json");
    // Other subjects are untouched.
    let mut other = nc.subscribe("orders.new").await.unwrap();
    sync(&nc).await;
    nc.publish("orders.new", r#"{"email":"x"}"#.into())
        .await
        .unwrap();
    assert_eq!(next_json(&mut other).await.1, json!({"email": "x"}));
    // The counters show the calls.
    let list = get(&server, "/v1/plugins").await;
    assert_eq!(list["plugins"][0]["metrics"]["calls"], 2);
    assert_eq!(list["plugins"][0]["metrics"]["modify"], 1);
}

#[tokio::test]
async fn a_chain_runs_in_order_split_then_route() {
    let server = Server::start(&[]);
    // split-array (order 1) turns an array into messages; route-by-field (order 2) readdresses each.
    assert_eq!(
        put(
            &server,
            "split",
            "split_array",
            "subjects=events.in&order=1"
        )
        .await
        .0,
        201
    );
    assert_eq!(
        put(
            &server,
            "route",
            "route_by_field",
            "subjects=events.in&order=2&config.field=user_id&config.prefix=events.by-user"
        )
        .await
        .0,
        201
    );
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("events.by-user.*").await.unwrap();
    sync(&nc).await;
    nc.publish(
        "events.in",
        r#"[{"user_id":42,"n":1},{"user_id":7,"n":2}]"#.into(),
    )
    .await
    .unwrap();
    let (s1, v1) = next_json(&mut sub).await;
    let (s2, v2) = next_json(&mut sub).await;
    assert_eq!(
        (s1.as_str(), v1["n"].as_i64()),
        ("events.by-user.42", Some(1))
    );
    assert_eq!(
        (s2.as_str(), v2["n"].as_i64()),
        ("events.by-user.7", Some(2))
    );
    // Reversed order: route-by-field sees the array first (no field: passes), split then emits
    // the elements on the original subject.
    let patch = reqwest::Client::new()
        .patch(format!("{}/v1/plugins/route", server.api_url()))
        .json(&json!({"order": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let mut raw = nc.subscribe("events.in").await.unwrap();
    sync(&nc).await;
    nc.publish("events.in", r#"[{"user_id":1}]"#.into())
        .await
        .unwrap();
    let (s, v) = next_json(&mut raw).await;
    assert_eq!((s.as_str(), v), ("events.in", json!({"user_id": 1})));
}

#[tokio::test]
async fn validate_json_rejections_reach_the_publisher() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_str().unwrap();
    let server = Server::start(&["-js", "-sd", store]);
    assert_eq!(
        put(
            &server,
            "valid",
            "validate_json",
            "subjects=in.>&config.required=id"
        )
        .await
        .0,
        201
    );
    let nc = async_nats::connect(server.url()).await.unwrap();
    // A NATS request gets an error reply naming the plugin and the reason.
    let reply = nc
        .request("in.x", "{}".into())
        .await
        .expect("an error reply");
    let status = reply.status.map(|s| s.as_u16());
    assert_eq!(status, Some(400), "{reply:?}");
    let reason = reply
        .headers
        .as_ref()
        .and_then(|h| h.get("Sluice-Reject-Reason"))
        .map(|v| v.to_string());
    assert!(reason.unwrap_or_default().contains("id"), "{reply:?}");
    // HTTP publish: 422 with the reason.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/publish/in.x", server.api_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("valid"),
        "{problem}"
    );
    // JetStream publish on a captured subject: the error comes back as a JetStream error,
    // and nothing is stored.
    let js = async_nats::jetstream::new(nc.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "IN".into(),
        subjects: vec!["in.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let err = js
        .publish("in.y", "[]".into())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("rejected by plugin valid"),
        "{err}"
    );
    let ok = js
        .publish("in.y", r#"{"id":1}"#.into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ok.sequence, 1);
}

#[tokio::test]
async fn bindings_match_by_wildcard_and_skip_system_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_str().unwrap();
    let server = Server::start(&["-js", "-sd", store]);
    // Bound to everything: JetStream's API and acks still never reach it.
    let (status, body) = put(&server, "strict", "validate_json", "subjects=%3E").await;
    assert_eq!(status, 201, "{body}");
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(nc.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "S".into(),
        subjects: vec!["s.*".into()],
        ..Default::default()
    })
    .await
    .expect("the $JS.API request was not given to the plugin");
    assert!(
        js.publish("s.a", "no json".into())
            .await
            .unwrap()
            .await
            .is_err()
    );
    assert_eq!(
        js.publish("s.a", "{}".into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence,
        1
    );
    let calls = get(&server, "/v1/plugins/strict").await["metrics"]["calls"]
        .as_u64()
        .unwrap();
    assert_eq!(calls, 2, "only the two publishes went through the plugin");
}

#[tokio::test]
async fn plugins_and_bindings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_str().unwrap().to_string();
    {
        let server = Server::start(&["-sd", &store]);
        assert_eq!(
            put(
                &server,
                "redact",
                "redact_json",
                "subjects=u.*&config.fields=pw&order=3"
            )
            .await
            .0,
            201
        );
    }
    let server = Server::start(&["-sd", &store]);
    let info = get(&server, "/v1/plugins/redact").await;
    assert_eq!(info["binding"]["order"], 3, "{info}");
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("u.*").await.unwrap();
    sync(&nc).await;
    nc.publish("u.1", r#"{"pw":"secret"}"#.into())
        .await
        .unwrap();
    assert_eq!(next_json(&mut sub).await.1, json!({"pw": "***"}));
}

#[tokio::test]
async fn a_hot_swap_under_load_loses_and_repeats_nothing() {
    let server = Server::start(&[]);
    assert_eq!(
        put(&server, "swap", "passthrough", "subjects=load.>")
            .await
            .0,
        201
    );
    let sub_nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = sub_nc.subscribe("load.>").await.unwrap();
    sync(&sub_nc).await;
    let pub_nc = async_nats::connect(server.url()).await.unwrap();
    const N: u64 = 20_000;
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            pub_nc
                .publish("load.x", format!("{{\"i\":{i}}}").into())
                .await
                .unwrap();
        }
        sync(&pub_nc).await;
    });
    // Swap the plugin back and forth while the publisher runs.
    for round in 0..6 {
        let (component, query) = if round % 2 == 0 {
            ("enrich", "subjects=load.>&config.headers=X-Round:1")
        } else {
            ("passthrough", "subjects=load.>")
        };
        assert_eq!(put(&server, "swap", component, query).await.0, 200);
    }
    publisher.await.unwrap();
    let mut seen = vec![false; N as usize];
    for _ in 0..N {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("no message lost")
            .unwrap();
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        let i = v["i"].as_u64().unwrap() as usize;
        assert!(!seen[i], "message {i} delivered twice");
        seen[i] = true;
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "no extra messages"
    );
}

#[tokio::test]
async fn preloads_from_the_config_file_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enrich.wasm");
    std::fs::write(&file, wasm("enrich")).unwrap();
    let toml = format!(
        "[plugins]\ndir = \"{}\"\n[[plugins.preload]]\nname = \"enrich\"\nfile = \"{}\"\nsubjects = [\"e.>\"]\nconfig = {{ headers = \"X-Env:test\" }}\n",
        dir.path().join("plugins").display(),
        file.display()
    );
    let server = Server::with_config(&toml, &[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("e.>").await.unwrap();
    sync(&nc).await;
    nc.publish("e.1", r#"{"a":1}"#.into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        m.headers
            .as_ref()
            .and_then(|h| h.get("X-Env"))
            .map(|v| v.to_string())
            .as_deref(),
        Some("test")
    );

    // The CLI talks to the same API.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(common::binary())
            .args(args)
            .env("SLUICE_API", server.api_url())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let pass = dir.path().join("pass.wasm");
    std::fs::write(&pass, wasm("passthrough")).unwrap();
    let (code, out, err) = cli(&[
        "plugin",
        "put",
        "p1",
        pass.to_str().unwrap(),
        "--subjects",
        "x.>,y",
        "--order",
        "-2",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("loaded p1 (sha256:"), "{out}");
    let (code, out, _) = cli(&["plugin", "ls"]);
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("p1\t-2\tx.>,y\tdrop"),
        "{out}"
    );
    let (code, out, _) = cli(&[
        "plugin",
        "test",
        "enrich",
        "--subject",
        "e.2",
        "--data",
        "{}",
    ]);
    assert_eq!(code, Some(0));
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["verdict"], "modify", "{result}");
    let (code, out, _) = cli(&["plugin", "rm", "p1"]);
    assert_eq!((code, out.as_str()), (Some(0), "removed p1\n"));
    let (code, _, err) = cli(&["plugin", "rm", "p1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("404"), "{err}");
}

/// Publishes sent in one burst reach the chain as batches (one `on-batch` call per plugin
/// per read): messages a plugin applies to and messages it does not, single and fanned-out,
/// all come out complete and in publish order.
#[tokio::test]
async fn a_burst_through_plugins_arrives_complete_and_in_order() {
    let server = Server::start(&[]);
    let (status, info) = put(
        &server,
        "redact",
        "redact_json",
        "subjects=burst.r.*&config.fields=n",
    )
    .await;
    assert_eq!(status, 201, "{info}");
    let (status, info) = put(&server, "split", "split_array", "subjects=burst.s.*").await;
    assert_eq!(status, 201, "{info}");
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("burst.>").await.unwrap();
    sync(&nc).await;
    const N: usize = 3000;
    for i in 0..N {
        let (subject, payload) = match i % 3 {
            0 => ("burst.r.x", format!(r#"{{"i":{i},"n":"secret"}}"#)),
            1 => ("burst.p.x", format!(r#"{{"i":{i}}}"#)),
            _ => (
                "burst.s.x",
                format!(r#"[{{"i":{i}}},{{"i":{i},"second":true}}]"#),
            ),
        };
        nc.publish(subject, payload.into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for i in 0..N {
        let (subject, v) = next_json(&mut sub).await;
        match i % 3 {
            0 => assert_eq!(v, json!({"i": i, "n": "***"}), "{subject}"),
            1 => assert_eq!(v, json!({"i": i}), "{subject}"),
            _ => {
                assert_eq!(v, json!({"i": i}), "{subject}");
                let (_, second) = next_json(&mut sub).await;
                assert_eq!(second, json!({"i": i, "second": true}));
            }
        }
    }
    let list = get(&server, "/v1/plugins").await;
    for p in list["plugins"].as_array().unwrap() {
        assert_eq!(p["metrics"]["calls"], N / 3, "{p}");
    }
}
