"""Launcher for the interop suite: starts the server under test, one per test.

conftest.py turns it into the `launcher` and `server` fixtures.

Conventions shared with the Node suite (tests/interop/node/server.mjs):

- INTEROP_SERVER: path of the server binary. Default: <repo>/target/debug/sluice.
  A relative path is taken relative to the current directory.
- INTEROP_KIND: "sluice" (default) or "nats-server". It only decides which config
  file format the launcher writes for the permission tests (TOML for sluice,
  nats-server's own format for nats-server); the command line is the same.

The server is started as `<bin> -a 127.0.0.1 -p -1 [--api_port -1] [-js -sd <dir>] [extra args]`
in its own process group. Its stderr is read until `Listening for client connections on H:P` (which
gives the port) and `Server is ready`; it is killed (group SIGTERM, then SIGKILL)
when the test ends. A missing binary or a server that never gets ready fails the
test; nothing here skips.

JetStream: `start(jetstream=True)` adds `-js -sd <dir>` (both servers take the same
flags), the store dir being a fresh folder in the test's tmp dir unless `store_dir` is
given. `restart(srv, sig)` stops a server with SIGTERM (graceful; it must exit on its
own) or SIGKILL (a crash) and starts it again with the same arguments and store dir;
the port may change, so clients open a new connection to the returned Server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
KINDS = ("sluice", "nats-server")
READY_TIMEOUT = 20.0

LISTEN_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")
MONITOR_RE = re.compile(r"Starting http monitor on (?:https?://)?(\S+):(\d+)")
READY_RE = re.compile(r"Server is ready")
# tracing's formatter may colour its output; the patterns are matched on plain text.
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def server_kind() -> str:
    kind = os.environ.get("INTEROP_KIND", "sluice")
    if kind not in KINDS:
        pytest.fail(f"INTEROP_KIND must be one of {KINDS}, not {kind!r}")
    return kind


def server_binary() -> Path:
    raw = os.environ.get("INTEROP_SERVER")
    path = Path(raw) if raw else REPO_ROOT / "target" / "debug" / "sluice"
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"server binary not found or not executable: {path} (set INTEROP_SERVER)")
    return path


def _has_exited(pid: int) -> bool:
    """True once `pid` has exited, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@dataclass
class User:
    """A user for the config-file based tests. `publish`/`subscribe` are
    (allow, deny) pairs; None means no permissions block (full access). With `nkey`
    (a user public key, U...) the entry is an nkey user and `user`/`password` are unused."""

    user: str = ""
    password: str = ""
    publish: tuple[list[str], list[str]] | None = None
    subscribe: tuple[list[str], list[str]] | None = None
    allow_responses: bool = False
    nkey: str | None = None


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(_toml_str(i) for i in items) + "]"


def render_config(kind: str, users: list[User]) -> str:
    """The same users in sluice's TOML or in nats-server's conf format."""
    if kind == "sluice":
        out = []
        for u in users:
            out.append("[[auth.users]]")
            if u.nkey:
                out.append(f"nkey = {_toml_str(u.nkey)}")
            else:
                out += [f"user = {_toml_str(u.user)}", f"password = {_toml_str(u.password)}"]
            if u.publish or u.subscribe or u.allow_responses:
                out.append("[auth.users.permissions]")
                for name, perm in (("publish", u.publish), ("subscribe", u.subscribe)):
                    if perm is not None:
                        out.append(f"{name} = {{ allow = {_toml_list(perm[0])}, deny = {_toml_list(perm[1])} }}")
                if u.allow_responses:
                    out.append("allow_responses = true")
            out.append("")
        return "\n".join(out)
    entries = []
    for u in users:
        if u.nkey:
            fields = [f"nkey: {_toml_str(u.nkey)}"]
        else:
            fields = [f"user: {_toml_str(u.user)}", f"password: {_toml_str(u.password)}"]
        perms = []
        for name, perm in (("publish", u.publish), ("subscribe", u.subscribe)):
            if perm is not None:
                perms.append(f"{name}: {{allow: {_toml_list(perm[0])}, deny: {_toml_list(perm[1])}}}")
        if u.allow_responses:
            perms.append("allow_responses: true")
        if perms:
            fields.append("permissions: {" + ", ".join(perms) + "}")
        entries.append("    {" + ", ".join(fields) + "}")
    return "authorization {\n  users = [\n" + "\n".join(entries) + "\n  ]\n}\n"


@dataclass
class Server:
    proc: subprocess.Popen
    host: str
    port: int
    monitor_port: int | None = None
    lines: list[str] = field(default_factory=list)
    store_dir: Path | None = None  # the JetStream store (-sd), when started with jetstream=True
    # How it was started, so Launcher.restart can start it again the same way.
    start_args: tuple[str, ...] = ()
    start_opts: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def log(self) -> str:
        return "".join(self.lines)


class Launcher:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.kind = server_kind()
        self.binary = server_binary()
        self.servers: list[Server] = []

    def write_config(self, users: list[User]) -> Path:
        suffix = "toml" if self.kind == "sluice" else "conf"
        path = self.tmp_path / f"server-{len(self.servers)}.{suffix}"
        path.write_text(render_config(self.kind, users))
        return path

    def start(
        self,
        *args: str,
        users: list[User] | None = None,
        monitor: bool = False,
        jetstream: bool = False,
        store_dir: Path | None = None,
    ) -> Server:
        cmd = [str(self.binary), "-a", "127.0.0.1", "-p", "-1"]
        if self.kind == "sluice":
            # sluice's HTTP API defaults to port 8080; a free port keeps servers apart.
            cmd += ["--api_port", "-1"]
        if monitor:
            cmd += ["-m", "-1"]
        if users is not None:
            cmd += ["-c", str(self.write_config(users))]
        if jetstream:
            if store_dir is None:
                store_dir = self.tmp_path / f"js-store-{len(self.servers)}"
            store_dir.mkdir(parents=True, exist_ok=True)
            cmd += ["-js", "-sd", str(store_dir)]
        cmd += list(args)
        env = dict(os.environ, NO_COLOR="1")
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,  # own process group, killed as a whole
        )
        srv = Server(
            proc=proc,
            host="",
            port=0,
            store_dir=store_dir if jetstream else None,
            start_args=tuple(args),
            start_opts={"users": users, "monitor": monitor, "jetstream": jetstream},
        )
        self.servers.append(srv)
        ready = threading.Event()
        found: dict[str, tuple[str, int]] = {}

        def pump() -> None:
            # Keeps reading stderr for the server's whole life so it never blocks on a full pipe.
            for line in proc.stderr:
                srv.lines.append(line)
                plain = ANSI_RE.sub("", line)
                if m := LISTEN_RE.search(plain):
                    found.setdefault("client", (m.group(1), int(m.group(2))))
                if m := MONITOR_RE.search(plain):
                    found.setdefault("monitor", (m.group(1), int(m.group(2))))
                if READY_RE.search(plain):
                    ready.set()
            ready.set()  # EOF: the process is gone

        threading.Thread(target=pump, daemon=True).start()
        ready.wait(READY_TIMEOUT)
        if proc.poll() is not None or "client" not in found or not ready.is_set():
            self.stop(srv)
            pytest.fail(
                f"server did not get ready: {' '.join(cmd)}\n"
                f"exit code: {proc.returncode}\nstderr:\n{srv.log()}"
            )
        srv.host, srv.port = found["client"]
        if monitor:
            if "monitor" not in found:
                self.stop(srv)
                pytest.fail(f"no 'Starting http monitor on H:P' line in stderr:\n{srv.log()}")
            srv.monitor_port = found["monitor"][1]
        return srv

    @staticmethod
    def stop(srv: Server, sig: int = signal.SIGTERM, grace: float = 5.0) -> bool:
        """Signals the server's process group with `sig`, waits up to `grace` seconds
        for it to exit, then SIGKILLs what is left. True if the server exited within
        the grace period (always true for SIGKILL)."""
        proc = srv.proc
        on_its_own = True
        if proc.returncode is None:
            # Not reaped yet, so the process group id is still ours to signal.
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and not _has_exited(proc.pid):
                time.sleep(0.02)
            on_its_own = _has_exited(proc.pid)
            # Whatever is left: a server ignoring SIGTERM, or anything it spawned.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        return on_its_own

    def restart(self, srv: Server, sig: int = signal.SIGTERM) -> Server:
        """Stops `srv` with `sig` (SIGTERM: it must exit on its own within 20 s;
        SIGKILL: a crash) and starts a new server with the same arguments and the same
        JetStream store dir. Returns the new Server; its port may differ."""
        if not self.stop(srv, sig, grace=20.0):
            pytest.fail(f"server did not exit within 20 s of signal {sig}:\n{srv.log()}")
        return self.start(*srv.start_args, store_dir=srv.store_dir, **srv.start_opts)

    def stop_all(self) -> None:
        for srv in self.servers:
            self.stop(srv)
