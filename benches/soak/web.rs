//! The HTTP API side of the soak load: publishes and requests over keep-alive connections
//! and over a fresh connection each, NATS over WebSocket on `/nats` (closed cleanly or
//! reset), the JSON WebSocket on `/v1/ws`, and Server-Sent Events subscriptions dropped
//! after their first event.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use super::load::{ANSWER, Ctx, Pace, close, connect, reset};
use super::stats::{Conn, Stats};

type Ws = tokio_tungstenite::WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// One HTTP worker. `fresh`: every request on a new TCP connection, closed after the answer
/// (fewer per second); otherwise one pooled keep-alive client. Most requests publish to
/// `soak.http.*`; every fifth is a request to the echo service, every tenth a publish a
/// JetStream stream captures (answered with its ack).
pub async fn http(ctx: Arc<Ctx>, id: usize, fresh: bool, stop: CancellationToken) {
    let mut builder = reqwest::Client::builder().timeout(ANSWER);
    if fresh {
        builder = builder.pool_max_idle_per_host(0);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return ctx.stats.error("http client", e),
    };
    let mut pace = Pace::new(if fresh { 20.0 } else { 100.0 }, ctx.scale);
    let mut n = 0u64;
    while pace.tick(&stop).await {
        n += 1;
        let (path, request) = match n % 10 {
            0 => (format!("/v1/publish/soak.js.http.{id}"), false),
            5 => (
                format!("/v1/request/soak.svc.http{id}?timeout_ms=5000"),
                true,
            ),
            _ => (format!("/v1/publish/soak.http.{id}.{}", n % 7), false),
        };
        let result = client
            .post(format!("{}{path}", ctx.api_url))
            .body(ctx.payload())
            .send()
            .await;
        match result {
            Ok(resp) if resp.status().is_success() => {
                // Read the body so a keep-alive connection can carry the next request.
                let _ = resp.bytes().await;
                Stats::add(&ctx.stats.http_requests, 1);
                Stats::add(&ctx.stats.sent, 1);
                if request {
                    Stats::add(&ctx.stats.requests, 1);
                }
            }
            Ok(resp) => ctx
                .stats
                .error("http status", format!("{} on POST {path}", resp.status())),
            Err(e) => ctx.stats.error("http request", e),
        }
        if fresh {
            ctx.stats.churned(Conn::HttpNew);
        }
    }
}

/// One WebSocket worker: per tick a connection to `/nats` that subscribes, publishes, waits
/// for its own message and a PONG, then sends a close frame or resets the TCP connection;
/// every third tick a JSON WebSocket on `/v1/ws` instead.
pub async fn websocket(ctx: Arc<Ctx>, id: usize, stop: CancellationToken) {
    let mut pace = Pace::new(4.0, ctx.scale);
    let mut n = 0u64;
    while pace.tick(&stop).await {
        n += 1;
        let result = match n % 3 {
            0 => json_ws(&ctx, id, n).await.map(|()| Conn::JsonWs),
            1 => nats_ws(&ctx, id, n, true).await.map(|()| Conn::WsClean),
            _ => nats_ws(&ctx, id, n, false).await.map(|()| Conn::WsAbrupt),
        };
        match result {
            Ok(kind) => ctx.stats.churned(kind),
            Err(e) => ctx.stats.error("websocket", e),
        }
    }
}

async fn ws_connect(url: &str) -> Result<Ws, String> {
    match tokio::time::timeout(ANSWER, tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("upgrade {url}: {e}")),
        Err(_) => Err(format!("upgrade {url}: timed out")),
    }
}

/// The NATS protocol over `/nats`: the stream of frames is one byte stream, so markers are
/// looked for in everything received so far.
async fn nats_ws(ctx: &Ctx, id: usize, n: u64, clean: bool) -> Result<(), String> {
    let mut ws = ws_connect(&ctx.ws_url).await?;
    let mut seen = Vec::new();
    ws_read_until(&mut ws, &mut seen, &[b"INFO"]).await?;
    let subject = format!("soak.ws.{id}.{n}");
    let ops = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"soak-ws\"}}\r\n\
         SUB {subject} 1\r\nPUB {subject} 5\r\nhello\r\nPING\r\n"
    );
    ws.send(WsMessage::binary(ops.into_bytes()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    seen.clear();
    ws_read_until(&mut ws, &mut seen, &[b"MSG soak.ws", b"PONG\r\n"]).await?;
    Stats::add(&ctx.stats.sent, 1);
    Stats::add(&ctx.stats.received, 1);
    if clean {
        ws.close(None).await.map_err(|e| format!("close: {e}"))?;
        // The server answers the close frame and ends the connection.
        let _ = tokio::time::timeout(ANSWER, async { while ws.next().await.is_some() {} }).await;
    } else {
        match ws.into_inner() {
            MaybeTlsStream::Plain(tcp) => reset(tcp),
            other => drop(other),
        }
    }
    Ok(())
}

/// Reads frames into `seen` until every marker has appeared in it.
async fn ws_read_until(ws: &mut Ws, seen: &mut Vec<u8>, markers: &[&[u8]]) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + ANSWER;
    while !markers
        .iter()
        .all(|m| memchr::memmem::find(seen, m).is_some())
    {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| "no answer in time".to_string())?;
        match frame {
            Some(Ok(WsMessage::Binary(b))) => seen.extend_from_slice(&b),
            Some(Ok(WsMessage::Text(t))) => seen.extend_from_slice(t.as_bytes()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("closed by the server".into()),
        }
    }
    Ok(())
}

/// The JSON WebSocket: subscribe, publish, receive it, close.
async fn json_ws(ctx: &Ctx, id: usize, n: u64) -> Result<(), String> {
    let url = format!("{}/v1/ws", ctx.api_url.replacen("http://", "ws://", 1));
    let mut ws = ws_connect(&url).await?;
    let subject = format!("soak.ws.json.{id}.{n}");
    let frames = [
        serde_json::json!({"op": "subscribe", "id": "s", "subject": subject}),
        serde_json::json!({"op": "publish", "id": "p", "subject": subject, "payload": "hello"}),
    ];
    for (frame, wanted) in frames.iter().zip(["subscribed", "message"]) {
        ws.send(WsMessage::text(frame.to_string()))
            .await
            .map_err(|e| format!("send: {e}"))?;
        json_wait(&mut ws, wanted).await?;
    }
    Stats::add(&ctx.stats.sent, 1);
    Stats::add(&ctx.stats.received, 1);
    ws.close(None).await.map_err(|e| format!("close: {e}"))?;
    let _ = tokio::time::timeout(ANSWER, async { while ws.next().await.is_some() {} }).await;
    Ok(())
}

/// Reads JSON frames until one with `"op": op` (other ops, like `published`, are skipped).
async fn json_wait(ws: &mut Ws, op: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + ANSWER;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("no {op:?} frame in time"))?;
        match frame {
            Some(Ok(WsMessage::Text(t))) => {
                let v: serde_json::Value =
                    serde_json::from_str(t.as_str()).map_err(|e| format!("frame: {e}"))?;
                if v["op"] == op {
                    return Ok(());
                }
                if v["op"] == "error" {
                    return Err(format!("error frame {v}"));
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("closed by the server".into()),
        }
    }
}

/// One SSE worker: per tick a subscription to a subject of its own, one message published
/// to it over NATS, the event read, the connection dropped.
pub async fn sse(ctx: Arc<Ctx>, id: usize, stop: CancellationToken) {
    let nc = match connect(&ctx, "soak-sse-pub").await {
        Ok(nc) => nc,
        Err(e) => return ctx.stats.error("sse publisher", e),
    };
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(ANSWER)
        .build()
    {
        Ok(c) => c,
        Err(e) => return ctx.stats.error("sse client", e),
    };
    let mut pace = Pace::new(2.0, ctx.scale);
    let mut n = 0u64;
    while pace.tick(&stop).await {
        n += 1;
        match sse_once(&ctx, &client, &nc, &format!("soak.sse.{id}.{n}")).await {
            Ok(()) => ctx.stats.churned(Conn::Sse),
            Err(e) => ctx.stats.error("sse", e),
        }
    }
    close(nc).await;
    ctx.stats.churned(Conn::LongLived);
}

async fn sse_once(
    ctx: &Ctx,
    client: &reqwest::Client,
    nc: &async_nats::Client,
    subject: &str,
) -> Result<(), String> {
    let url = format!("{}/v1/subscribe/{subject}", ctx.api_url);
    let mut resp = tokio::time::timeout(ANSWER, client.get(&url).send())
        .await
        .map_err(|_| "subscribe: no answer in time".to_string())?
        .map_err(|e| format!("subscribe: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("subscribe: {}", resp.status()));
    }
    // The subscription exists once the answer's headers are out; publish until the event
    // comes (a publish racing the subscription is simply not delivered).
    let deadline = tokio::time::Instant::now() + ANSWER;
    let mut seen = String::new();
    let mut publish = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = publish.tick() => {
                nc.publish(subject.to_string(), ctx.payload())
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
                Stats::add(&ctx.stats.sent, 1);
            }
            chunk = tokio::time::timeout_at(deadline, resp.chunk()) => {
                match chunk {
                    Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                    Ok(Ok(None)) => return Err("event stream ended".into()),
                    Ok(Err(e)) => return Err(format!("read: {e}")),
                    Err(_) => return Err("no event in time".into()),
                }
                if seen.contains("event: message") {
                    Stats::add(&ctx.stats.received, 1);
                    return Ok(());
                }
            }
        }
    }
}
