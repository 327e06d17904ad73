// Browser tests in a real browser: Debian's Chromium, headless, driven by playwright-core
// (which downloads no browser of its own). They start the sluice binary themselves (see
// ../interop/node/server.mjs; INTEROP_SERVER picks the binary) and check
// - the web console: live counters, the publish form and the live tail (Server-Sent Events);
// - its plugins panel: upload (redact-json, built by plugins/build.sh), counters, removal,
//   and the messages shown to a user who may not manage plugins;
// - nats.ws, the NATS client browsers use, connecting to /nats on the API port.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
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
// Example plugins built by plugins/build.sh: redact-json (config: fields=..., mask=...) and
// passthrough.
const REDACT_WASM = `${REPO}plugins/target/wasm32-wasip2/release/redact_json.wasm`;
const PASSTHROUGH_WASM = `${REPO}plugins/target/wasm32-wasip2/release/passthrough.wasm`;

// Starts sluice with `opts` (see server.mjs) and Chromium with one page; `pageOpts` are
// playwright context options (httpCredentials for HTTP Basic). newPage() opens more pages,
// each in its own context (its own credentials). Uncaught page errors land in `errors`.
async function withBrowser(t, opts = {}, pageOpts = {}) {
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
  const errors = [];
  const newPage = async (o = {}) => {
    const p = await browser.newPage(o);
    p.on("pageerror", (e) => errors.push(e.message));
    return p;
  };
  const page = await newPage(pageOpts);
  t.after(async () => {
    await browser.close();
    await srv.stop();
  });
  return { srv, page, errors, newPage };
}

// The text of one cell of a plugin's row in the console's plugins table.
function cell(page, plugin, field) {
  return page.textContent(`tr[data-plugin="${plugin}"] [data-field="${field}"]`);
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

// Uncompressed (the default), and with `[websocket] compression = true`: Chromium offers
// permessage-deflate on every WebSocket, so the second run has the browser inflate what the
// server sends and compress what it sends itself (a ~200 KB echo both ways).
for (const compression of [false, true]) {
  const title = `nats.ws in the browser talks to a nats.js client over /nats${compression ? ", compressed" : ""}`;
  test(title, { timeout: TIMEOUT }, async (t) => {
    const opts = compression ? { websocket: true, wsCompression: true } : {};
    const { srv, page, errors } = await withBrowser(t, opts);
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
      // What the server agrees to, as a plain WebSocket of this browser sees it.
      const extensions = await new Promise((resolve, reject) => {
        const s = new WebSocket(url);
        s.onopen = () => {
          resolve(s.extensions);
          s.close();
        };
        s.onerror = () => reject(new Error(`WebSocket error on ${url}`));
      });
      const { connect, StringCodec } = await import("/test/nats.js");
      const sc = StringCodec();
      const ws = await connect({ servers: url });
      const reply = await ws.request("browser.echo", sc.encode("ping from chromium"), { timeout: 5000 });
      const rows = Array.from({ length: 8000 }, (_, i) => `{"id":${i},"status":"ok"}`).join("\n");
      const big = await ws.request("browser.echo", sc.encode(rows), { timeout: 5000 });
      const version = ws.info.version;
      await ws.close();
      return { data: sc.decode(reply.data), version, extensions, big: rows.length, bigIntact: sc.decode(big.data) === rows };
    }, wsUrl);
    assert.equal(answer.data, "ping from chromium");
    assert.ok(answer.version.startsWith("2."), answer.version);
    if (compression) assert.match(answer.extensions, /^permessage-deflate\b/);
    else assert.equal(answer.extensions, "");
    assert.ok(answer.big > 190_000 && answer.bigIntact, `large echo intact (${answer.big} bytes)`);
    assert.deepEqual(errors, []);
  });
}

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
  await page.waitForFunction(() => document.getElementById("plugins").dataset.state === "error-401");
  assert.match(await page.textContent("#plugins-problem"), /^401 Authentication required: .*Enter the token above/);
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
  // The plugins panel sends the token too (admin routes take no cookie).
  await page.waitForFunction(() => document.getElementById("plugins").dataset.state === "ok");
  assert.equal(await page.isDisabled("#plugin-upload"), false);
  assert.deepEqual(errors, []);
});

test("the plugins panel uploads redact-json, shows its counters and removes it", { timeout: TIMEOUT }, async (t) => {
  assert.ok(existsSync(REDACT_WASM), `${REDACT_WASM} is missing: run bash plugins/build.sh`);
  // JetStream on, for the fresh store dir (-sd) it brings: uploaded plugins persist in
  // <store_dir>/plugins, which must not be the shared default.
  const { srv, page, errors } = await withBrowser(t, { jetstream: true });
  await page.goto(`${srv.apiUrl}/`);
  await page.waitForFunction(() => document.getElementById("plugins").dataset.state === "ok");
  assert.equal(await page.textContent("#plugins-status"), "No plugins installed.");
  assert.equal(await page.isHidden("#plugins-problem"), true);

  await page.fill("#tail-subject", "users.>");
  await page.click("#tail-start");
  await page.waitForFunction(() => document.getElementById("tail").dataset.ready === "true");

  // An upload the plugin's init refuses (redact-json needs `fields`): the problem's title and
  // detail are shown, and nothing is installed.
  await page.fill("#plugin-name", "redact");
  await page.setInputFiles("#plugin-file", REDACT_WASM);
  await page.fill("#plugin-subjects", "users.>");
  await page.click("#plugin-upload");
  await page.waitForFunction(() => document.getElementById("plugin-result").textContent.startsWith("Upload refused: 400"));
  assert.match(await page.textContent("#plugin-result"), /fields/);
  assert.deepEqual((await (await fetch(`${srv.apiUrl}/v1/plugins`)).json()).plugins, []);

  // Now with its config, a chain position and an error policy.
  await page.fill("#plugin-order", "10");
  // The mask is markup on purpose: the page must show it as text, in the table and the tail.
  await page.fill("#plugin-config", 'fields=email,ssn\nmask=<b id="injected">hidden</b>');
  await page.selectOption("#plugin-on-error", "pass");
  await page.click("#plugin-upload");
  await page.waitForFunction(() => document.getElementById("plugin-result").textContent.startsWith("Loaded redact"));
  await page.waitForSelector('tr[data-plugin="redact"]');
  // The binding arrived exactly as typed (the query string the API expects).
  const info = await (await fetch(`${srv.apiUrl}/v1/plugins/redact`)).json();
  assert.deepEqual(info.binding.subjects, ["users.>"]);
  assert.equal(info.binding.order, 10);
  assert.equal(info.binding.on_error, "pass");
  assert.deepEqual(info.binding.config, { fields: "email,ssn", mask: '<b id="injected">hidden</b>' });
  assert.equal(info.size, readFileSync(REDACT_WASM).length);
  assert.equal(await cell(page, "redact", "subjects"), "users.>");
  assert.equal(await cell(page, "redact", "order"), "10");
  assert.equal(await cell(page, "redact", "on_error"), "pass");
  assert.equal(await cell(page, "redact", "config"), 'fields=email,ssn, mask=<b id="injected">hidden</b>');
  assert.match(info.digest, /^sha256:[0-9a-f]{64}$/);
  const digest = info.digest.slice("sha256:".length, "sha256:".length + 12);
  assert.equal(await cell(page, "redact", "digest"), digest);
  assert.match(await cell(page, "redact", "uploaded"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.equal(await cell(page, "redact", "calls"), "0");
  assert.equal(await page.textContent("#plugins-status"), "1 plugin installed.");

  // JSON published over HTTP reaches the page's tail redacted.
  const resp = await fetch(`${srv.apiUrl}/v1/publish/users.new`, {
    method: "POST",
    body: JSON.stringify({ name: "ann", email: "ann@example.com", ssn: "123-45-6789" }),
  });
  assert.equal(resp.status, 202);
  await page.waitForFunction(() =>
    document.getElementById("tail").textContent.includes(
      '{"name":"ann","email":"<b id=\\"injected\\">hidden</b>","ssn":"<b id=\\"injected\\">hidden</b>"}'));
  assert.doesNotMatch(await page.textContent("#tail"), /ann@example\.com/);
  // The table's counters follow (refreshed every two seconds).
  await page.waitForFunction(() =>
    document.querySelector('tr[data-plugin="redact"] [data-field="modify"]')?.textContent === "1");
  assert.equal(await cell(page, "redact", "calls"), "1");
  assert.equal(await cell(page, "redact", "errors"), "0");
  assert.equal(await page.$("#injected"), null, "API text was parsed as HTML");
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/console-plugins.png`, fullPage: true });

  // Remove asks first: dismissing keeps the plugin, accepting removes it.
  const dialogs = [];
  page.once("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.click('tr[data-plugin="redact"] button.remove');
  while (dialogs.length < 1) await new Promise((res) => setTimeout(res, 20));
  assert.equal(await page.textContent("#plugin-result"), `Loaded redact (${digest})`);
  assert.equal((await (await fetch(`${srv.apiUrl}/v1/plugins`)).json()).plugins.length, 1);
  page.once("dialog", (d) => { dialogs.push(d.message()); d.accept(); });
  await page.click('tr[data-plugin="redact"] button.remove');
  await page.waitForFunction(() => !document.querySelector('tr[data-plugin="redact"]'));
  assert.equal(await page.textContent("#plugin-result"), "Removed redact");
  assert.equal(dialogs.length, 2);
  assert.match(dialogs[0], /Remove plugin redact\?/);
  assert.deepEqual((await (await fetch(`${srv.apiUrl}/v1/plugins`)).json()).plugins, []);
  await page.waitForFunction(() => document.getElementById("plugins-status").textContent === "No plugins installed.");

  // Messages pass unchanged again.
  await fetch(`${srv.apiUrl}/v1/publish/users.new`, { method: "POST", body: '{"email":"bob@example.com"}' });
  await page.waitForFunction(() => document.getElementById("tail").textContent.includes("bob@example.com"));
  assert.deepEqual(errors, []);
});

test("the plugins panel tells a user who is not an admin why it is refused", { timeout: TIMEOUT }, async (t) => {
  const users = [
    { user: "viewer", password: "v-pw" },
    { user: "root", password: "r-pw", admin: true },
  ];
  const { srv, page, errors, newPage } = await withBrowser(
    t,
    { users, jetstream: true },
    { httpCredentials: { username: "viewer", password: "v-pw" } },
  );
  await page.goto(`${srv.apiUrl}/`);
  // The rest of the page works for this user...
  await page.waitForFunction(() => document.getElementById("status").textContent === "up");
  // ...and the plugins panel says why it is empty instead of breaking.
  await page.waitForFunction(() => document.getElementById("plugins").dataset.state === "error-403");
  const problem = await page.textContent("#plugins-problem");
  assert.match(problem, /^403 Permission denied: plugin administration needs the token or a user with admin = true\./);
  assert.equal(await page.textContent("#plugins-status"), "Plugin administration is not allowed here.");
  assert.equal(await page.isVisible("#plugins-problem"), true);
  assert.equal(await page.isHidden("#plugins-table"), true);
  assert.equal(await page.isDisabled("#plugin-upload"), true);
  await page.fill("#publish-subject", "viewer.hello");
  await page.fill("#publish-payload", "still works");
  await page.click("button[type=submit] >> text=Publish");
  await page.waitForFunction(() => document.getElementById("publish-result").textContent === "delivered to 0");
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/console-plugins-403.png`, fullPage: true });

  // The same page as an admin lists the plugin chain and uploads with the same credentials.
  const admin = await newPage({ httpCredentials: { username: "root", password: "r-pw" } });
  await admin.goto(`${srv.apiUrl}/`);
  await admin.waitForFunction(() => document.getElementById("plugins").dataset.state === "ok");
  assert.equal(await admin.textContent("#plugins-status"), "No plugins installed.");
  assert.equal(await admin.isDisabled("#plugin-upload"), false);
  assert.ok(existsSync(PASSTHROUGH_WASM), `${PASSTHROUGH_WASM} is missing: run bash plugins/build.sh`);
  await admin.fill("#plugin-name", "pass-all");
  await admin.setInputFiles("#plugin-file", PASSTHROUGH_WASM);
  await admin.fill("#plugin-subjects", "viewer.>");
  await admin.click("#plugin-upload");
  await admin.waitForSelector('tr[data-plugin="pass-all"]');
  const basic = `Basic ${Buffer.from("root:r-pw").toString("base64")}`;
  const list = await (await fetch(`${srv.apiUrl}/v1/plugins`, { headers: { Authorization: basic } })).json();
  assert.deepEqual(list.plugins.map((p) => [p.name, p.binding.subjects]), [["pass-all", ["viewer.>"]]]);
  // The viewer's panel still only explains the refusal.
  assert.equal(await page.$('tr[data-plugin="pass-all"]'), null);
  assert.equal(await page.getAttribute("#plugins", "data-state"), "error-403");
  assert.deepEqual(errors, []);
});
