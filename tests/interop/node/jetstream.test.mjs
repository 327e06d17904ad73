// JetStream interop: the nats.js v3 modular clients (@nats-io/transport-node,
// @nats-io/jetstream, @nats-io/kv, @nats-io/obj) against the server under test started
// with `-js -sd <tmp dir>` (server.mjs). Run with `node --test tests/interop/node/`.
//
// Every test gets its own server and store dir and closes what it opened. Expected
// values are exact (sequences, counts, payload bytes, JetStream err_codes). State the
// server updates asynchronously (a fire-and-forget ack) is awaited with ackAck() or a
// later round trip, not with sleeps.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, headers } from "@nats-io/transport-node";
import {
  AckPolicy, DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { restartServer, startServer } from "./server.mjs";

const TEST_TIMEOUT = 60_000;
const API_TIMEOUT = 10_000; // ms for one JetStream API round trip
const MSG_TIMEOUT = 10_000; // ms to wait for an expected message
const te = new TextEncoder();
const td = new TextDecoder();

// ------------------------------------------------------------------ helpers

// Per-test resources, released in t.after: servers (also restarted ones) and connections.
function scope(t) {
  const servers = new Set();
  const conns = [];
  t.after(async () => {
    await Promise.allSettled(conns.map((nc) => (nc.isClosed() ? null : nc.close())));
    await Promise.allSettled([...servers].map((s) => s.stop()));
  });
  return {
    async start() {
      const srv = await startServer({ jetstream: true });
      servers.add(srv);
      return srv;
    },
    async restart(srv, signal) {
      servers.delete(srv);
      const next = await restartServer(srv, signal);
      servers.add(next);
      return next;
    },
    // A connection without reconnects, its JetStream manager and client.
    async connect(srv) {
      const nc = await connect({ servers: srv.url, reconnect: false, timeout: MSG_TIMEOUT });
      conns.push(nc);
      const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT });
      return { nc, jsm, js: jetstream(nc, { timeout: API_TIMEOUT }) };
    },
  };
}

// Asserts that `promise` rejects with a JetStream API error carrying `errCode`.
async function rejectsWithCode(promise, errCode, status) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof JetStreamApiError, `not a JetStreamApiError: ${err}`);
    assert.equal(err.code, errCode, `err_code of ${err.message}`);
    if (status !== undefined) assert.equal(err.status, status);
    return true;
  });
}

// Polls `get()` until `check(value)` holds; fails with the last value after MSG_TIMEOUT.
async function eventually(get, check, what) {
  const deadline = Date.now() + MSG_TIMEOUT;
  for (;;) {
    const value = await get();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what} never held; last value: ${JSON.stringify(value)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function collect(iter, n = Infinity) {
  const out = [];
  if (n === 0) return out;
  for await (const x of iter) {
    out.push(x);
    if (out.length >= n) break;
  }
  return out;
}

// [stream seq, consumer seq, delivery count] of a JsMsg.
const meta = (m) => [m.seq, m.info.deliverySequence, m.info.deliveryCount];

// The numbers of a ConsumerInfo, for one exact comparison.
const numbers = (ci) => ({
  delivered: [ci.delivered.consumer_seq, ci.delivered.stream_seq],
  ack_floor: [ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq],
  num_ack_pending: ci.num_ack_pending,
  num_redelivered: ci.num_redelivered,
  num_pending: ci.num_pending,
});

async function fetchAll(consumer, n) {
  const iter = await consumer.fetch({ max_messages: n, expires: MSG_TIMEOUT });
  return collect(iter, n);
}

// ------------------------------------------------------------------ streams

test("jsm streams: add with wildcards and limits, info, names, purge, delete", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  const si = await jsm.streams.add({
    name: "ORDERS", subjects: ["orders.*", "ship.>"], max_msgs: 100, max_msgs_per_subject: 10, max_msg_size: 1024,
  });
  const c = si.config;
  assert.deepEqual([c.name, c.subjects, c.max_msgs, c.max_msgs_per_subject, c.max_msg_size],
    ["ORDERS", ["orders.*", "ship.>"], 100, 10, 1024]);
  assert.deepEqual([c.retention, c.storage, c.discard, c.num_replicas],
    [RetentionPolicy.Limits, StorageType.File, DiscardPolicy.Old, 1]);
  assert.deepEqual([si.state.messages, si.state.first_seq, si.state.last_seq], [0, 0, 0]);

  for (const [subj, seq] of [["orders.a", 1], ["ship.eu.de", 2], ["orders.b", 3], ["orders.a", 4]]) {
    const pa = await js.publish(subj, te.encode(subj));
    assert.deepEqual([pa.stream, pa.seq, pa.duplicate], ["ORDERS", seq, false]);
  }
  const info = await jsm.streams.info("ORDERS");
  assert.deepEqual([info.state.messages, info.state.first_seq, info.state.last_seq], [4, 1, 4]);
  const sm = await jsm.streams.getMessage("ORDERS", { seq: 2 });
  assert.deepEqual([sm.subject, sm.seq, sm.string()], ["ship.eu.de", 2, "ship.eu.de"]);

  await jsm.streams.add({ name: "OTHER", subjects: ["other"] });
  assert.deepEqual((await collect(jsm.streams.names())).sort(), ["ORDERS", "OTHER"]);
  assert.deepEqual(await collect(jsm.streams.names("ship.x.y")), ["ORDERS"]);
  assert.equal(await jsm.streams.find("other"), "OTHER");
  assert.deepEqual((await collect(jsm.streams.list())).map((i) => i.config.name).sort(), ["ORDERS", "OTHER"]);

  const pr = await jsm.streams.purge("ORDERS", { filter: "orders.a" });
  assert.deepEqual([pr.success, pr.purged], [true, 2]);
  const all = await jsm.streams.purge("ORDERS");
  assert.deepEqual([all.success, all.purged], [true, 2]);
  const after = await jsm.streams.info("ORDERS");
  assert.deepEqual([after.state.messages, after.state.first_seq, after.state.last_seq], [0, 5, 4]);

  assert.equal(await jsm.streams.delete("OTHER"), true);
  await rejectsWithCode(jsm.streams.info("OTHER"), 10059, 404);
  await rejectsWithCode(jsm.streams.delete("OTHER"), 10059, 404);
  assert.equal((await jsm.getAccountInfo()).streams, 1);
});

test("js.publish: ack, msgID dedupe, expectations and limits", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  await jsm.streams.add({ name: "PUB", subjects: ["pub.*"], max_msg_size: 64 });
  const h = headers();
  h.set("X-Trace", "t1");
  const first = await js.publish("pub.a", te.encode("one"), { msgID: "id-1", headers: h });
  assert.deepEqual([first.stream, first.seq, first.duplicate], ["PUB", 1, false]);
  const dup = await js.publish("pub.a", te.encode("one"), { msgID: "id-1" });
  assert.deepEqual([dup.stream, dup.seq, dup.duplicate], ["PUB", 1, true]);
  assert.equal((await js.publish("pub.b", te.encode("two"), { msgID: "id-2" })).seq, 2);
  const stored = await jsm.streams.getMessage("PUB", { seq: 1 });
  assert.deepEqual([stored.string(), stored.header.get("X-Trace"), stored.header.get("Nats-Msg-Id")],
    ["one", "t1", "id-1"]);

  await rejectsWithCode(js.publish("pub.a", te.encode("x"), { expect: { lastSequence: 1 } }), 10071, 400);
  assert.equal((await js.publish("pub.a", te.encode("3"), { expect: { lastSequence: 2 } })).seq, 3);
  await rejectsWithCode(js.publish("pub.b", te.encode("x"), { expect: { lastSubjectSequence: 3 } }), 10071);
  assert.equal((await js.publish("pub.b", te.encode("4"), { expect: { lastSubjectSequence: 2 } })).seq, 4);
  // The last message (seq 4) has no id, so "id-2" is not the last msg id any more.
  await rejectsWithCode(js.publish("pub.a", te.encode("x"), { expect: { lastMsgID: "id-2" } }), 10070);
  assert.equal((await js.publish("pub.a", te.encode("5"), { msgID: "id-5" })).seq, 5);
  assert.equal((await js.publish("pub.a", te.encode("6"), { expect: { lastMsgID: "id-5" } })).seq, 6);
  await rejectsWithCode(js.publish("pub.a", te.encode("x"), { expect: { streamName: "NOPE" } }), 10060);
  await rejectsWithCode(js.publish("pub.a", new Uint8Array(65)), 10054, 400);
  assert.equal((await js.publish("pub.a", new Uint8Array(64))).seq, 7);
  // Nothing captures the subject: no responders.
  await assert.rejects(js.publish("nowhere", te.encode("x")), (err) => err.cause?.isNoResponders?.() === true);
  const si = await jsm.streams.info("PUB");
  assert.deepEqual([si.state.messages, si.state.last_seq], [7, 7]);
});

test("jsm rejects overlapping subjects and consumers on missing streams", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm } = await s.connect(await s.start());
  await jsm.streams.add({ name: "A", subjects: ["ov.*"] });
  await rejectsWithCode(jsm.streams.add({ name: "B", subjects: ["ov.x"] }), 10065, 400);
  await rejectsWithCode(jsm.streams.add({ name: "A", subjects: ["ov.*"], max_msgs: 9 }), 10058, 400);
  await rejectsWithCode(jsm.consumers.add("NOPE", { durable_name: "d", ack_policy: AckPolicy.Explicit }), 10059, 404);
  await rejectsWithCode(jsm.consumers.info("A", "missing"), 10014, 404);
});

// ------------------------------------------------------------------ consumers

test("durable pull consumer: consumers.get, fetch, ack, nak, term, next", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
  for (let i = 1; i <= 3; i++) {
    const h = headers();
    h.set("X-N", `${i}`);
    await js.publish(`jobs.${i}`, te.encode(`job-${i}`), { headers: h });
  }
  await jsm.consumers.add("JOBS", { durable_name: "worker", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("JOBS", "worker");
  const msgs = await fetchAll(c, 3);
  assert.deepEqual(msgs.map((m) => [m.subject, m.string(), m.headers.get("X-N")]),
    [["jobs.1", "job-1", "1"], ["jobs.2", "job-2", "2"], ["jobs.3", "job-3", "3"]]);
  assert.deepEqual(msgs.map(meta), [[1, 1, 1], [2, 2, 1], [3, 3, 1]]);
  assert.deepEqual(msgs.map((m) => m.info.pending), [2, 1, 0]);
  assert.deepEqual(msgs.map((m) => [m.info.stream, m.info.consumer, m.redelivered]), Array(3).fill(["JOBS", "worker", false]));

  assert.equal(await msgs[0].ackAck({ timeout: MSG_TIMEOUT }), true);
  msgs[1].term();
  msgs[2].nak();
  const again = await c.next({ expires: MSG_TIMEOUT }); // only 3 can come: 1 is acked, 2 terminated
  assert.deepEqual([again.string(), ...meta(again), again.redelivered], ["job-3", 3, 4, 2, true]);
  assert.equal(await again.ackAck({ timeout: MSG_TIMEOUT }), true);
  assert.deepEqual(numbers(await c.info()), {
    delivered: [4, 3], ack_floor: [4, 3], num_ack_pending: 0, num_redelivered: 0, num_pending: 0,
  });

  const empty = await c.fetch({ max_messages: 2, expires: 1000 });
  assert.deepEqual(await collect(empty), []); // ends when the pull expires
  const waiting = c.next({ expires: MSG_TIMEOUT });
  await js.publish("jobs.4", te.encode("job-4"));
  const m4 = await waiting;
  assert.deepEqual([m4.subject, ...meta(m4)], ["jobs.4", 4, 5, 1]);
  await m4.ackAck({ timeout: MSG_TIMEOUT });
  const ci = await jsm.consumers.info("JOBS", "worker");
  assert.deepEqual([ci.config.durable_name, ci.config.ack_policy, ci.num_ack_pending, ci.ack_floor.stream_seq],
    ["worker", AckPolicy.Explicit, 0, 4]);
  assert.equal(await jsm.consumers.delete("JOBS", "worker"), true);
  await rejectsWithCode(jsm.consumers.info("JOBS", "worker"), 10014, 404);
});

test("durable pull consumer: consume() keeps pulling and acks", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  await jsm.streams.add({ name: "FEED", subjects: ["feed"] });
  for (let i = 1; i <= 10; i++) await js.publish("feed", te.encode(`${i}`));
  await jsm.consumers.add("FEED", { durable_name: "eater", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("FEED", "eater");
  const iter = await c.consume({ max_messages: 4, expires: 5000 }); // several pulls for 25 messages
  const seen = [];
  let published = false;
  for await (const m of iter) {
    seen.push([m.string(), ...meta(m)]);
    if (seen.length === 25) {
      await m.ackAck({ timeout: MSG_TIMEOUT });
      break;
    }
    m.ack();
    if (!published && seen.length === 10) {
      published = true;
      for (let i = 11; i <= 25; i++) await js.publish("feed", te.encode(`${i}`));
    }
  }
  await iter.close();
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => [`${i + 1}`, i + 1, i + 1, 1]));
  const ci = await c.info();
  assert.deepEqual([ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_pending], [25, 25, 0]);
});

test("ordered consumer reads everything in order, then live messages", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  await jsm.streams.add({ name: "ORD", subjects: ["ord.>"] });
  const payload = (i) => new Uint8Array(8192).fill(i);
  for (let i = 0; i < 50; i++) await js.publish(`ord.${i % 3}`, payload(i));
  const c = await js.consumers.get("ORD", { filter_subjects: ["ord.>"] }); // no name: ordered
  const iter = await c.consume({ max_messages: 20 });
  const got = [];
  for await (const m of iter) {
    got.push(m);
    if (got.length === 50) for (let i = 50; i < 80; i++) await js.publish(`ord.${i % 3}`, payload(i));
    if (got.length === 80) break;
  }
  await iter.close();
  assert.deepEqual(got.map((m) => m.subject), Array.from({ length: 80 }, (_, i) => `ord.${i % 3}`));
  assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 80 }, (_, i) => i + 1));
  assert.deepEqual(got.map((m) => m.info.deliveryCount), Array(80).fill(1));
  assert.ok(got.every((m, i) => m.data.length === 8192 && m.data[0] === i && m.data[8191] === i));
});

test("push consumer (durable) delivers and resumes from its ack floor", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { jsm, js } = await s.connect(await s.start());
  await jsm.streams.add({ name: "P", subjects: ["p.*"] });
  for (let i = 1; i <= 3; i++) await js.publish(`p.${i}`, te.encode(`m${i}`));
  const deliver = "deliver.pd";
  await jsm.consumers.add("P", { durable_name: "pd", ack_policy: AckPolicy.Explicit, deliver_subject: deliver });
  const receive = async (n) => {
    const iter = await (await js.consumers.getPushConsumer("P", "pd")).consume();
    const got = [];
    for await (const m of iter) {
      got.push([m.subject, m.string(), ...meta(m)]);
      await m.ackAck({ timeout: MSG_TIMEOUT });
      if (got.length === n) break;
    }
    await iter.close();
    return got;
  };
  assert.deepEqual(await receive(3), [["p.1", "m1", 1, 1, 1], ["p.2", "m2", 2, 2, 1], ["p.3", "m3", 3, 3, 1]]);
  const ci = await eventually(() => jsm.consumers.info("P", "pd"), (ci) => !ci.push_bound, "push_bound false");
  assert.deepEqual([ci.config.deliver_subject, ci.ack_floor.stream_seq, ci.num_ack_pending], [deliver, 3, 0]);
  await js.publish("p.4", te.encode("m4"));
  await js.publish("p.5", te.encode("m5"));
  assert.equal((await jsm.consumers.info("P", "pd")).num_pending, 2); // nobody listened
  assert.deepEqual(await receive(2), [["p.4", "m4", 4, 4, 1], ["p.5", "m5", 5, 5, 1]]);
  assert.deepEqual(numbers(await jsm.consumers.info("P", "pd")), {
    delivered: [5, 5], ack_floor: [5, 5], num_ack_pending: 0, num_redelivered: 0, num_pending: 0,
  });
});

// ------------------------------------------------------------------ key/value

test("KV: Kvm create, put, get, update, create, history, delete, purge, keys", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { nc, jsm } = await s.connect(await s.start());
  const kv = await new Kvm(nc).create("cfg", { history: 5 });
  const si = await jsm.streams.info("KV_cfg");
  assert.deepEqual([si.config.subjects, si.config.max_msgs_per_subject, si.config.discard],
    [["$KV.cfg.>"], 5, DiscardPolicy.New]);
  assert.deepEqual([si.config.allow_rollup_hdrs, si.config.allow_direct], [true, true]);

  assert.equal(await kv.put("color", te.encode("red")), 1);
  assert.equal(await kv.put("size", te.encode("L")), 2);
  const e = await kv.get("color");
  assert.deepEqual([e.key, e.string(), e.revision, e.operation, e.bucket], ["color", "red", 1, "PUT", "cfg"]);
  assert.equal(await kv.get("missing"), null);
  assert.equal(await kv.update("color", te.encode("blue"), 1), 3);
  await rejectsWithCode(kv.update("color", te.encode("green"), 1), 10071);
  await rejectsWithCode(kv.create("color", te.encode("again")), 10071);
  assert.equal(await kv.create("shape", te.encode("round")), 4);
  assert.equal((await kv.get("color", { revision: 1 })).string(), "red");

  const hist = await collect(await kv.history({ key: "color" }));
  assert.deepEqual(hist.map((h) => [h.string(), h.revision, h.operation]), [["red", 1, "PUT"], ["blue", 3, "PUT"]]);

  await kv.delete("size");
  const deleted = await kv.get("size");
  assert.deepEqual([deleted.operation, deleted.revision, deleted.length], ["DEL", 5, 0]);
  assert.deepEqual((await collect(await kv.keys())).sort(), ["color", "shape"]);
  await kv.purge("color");
  const purged = await kv.get("color");
  assert.deepEqual([purged.operation, purged.revision], ["PURGE", 6]);
  const after = await collect(await kv.history({ key: "color" }));
  assert.deepEqual(after.map((h) => [h.revision, h.operation]), [[6, "PURGE"]]);
  assert.equal(await kv.create("size", te.encode("M")), 7); // over a delete marker
  assert.deepEqual((await collect(await kv.keys())).sort(), ["shape", "size"]);
  const st = await kv.status();
  assert.deepEqual([st.bucket, st.history, st.values], ["cfg", 5, 5]);
  assert.equal(await kv.destroy(), true);
  await rejectsWithCode(jsm.streams.info("KV_cfg"), 10059);
});

test("KV: watch delivers current values, then updates, deletes and purges", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { nc } = await s.connect(await s.start());
  const kv = await new Kvm(nc).create("w", { history: 3 });
  await kv.put("a", te.encode("1"));
  await kv.put("a", te.encode("2"));
  await kv.put("b", te.encode("3"));
  const w = await kv.watch();
  const got = [];
  for await (const e of w) {
    got.push([e.key, e.string(), e.revision, e.operation]);
    if (got.length === 2) {
      await kv.put("c", te.encode("4"));
      await kv.delete("b");
      await kv.purge("a");
    }
    if (got.length === 5) break;
  }
  w.stop();
  assert.deepEqual(got, [
    ["a", "2", 2, "PUT"], ["b", "3", 3, "PUT"], // the latest value of each key
    ["c", "4", 4, "PUT"], ["b", "", 5, "DEL"], ["a", "", 6, "PURGE"],
  ]);

  const only = await kv.watch({ key: "x.*", include: "updates" });
  await kv.put("y", te.encode("ignored"));
  await kv.put("x.1", te.encode("seen"));
  const [e] = await collect(only, 1);
  only.stop();
  assert.deepEqual([e.key, e.string(), e.revision], ["x.1", "seen", 8]);
});

// ------------------------------------------------------------------ object store

test("object store: putBlob ~1 MB in chunks, getBlob, info, list, delete", { timeout: TEST_TIMEOUT }, async (t) => {
  const s = scope(t);
  const { nc, jsm } = await s.connect(await s.start());
  const os = await new Objm(nc).create("files");
  const data = new Uint8Array(1_000_003);
  for (let i = 0, x = 7; i < data.length; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const digest = "SHA-256=" + createHash("sha256").update(data).digest("base64url") + "=";
  const info = await os.putBlob({ name: "blob.bin" }, data);
  assert.deepEqual([info.name, info.bucket, info.size, info.chunks, info.deleted], ["blob.bin", "files", 1_000_003, 8, false]);
  assert.equal(info.digest, digest);
  assert.deepEqual(Buffer.from(await os.getBlob("blob.bin")), Buffer.from(data));
  const oi = await os.info("blob.bin");
  assert.deepEqual([oi.size, oi.chunks, oi.digest, oi.nuid], [1_000_003, 8, digest, info.nuid]);
  assert.equal((await jsm.streams.info("OBJ_files")).state.messages, 9); // 8 chunks + 1 meta

  await os.putBlob({ name: "small.txt" }, te.encode("hello"));
  assert.equal(td.decode(await os.getBlob("small.txt")), "hello");
  assert.deepEqual((await os.list()).map((i) => i.name).sort(), ["blob.bin", "small.txt"]);
  const pr = await os.delete("blob.bin");
  assert.deepEqual([pr.success, pr.purged], [true, 8]);
  assert.equal(await os.getBlob("blob.bin"), null);
  assert.deepEqual((await os.list()).map((i) => i.name), ["small.txt"]);
  assert.equal((await jsm.streams.info("OBJ_files")).state.messages, 3);
});

// ------------------------------------------------------------------ persistence

for (const signal of ["SIGTERM", "SIGKILL"]) {
  test(`stream and durable consumer survive a restart (${signal})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const s = scope(t);
    let srv = await s.start();
    let { nc, jsm, js } = await s.connect(srv);
    await jsm.streams.add({ name: "DUR", subjects: ["dur.>"] });
    for (let i = 1; i <= 5; i++) await js.publish(`dur.${i}`, te.encode(`v${i}`), { msgID: `id-${i}` });
    await jsm.consumers.add("DUR", { durable_name: "keeper", ack_policy: AckPolicy.Explicit });
    let c = await js.consumers.get("DUR", "keeper");
    const msgs = await fetchAll(c, 3);
    for (const m of msgs) await m.ackAck({ timeout: MSG_TIMEOUT });
    assert.deepEqual(numbers(await c.info()), {
      delivered: [3, 3], ack_floor: [3, 3], num_ack_pending: 0, num_redelivered: 0, num_pending: 2,
    });
    await nc.close();
    // nats-server writes consumer state asynchronously (within ~100 ms); a crash test is
    // about recovery, not that race.
    if (signal === "SIGKILL") await new Promise((res) => setTimeout(res, 1000));
    srv = await s.restart(srv, signal);

    ({ jsm, js } = await s.connect(srv));
    const si = await jsm.streams.info("DUR");
    assert.deepEqual([si.state.messages, si.state.first_seq, si.state.last_seq, si.state.consumer_count], [5, 1, 5, 1]);
    c = await js.consumers.get("DUR", "keeper");
    const rest = await fetchAll(c, 2);
    assert.deepEqual(rest.map((m) => [m.string(), ...meta(m)]), [["v4", 4, 4, 1], ["v5", 5, 5, 1]]);
    for (const m of rest) await m.ackAck({ timeout: MSG_TIMEOUT });
    assert.deepEqual(numbers(await c.info()), {
      delivered: [5, 5], ack_floor: [5, 5], num_ack_pending: 0, num_redelivered: 0, num_pending: 0,
    });
    const dup = await js.publish("dur.5", te.encode("v5"), { msgID: "id-5" });
    assert.deepEqual([dup.seq, dup.duplicate], [5, true]);
    assert.equal((await js.publish("dur.6", te.encode("v6"))).seq, 6);
  });
}
