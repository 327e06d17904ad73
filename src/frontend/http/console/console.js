// The Sluice web console: polls /v1/stats for counters and rates, publishes with
// POST /v1/publish and tails a subject with Server-Sent Events from /v1/subscribe.
// Plain browser JavaScript, no build step and no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
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

poll();
setInterval(poll, POLL_MS);
