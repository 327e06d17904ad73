// JetStream over WebSocket: the nats.js v3 modular clients connected with `wsconnect` (the
// WebSocket transport of @nats-io/nats-core, re-exported by @nats-io/transport-node) plus
// @nats-io/jetstream and @nats-io/kv, against a server started with `-js -sd <tmp dir>` and a
// WebSocket listener (server.mjs). Each scenario runs over the dedicated WebSocket listener
// (sluice and nats-server) and, for sluice, over `/nats` on the API port too.
// Node 20 has no WebSocket global by default; run with `node --experimental-websocket --test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, headers, wsconnect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { serverKind, startServer } from "./server.mjs";

const TEST_TIMEOUT = 60_000;
const API_TIMEOUT = 10_000; // ms for one JetStream API round trip
const MSG_TIMEOUT = 10_000; // ms to wait for an expected message
const te = new TextEncoder();

// The WebSocket URLs a server offers: its WebSocket listener, and `/nats` on sluice's API port.
// [name, URL of a started server, skip reason or false]
const ENDPOINTS = [
  ["the WebSocket listener", (srv) => srv.wsUrl, false],
  ["/nats on the API port", (srv) => `${srv.apiUrl.replace("http://", "ws://")}/nats`,
    serverKind() !== "sluice" && "sluice only: nats-server has no API port"],
];

// A JetStream server with a WebSocket listener, a nats.js connection over WebSocket (with its
// JetStream manager and client) and a plain TCP one; all released in t.after.
async function withServer(t, endpoint) {
  assert.equal(typeof WebSocket, "function", "run node with --experimental-websocket");
  const srv = await startServer({ jetstream: true, websocket: true });
  const conns = [];
  t.after(async () => {
    await Promise.allSettled(conns.map((nc) => (nc.isClosed() ? null : nc.close())));
    await srv.stop();
  });
  const url = endpoint(srv);
  const ws = await wsconnect({ servers: url, reconnect: false, timeout: MSG_TIMEOUT });
  conns.push(ws);
  const tcp = await tcpConnect({ servers: srv.url, reconnect: false, timeout: MSG_TIMEOUT });
  conns.push(tcp);
  const jsm = await jetstreamManager(ws, { timeout: API_TIMEOUT });
  return { srv, url, ws, tcp, jsm, js: jetstream(ws, { timeout: API_TIMEOUT }) };
}

async function collect(iter, n) {
  const out = [];
  for await (const x of iter) {
    out.push(x);
    if (out.length >= n) break;
  }
  return out;
}

// [stream seq, consumer seq, delivery count] of a JsMsg.
const meta = (m) => [m.seq, m.info.deliverySequence, m.info.deliveryCount];

for (const [where, endpoint, skip] of ENDPOINTS) {
  test(`wsconnect over ${where}: stream, js.publish PubAcks, pull consumer with acks`, { timeout: TEST_TIMEOUT, skip }, async (t) => {
    const { url, ws, tcp, jsm, js } = await withServer(t, endpoint);
    assert.match(url, /^ws:\/\//);
    assert.ok(ws.info.jetstream, "INFO over WebSocket announces JetStream");

    const si = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    assert.deepEqual([si.config.name, si.config.subjects, si.state.messages], ["ORDERS", ["orders.>"], 0]);

    // PubAcks, deduplication by message id, and a header carried into the stream.
    const h = headers();
    h.set("X-Client", "ws");
    const pa1 = await js.publish("orders.new", te.encode("order 1"), { msgID: "o-1", headers: h });
    assert.deepEqual([pa1.stream, pa1.seq, pa1.duplicate], ["ORDERS", 1, false]);
    const dup = await js.publish("orders.new", te.encode("order 1 again"), { msgID: "o-1" });
    assert.deepEqual([dup.stream, dup.seq, dup.duplicate], ["ORDERS", 1, true]);
    const pa2 = await js.publish("orders.paid", te.encode("order 2"), { expect: { lastSequence: 1 } });
    assert.deepEqual([pa2.stream, pa2.seq, pa2.duplicate], ["ORDERS", 2, false]);
    // A message stored from the TCP side is seen by the WebSocket consumer too.
    const pa3 = await jetstream(tcp, { timeout: API_TIMEOUT }).publish("orders.shipped", te.encode("order 3"));
    assert.deepEqual([pa3.stream, pa3.seq], ["ORDERS", 3]);

    await jsm.consumers.add("ORDERS", { durable_name: "billing", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("ORDERS", "billing");
    const batch = await collect(await c.fetch({ max_messages: 2, expires: MSG_TIMEOUT }), 2);
    assert.deepEqual(batch.map((m) => [m.subject, m.string()]), [["orders.new", "order 1"], ["orders.paid", "order 2"]]);
    assert.equal(batch[0].headers.get("X-Client"), "ws");
    assert.deepEqual(batch.map(meta), [[1, 1, 1], [2, 2, 1]]);
    assert.deepEqual(batch.map((m) => m.info.pending), [2, 1]);
    for (const m of batch) assert.equal(await m.ackAck({ timeout: MSG_TIMEOUT }), true);

    // consume(): the next message, acked, then a nak'd one comes back redelivered.
    const iter = await c.consume({ max_messages: 10, expires: 5000 });
    const seen = [];
    for await (const m of iter) {
      seen.push([m.subject, m.string(), ...meta(m)]);
      if (seen.length === 1) {
        m.nak();
        continue;
      }
      await m.ackAck({ timeout: MSG_TIMEOUT });
      break;
    }
    await iter.close();
    assert.deepEqual(seen, [["orders.shipped", "order 3", 3, 3, 1], ["orders.shipped", "order 3", 3, 4, 2]]);

    const ci = await c.info();
    assert.deepEqual(
      [ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_ack_pending, ci.num_pending],
      [3, 3, 0, 0],
    );
    const info = await jsm.streams.info("ORDERS");
    assert.deepEqual([info.state.messages, info.state.first_seq, info.state.last_seq], [3, 1, 3]);
  });

  test(`wsconnect over ${where}: KV put, get, watch`, { timeout: TEST_TIMEOUT, skip }, async (t) => {
    const { ws, tcp } = await withServer(t, endpoint);
    const kv = await new Kvm(ws).create("config", { history: 5 });
    assert.equal(await kv.put("color", te.encode("blue")), 1);
    const e = await kv.get("color");
    assert.deepEqual([e.key, e.string(), e.revision, e.operation], ["color", "blue", 1, "PUT"]);

    // The watch starts with the current value, then sees updates from either transport.
    const w = await kv.watch({ key: "color" });
    const tcpKv = await new Kvm(tcp).open("config");
    const got = [];
    for await (const x of w) {
      got.push([x.key, x.string(), x.revision, x.operation]);
      if (got.length === 1) {
        await kv.put("color", te.encode("green"));
        await tcpKv.put("color", te.encode("red"));
        await kv.delete("color");
      }
      if (got.length === 4) break;
    }
    w.stop();
    assert.deepEqual(got, [
      ["color", "blue", 1, "PUT"],
      ["color", "green", 2, "PUT"],
      ["color", "red", 3, "PUT"],
      ["color", "", 4, "DEL"],
    ]);
    const gone = await kv.get("color");
    assert.deepEqual([gone.revision, gone.operation, gone.length], [4, "DEL", 0]);
    const history = await collect(await kv.history({ key: "color" }), 4);
    assert.deepEqual(history.map((x) => [x.revision, x.operation]), [[1, "PUT"], [2, "PUT"], [3, "PUT"], [4, "DEL"]]);
    assert.deepEqual(await collect(await kv.keys(), Infinity), []);
  });
}
