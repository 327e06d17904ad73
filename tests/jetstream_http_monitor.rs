//! JetStream beyond the NATS port: HTTP publish answers with the stream's ack, `/jsz`,
//! `/varz` and `/metrics` report streams and consumers, and a damaged segment tail is cut
//! off at start-up with every record before the damage still served.

mod common;

use async_nats::jetstream::{self, consumer::pull, stream::Config};
use common::Server;
use common::js::JsServer;
use serde_json::Value;

/// Sluice with JetStream on a store dir the test owns, plus the monitor and the API.
fn server(dir: &tempfile::TempDir) -> Server {
    let store = dir.path().to_str().expect("utf-8 temp path");
    Server::start(&["-js", "-sd", store, "-m", "-1"])
}

async fn context(server: &Server) -> jetstream::Context {
    let nc = async_nats::connect(server.url()).await.expect("connect");
    jetstream::new(nc)
}

/// [`server`] with one stream `name` capturing `subjects`, and a JetStream context.
async fn with_stream(
    dir: &tempfile::TempDir,
    name: &str,
    subjects: &str,
) -> (Server, jetstream::Context) {
    let server = server(dir);
    let js = context(&server).await;
    js.create_stream(Config {
        name: name.into(),
        subjects: vec![subjects.into()],
        ..Default::default()
    })
    .await
    .unwrap();
    (server, js)
}

async fn post(
    server: &Server,
    subject: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/publish/{subject}", server.api_url()))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("POST");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn http_publish_returns_the_stream_ack() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir);
    let js = context(&server).await;
    js.create_stream(Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        max_message_size: 64,
        ..Default::default()
    })
    .await
    .unwrap();

    let (status, ack) = post(&server, "orders.1", &[], "one").await;
    assert_eq!(
        (status, &ack),
        (
            200,
            &serde_json::json!({"stream": "ORDERS", "seq": 1, "duplicate": false})
        )
    );
    // Idempotency-Key becomes Nats-Msg-Id: the second POST is a duplicate of seq 2.
    let key = [("Idempotency-Key", "k-1")];
    assert_eq!(post(&server, "orders.2", &key, "two").await.1["seq"], 2);
    let (status, again) = post(&server, "orders.2", &key, "two").await;
    assert_eq!(
        (status, again["seq"].as_u64(), again["duplicate"].as_bool()),
        (200, Some(2), Some(true))
    );

    // A failed expectation is a 409 problem naming the JetStream error.
    let (status, problem) = post(
        &server,
        "orders.3",
        &[("Nats-Expected-Last-Sequence", "9")],
        "x",
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("10071"),
        "{problem}"
    );
    // Over the stream's max_msg_size: 413, and nothing stored.
    let (status, _) = post(
        &server,
        "orders.4",
        &[],
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    )
    .await;
    assert_eq!(status, 413);
    // Subjects no stream captures are routed as before: 202 with the delivery count.
    let (status, routed) = post(&server, "other.1", &[], "x").await;
    assert_eq!((status, routed["delivered"].as_u64()), (202, Some(0)));

    let info = js
        .get_stream("ORDERS")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (2, 2));
}

/// Found by schemathesis (tests/api-schema): a subscriber of a captured subject that answers
/// what it receives (its reply subject is the HTTP publish's ack inbox) must not pass for the
/// stream: the publish still gets the stream's ack, not a 503.
#[tokio::test]
async fn a_subscriber_answering_the_message_is_not_taken_for_the_stream_ack() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _js) = with_stream(&dir, "ECHO", "echo.>").await;
    let nc = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = nc.subscribe("echo.>").await.unwrap();
    // A round trip, so the server has the subscription before the HTTP publish (flush does
    // not wait for the server).
    common::sync(&nc).await;
    let answering = tokio::spawn(async move {
        use futures::StreamExt;
        if let Some(msg) = sub.next().await
            && let Some(reply) = msg.reply
        {
            nc.publish(reply, "not an ack".into()).await.unwrap();
            nc.flush().await.unwrap();
        }
    });
    let (status, ack) = post(&server, "echo.1", &[], "hello").await;
    assert_eq!(
        (status, ack["stream"].as_str(), ack["seq"].as_u64()),
        (200, Some("ECHO"), Some(1)),
        "{ack}"
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), answering)
        .await
        .expect("the subscriber got the message and answered")
        .unwrap();
}

async fn get_json(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn jsz_varz_and_metrics_report_streams_and_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir);
    let js = context(&server).await;
    let stream = js
        .create_stream(Config {
            name: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        js.publish(format!("events.{i}"), "payload".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("worker".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    use futures::StreamExt;
    let msg = batch.next().await.unwrap().unwrap();
    assert_eq!(msg.info().unwrap().stream_sequence, 1);

    let jsz = get_json(format!("{}/jsz", server.monitor_url())).await;
    assert_eq!(
        (
            jsz["streams"].as_u64(),
            jsz["consumers"].as_u64(),
            jsz["messages"].as_u64()
        ),
        (Some(1), Some(1), Some(3))
    );
    assert!(jsz["storage"].as_u64().unwrap() > 0, "{jsz}");
    assert!(jsz["api"]["total"].as_u64().unwrap() >= 2, "{jsz}");
    assert!(jsz.get("account_details").is_none());
    let detail = get_json(format!(
        "{}/jsz?consumers=true&config=true",
        server.monitor_url()
    ))
    .await;
    let s = &detail["account_details"][0]["stream_detail"][0];
    assert_eq!(s["name"], "EVENTS");
    assert_eq!(s["config"]["subjects"][0], "events.>");
    assert_eq!(s["consumer_detail"][0]["name"], "worker");
    assert_eq!(s["consumer_detail"][0]["num_ack_pending"], 1);
    assert_eq!(s["consumer_detail"][0]["num_pending"], 2);

    let varz = get_json(format!("{}/varz", server.monitor_url())).await;
    assert_eq!(
        varz["jetstream"]["config"]["store_dir"],
        dir.path().to_str().unwrap()
    );

    let metrics = reqwest::get(format!("{}/metrics", server.monitor_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "sluice_jetstream_streams 1",
        "sluice_jetstream_stream_messages{stream=\"EVENTS\"} 3",
        "sluice_jetstream_consumer_num_pending{stream=\"EVENTS\",consumer=\"worker\"} 2",
        "sluice_jetstream_consumer_num_ack_pending{stream=\"EVENTS\",consumer=\"worker\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn jsz_says_disabled_without_jetstream() {
    let server = Server::start(&["-m", "-1"]);
    let jsz = get_json(format!("{}/jsz", server.monitor_url())).await;
    assert_eq!(jsz["disabled"], true);
    let varz = get_json(format!("{}/varz", server.monitor_url())).await;
    assert_eq!(varz["jetstream"], serde_json::json!({}));
    let streams = reqwest::get(format!("{}/v1/streams", server.api_url()))
        .await
        .unwrap();
    assert_eq!(streams.status(), 404);
}

/// The one segment file of stream `name`.
fn segment(store: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = store.join("jetstream/streams").join(name).join("msgs");
    let mut segs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment file")
}

async fn fill(server: &JsServer, n: usize) {
    let (_nc, js) = common::js::js(server).await;
    js.create_stream(Config {
        name: "T".into(),
        subjects: vec!["t.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 1..=n {
        js.publish(format!("t.{i}"), format!("message {i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

async fn stored(server: &JsServer) -> (u64, u64, Vec<String>) {
    let (_nc, js) = common::js::js(server).await;
    let mut stream = js.get_stream("T").await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut payloads = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = stream.get_raw_message(seq).await.unwrap();
        payloads.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    (state.messages, state.last_sequence, payloads)
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_and_everything_before_it_served() {
    let mut server = JsServer::start();
    fill(&server, 10).await;
    server.kill9();
    // Tear the last record: drop its final bytes, as a crash in the middle of a write would.
    let seg = segment(server.store_dir(), "T");
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    server.start_again();
    let (msgs, last, payloads) = stored(&server).await;
    assert_eq!((msgs, last), (9, 9));
    assert_eq!(payloads.last().map(String::as_str), Some("message 9"));
    // The stream carries on after the cut.
    let (_nc, js) = common::js::js(&server).await;
    let ack = js
        .publish("t.new", "after".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 10);
}

#[tokio::test]
async fn a_corrupt_last_record_is_detected_and_never_served() {
    let mut server = JsServer::start();
    fill(&server, 10).await;
    server.kill9();
    // Flip a byte inside the last payload ("message 10"): its checksum no longer matches.
    let seg = segment(server.store_dir(), "T");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes
        .windows(10)
        .rposition(|w| w == b"message 10")
        .expect("last payload on disk");
    bytes[at] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    server.start_again();
    let (msgs, last, payloads) = stored(&server).await;
    assert_eq!((msgs, last), (9, 9));
    let expected: Vec<String> = (1..=9).map(|i| format!("message {i}")).collect();
    assert_eq!(payloads, expected);
}

/// Reads `(id, data JSON)` of the next `event: message` of an SSE body within 5 s.
async fn next_message(
    body: &mut futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: &mut String,
) -> Option<(String, Value)> {
    use futures::StreamExt;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut data, mut message) = (String::new(), String::new(), false);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim().to_string();
                } else if line.trim() == "event: message" {
                    message = true;
                }
            }
            if message {
                return Some((id, serde_json::from_str(&data).expect("JSON data")));
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .ok()??
            .ok()?;
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn sse(
    server: &Server,
    pattern: &str,
    last_event_id: Option<&str>,
) -> futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>> {
    use futures::StreamExt;
    let mut req =
        reqwest::Client::new().get(format!("{}/v1/subscribe/{pattern}", server.api_url()));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.expect("GET");
    assert_eq!(resp.status(), 200);
    resp.bytes_stream().boxed()
}

#[tokio::test]
async fn sse_on_a_stream_resumes_after_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let (server, js) = with_stream(&dir, "FEED", "feed.>").await;
    for i in 1..=3 {
        js.publish(format!("feed.{i}"), format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Resuming after id 1 replays 2 and 3 from the stream, then follows new messages.
    let (mut body, mut buf) = (sse(&server, "feed.%3E", Some("1")).await, String::new());
    let (id, m) = next_message(&mut body, &mut buf).await.expect("event 2");
    assert_eq!(
        (id.as_str(), m["subject"].as_str(), m["payload"].as_str()),
        ("2", Some("feed.2"), Some("m2"))
    );
    assert_eq!(
        next_message(&mut body, &mut buf).await.expect("event 3").0,
        "3"
    );
    // Without Last-Event-ID a subscription starts with the next message stored.
    let (mut fresh, mut fresh_buf) = (sse(&server, "feed.4", None).await, String::new());
    js.publish("feed.4", "m4".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let (id, m) = next_message(&mut body, &mut buf).await.expect("event 4");
    assert_eq!((id.as_str(), m["payload"].as_str()), ("4", Some("m4")));
    let (id, m) = next_message(&mut fresh, &mut fresh_buf)
        .await
        .expect("live event 4");
    assert_eq!((id.as_str(), m["payload"].as_str()), ("4", Some("m4")));
    // Subjects outside every stream stay live subscriptions without ids.
    let (mut live, mut live_buf) = (sse(&server, "other", None).await, String::new());
    let nc = async_nats::connect(server.url()).await.unwrap();
    // The live subscription exists once the GET answered; a round trip orders the publish after it.
    common::sync(&nc).await;
    nc.publish("other", "x".into()).await.unwrap();
    let (id, m) = next_message(&mut live, &mut live_buf)
        .await
        .expect("live event");
    assert_eq!((id.as_str(), m["payload"].as_str()), ("", Some("x")));
}
