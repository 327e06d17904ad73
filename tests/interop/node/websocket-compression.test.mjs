// permessage-deflate (RFC 7692) over the NATS WebSocket: a server started with WebSocket
// compression on (sluice's `[websocket] compression = true`, nats-server's
// `websocket { compression: true }`) and nats.js `wsconnect` on two WebSocket
// implementations that both offer the extension: Node's own (undici, as browsers; it inflates
// what it receives but sends uncompressed) and the `ws` package (which also compresses what it
// sends over 1 KiB). Each connection checks the extension was agreed (`socket.extensions`),
// then exchanges small messages, headers, request/reply and a ~200 KB compressible message
// both ways. Over the WebSocket listener and, for sluice, over `/nats` on the API port.
// Node 20 has no WebSocket global by default; run with `node --experimental-websocket --test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import WsPackageSocket from "ws";
import { connect as tcpConnect, headers, wsconnect } from "@nats-io/transport-node";
import { serverKind, startServer } from "./server.mjs";

const TEST_TIMEOUT = 60_000;
const MSG_TIMEOUT = 10_000; // ms to wait for an expected message or reply
const te = new TextEncoder();
const td = new TextDecoder();

// [name, URL of a started server, skip reason or false]
const ENDPOINTS = [
  ["the WebSocket listener", (srv) => srv.wsUrl, false],
  ["/nats on the API port", (srv) => `${srv.apiUrl.replace("http://", "ws://")}/nats`,
    serverKind() !== "sluice" && "sluice only: nats-server has no API port"],
];

// [name, factory of a W3C-style WebSocket]
const CLIENTS = [
  ["Node's WebSocket", (url) => new WebSocket(url)],
  ["the ws package", (url) => new WsPackageSocket(url, { perMessageDeflate: true })],
];

// Opens a socket with `make` and resolves with the extensions the server agreed to.
function agreedExtensions(make, url) {
  return new Promise((resolve, reject) => {
    const socket = make(url);
    const timer = setTimeout(() => reject(new Error(`no open within ${MSG_TIMEOUT} ms`)), MSG_TIMEOUT);
    socket.onopen = () => {
      clearTimeout(timer);
      const { extensions } = socket;
      socket.close();
      resolve(extensions);
    };
    socket.onerror = (e) => {
      clearTimeout(timer);
      reject(e.error ?? new Error(`WebSocket error on ${url}`));
    };
  });
}

async function withServer(t, compression) {
  assert.equal(typeof WebSocket, "function", "run node with --experimental-websocket");
  const srv = await startServer({ websocket: true, wsCompression: compression });
  const conns = [];
  t.after(async () => {
    await Promise.allSettled(conns.map((nc) => (nc.isClosed() ? null : nc.close())));
    await srv.stop();
  });
  return { srv, conns };
}

async function first(sub) {
  const timer = setTimeout(() => sub.unsubscribe(), MSG_TIMEOUT);
  for await (const m of sub) {
    clearTimeout(timer);
    return m;
  }
  throw new Error(`no message within ${MSG_TIMEOUT} ms`);
}

// ~200 KB that deflates well, like the JSON and text most NATS payloads are.
function compressible() {
  const rows = [];
  for (let i = 0; rows.join("").length < 200_000; i++) {
    rows.push(`{"id":${i},"status":"ok","region":"eu-west-${i % 3}"}\n`);
  }
  return te.encode(rows.join(""));
}

for (const [where, endpoint, skip] of ENDPOINTS) {
  test(`permessage-deflate over ${where} is agreed only when configured`, { timeout: TEST_TIMEOUT, skip }, async (t) => {
    const on = await withServer(t, true);
    const off = await withServer(t, false);
    for (const [name, make] of CLIENTS) {
      const agreed = await agreedExtensions(make, endpoint(on.srv));
      assert.match(agreed, /^permessage-deflate\b/, `${name}, compression on`);
      assert.equal(await agreedExtensions(make, endpoint(off.srv)), "", `${name}, compression off`);
    }
  });

  for (const [name, make] of CLIENTS) {
    test(`wsconnect on ${name} over ${where}, compressed: pub/sub, request/reply, 200 KB both ways`, { timeout: TEST_TIMEOUT, skip }, async (t) => {
      const { srv, conns } = await withServer(t, true);
      let socket;
      const wsFactory = async (u) => {
        socket = make(u);
        return { socket, encrypted: false };
      };
      const ws = await wsconnect({ servers: endpoint(srv), wsFactory, reconnect: false, timeout: MSG_TIMEOUT });
      conns.push(ws);
      const tcp = await tcpConnect({ servers: srv.url, reconnect: false, timeout: MSG_TIMEOUT });
      conns.push(tcp);
      assert.match(socket.extensions, /^permessage-deflate\b/, "the connection is compressed");

      // Small messages (under the server's threshold, sent uncompressed) and headers.
      const fromTcp = ws.subscribe("chat.>", { max: 1 });
      await ws.flush();
      tcp.publish("chat.room1", te.encode("hello browser"));
      const m = await first(fromTcp);
      assert.equal(m.subject, "chat.room1");
      assert.equal(td.decode(m.data), "hello browser");

      const fromWs = tcp.subscribe("svc.log", { max: 1 });
      await tcp.flush();
      const h = headers();
      h.append("X-From", "browser");
      ws.publish("svc.log", te.encode("hi"), { headers: h });
      const got = await first(fromWs);
      assert.equal(got.headers.get("X-From"), "browser");
      assert.equal(td.decode(got.data), "hi");

      // Request/reply against a TCP echo service, small and large.
      const service = tcp.subscribe("echo");
      (async () => {
        for await (const req of service) req.respond(req.data);
      })();
      await tcp.flush();
      const small = await ws.request("echo", te.encode("ping"), { timeout: MSG_TIMEOUT });
      assert.equal(td.decode(small.data), "ping");
      const big = compressible();
      const answer = await ws.request("echo", big, { timeout: MSG_TIMEOUT });
      assert.equal(answer.data.length, big.length);
      assert.deepEqual(answer.data, big, "200 KB round trip, intact");

      // And a large message from TCP to the WebSocket subscriber on its own.
      const bigSub = ws.subscribe("bulk", { max: 1 });
      await ws.flush();
      tcp.publish("bulk", big);
      assert.deepEqual((await first(bigSub)).data, big);
    });
  }
}
