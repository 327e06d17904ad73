// The Sluice web console: polls /v1/stats for counters and rates, publishes with
// POST /v1/publish, tails a subject with Server-Sent Events from /v1/subscribe, and lists,
// uploads and removes plugins with /v1/plugins (admin routes).
// Plain browser JavaScript, no build step and no libraries. Text from the server is only
// ever put into the page with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const PLUGINS_POLL_MS = 2000;
const TAIL_MAX = 200;

let last = null;

// With token auth: the token goes out as a bearer token on fetches, and as the
// `sluice_token` cookie (SameSite=Strict) for the event stream, which cannot send headers.
// It lives in this tab's sessionStorage only.
let token = sessionStorage.getItem("sluice_token") || "";

function setToken(value) {
  token = value;
  sessionStorage.setItem("sluice_token", value);
  const maxAge = value ? "" : "; max-age=0";
  document.cookie = `sluice_token=${encodeURIComponent(value)}; path=/; SameSite=Strict${maxAge}`;
}

function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

$("token").value = token;
$("token").addEventListener("change", (ev) => {
  setToken(ev.target.value.trim());
  poll();
  pollPlugins();
});

function fmt(n) {
  return Number(n).toLocaleString("en-US");
}

function uptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (d ? `${d}d ` : "") + (d || h ? `${h}h ` : "") + (d || h || m ? `${m}m ` : "") + `${sec}s`;
}

async function poll() {
  try {
    const resp = await fetch("/v1/stats", { cache: "no-store", headers: authHeaders() });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const s = await resp.json();
    const now = performance.now();
    $("server").textContent = `${s.server_name} · NATS ${s.version}`;
    $("status").textContent = "up";
    $("status").className = "badge ok";
    $("connections").textContent = fmt(s.connections);
    $("subscriptions").textContent = fmt(s.subscriptions);
    $("in-msgs").textContent = fmt(s.in_msgs);
    $("out-msgs").textContent = fmt(s.out_msgs);
    $("slow").textContent = fmt(s.slow_consumers);
    $("uptime").textContent = uptime(s.uptime_seconds);
    if (last) {
      const dt = (now - last.at) / 1000;
      $("in-rate").textContent = fmt(Math.round((s.in_msgs - last.in_msgs) / dt));
      $("out-rate").textContent = fmt(Math.round((s.out_msgs - last.out_msgs) / dt));
    }
    last = { at: now, in_msgs: s.in_msgs, out_msgs: s.out_msgs };
  } catch (err) {
    $("status").textContent = `down (${err.message})`;
    $("status").className = "badge down";
  }
}

$("publish-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const subject = $("publish-subject").value.trim();
  const out = $("publish-result");
  try {
    const resp = await fetch(`/v1/publish/${encodeURIComponent(subject)}`, {
      method: "POST",
      headers: authHeaders(),
      body: $("publish-payload").value,
    });
    const body = await resp.json();
    out.textContent = resp.ok ? `delivered to ${body.delivered}` : `${resp.status}: ${body.detail}`;
  } catch (err) {
    out.textContent = err.message;
  }
});

let source = null;

function stopTail() {
  if (source) source.close();
  source = null;
  $("tail-start").disabled = false;
  $("tail-stop").disabled = true;
}

$("tail-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  stopTail();
  const subject = $("tail-subject").value.trim();
  const list = $("tail");
  list.replaceChildren();
  source = new EventSource(`/v1/subscribe/${encodeURIComponent(subject)}`);
  $("tail-start").disabled = true;
  $("tail-stop").disabled = false;
  $("tail-status").textContent = `tailing ${subject}`;
  source.addEventListener("open", () => {
    $("tail-status").textContent = `tailing ${subject}`;
    $("tail").dataset.ready = "true";
  });
  source.addEventListener("message", (ev) => {
    const msg = JSON.parse(ev.data);
    const li = document.createElement("li");
    const subj = document.createElement("span");
    subj.className = "subject";
    subj.textContent = msg.subject;
    const body = document.createElement("span");
    body.className = "payload";
    body.textContent = msg.encoding === "base64" ? `(base64) ${msg.payload}` : msg.payload;
    li.append(subj, body);
    list.prepend(li);
    while (list.children.length > TAIL_MAX) list.lastChild.remove();
  });
  source.addEventListener("error", () => {
    $("tail-status").textContent = "stream interrupted; the browser retries";
  });
});

$("tail-stop").addEventListener("click", () => {
  stopTail();
  $("tail-status").textContent = "stopped";
});

// ---- Plugins ---------------------------------------------------------------------------
// GET /v1/plugins every PLUGINS_POLL_MS, PUT /v1/plugins/{name} (the component as the body,
// the binding in the query string) and DELETE /v1/plugins/{name}. These are admin routes:
// the same credentials as every other request go with them (the bearer token from the Token
// field; HTTP Basic credentials the browser adds by itself). A refusal (401, 403, or 403 for
// a non-loopback client of a server without auth) is shown in the panel.

// The text of an error answer: the problem+json title and detail when there are some.
async function problemText(resp) {
  let title = resp.statusText || "error";
  let detail = "";
  try {
    const type = resp.headers.get("content-type") || "";
    if (type.includes("json")) {
      const p = await resp.json();
      if (p.title) title = p.title;
      if (p.detail) detail = p.detail;
    } else {
      detail = (await resp.text()).slice(0, 300);
    }
  } catch {
    // No readable body: the status line says enough.
  }
  return `${resp.status} ${title}${detail ? `: ${detail}` : ""}`;
}

// What to do about a refusal of the admin routes (the problem's detail says why).
function refusalHint(status) {
  if (status === 401) return "Enter the token above, or sign in as a user with admin = true.";
  if (status === 403) return "Use the token or a user with admin = true to manage plugins.";
  return "";
}

function refusalStatus(status) {
  if (status === 401) return "Plugins need admin credentials.";
  if (status === 403) return "Plugin administration is not allowed here.";
  return "The plugins could not be loaded.";
}

// Sets text only when it changed, so screen readers do not re-announce live regions.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function showProblem(text) {
  const box = $("plugins-problem");
  setText(box, text);
  box.hidden = !text;
}

// "sha256:<64 hex>" as its first 12 hex digits (the full digest is the cell's title).
function shortDigest(digest) {
  const text = String(digest);
  return text.slice(text.indexOf(":") + 1).slice(0, 12);
}

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

// RFC 3339 with nanoseconds, shown to the second ("2025-01-02 03:04:05 UTC").
function uploadedAt(text) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)[.\d]*Z$/.exec(String(text));
  return m ? `${m[1]} ${m[2]} UTC` : String(text);
}

function meanTime(m) {
  if (!m.calls) return "–";
  const us = (m.latency_sum_seconds * 1e6) / m.calls;
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
}

// The cells of one row, by data-field; the row is updated in place on every refresh so a
// focused Remove button keeps its focus.
const PLUGIN_FIELDS = [
  ["name", (p) => p.name],
  ["subjects", (p) => p.binding.subjects.join(", ")],
  ["order", (p) => String(p.binding.order)],
  ["on_error", (p) => p.binding.on_error],
  ["config", (p) => Object.entries(p.binding.config || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "–"],
  ["digest", (p) => shortDigest(p.digest)],
  ["size", (p) => bytes(p.size)],
  ["uploaded", (p) => uploadedAt(p.uploaded)],
  ["calls", (p) => fmt(p.metrics.calls)],
  ["pass", (p) => fmt(p.metrics.pass)],
  ["drop", (p) => fmt(p.metrics.drop)],
  ["modify", (p) => fmt(p.metrics.modify)],
  ["emit", (p) => fmt(p.metrics.emit)],
  ["reject", (p) => fmt(p.metrics.reject)],
  ["errors", (p) => fmt(p.metrics.errors)],
  ["latency", (p) => meanTime(p.metrics)],
];
const NUMERIC = new Set(["calls", "pass", "drop", "modify", "emit", "reject", "errors", "latency"]);

function pluginRow(name) {
  const tr = document.createElement("tr");
  tr.dataset.plugin = name;
  for (const [field] of PLUGIN_FIELDS) {
    const cell = document.createElement(field === "name" ? "th" : "td");
    if (field === "name") cell.scope = "row";
    cell.dataset.field = field;
    if (NUMERIC.has(field)) cell.className = "num";
    tr.append(cell);
  }
  const actions = document.createElement("td");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove plugin ${name}`);
  remove.addEventListener("click", () => removePlugin(name));
  actions.append(remove);
  tr.append(actions);
  return tr;
}

function renderPlugins(plugins) {
  const body = $("plugins-rows");
  const rows = new Map([...body.children].map((tr) => [tr.dataset.plugin, tr]));
  const wanted = plugins.map((p) => p.name);
  for (const [name, tr] of rows) {
    if (!wanted.includes(name)) {
      tr.remove();
      rows.delete(name);
    }
  }
  for (const p of plugins) {
    let tr = rows.get(p.name);
    if (!tr) {
      tr = pluginRow(p.name);
      rows.set(p.name, tr);
      body.append(tr);
    }
    for (const [field, value] of PLUGIN_FIELDS) {
      const cell = tr.querySelector(`[data-field="${field}"]`);
      setText(cell, value(p));
      if (field === "digest" && cell.title !== p.digest) cell.title = p.digest;
      if (field === "uploaded" && cell.title !== p.uploaded) cell.title = p.uploaded;
    }
  }
  // Chain order; rows move only when it changed.
  const current = [...body.children].map((tr) => tr.dataset.plugin);
  if (current.join("\n") !== wanted.join("\n")) {
    for (const name of wanted) body.append(rows.get(name));
  }
}

// One request at a time; a refresh asked for meanwhile (after an upload) runs right after.
let pluginsPolling = false;
let pluginsAgain = false;

async function pollPlugins() {
  if (pluginsPolling) {
    pluginsAgain = true;
    return;
  }
  pluginsPolling = true;
  try {
    const resp = await fetch("/v1/plugins", { cache: "no-store", headers: authHeaders() });
    if (!resp.ok) {
      const text = await problemText(resp);
      const hint = refusalHint(resp.status);
      showProblem(hint ? `${text}. ${hint}` : text);
      setText($("plugins-status"), refusalStatus(resp.status));
      $("plugin-fieldset").disabled = resp.status === 401 || resp.status === 403;
      $("plugins-table").hidden = true;
      $("plugins").dataset.state = `error-${resp.status}`;
      return;
    }
    const list = await resp.json();
    showProblem("");
    $("plugin-fieldset").disabled = false;
    $("plugins-table").hidden = false;
    renderPlugins(list.plugins);
    const n = list.plugins.length;
    setText($("plugins-status"), n ? `${n} plugin${n === 1 ? "" : "s"} installed.` : "No plugins installed.");
    $("plugins").dataset.state = "ok";
  } catch (err) {
    showProblem(`Could not load the plugins: ${err.message}`);
    $("plugins").dataset.state = "error";
  } finally {
    pluginsPolling = false;
    if (pluginsAgain) {
      pluginsAgain = false;
      pollPlugins();
    }
  }
}

// "key=value" lines (blank lines skipped) into [key, value] pairs.
function configPairs(text) {
  const pairs = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`config line "${line}" is not key=value`);
    pairs.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return pairs;
}

$("plugin-on-error").addEventListener("change", (ev) => {
  const deadLetter = ev.target.value === "dead-letter";
  $("plugin-dead-letter").disabled = !deadLetter;
  $("plugin-dead-letter").required = deadLetter;
});

$("plugin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("plugin-result");
  const name = $("plugin-name").value.trim();
  const file = $("plugin-file").files[0];
  try {
    if (!file) throw new Error("choose a .wasm file");
    // The binding goes in the query string: subjects, order, on_error, config.<key>.
    const query = new URLSearchParams();
    query.set("subjects", $("plugin-subjects").value.trim());
    query.set("order", $("plugin-order").value.trim() || "0");
    const onError = $("plugin-on-error").value;
    query.set("on_error", onError === "dead-letter" ? `dead-letter:${$("plugin-dead-letter").value.trim()}` : onError);
    for (const [key, value] of configPairs($("plugin-config").value)) query.append(`config.${key}`, value);
    out.textContent = `uploading ${name}…`;
    const resp = await fetch(`/v1/plugins/${encodeURIComponent(name)}?${query}`, {
      method: "PUT",
      headers: { ...authHeaders(), "Content-Type": "application/wasm" },
      body: file,
    });
    if (!resp.ok) {
      const text = await problemText(resp);
      const hint = refusalHint(resp.status);
      out.textContent = `Upload refused: ${text}${hint ? `. ${hint}` : ""}`;
      out.className = "problem";
      return;
    }
    const info = await resp.json();
    out.textContent = `${resp.status === 201 ? "Loaded" : "Replaced"} ${info.name} (${shortDigest(info.digest)})`;
    out.className = "muted";
    pollPlugins();
  } catch (err) {
    out.textContent = `Upload failed: ${err.message}`;
    out.className = "problem";
  }
});

async function removePlugin(name) {
  if (!confirm(`Remove plugin ${name}? Messages on its subjects stop passing through it.`)) return;
  const out = $("plugin-result");
  try {
    const resp = await fetch(`/v1/plugins/${encodeURIComponent(name)}`, {
      method: "DELETE",
      headers: authHeaders(),
    });
    if (!resp.ok) {
      const text = await problemText(resp);
      const hint = refusalHint(resp.status);
      out.textContent = `Removal refused: ${text}${hint ? `. ${hint}` : ""}`;
      out.className = "problem";
      return;
    }
    out.textContent = `Removed ${name}`;
    out.className = "muted";
  } catch (err) {
    out.textContent = `Removal failed: ${err.message}`;
    out.className = "problem";
  }
  pollPlugins();
}

poll();
setInterval(poll, POLL_MS);
pollPlugins();
setInterval(pollPlugins, PLUGINS_POLL_MS);
