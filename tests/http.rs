//! The HTTP gateway API through the real binary: publish and request/reply against async-nats
//! clients, Server-Sent Events subscriptions, problem+json errors, auth and permissions, the
//! OpenAPI document, and hostile input.

mod common;

use std::time::Duration;

use common::{Server, eventually, sync};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

const PROBLEM_JSON: &str = "application/problem+json";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Checks a problem+json answer and returns its document.
async fn problem(resp: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ctype, PROBLEM_JSON);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["type"], format!("urn:sluice:problem:{slug}"), "{doc}");
    assert_eq!(doc["status"], status);
    assert!(
        doc["title"].is_string() && doc["detail"].is_string(),
        "{doc}"
    );
    doc
}

/// Reads `event:`/`data:` pairs from a Server-Sent Events body, skipping comments.
struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    fn new(resp: reqwest::Response) -> Self {
        assert_eq!(resp.status(), StatusCode::OK);
        let ctype = resp.headers()["content-type"].to_str().unwrap();
        assert!(ctype.starts_with("text/event-stream"), "{ctype}");
        SseReader {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event as (event name, data), or None when the stream ends or 5 s pass.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut data) = (String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if !event.is_empty() || !data.is_empty() {
                    return Some((event, data.join("\n")));
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.body.next())
                .await
                .ok()??
                .ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `message` event's JSON.
    async fn message(&mut self) -> Value {
        let (event, data) = self.next().await.expect("an event");
        assert_eq!(event, "message", "{data}");
        serde_json::from_str(&data).unwrap()
    }
}

/// Subscriptions in the router, from every front-end (`/subsz?test=` lists only NATS
/// clients' subscriptions, so HTTP ones are counted through the router's total).
async fn router_subs(server: &Server) -> u64 {
    let url = format!("{}/subsz", server.monitor_url());
    let v: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    v["num_subscriptions"].as_u64().unwrap()
}

#[tokio::test]
async fn publish_maps_headers_and_counts_deliveries() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("orders.new").await.unwrap();
    let mut sub2 = nc.subscribe("orders.*").await.unwrap();
    sync(&nc).await;

    let resp = client()
        .post(format!("{}/v1/publish/orders.new", server.api_url()))
        .header("Idempotency-Key", "k-1")
        .header("Nats-Expected-Stream", "ORDERS")
        .header("X-Nats-Header-Trace-Id", "t-9")
        .header("X-Unrelated", "stays http")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack, serde_json::json!({"delivered": 2}));

    let msg = sub.next().await.unwrap();
    assert_eq!(&msg.payload[..], b"hello");
    let h = msg.headers.expect("headers");
    assert_eq!(h.get("Nats-Msg-Id").map(|v| v.as_str()), Some("k-1"));
    assert_eq!(
        h.get("Nats-Expected-Stream").map(|v| v.as_str()),
        Some("ORDERS")
    );
    assert_eq!(h.get("Trace-Id").map(|v| v.as_str()), Some("t-9"));
    assert!(h.get("X-Unrelated").is_none());
    assert_eq!(&sub2.next().await.unwrap().payload[..], b"hello");

    let resp = client()
        .post(format!("{}/v1/publish/nobody.listens", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.json::<Value>().await.unwrap()["delivered"], 0);
}

#[tokio::test]
async fn an_empty_body_is_an_empty_payload() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("empty").await.unwrap();
    sync(&nc).await;
    let resp = client()
        .post(format!("{}/v1/publish/empty", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let msg = sub.next().await.unwrap();
    assert!(msg.payload.is_empty() && msg.headers.is_none());
}

#[tokio::test]
async fn request_reply_with_an_async_nats_responder() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut service = nc.subscribe("time.now").await.unwrap();
    let responder = nc.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Answer-Kind", "echo");
            let seen = req
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            headers.insert("Saw-Msg-Id", seen.as_str());
            let body = format!("pong:{}", String::from_utf8_lossy(&req.payload));
            let reply = req.reply.unwrap();
            responder
                .publish_with_headers(reply, headers, body.into())
                .await
                .unwrap();
        }
    });
    sync(&nc).await;

    let resp = client()
        .post(format!("{}/v1/request/time.now", server.api_url()))
        .header("Nats-Msg-Id", "m-1")
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-nats-header-answer-kind"], "echo");
    assert_eq!(resp.headers()["x-nats-header-saw-msg-id"], "m-1");
    assert_eq!(resp.text().await.unwrap(), "pong:ping");
}

#[tokio::test]
async fn requests_without_responders_or_reply_fail_fast() {
    let server = Server::start(&["-m", "-1"]);
    let api = server.api_url();
    let resp = client()
        .post(format!("{api}/v1/request/nobody.home"))
        .send()
        .await
        .unwrap();
    problem(resp, 503, "no-responders").await;

    let nc = async_nats::connect(server.url()).await.unwrap();
    let _silent = nc.subscribe("silent.service").await.unwrap();
    sync(&nc).await;
    let before = router_subs(&server).await;
    let started = std::time::Instant::now();
    let resp = client()
        .post(format!("{api}/v1/request/silent.service?timeout_ms=200"))
        .send()
        .await
        .unwrap();
    problem(resp, 504, "timeout").await;
    assert!(started.elapsed() < Duration::from_secs(3));

    for bad in ["0", "60001", "soon"] {
        let resp = client()
            .post(format!("{api}/v1/request/silent.service?timeout_ms={bad}"))
            .send()
            .await
            .unwrap();
        problem(resp, 400, "bad-request").await;
    }
    // Every reply inbox was removed.
    assert!(
        eventually(Duration::from_secs(5), || async {
            router_subs(&server).await == before
        })
        .await
    );
}

#[tokio::test]
async fn sse_delivers_text_binary_headers_and_wildcards() {
    let server = Server::start(&["-m", "-1"]);
    let api = server.api_url();
    let mut text = SseReader::new(
        client()
            .get(format!("{api}/v1/subscribe/sse.>"))
            .send()
            .await
            .unwrap(),
    );
    let mut forced = SseReader::new(
        client()
            .get(format!("{api}/v1/subscribe/sse.*?encoding=base64"))
            .send()
            .await
            .unwrap(),
    );
    // The handler subscribes before it answers, so both subscriptions are in place now.

    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("K", "v1");
    headers.append("K", "v2");
    nc.publish_with_reply_and_headers("sse.a", "re.ply", headers, "héllo".into())
        .await
        .unwrap();
    nc.publish("other", "not for us".into()).await.unwrap();
    nc.publish("sse.b.c", vec![0xff, 0x00, 0x01].into())
        .await
        .unwrap();
    nc.flush().await.unwrap();

    let m = text.message().await;
    assert_eq!(
        m,
        serde_json::json!({
            "subject": "sse.a", "reply": "re.ply", "headers": {"K": ["v1", "v2"]},
            "payload": "héllo",
        })
    );
    let m = text.message().await;
    assert_eq!(
        m,
        serde_json::json!({
            "subject": "sse.b.c", "reply": null, "headers": {},
            "payload": "/wAB", "encoding": "base64",
        })
    );
    let m = forced.message().await;
    assert_eq!(
        (m["payload"].as_str(), m["encoding"].as_str()),
        (Some("aMOpbGxv"), Some("base64"))
    );

    // Published over HTTP, seen over SSE.
    let resp = client()
        .post(format!("{api}/v1/publish/sse.http"))
        .body("via http")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["delivered"], 2);
    assert_eq!(text.message().await["payload"], "via http");
}

#[tokio::test]
async fn sse_unsubscribes_when_the_client_goes_away() {
    let server = Server::start(&["-m", "-1"]);
    let url = format!("{}/v1/subscribe/gone.*?queue=workers", server.api_url());
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(router_subs(&server).await, 1);
    drop(resp);
    let gone = eventually(Duration::from_secs(10), || async {
        router_subs(&server).await == 0
    })
    .await;
    assert!(gone, "the SSE subscription outlived its client");
}

#[tokio::test]
async fn sse_queue_group_members_share_the_messages() {
    let server = Server::start(&[]);
    let api = server.api_url();
    let url = format!("{api}/v1/subscribe/work?queue=q");
    let mut a = SseReader::new(client().get(&url).send().await.unwrap());
    let mut b = SseReader::new(client().get(&url).send().await.unwrap());
    for i in 0..4 {
        let resp = client()
            .post(format!("{api}/v1/publish/work"))
            .body(i.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json::<Value>().await.unwrap()["delivered"], 1);
    }
    // Each message went to exactly one member: together they saw each once.
    let mut payloads = Vec::new();
    while payloads.len() < 4 {
        let (_, data) = tokio::select! {
            e = a.next() => e,
            e = b.next() => e,
        }
        .expect("an event");
        let m: Value = serde_json::from_str(&data).unwrap();
        payloads.push(m["payload"].as_str().unwrap().to_string());
    }
    payloads.sort();
    assert_eq!(payloads, ["0", "1", "2", "3"]);
}

#[tokio::test]
async fn a_slow_sse_client_is_cut_off_not_waited_for() {
    let server = Server::start(&["-m", "-1"]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    sync(&nc).await;
    let before = router_subs(&server).await;
    let resp = client()
        .get(format!("{}/v1/subscribe/flood", server.api_url()))
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(resp);
    // Far more than the socket buffers plus the 1024-message queue can hold while we do
    // not read.
    let payload = bytes::Bytes::from(vec![b'x'; 4096]);
    for _ in 0..20_000 {
        nc.publish("flood", payload.clone()).await.unwrap();
    }
    sync(&nc).await;
    let mut last = None;
    while let Some((event, data)) = reader.next().await {
        last = Some((event, data));
    }
    let (event, data) = last.expect("some events");
    assert_eq!(event, "error", "the stream ends with an error event");
    let doc: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(doc["type"], "urn:sluice:problem:slow-consumer");
    assert!(
        eventually(Duration::from_secs(5), || async {
            router_subs(&server).await == before
        })
        .await
    );
}

#[tokio::test]
async fn bad_subjects_are_400() {
    let server = Server::start(&[]);
    let api = server.api_url();
    for path in [
        "/v1/publish/a..b",
        "/v1/publish/a.*",
        "/v1/publish/a.%3E",
        "/v1/publish/a%20b",
        "/v1/request/.a",
    ] {
        let resp = client().post(format!("{api}{path}")).send().await.unwrap();
        problem(resp, 400, "bad-subject").await;
    }
    for path in ["/v1/subscribe/a.%3E.b", "/v1/subscribe/a?queue=q%20q"] {
        let resp = client().get(format!("{api}{path}")).send().await.unwrap();
        problem(resp, 400, "bad-subject").await;
    }
    // Longer than a NATS client could receive (max_control_line, 4096 by default).
    let long = "a".repeat(5000);
    let resp = client()
        .post(format!("{api}/v1/publish/{long}"))
        .send()
        .await
        .unwrap();
    problem(resp, 400, "bad-subject").await;
    let resp = client()
        .get(format!("{api}/v1/subscribe/{long}.>"))
        .send()
        .await
        .unwrap();
    problem(resp, 400, "bad-subject").await;
    let resp = client()
        .get(format!("{api}/v1/subscribe/a?encoding=rot13"))
        .send()
        .await
        .unwrap();
    problem(resp, 400, "bad-request").await;
    // Invalid UTF-8 in the path.
    let resp = client()
        .post(format!("{api}/v1/publish/a.%FF"))
        .send()
        .await
        .unwrap();
    problem(resp, 400, "bad-request").await;
}

#[tokio::test]
async fn payloads_over_max_payload_are_413() {
    let server = Server::start(&["--max_payload", "1KB"]);
    let api = server.api_url();
    let post = |body: reqwest::Body| {
        client()
            .post(format!("{api}/v1/publish/big"))
            .body(body)
            .send()
    };
    let resp = post(vec![0u8; 1024].into()).await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "exactly max_payload fits"
    );
    let resp = post(vec![0u8; 1025].into()).await.unwrap();
    problem(resp, 413, "payload-too-large").await;
    // Chunked, so no Content-Length to refuse it by: the limit applies while reading.
    let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![1u8; 512]));
    let resp = post(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .await
        .unwrap();
    problem(resp, 413, "payload-too-large").await;
    // Headers count against max_payload, as over NATS.
    let resp = client()
        .post(format!("{api}/v1/publish/big"))
        .header("X-Nats-Header-Big", "h".repeat(1000))
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    problem(resp, 413, "payload-too-large").await;
}

#[tokio::test]
async fn hostile_requests_get_clean_answers() {
    let server = Server::start(&[]);
    let api = server.api_url();
    let resp = client()
        .get(format!("{api}/no/such/route"))
        .send()
        .await
        .unwrap();
    problem(resp, 404, "not-found").await;
    let resp = client()
        .get(format!("{api}/v1/publish/a"))
        .send()
        .await
        .unwrap();
    problem(resp, 405, "method-not-allowed").await;
    let resp = client()
        .post(format!("{api}/v1/publish/a"))
        .header("X-Nats-Header-", "nameless")
        .send()
        .await
        .unwrap();
    problem(resp, 400, "bad-request").await;
    // A header far beyond what the HTTP parser buffers is refused before any handler runs.
    let resp = client()
        .post(format!("{api}/v1/publish/a"))
        .header("X-Huge", "h".repeat(1 << 20))
        .send()
        .await;
    if let Ok(resp) = resp {
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    // And the server is still fine.
    let resp = client()
        .post(format!("{api}/v1/publish/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn token_auth_over_http() {
    let server = Server::start(&["--auth", "s3cret"]);
    let url = format!("{}/v1/publish/t", server.api_url());
    let resp = client().post(&url).send().await.unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"sluice\""
    );
    problem(resp, 401, "unauthorized").await;
    let resp = client()
        .post(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    problem(resp, 401, "unauthorized").await;
    let resp = client()
        .post(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    // The document is public.
    let resp = client()
        .get(format!("{}/openapi.json", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

const USERS: &str = r#"
[[auth.users]]
user = "alice"
password = "pw"
[auth.users.permissions]
publish = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.secret"] }
subscribe = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.hidden"] }

[[auth.users]]
user = "carol"
password = "pw"
[auth.users.permissions]
publish = ["rpc.>"]
subscribe = ["rpc.>"]
"#;

#[tokio::test]
async fn users_and_permissions_over_http() {
    let server = Server::with_config(USERS, &["-m", "-1"]);
    let api = server.api_url();
    let post = |path: &str, user: &str, pass: &str| {
        client()
            .post(format!("{api}{path}"))
            .basic_auth(user, Some(pass))
            .send()
    };
    let resp = client()
        .post(format!("{api}/v1/publish/orders.new"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    problem(resp, 401, "unauthorized").await;
    let resp = post("/v1/publish/orders.new", "alice", "nope")
        .await
        .unwrap();
    problem(resp, 401, "unauthorized").await;
    let resp = post("/v1/publish/orders.new", "alice", "pw").await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    for path in ["/v1/publish/billing.x", "/v1/publish/orders.secret"] {
        let resp = post(path, "alice", "pw").await.unwrap();
        problem(resp, 403, "permission-denied").await;
    }
    // carol may publish to rpc.> but not subscribe to the reply inbox.
    let resp = post("/v1/request/rpc.x", "carol", "pw").await.unwrap();
    problem(resp, 403, "permission-denied").await;

    let get = |path: &str| {
        client()
            .get(format!("{api}{path}"))
            .basic_auth("alice", Some("pw"))
            .send()
    };
    for path in ["/v1/subscribe/billing.>", "/v1/subscribe/orders.hidden"] {
        problem(get(path).await.unwrap(), 403, "permission-denied").await;
    }
    // A wildcard that overlaps a deny entry is allowed, but denied subjects are filtered.
    let mut sse = SseReader::new(get("/v1/subscribe/orders.*").await.unwrap());
    let nc = async_nats::ConnectOptions::new()
        .user_and_password("alice".into(), "pw".into())
        .connect(server.url())
        .await
        .unwrap();
    nc.publish("orders.hidden", "no".into()).await.unwrap();
    nc.publish("orders.seen", "yes".into()).await.unwrap();
    nc.flush().await.unwrap();
    let m = sse.message().await;
    assert_eq!(
        (m["subject"].as_str(), m["payload"].as_str()),
        (Some("orders.seen"), Some("yes"))
    );

    // Request/reply with a permitted user and a NATS responder.
    let mut svc = nc.subscribe("orders.rpc").await.unwrap();
    let responder = nc.clone();
    tokio::spawn(async move {
        while let Some(req) = svc.next().await {
            responder
                .publish(req.reply.unwrap(), "ok".into())
                .await
                .unwrap();
        }
    });
    server.wait_for_subs("orders.rpc", 1).await;
    let resp = post("/v1/request/orders.rpc", "alice", "pw").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let server = Server::start(&[]);
    let resp = client()
        .get(format!("{}/openapi.json", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/publish/{subject}",
        "/v1/request/{subject}",
        "/v1/subscribe/{subject}",
        "/v1/stats",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let request = &doc["paths"]["/v1/request/{subject}"]["post"]["responses"];
    for status in ["200", "400", "401", "403", "413", "503", "504"] {
        assert!(request[status].is_object(), "request {status}");
    }
}

#[test]
fn api_port_zero_turns_the_api_off() {
    let server = Server::start(&["--api_port", "0"]);
    assert_eq!(server.api, None);
}

#[tokio::test]
async fn console_page_and_stats() {
    let server = Server::start(&[]);
    let api = server.api_url();
    let page = reqwest::get(format!("{api}/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("/console.js"));
    for asset in ["/console.js", "/console.css"] {
        let resp = reqwest::get(format!("{api}{asset}")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
    }
    let nc = async_nats::connect(server.url()).await.unwrap();
    let _sub = nc.subscribe("stats.x").await.unwrap();
    nc.publish("stats.x", "abc".into()).await.unwrap();
    common::sync(&nc).await;
    let stats: Value = reqwest::get(format!("{api}/v1/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["connections"], 1);
    assert!(stats["subscriptions"].as_u64().unwrap() >= 1);
    assert!(stats["in_msgs"].as_u64().unwrap() >= 1);
    assert!(stats["out_msgs"].as_u64().unwrap() >= 1);
    assert!(stats["version"].as_str().unwrap().starts_with("2."));
}

#[tokio::test]
async fn stats_need_credentials_when_auth_is_on() {
    let server = Server::start(&["--auth", "s3cret"]);
    let url = format!("{}/v1/stats", server.api_url());
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_cookie_opens_streams_but_never_writes() {
    let server = Server::start(&["--auth", "s3cret"]);
    let api = server.api_url();
    let client = reqwest::Client::new();
    let status = |req: reqwest::RequestBuilder, cookie: &'static str| async move {
        req.header("Cookie", cookie).send().await.unwrap().status()
    };
    let stats = format!("{api}/v1/stats");
    let stream = format!("{api}/v1/subscribe/cookie.test");
    let publish = format!("{api}/v1/publish/cookie.test");
    assert_eq!(
        status(client.get(&stats), "sluice_token=s3cret").await,
        StatusCode::OK
    );
    assert_eq!(
        status(client.get(&stream), "theme=dark; sluice_token=s3cret").await,
        StatusCode::OK
    );
    assert_eq!(
        status(client.get(&stats), "sluice_token=nope").await,
        StatusCode::UNAUTHORIZED
    );
    // A cross-site form could carry the cookie: publishing never accepts it.
    assert_eq!(
        status(client.post(&publish).body("x"), "sluice_token=s3cret").await,
        StatusCode::UNAUTHORIZED
    );
}
