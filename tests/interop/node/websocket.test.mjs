// Interop over WebSocket: the unmodified nats.ws client (the library browsers use) against
// the server's WebSocket listener, talking to a nats.js client on plain TCP. Node 20 has
// no WebSocket global by default; run with `node --experimental-websocket --test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect } from "nats";
import { connect as wsConnect, headers, ErrorCode, StringCodec } from "nats.ws";
import { startServer } from "./server.mjs";

const sc = StringCodec();
const TEST_TIMEOUT = 30_000;

async function withServer(t) {
  assert.equal(typeof WebSocket, "function", "run node with --experimental-websocket");
  const srv = await startServer({ websocket: true });
  const conns = [];
  t.after(async () => {
    await Promise.allSettled(conns.map((nc) => (nc.isClosed() ? null : nc.close())));
    await srv.stop();
  });
  const ws = await wsConnect({ servers: srv.wsUrl, reconnect: false, timeout: 5000 });
  const tcp = await tcpConnect({ servers: srv.url, reconnect: false, timeout: 5000 });
  conns.push(ws, tcp);
  return { srv, ws, tcp };
}

async function first(sub) {
  const timer = setTimeout(() => sub.unsubscribe(), 5000);
  for await (const m of sub) {
    clearTimeout(timer);
    return m;
  }
  throw new Error("no message within 5 s");
}

test("nats.ws publishes and subscribes across transports", { timeout: TEST_TIMEOUT }, async (t) => {
  const { ws, tcp } = await withServer(t);
  assert.ok(ws.info.version.startsWith("2."), ws.info.version);

  const fromTcp = ws.subscribe("chat.>", { max: 1 });
  await ws.flush();
  tcp.publish("chat.room1", sc.encode("hello browser"));
  const m = await first(fromTcp);
  assert.equal(m.subject, "chat.room1");
  assert.equal(sc.decode(m.data), "hello browser");

  const fromWs = tcp.subscribe("svc.log", { max: 1 });
  await tcp.flush();
  const h = headers();
  h.append("X-From", "browser");
  ws.publish("svc.log", sc.encode("hi"), { headers: h });
  const got = await first(fromWs);
  assert.equal(got.headers.get("X-From"), "browser");
  assert.equal(sc.decode(got.data), "hi");
});

test("nats.ws request/reply and no responders", { timeout: TEST_TIMEOUT }, async (t) => {
  const { ws, tcp } = await withServer(t);
  const service = tcp.subscribe("echo");
  (async () => {
    for await (const m of service) m.respond(m.data);
  })();
  await tcp.flush();
  const answer = await ws.request("echo", sc.encode("ping"), { timeout: 5000 });
  assert.equal(sc.decode(answer.data), "ping");
  await assert.rejects(ws.request("nobody.home", sc.encode("x"), { timeout: 5000 }), (err) => {
    assert.equal(err.code, ErrorCode.NoResponders);
    return true;
  });
});
