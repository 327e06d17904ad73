// Browser tests in a real browser: Debian's Chromium, headless, driven by playwright-core
// (which downloads no browser of its own). They start the sluice binary themselves (see
// ../interop/node/server.mjs; INTEROP_SERVER picks the binary) and check
// - the web console: live counters, the publish form and the live tail (Server-Sent Events);
// - nats.ws, the NATS client browsers use, connecting to /nats on the API port.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { connect } from "nats";
import { startServer } from "../interop/node/server.mjs";

const require = createRequire(import.meta.url);
const NATS_WS_BUNDLE = readFileSync(
  require.resolve("nats.ws").replace(/cjs\/.*$|esm\/.*$|[^/]*$/, "") + "esm/nats.js",
);
const TIMEOUT = 60_000;
const REPO = fileURLToPath(new URL("../../", import.meta.url));
// Screenshots are kept as test artefacts (target/ is ignored by git).
const ARTIFACTS = process.env.ARTIFACTS || `${REPO}target/browser-artifacts`;

async function withBrowser(t, opts = {}) {
  process.env.INTEROP_KIND = "sluice";
  const srv = await startServer(opts);
  assert.ok(srv.apiUrl, "sluice printed its API address");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(async () => {
    await browser.close();
    await srv.stop();
  });
  return { srv, page, errors };
}

test("the console shows counters, publishes and tails a subject", { timeout: TIMEOUT }, async (t) => {
  const { srv, page, errors } = await withBrowser(t);
  const nc = await connect({ servers: srv.url, reconnect: false });
  t.after(() => nc.close());
  nc.subscribe("console.>");
  await nc.flush();

  await page.goto(`${srv.apiUrl}/`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "up");
  await page.waitForFunction(() => Number(document.getElementById("connections").textContent) >= 1);

  // Tail everything, then publish from the page itself.
  await page.fill("#tail-subject", "console.>");
  await page.click("#tail-start");
  await page.waitForFunction(() => document.getElementById("tail").dataset.ready === "true");
  await page.fill("#publish-subject", "console.test");
  await page.fill("#publish-payload", "hello from the browser");
  await page.click("button[type=submit] >> text=Publish");
  // The NATS subscriber and the page's own tail both receive it.
  await page.waitForFunction(() => document.getElementById("publish-result").textContent === "delivered to 2");
  await page.waitForFunction(() => document.getElementById("tail").textContent.includes("hello from the browser"));

  // A message from a NATS client shows up in the tail too.
  nc.publish("console.fromnats", new TextEncoder().encode("hi from nats.js"));
  await page.waitForFunction(() => document.getElementById("tail").textContent.includes("hi from nats.js"));
  const tailText = await page.textContent("#tail");
  assert.match(tailText, /console\.fromnats/);

  // Counters move.
  await page.waitForFunction(() => Number(document.getElementById("in-msgs").textContent.replace(/,/g, "")) >= 2);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/console.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test("nats.ws in the browser talks to a nats.js client over /nats", { timeout: TIMEOUT }, async (t) => {
  const { srv, page, errors } = await withBrowser(t);
  // Serve the nats.ws ES module bundle from the page's origin.
  await page.route("**/test/nats.js", (route) =>
    route.fulfill({ status: 200, contentType: "text/javascript", body: NATS_WS_BUNDLE }),
  );
  await page.goto(`${srv.apiUrl}/`);
  const nc = await connect({ servers: srv.url, reconnect: false });
  t.after(() => nc.close());
  const service = nc.subscribe("browser.echo");
  (async () => {
    for await (const m of service) m.respond(m.data);
  })();
  await nc.flush();

  const wsUrl = srv.apiUrl.replace("http://", "ws://") + "/nats";
  const answer = await page.evaluate(async (url) => {
    const { connect, StringCodec } = await import("/test/nats.js");
    const sc = StringCodec();
    const ws = await connect({ servers: url });
    const reply = await ws.request("browser.echo", sc.encode("ping from chromium"), { timeout: 5000 });
    const version = ws.info.version;
    await ws.close();
    return { data: sc.decode(reply.data), version };
  }, wsUrl);
  assert.equal(answer.data, "ping from chromium");
  assert.ok(answer.version.startsWith("2."), answer.version);
  assert.deepEqual(errors, []);
});

test("the twenty-line example page receives messages", { timeout: TIMEOUT }, async (t) => {
  const { srv, page, errors } = await withBrowser(t);
  const server = srv.apiUrl.replace("http://", "ws://") + "/v1/ws";
  const file = new URL(`file://${REPO}examples/browser/index.html`);
  file.searchParams.set("server", server);
  file.searchParams.set("subject", "demo.>");
  await page.goto(file.href);
  await page.waitForFunction(() => document.body.dataset.subscribed === "true");
  // Published over HTTP, as the example's README shows.
  const resp = await fetch(`${srv.apiUrl}/v1/publish/demo.hello`, { method: "POST", body: "hi page" });
  assert.equal(resp.status, 202);
  await page.waitForFunction(() => document.getElementById("messages").textContent.includes("demo.hello: hi page"));
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/example.png` });
  assert.deepEqual(errors, []);
});

test("with token auth, the console works once the token is entered", { timeout: TIMEOUT }, async (t) => {
  const { srv, page, errors } = await withBrowser(t, { args: ["--auth", "s3cret"] });
  await page.goto(`${srv.apiUrl}/`);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("down"));
  await page.fill("#token", "s3cret");
  await page.dispatchEvent("#token", "change");
  await page.waitForFunction(() => document.getElementById("status").textContent === "up");
  await page.fill("#tail-subject", "secure.>");
  await page.click("#tail-start");
  await page.waitForFunction(() => document.getElementById("tail").dataset.ready === "true");
  await page.fill("#publish-subject", "secure.one");
  await page.fill("#publish-payload", "with a token");
  await page.click("button[type=submit] >> text=Publish");
  await page.waitForFunction(() => document.getElementById("tail").textContent.includes("with a token"));
  assert.deepEqual(errors, []);
});
