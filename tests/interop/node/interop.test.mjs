// Interop tests: the unmodified nats.js client (npm "nats", v2) plus raw protocol
// bytes against the server under test. Run with `node --test tests/interop/node/`;
// see server.mjs for how the server is started and ../README.md for the variables.
//
// Every test gets its own server and closes every connection it opened, so the
// process can exit when the tests are done.

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { connect, ErrorCode, Events, headers, StringCodec } from "nats";
import { startServer } from "./server.mjs";

const sc = StringCodec();
const MSG_TIMEOUT = 5000;
const TEST_TIMEOUT = 30_000;

const ALICE = {
  user: "alice",
  password: "pw",
  publish: { allow: ["orders.>", "_INBOX.>"], deny: ["orders.secret"] },
  subscribe: { allow: ["orders.>", "_INBOX.>"], deny: [] },
  allowResponses: true,
};
const BOB = { user: "bob", password: "bobpw" }; // no permissions: may do anything

// ------------------------------------------------------------------ helpers

// Per-test resources, released in t.after: servers, nats.js connections, raw sockets.
function scope(t) {
  const servers = [];
  const conns = [];
  const sockets = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.allSettled(conns.map((nc) => (nc.isClosed() ? null : nc.close())));
    await Promise.allSettled(servers.map((s) => s.stop()));
  });
  return {
    async start(opts) {
      const srv = await startServer(opts);
      servers.push(srv);
      return srv;
    },
    async connect(srv, opts = {}) {
      const nc = await connect({
        servers: srv.url,
        reconnect: false,
        maxReconnectAttempts: 0,
        timeout: MSG_TIMEOUT,
        ...opts,
      });
      conns.push(nc);
      return nc;
    },
    async raw(srv, connectOpts, handshake = true) {
      const raw = await Raw.open(srv, connectOpts, handshake);
      sockets.push(raw.socket);
      return raw;
    },
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const delay = (ms) => new Promise((res) => setTimeout(res, ms));

// Resolves when `arm(wake)` calls wake or after ms, whichever is first; leaves no
// timer behind (a pending timer would keep the test process alive).
function wakeOrTimeout(arm, ms) {
  return new Promise((res) => {
    const timer = setTimeout(res, ms);
    arm(() => { clearTimeout(timer); res(); });
  });
}

// Collects messages of a callback-less subscription; next() waits for the next one.
function collector(sub) {
  const msgs = [];
  let wake = () => {};
  let done = false;
  let error;
  (async () => {
    try {
      for await (const m of sub) {
        msgs.push(m);
        wake();
      }
    } catch (e) {
      error = e;
    }
    done = true;
    wake();
  })();
  let read = 0;
  return {
    msgs,
    get done() { return done; },
    get error() { return error; },
    async next(ms = MSG_TIMEOUT) {
      const deadline = Date.now() + ms;
      while (read >= msgs.length) {
        if (done) throw error || new Error("subscription ended");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("no message within timeout");
        await wakeOrTimeout((w) => { wake = w; }, left);
      }
      return msgs[read++];
    },
    async none(ms = 300) {
      await delay(ms);
      assert.equal(msgs.length, read, `unexpected message on ${msgs[read]?.subject}`);
    },
  };
}

// Status events of a connection (nc.status() is an async iterator).
function statusLog(nc) {
  const events = [];
  (async () => {
    for await (const s of nc.status()) events.push(s);
  })();
  return {
    events,
    async waitFor(pred, what) {
      const deadline = Date.now() + MSG_TIMEOUT;
      while (!events.some(pred)) {
        if (Date.now() > deadline) {
          assert.fail(`no status event ${what}; got ${JSON.stringify(events)}`);
        }
        await delay(20);
      }
      return events.find(pred);
    },
  };
}

// A bare TCP client speaking the NATS text protocol, for exact-bytes checks.
class Raw {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.waiters = [];
    socket.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); this.kick(); });
    socket.on("end", () => { this.ended = true; this.kick(); });
    socket.on("close", () => { this.ended = true; this.kick(); });
    socket.on("error", () => { this.ended = true; this.kick(); });
  }

  kick() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  async until(pred, ms = MSG_TIMEOUT) {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = pred();
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("raw: timed out");
      await wakeOrTimeout((w) => this.waiters.push(w), left);
    }
  }

  static async open(srv, connectOpts, handshake = true) {
    const socket = net.connect(srv.port, srv.host);
    await new Promise((res, rej) => { socket.once("connect", res); socket.once("error", rej); });
    const raw = new Raw(socket);
    const first = await raw.rawLine();
    assert.ok(first.startsWith("INFO "), first);
    raw.info = JSON.parse(first.slice(5));
    if (handshake) {
      const opts = { verbose: false, pedantic: false, headers: true, no_responders: true,
        protocol: 1, lang: "raw", version: "0.0.0", ...connectOpts };
      raw.send(`CONNECT ${JSON.stringify(opts)}\r\nPING\r\n`);
      assert.equal(await raw.line(), "PONG");
    }
    return raw;
  }

  send(data) {
    this.socket.write(data);
  }

  async rawLine() {
    return this.until(() => {
      const i = this.buf.indexOf("\r\n");
      if (i < 0) {
        if (this.ended) throw new Error("raw: connection closed by server");
        return undefined;
      }
      const line = this.buf.subarray(0, i).toString("latin1");
      this.buf = this.buf.subarray(i + 2);
      return line;
    });
  }

  // Next protocol line without CRLF; skips async INFO updates and answers PING.
  async line() {
    for (;;) {
      const l = await this.rawLine();
      if (l.startsWith("INFO ")) continue;
      if (l === "PING") { this.send("PONG\r\n"); continue; }
      return l;
    }
  }

  async payload(n) {
    return this.until(() => {
      if (this.buf.length < n + 2) {
        if (this.ended) throw new Error("raw: connection closed by server");
        return undefined;
      }
      const p = this.buf.subarray(0, n);
      assert.equal(this.buf.subarray(n, n + 2).toString(), "\r\n");
      this.buf = this.buf.subarray(n + 2);
      return p;
    });
  }

  async msg() {
    const l = await this.line();
    const parts = l.split(" ");
    assert.ok(parts[0] === "MSG" || parts[0] === "HMSG", l);
    return { parts, body: await this.payload(Number(parts.at(-1))) };
  }

  // Resolves with the unread bytes once the server closes the connection.
  async closedByServer() {
    await this.until(() => (this.ended ? true : undefined)).catch(() => {
      assert.fail("server did not close the connection");
    });
    return this.buf.toString("latin1");
  }
}

async function assertAuthFails(s, srv, opts) {
  await assert.rejects(s.connect(srv, opts), (err) => {
    assert.equal(err.code, ErrorCode.AuthorizationViolation, `${err.code}: ${err.message}`);
    return true;
  });
}

const T = { timeout: TEST_TIMEOUT };

// ------------------------------------------------------------------ startup and INFO

test("server prints nats-server's log lines", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const listen = srv.log.indexOf(`Listening for client connections on 127.0.0.1:${srv.port}`);
  assert.ok(listen >= 0 && srv.log.indexOf("Server is ready") > listen, srv.log);
});

test("connect and server info", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  const info = nc.info;
  assert.ok(typeof info.version === "string" && info.version.startsWith("2."), info.version);
  assert.equal(info.headers, true);
  assert.equal(info.max_payload, 1048576);
  assert.equal(info.proto, 1);
  assert.ok(info.server_id);
  assert.equal(nc.getServer(), `127.0.0.1:${srv.port}`);
  await nc.flush();
  const rtt = await nc.rtt();
  assert.ok(rtt >= 0 && rtt < 5000);
});

// ------------------------------------------------------------------ messaging

test("pub/sub", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const pub = await s.connect(srv);
  const subNc = await s.connect(srv);
  const c = collector(subNc.subscribe("greet.joe"));
  await subNc.flush();
  for (let i = 0; i < 10; i++) pub.publish("greet.joe", sc.encode(`hello ${i}`));
  pub.publish("greet.joe", sc.encode("with reply"), { reply: "some.reply" });
  pub.publish("greet.jane", sc.encode("not for joe"));
  for (let i = 0; i < 10; i++) {
    const m = await c.next();
    assert.equal(m.subject, "greet.joe");
    assert.equal(sc.decode(m.data), `hello ${i}`);
  }
  const m = await c.next();
  assert.equal(m.reply, "some.reply");
  await c.none();
});

test("wildcards * and >", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  const star = collector(nc.subscribe("foo.*"));
  const gt = collector(nc.subscribe("foo.>"));
  const mid = collector(nc.subscribe("a.*.c"));
  await nc.flush();
  for (const subj of ["foo", "foo.bar", "foo.bar.baz", "a.b.c", "a.b.c.d", "a.c"]) {
    nc.publish(subj, sc.encode(subj));
  }
  await nc.flush();
  assert.equal((await star.next()).subject, "foo.bar");
  assert.equal((await gt.next()).subject, "foo.bar");
  assert.equal((await gt.next()).subject, "foo.bar.baz");
  assert.equal((await mid.next()).subject, "a.b.c");
  await Promise.all([star.none(), gt.none(), mid.none()]);
});

test("queue group: 4 members, 100 messages, each delivered once", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const pub = await s.connect(srv);
  const total = 100;
  const got = [[], [], [], []];
  for (let i = 0; i < 4; i++) {
    const nc = await s.connect(srv);
    nc.subscribe("jobs", { queue: "workers", callback: (err, m) => { if (!err) got[i].push(sc.decode(m.data)); } });
    await nc.flush();
  }
  const all = collector(pub.subscribe("jobs")); // a plain subscriber sees every message
  await pub.flush();
  for (let n = 0; n < total; n++) pub.publish("jobs", sc.encode(String(n)));
  await pub.flush();
  const count = () => got.reduce((a, g) => a + g.length, 0);
  const deadline = Date.now() + MSG_TIMEOUT;
  while (count() < total && Date.now() < deadline) await delay(20);
  await delay(300); // let any duplicate arrive before counting
  const received = got.flat().map(Number).sort((a, b) => a - b);
  assert.deepEqual(received, Array.from({ length: total }, (_, i) => i));
  assert.ok(got.filter((g) => g.length > 0).length >= 2, `not distributed: ${got.map((g) => g.length)}`);
  for (let n = 0; n < total; n++) await all.next();
});

test("request/reply", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const responder = await s.connect(srv);
  const requester = await s.connect(srv);
  responder.subscribe("svc.echo", { callback: (err, m) => { if (!err) m.respond(sc.encode(`echo:${sc.decode(m.data)}`)); } });
  await responder.flush();
  const r = await requester.request("svc.echo", sc.encode("ping"), { timeout: MSG_TIMEOUT });
  assert.equal(sc.decode(r.data), "echo:ping");
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    requester.request("svc.echo", sc.encode(String(i)), { timeout: MSG_TIMEOUT })));
  assert.deepEqual(many.map((m) => sc.decode(m.data)), Array.from({ length: 20 }, (_, i) => `echo:${i}`));
  // Old-style request: a dedicated inbox per request instead of the shared mux inbox.
  const old = await requester.request("svc.echo", sc.encode("x"), { timeout: MSG_TIMEOUT, noMux: true });
  assert.equal(sc.decode(old.data), "echo:x");
});

test("no responders: error code 503", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  await assert.rejects(nc.request("nobody.home", sc.encode("anyone?"), { timeout: MSG_TIMEOUT }), (err) => {
    assert.equal(err.code, ErrorCode.NoResponders);
    assert.equal(err.code, "503");
    return true;
  });
  await nc.flush();
  assert.equal(nc.isClosed(), false);
});

test("headers end to end, including a multi-valued header", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  const raw = await s.raw(srv);
  raw.send("SUB hdr 7\r\nPING\r\n");
  assert.equal(await raw.line(), "PONG");
  const c = collector(nc.subscribe("hdr"));
  await nc.flush();
  const h = headers();
  h.set("X-Trace", "abc-123");
  h.append("X-Multi", "one");
  h.append("X-Multi", "two");
  nc.publish("hdr", sc.encode("body"), { headers: h });
  const m = await c.next();
  assert.equal(sc.decode(m.data), "body");
  assert.equal(m.headers.get("X-Trace"), "abc-123");
  assert.deepEqual(m.headers.values("X-Multi"), ["one", "two"]);
  const { parts, body } = await raw.msg();
  assert.deepEqual(parts.slice(0, 3), ["HMSG", "hdr", "7"]);
  const hdr = body.subarray(0, Number(parts.at(-2))).toString();
  assert.ok(hdr.startsWith("NATS/1.0\r\n") && hdr.endsWith("\r\n\r\n"), hdr);
  assert.ok(hdr.includes("X-Multi: one\r\nX-Multi: two\r\n"), hdr);
  assert.equal(body.subarray(Number(parts.at(-2))).toString(), "body");
});

test("large payload near max_payload", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  const c = collector(nc.subscribe("big"));
  await nc.flush();
  const near = randomBytes(nc.info.max_payload - 100);
  const exact = randomBytes(nc.info.max_payload);
  nc.publish("big", near);
  nc.publish("big", exact);
  assert.ok(Buffer.from((await c.next()).data).equals(near));
  assert.ok(Buffer.from((await c.next()).data).equals(exact));
});

test("publishing over max_payload fails", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  assert.throws(() => nc.publish("big", new Uint8Array(nc.info.max_payload + 1)), (err) => {
    assert.equal(err.code, ErrorCode.MaxPayloadExceeded);
    return true;
  });
  await nc.flush();
  const raw = await s.raw(srv);
  raw.send(`PUB big ${raw.info.max_payload + 1}\r\n`);
  assert.equal(await raw.line(), "-ERR 'Maximum Payload Violation'");
  assert.equal(await raw.closedByServer(), "");
});

test("auto-unsubscribe after N messages", T, async (t) => {
  const s = scope(t);
  const srv = await s.start();
  const nc = await s.connect(srv);
  const sub = nc.subscribe("auto", { max: 5 });
  const c = collector(sub);
  await nc.flush();
  for (let i = 0; i < 10; i++) nc.publish("auto", sc.encode(String(i)));
  await nc.flush();
  await withTimeout(sub.closed, MSG_TIMEOUT, "subscription to close after max");
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ["0", "1", "2", "3", "4"]);
  // The server enforces the limit too, not just the client.
  const raw = await s.raw(srv);
  raw.send("SUB auto 1\r\nUNSUB 1 3\r\n");
  raw.send([0, 1, 2, 3, 4, 5].map((i) => `PUB auto 1\r\n${i}\r\n`).join("") + "PING\r\n");
  for (const want of ["0", "1", "2"]) assert.equal((await raw.msg()).body.toString(), want);
  assert.equal(await raw.line(), "PONG");
});

// ------------------------------------------------------------------ authentication

test("token auth: ok, wrong, missing", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ args: ["--auth", "s3cret"] });
  const nc = await s.connect(srv, { token: "s3cret" });
  assert.equal(nc.info.auth_required, true);
  await nc.flush();
  await assertAuthFails(s, srv, { token: "wrong" });
  await assertAuthFails(s, srv, {});
});

test("user/password auth: ok, wrong password, unknown user", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ args: ["--user", "u", "--pass", "p"] });
  const nc = await s.connect(srv, { user: "u", pass: "p" });
  await nc.flush();
  await assertAuthFails(s, srv, { user: "u", pass: "wrong" });
  await assertAuthFails(s, srv, { user: "nobody", pass: "p" });
  await assertAuthFails(s, srv, {});
  const raw = await s.raw(srv, {}, false);
  raw.send('CONNECT {"verbose":false,"pedantic":false,"user":"u","pass":"bad","protocol":1}\r\nPING\r\n');
  assert.equal(await raw.line(), "-ERR 'Authorization Violation'");
  assert.equal(await raw.closedByServer(), "");
});

// ------------------------------------------------------------------ permissions

test("publish permission violation is reported and the connection stays usable", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ users: [ALICE, BOB] });
  const alice = await s.connect(srv, { user: "alice", pass: "pw" });
  const bob = await s.connect(srv, { user: "bob", pass: "bobpw" });
  const status = statusLog(alice);
  const watch = collector(bob.subscribe("orders.>"));
  await bob.flush();
  alice.publish("orders.secret", sc.encode("leak"));
  const ev = await status.waitFor((e) => e.type === Events.Error && e.permissionContext?.subject === "orders.secret",
    "for orders.secret");
  assert.equal(ev.data, ErrorCode.PermissionsViolation);
  assert.deepEqual(ev.permissionContext, { operation: "publish", subject: "orders.secret", queue: undefined });
  alice.publish("orders.ok", sc.encode("fine"));
  await alice.flush();
  assert.equal(alice.isClosed(), false);
  const m = await watch.next();
  assert.equal(m.subject, "orders.ok");
  await watch.none();
});

test("subscribe permission violation closes only that subscription", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ users: [ALICE, BOB] });
  const alice = await s.connect(srv, { user: "alice", pass: "pw" });
  const bob = await s.connect(srv, { user: "bob", pass: "bobpw" });
  const status = statusLog(alice);
  let subErr;
  alice.subscribe("x", { callback: (err) => { if (err) subErr = err; } });
  const ev = await status.waitFor((e) => e.type === Events.Error && e.permissionContext?.subject === "x", "for x");
  assert.deepEqual(ev.permissionContext, { operation: "subscription", subject: "x", queue: undefined });
  assert.equal(subErr?.code, ErrorCode.PermissionsViolation);
  // nats.js keeps the single quotes of the -ERR text in the message.
  assert.ok(subErr.message.replace(/^'/, "").startsWith('Permissions Violation for Subscription to "x"'), subErr.message);
  const ok = collector(alice.subscribe("orders.new"));
  await alice.flush();
  bob.publish("orders.new", sc.encode("arrives"));
  assert.equal(sc.decode((await ok.next()).data), "arrives");
  assert.equal(alice.isClosed(), false);
});

test("permission -ERR texts on the wire", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ users: [ALICE] });
  const raw = await s.raw(srv, { user: "alice", pass: "pw" });
  raw.send("PUB orders.secret 2\r\nhi\r\nPING\r\n");
  assert.equal(await raw.line(), "-ERR 'Permissions Violation for Publish to \"orders.secret\"'");
  assert.equal(await raw.line(), "PONG");
  raw.send("SUB x 1\r\nPING\r\n");
  const l = await raw.line();
  assert.ok(l.startsWith("-ERR 'Permissions Violation for Subscription to \"x\"") && l.endsWith("'"), l);
  assert.equal(await raw.line(), "PONG");
});

test("allow_responses lets a restricted user answer requests", T, async (t) => {
  const s = scope(t);
  const srv = await s.start({ users: [ALICE, BOB] });
  const alice = await s.connect(srv, { user: "alice", pass: "pw" });
  const bob = await s.connect(srv, { user: "bob", pass: "bobpw", inboxPrefix: "replies" });
  alice.subscribe("orders.service", { callback: (err, m) => { if (!err) m.respond(sc.encode(`done:${sc.decode(m.data)}`)); } });
  await alice.flush();
  const r = await bob.request("orders.service", sc.encode("job"), { timeout: MSG_TIMEOUT });
  assert.equal(sc.decode(r.data), "done:job");
});
