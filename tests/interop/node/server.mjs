// Launcher for the Node interop suite. Same conventions as the Python one
// (tests/interop/python/interop_server.py):
//
// - INTEROP_SERVER: path of the server binary. Default: <repo>/target/debug/sluice.
//   A relative path is taken relative to the current directory.
// - INTEROP_KIND: "sluice" (default) or "nats-server". It only decides which config
//   file format is written for the permission tests (TOML for sluice, nats-server's
//   own format for nats-server); the command line is the same for both.
//
// The server runs as `<bin> -a 127.0.0.1 -p -1 [-js -sd <dir>] [args]` in its own process
// group. Its stderr is read until `Listening for client connections on H:P` (the port)
// and `Server is ready`. stop() kills the group: SIGTERM, then SIGKILL after 5 s.
// A missing binary or a server that never gets ready throws, so the test fails.
//
// JetStream: startServer({ jetstream: true }) adds `-js -sd <dir>` (same flags for both
// servers) with a fresh temporary store dir, removed by stop(). restartServer(srv, signal)
// stops the server with SIGTERM (it must exit on its own) or SIGKILL (a crash) and starts
// a new one with the same options on the same store dir; the port may change, so
// clients connect again to the returned Server.

import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const KINDS = ["sluice", "nats-server"];
const READY_TIMEOUT_MS = 20_000;
const LISTEN_RE = /Listening for client connections on (\S+):(\d+)/;
const MONITOR_RE = /Starting http monitor on (?:https?:\/\/)?(\S+):(\d+)/;
const WS_RE = /Listening for websocket clients on (ws:\/\/\S+)/;
const API_RE = /Listening for API requests on (\S+)/;
const READY_RE = /Server is ready/;
// tracing's formatter may colour its output; patterns are matched on plain text.
const ANSI_RE = /\x1b\[[0-9;]*[A-Za-z]/g;

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function serverKind() {
  const kind = process.env.INTEROP_KIND || "sluice";
  if (!KINDS.includes(kind)) {
    throw new Error(`INTEROP_KIND must be one of ${KINDS.join(", ")}, not ${kind}`);
  }
  return kind;
}

export function serverBinary() {
  const raw = process.env.INTEROP_SERVER;
  const path = raw
    ? (isAbsolute(raw) ? raw : resolve(process.cwd(), raw))
    : join(REPO_ROOT, "target", "debug", "sluice");
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`server binary not found or not executable: ${path} (set INTEROP_SERVER)`);
  }
  return path;
}

const q = (s) => JSON.stringify(s);
const list = (xs) => `[${xs.map(q).join(", ")}]`;

// users: [{user, password, publish?: {allow, deny}, subscribe?: {allow, deny}, allowResponses?,
//          admin?}]; `admin` (may manage plugins) exists in sluice's format only.
export function renderConfig(kind, users) {
  if (kind === "sluice") {
    const out = [];
    for (const u of users) {
      out.push("[[auth.users]]", `user = ${q(u.user)}`, `password = ${q(u.password)}`);
      if (u.admin) out.push("admin = true"); // sluice only: may manage plugins
      if (u.publish || u.subscribe || u.allowResponses) {
        out.push("[auth.users.permissions]");
        for (const name of ["publish", "subscribe"]) {
          if (u[name]) out.push(`${name} = { allow = ${list(u[name].allow)}, deny = ${list(u[name].deny)} }`);
        }
        if (u.allowResponses) out.push("allow_responses = true");
      }
      out.push("");
    }
    return out.join("\n");
  }
  const entries = users.map((u) => {
    const fields = [`user: ${q(u.user)}`, `password: ${q(u.password)}`];
    const perms = [];
    for (const name of ["publish", "subscribe"]) {
      if (u[name]) perms.push(`${name}: {allow: ${list(u[name].allow)}, deny: ${list(u[name].deny)}}`);
    }
    if (u.allowResponses) perms.push("allow_responses: true");
    if (perms.length) fields.push(`permissions: {${perms.join(", ")}}`);
    return `    {${fields.join(", ")}}`;
  });
  return `authorization {\n  users = [\n${entries.join("\n")}\n  ]\n}\n`;
}

const running = new Set();
// Last resort if the test process dies with servers still up.
process.on("exit", () => {
  for (const srv of running) {
    try { process.kill(-srv.proc.pid, "SIGKILL"); } catch { /* already gone */ }
  }
});

export class Server {
  constructor(proc, dir, opts = {}, storeDir = undefined) {
    this.proc = proc;
    this.dir = dir;
    this.opts = opts; // what startServer got, so restartServer can repeat it
    this.storeDir = storeDir; // the JetStream store dir (-sd) this server owns, if any
    this.log = "";
    this.host = "";
    this.port = 0;
    this.monitorPort = undefined;
    this.exited = new Promise((res) => proc.once("exit", (code, signal) => res({ code, signal })));
  }

  get url() {
    return `nats://${this.host}:${this.port}`;
  }

  // Sends `signal` to the process group and waits up to graceMs for the server to exit,
  // then SIGKILLs what is left. Resolves true if it exited within graceMs.
  async terminate(signal, graceMs) {
    const { proc } = this;
    if (proc.exitCode !== null || proc.signalCode !== null) return true;
    try { process.kill(-proc.pid, signal); } catch { /* already gone */ }
    let timer;
    const timeout = new Promise((res) => { timer = setTimeout(res, graceMs, "timeout"); });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result !== "timeout") return true;
    try { process.kill(-proc.pid, "SIGKILL"); } catch { /* already gone */ }
    await this.exited;
    return false;
  }

  async stop() {
    if (!running.delete(this)) return;
    await this.terminate("SIGTERM", 5000);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    if (this.storeDir) rmSync(this.storeDir, { recursive: true, force: true });
  }
}

// Stops `srv` with `signal` ("SIGTERM": must exit on its own within 20 s; "SIGKILL": a
// crash) and starts a new server with the same options and the same JetStream store
// dir, which moves to the new Server (its stop() removes it). Returns the new Server.
export async function restartServer(srv, signal = "SIGTERM") {
  if (!running.delete(srv)) throw new Error("restartServer: server is not running");
  const onItsOwn = await srv.terminate(signal, 20_000);
  if (srv.dir) rmSync(srv.dir, { recursive: true, force: true });
  const { storeDir } = srv;
  srv.storeDir = undefined;
  if (!onItsOwn) {
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    throw new Error(`server did not exit within 20 s of ${signal}:\n${srv.log}`);
  }
  return startServer(srv.opts, storeDir);
}

// The config text that opens a plain (no TLS) WebSocket listener on a random port, with
// permessage-deflate accepted when `compression` (nats-server's `compression: true`).
export function websocketConfig(kind, compression = false) {
  if (kind === "sluice") {
    return `[websocket]\nport = -1\n${compression ? "compression = true\n" : ""}`;
  }
  return `websocket {\n  port: -1\n  no_tls: true\n${compression ? "  compression: true\n" : ""}}\n`;
}

// opts: { args?: string[], users?: [...], monitor?: boolean, websocket?: boolean,
//         wsCompression?: boolean (with websocket), jetstream?: boolean }
// storeDir is for restartServer: an existing store dir the new server takes over.
export async function startServer(opts = {}, storeDir = undefined) {
  const kind = serverKind();
  const bin = serverBinary();
  const args = ["-a", "127.0.0.1", "-p", "-1"];
  // sluice's HTTP API defaults to port 8080; a free port keeps parallel servers apart.
  if (kind === "sluice") args.push("--api_port", "-1");
  if (opts.monitor) args.push("-m", "-1");
  let dir;
  if (opts.users || opts.websocket) {
    dir = mkdtempSync(join(tmpdir(), "sluice-interop-"));
    const file = join(dir, kind === "sluice" ? "server.toml" : "server.conf");
    let text = opts.users ? renderConfig(kind, opts.users) : "";
    if (opts.websocket) text = websocketConfig(kind, opts.wsCompression) + text;
    writeFileSync(file, text);
    args.push("-c", file);
  }
  if (opts.jetstream) {
    storeDir ??= mkdtempSync(join(tmpdir(), "sluice-interop-js-"));
    args.push("-js", "-sd", storeDir);
  }
  args.push(...(opts.args || []));
  const proc = spawn(bin, args, {
    detached: true, // own process group, killed as a whole
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const srv = new Server(proc, dir, opts, opts.jetstream ? storeDir : undefined);
  running.add(srv);

  const ready = new Promise((res, rej) => {
    let pending = "";
    let client;
    let monitor;
    let ws;
    let api;
    // Keeps reading for the server's whole life, so it never blocks on a full pipe.
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      srv.log += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const raw of lines) {
        const line = raw.replace(ANSI_RE, "");
        let m;
        if (!client && (m = LISTEN_RE.exec(line))) client = [m[1], Number(m[2])];
        if (!monitor && (m = MONITOR_RE.exec(line))) monitor = Number(m[2]);
        if (!ws && (m = WS_RE.exec(line))) ws = m[1];
        if (!api && (m = API_RE.exec(line))) api = m[1];
        if (READY_RE.test(line)) {
          if (!client) return rej(new Error("'Server is ready' before 'Listening for client connections on H:P'"));
          if (opts.monitor && !monitor) return rej(new Error("no 'Starting http monitor on H:P' line"));
          if (opts.websocket && !ws) return rej(new Error("no 'Listening for websocket clients on ws://H:P' line"));
          srv.wsUrl = ws;
          srv.apiUrl = api ? `http://${api}` : undefined;
          [srv.host, srv.port] = client;
          srv.monitorPort = monitor;
          return res();
        }
      }
    });
    proc.once("error", rej);
    proc.once("exit", (code, signal) => rej(new Error(`server exited early (code ${code}, signal ${signal})`)));
  });
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (e) {
    await srv.stop();
    throw new Error(`server did not get ready: ${bin} ${args.join(" ")}\n${e.message}\nstderr:\n${srv.log}`);
  } finally {
    clearTimeout(timer);
  }
  return srv;
}
