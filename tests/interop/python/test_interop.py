"""Interop tests: the unmodified nats-py client (plus raw protocol bytes) against the
server under test. See conftest.py for how the server is started and README.md beside
tests/interop/ for how to run this against sluice or nats-server.

Every test gets its own server. Tests are plain functions that run a coroutine with
asyncio.run, so no asyncio plugin is needed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import urllib.request

import nats
import pytest
from nats import errors

from interop_server import Server, User

TEST_TIMEOUT = 30.0  # seconds, per test
MSG_TIMEOUT = 5.0  # seconds to wait for one expected message

# ---------------------------------------------------------------- helpers


def async_test(fn):
    """Run an async test body with asyncio.run; closes the nats-py clients it opened."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        async def body():
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), TEST_TIMEOUT)
            finally:
                for nc in _clients:
                    if not nc.is_closed:
                        await nc.close()
                _clients.clear()

        return asyncio.run(body())

    return wrapper


_clients: list = []


async def connect(server: Server, **kw):
    """nats-py connection that fails fast instead of retrying for minutes."""
    kw.setdefault("allow_reconnect", False)
    kw.setdefault("connect_timeout", 5)
    kw.setdefault("max_reconnect_attempts", 0)
    nc = await nats.connect(server.url, **kw)
    _clients.append(nc)
    return nc


class ErrorLog:
    """An error_cb that records what nats-py reports asynchronously."""

    def __init__(self):
        self.errors: list[Exception] = []
        self._changed = asyncio.Event()

    async def cb(self, e: Exception) -> None:
        self.errors.append(e)
        self._changed.set()

    async def wait_for(self, needle: str, timeout: float = MSG_TIMEOUT) -> Exception:
        """First recorded error whose text contains `needle` (case-insensitive:
        nats-py lower-cases -ERR texts before reporting them)."""

        async def scan():
            while True:
                for e in self.errors:
                    if needle.lower() in str(e).lower():
                        return e
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            pytest.fail(f"no async error containing {needle!r}; got {[str(e) for e in self.errors]}")


class Raw:
    """A bare TCP client speaking the NATS text protocol, for exact-bytes checks."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: dict):
        self.reader, self.writer, self.info = reader, writer, info

    @classmethod
    async def open(cls, server: Server, connect: dict | None = None, handshake: bool = True) -> "Raw":
        reader, writer = await asyncio.open_connection(server.host, server.port)
        first = await asyncio.wait_for(reader.readline(), MSG_TIMEOUT)
        assert first.startswith(b"INFO "), first
        assert first.endswith(b"\r\n"), first
        raw = cls(reader, writer, json.loads(first[5:]))
        if handshake:
            opts = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                    "protocol": 1, "lang": "raw", "version": "0.0.0", "name": "interop-raw"}
            opts.update(connect or {})
            await raw.send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
            assert await raw.line() == b"PONG\r\n"
        return raw

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, timeout: float = MSG_TIMEOUT) -> bytes:
        """Next protocol line, skipping asynchronous INFO updates (nats-server sends one
        after CONNECT) and answering server PINGs."""
        while True:
            ln = await asyncio.wait_for(self.reader.readline(), timeout)
            if not ln:
                raise ConnectionError("connection closed by server")
            if ln.startswith(b"INFO "):
                continue
            if ln == b"PING\r\n":
                await self.send(b"PONG\r\n")
                continue
            return ln

    async def payload(self, size: int) -> bytes:
        data = await asyncio.wait_for(self.reader.readexactly(size + 2), MSG_TIMEOUT)
        assert data.endswith(b"\r\n")
        return data[:-2]

    async def msg(self) -> tuple[list[bytes], bytes]:
        """Next MSG/HMSG: (control line tokens, body incl. header block)."""
        ln = await self.line()
        parts = ln.split()
        assert parts[0] in (b"MSG", b"HMSG"), ln
        return parts, await self.payload(int(parts[-1]))

    async def closed_by_server(self, timeout: float = MSG_TIMEOUT) -> bytes:
        """Reads until EOF; returns what came before it. Fails if the server keeps it open."""
        try:
            return await asyncio.wait_for(self.reader.read(), timeout)
        except asyncio.TimeoutError:
            pytest.fail("server did not close the connection")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def sync(nc) -> None:
    """flush() that really orders after what was sent before it. nats-py's flush() writes
    its PING straight to the socket, ahead of SUB/PUB commands still queued for its
    flusher task, so the PONG can come back before the server has seen them (seen as
    lost messages and spurious no-responders under load). Push the queue out first."""
    await nc._flush_pending(force_flush=True)
    await nc.flush(timeout=MSG_TIMEOUT)


async def next_msgs(sub, n: int, timeout: float = MSG_TIMEOUT) -> list:
    return [await sub.next_msg(timeout=timeout) for _ in range(n)]


async def assert_no_msg(sub, wait: float = 0.3) -> None:
    with pytest.raises(errors.TimeoutError):
        msg = await sub.next_msg(timeout=wait)
        pytest.fail(f"unexpected message on {msg.subject}: {msg.data!r}")


ALICE = User(
    "alice",
    "pw",
    publish=(["orders.>", "_INBOX.>"], ["orders.secret"]),
    subscribe=(["orders.>", "_INBOX.>"], []),
    allow_responses=True,
)
BOB = User("bob", "bobpw")  # no permissions block: may do anything


# ---------------------------------------------------------------- startup and INFO


def test_server_prints_nats_server_log_lines(server: Server):
    log = server.log()
    listen = log.find(f"Listening for client connections on 127.0.0.1:{server.port}")
    ready = log.find("Server is ready")
    assert listen >= 0 and ready > listen, log


@async_test
async def test_connect_and_server_info(server: Server):
    nc = await connect(server)
    assert nc.is_connected
    info = nc._server_info  # what nats-py parsed from INFO; it has no public getter
    assert isinstance(info["version"], str) and info["version"].startswith("2."), info
    assert info["headers"] is True
    assert info["max_payload"] == 1048576
    assert nc.max_payload == info["max_payload"]
    assert nc.connected_server_version.major == 2
    assert info["proto"] == 1
    assert isinstance(info["server_id"], str) and info["server_id"]
    assert isinstance(nc.client_id, int)
    await sync(nc)


@async_test
async def test_raw_info_fields(server: Server):
    raw = await Raw.open(server, handshake=False)
    info = raw.info
    for key in ("server_id", "server_name", "version", "proto", "host", "port",
                "headers", "max_payload", "client_id", "client_ip"):
        assert key in info, f"INFO lacks {key}: {info}"
    assert info["proto"] == 1
    assert info["port"] == server.port
    assert info["host"] == "127.0.0.1"
    assert info["client_ip"] == "127.0.0.1"
    assert not info.get("auth_required", False)
    await raw.close()


@async_test
async def test_ping_pong_and_flush(server: Server):
    raw = await Raw.open(server, handshake=False)
    await raw.send(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
    assert await raw.line() == b"PONG\r\n"
    await raw.send(b"PING\r\nPING\r\n")
    assert await raw.line() == b"PONG\r\n"
    assert await raw.line() == b"PONG\r\n"
    await raw.close()

    nc = await connect(server)
    await nc.flush(timeout=5)
    rtt = await nc.rtt()
    assert 0 <= rtt < 5


@async_test
async def test_verbose_mode_acks_with_ok(server: Server):
    raw = await Raw.open(server, handshake=False)
    await raw.send(b'CONNECT {"verbose":true,"pedantic":false,"protocol":1}\r\n')
    assert await raw.line() == b"+OK\r\n"
    await raw.send(b"SUB v 1\r\n")
    assert await raw.line() == b"+OK\r\n"
    await raw.send(b"PUB v 2\r\nhi\r\n")
    # The +OK for the PUB and the MSG itself may come in either order.
    got = []
    for _ in range(2):
        ln = await raw.line()
        got.append(ln if ln == b"+OK\r\n" else (ln, await raw.payload(int(ln.split()[-1]))))
    assert sorted(got, key=repr) == sorted([b"+OK\r\n", (b"MSG v 1 2\r\n", b"hi")], key=repr)
    await raw.close()


# ---------------------------------------------------------------- messaging


@async_test
async def test_pub_sub(server: Server):
    nc = await connect(server)
    sub = await nc.subscribe("greet.joe")
    await sync(nc)
    for i in range(10):
        await nc.publish("greet.joe", f"hello {i}".encode())
    msgs = await next_msgs(sub, 10)
    assert [m.data for m in msgs] == [f"hello {i}".encode() for i in range(10)]
    assert all(m.subject == "greet.joe" for m in msgs)
    await nc.publish("greet.jane", b"not for joe")
    await assert_no_msg(sub)


@async_test
async def test_pub_sub_between_two_connections_with_reply_subject(server: Server):
    a = await connect(server)
    b = await connect(server)
    sub = await b.subscribe("x.y")
    await sync(b)
    await a.publish("x.y", b"payload", reply="some.reply")
    await a.publish("x.y", b"")
    m = await sub.next_msg(timeout=MSG_TIMEOUT)
    assert (m.subject, m.reply, m.data) == ("x.y", "some.reply", b"payload")
    m = await sub.next_msg(timeout=MSG_TIMEOUT)
    assert (m.reply, m.data) == ("", b"")


@async_test
async def test_wildcards(server: Server):
    nc = await connect(server)
    star = await nc.subscribe("foo.*")
    gt = await nc.subscribe("foo.>")
    mid = await nc.subscribe("a.*.c")
    await sync(nc)
    for subj in ("foo", "foo.bar", "foo.bar.baz", "a.b.c", "a.b.c.d", "a.c"):
        await nc.publish(subj, subj.encode())
    await sync(nc)
    assert [m.subject for m in await next_msgs(star, 1)] == ["foo.bar"]
    await assert_no_msg(star)
    assert [m.subject for m in await next_msgs(gt, 2)] == ["foo.bar", "foo.bar.baz"]
    await assert_no_msg(gt)
    assert [m.subject for m in await next_msgs(mid, 1)] == ["a.b.c"]
    await assert_no_msg(mid)


@async_test
async def test_queue_group_each_message_once(server: Server):
    pub = await connect(server)
    members = [await connect(server) for _ in range(4)]
    got: dict[int, list[bytes]] = {i: [] for i in range(4)}
    all_seen = asyncio.Event()
    total = 100

    def handler(i):
        async def cb(msg):
            got[i].append(msg.data)
            if sum(len(v) for v in got.values()) >= total:
                all_seen.set()
        return cb

    for i, nc in enumerate(members):
        await nc.subscribe("jobs", queue="workers", cb=handler(i))
        await sync(nc)
    plain = await pub.subscribe("jobs")  # a non-queue subscriber sees every message
    await sync(pub)
    for n in range(total):
        await pub.publish("jobs", str(n).encode())
    await sync(pub)
    await asyncio.wait_for(all_seen.wait(), MSG_TIMEOUT)
    await asyncio.sleep(0.3)  # let any duplicate arrive before counting
    received = sorted(int(d) for v in got.values() for d in v)
    assert received == list(range(total)), "every message exactly once across the group"
    assert sum(1 for v in got.values() if v) >= 2, f"not distributed: {[len(v) for v in got.values()]}"
    assert len(await next_msgs(plain, total)) == total


@async_test
async def test_request_reply(server: Server):
    responder = await connect(server)
    requester = await connect(server)

    async def echo(msg):
        await msg.respond(b"echo:" + msg.data)

    await responder.subscribe("svc.echo", cb=echo)
    await sync(responder)
    reply = await requester.request("svc.echo", b"ping", timeout=MSG_TIMEOUT)
    assert reply.data == b"echo:ping"
    replies = await asyncio.gather(*(requester.request("svc.echo", str(i).encode(), timeout=MSG_TIMEOUT)
                                     for i in range(20)))
    assert [r.data for r in replies] == [f"echo:{i}".encode() for i in range(20)]


@async_test
async def test_no_responders(server: Server):
    nc = await connect(server)
    with pytest.raises(errors.NoRespondersError):
        await nc.request("nobody.home", b"anyone?", timeout=MSG_TIMEOUT)
    assert nc.is_connected


@async_test
async def test_no_responders_raw(server: Server):
    raw = await Raw.open(server)
    await raw.send(b"SUB _INBOX.raw.* 1\r\nPUB nobody.home _INBOX.raw.1 2\r\nhi\r\nPING\r\n")
    parts, body = await raw.msg()
    assert parts[:3] == [b"HMSG", b"_INBOX.raw.1", b"1"], parts
    assert body.startswith(b"NATS/1.0 503"), body
    assert body.endswith(b"\r\n\r\n"), body  # empty payload after the header block
    assert int(parts[-2]) == int(parts[-1]) == len(body)
    assert await raw.line() == b"PONG\r\n"
    await raw.close()


@async_test
async def test_headers_end_to_end(server: Server):
    nc = await connect(server)
    raw = await Raw.open(server)
    await raw.send(b"SUB hdr 7\r\nPING\r\n")
    assert await raw.line() == b"PONG\r\n"
    sub = await nc.subscribe("hdr")
    await sync(nc)
    await nc.publish("hdr", b"body", headers={"X-Trace": "abc-123", "Content-Type": "text/plain"})
    m = await sub.next_msg(timeout=MSG_TIMEOUT)
    assert m.data == b"body"
    assert m.headers == {"X-Trace": "abc-123", "Content-Type": "text/plain"}
    parts, body = await raw.msg()
    assert parts[:3] == [b"HMSG", b"hdr", b"7"]
    hdr_len = int(parts[-2])
    assert body[:hdr_len].startswith(b"NATS/1.0\r\n") and body[:hdr_len].endswith(b"\r\n\r\n")
    assert b"X-Trace: abc-123\r\n" in body[:hdr_len]
    assert body[hdr_len:] == b"body"
    # A message without headers reaches a headers-capable subscriber as plain MSG.
    await nc.publish("hdr", b"plain")
    parts, body = await raw.msg()
    assert parts == [b"MSG", b"hdr", b"7", b"5"] and body == b"plain"
    await raw.close()


@async_test
async def test_multi_valued_headers_preserved(server: Server):
    pub = await Raw.open(server)
    sub = await Raw.open(server)
    nc = await connect(server)
    py_sub = await nc.subscribe("h.multi")
    await sync(nc)
    await sub.send(b"SUB h.* 3\r\nPING\r\n")
    assert await sub.line() == b"PONG\r\n"
    hdr = b"NATS/1.0\r\nX-Multi: one\r\nX-Multi: two\r\nX-Single: v\r\n\r\n"
    payload = b"payload"
    await pub.send(b"HPUB h.multi reply.to %d %d\r\n%s%s\r\nPING\r\n"
                   % (len(hdr), len(hdr) + len(payload), hdr, payload))
    assert await pub.line() == b"PONG\r\n"
    parts, body = await sub.msg()
    assert parts == [b"HMSG", b"h.multi", b"3", b"reply.to",
                     str(len(hdr)).encode(), str(len(hdr) + len(payload)).encode()]
    assert body == hdr + payload, "header block must be forwarded byte for byte"
    m = await py_sub.next_msg(timeout=MSG_TIMEOUT)
    assert m.data == payload and m.reply == "reply.to"
    assert m.headers["X-Single"] == "v"
    assert m.headers["X-Multi"] in ("one", "two")
    await pub.close()
    await sub.close()


@async_test
async def test_large_payload_near_max(server: Server):
    nc = await connect(server)
    sub = await nc.subscribe("big")
    await sync(nc)
    near = os.urandom(nc.max_payload - 100)
    exact = os.urandom(nc.max_payload)
    await nc.publish("big", near)
    await nc.publish("big", exact)
    assert (await sub.next_msg(timeout=MSG_TIMEOUT)).data == near
    assert (await sub.next_msg(timeout=MSG_TIMEOUT)).data == exact


@async_test
async def test_over_max_payload_rejected_by_client(server: Server):
    nc = await connect(server)
    with pytest.raises(errors.MaxPayloadError):
        await nc.publish("big", b"x" * (nc.max_payload + 1))
    await sync(nc)
    assert nc.is_connected


@async_test
async def test_over_max_payload_raw_error_and_close(server: Server):
    raw = await Raw.open(server)
    max_payload = raw.info["max_payload"]
    await raw.send(b"PUB big %d\r\n" % (max_payload + 1))
    assert await raw.line() == b"-ERR 'Maximum Payload Violation'\r\n"
    assert await raw.closed_by_server() == b""


@async_test
async def test_unknown_operation_raw(server: Server):
    raw = await Raw.open(server)
    await raw.send(b"FOO bar\r\n")
    assert await raw.line() == b"-ERR 'Unknown Protocol Operation'\r\n"
    assert await raw.closed_by_server() == b""


@async_test
async def test_auto_unsubscribe(server: Server):
    nc = await connect(server)
    sub = await nc.subscribe("auto")
    await sub.unsubscribe(limit=5)
    await sync(nc)
    for i in range(10):
        await nc.publish("auto", str(i).encode())
    await sync(nc)
    msgs = []
    async for m in sub.messages:  # ends once the limit is reached
        msgs.append(m.data)
    assert msgs == [str(i).encode() for i in range(5)]


@async_test
async def test_auto_unsubscribe_raw(server: Server):
    """The server itself stops delivery after N (clients are not trusted to drop extras)."""
    raw = await Raw.open(server)
    await raw.send(b"SUB auto 1\r\nUNSUB 1 3\r\n")
    await raw.send(b"".join(b"PUB auto 1\r\n%d\r\n" % i for i in range(6)) + b"PING\r\n")
    got = [await raw.msg() for _ in range(3)]
    assert [body for _, body in got] == [b"0", b"1", b"2"]
    assert await raw.line() == b"PONG\r\n"
    await raw.send(b"PUB auto 1\r\n9\r\nPING\r\n")
    assert await raw.line() == b"PONG\r\n"
    await raw.close()


# ---------------------------------------------------------------- authentication


@async_test
async def test_token_auth_ok(launcher):
    server = launcher.start("--auth", "s3cret")
    raw = await Raw.open(server, handshake=False)
    assert raw.info.get("auth_required") is True
    await raw.close()
    nc = await connect(server, token="s3cret")
    sub = await nc.subscribe("t")
    await nc.publish("t", b"ok")
    assert (await sub.next_msg(timeout=MSG_TIMEOUT)).data == b"ok"


@pytest.mark.parametrize("token", ["wrong", None])
@async_test
async def test_token_auth_rejected(launcher, token):
    server = launcher.start("--auth", "s3cret")
    kw = {"token": token} if token else {}
    with pytest.raises(errors.Error) as exc:
        await connect(server, **kw)
    assert "authorization violation" in str(exc.value).lower()


@async_test
async def test_user_password_ok(launcher):
    server = launcher.start("--user", "u", "--pass", "p")
    nc = await connect(server, user="u", password="p")
    await sync(nc)
    assert nc.is_connected


@pytest.mark.parametrize("user,password", [("u", "wrong"), ("nobody", "p"), (None, None)])
@async_test
async def test_user_password_rejected(launcher, user, password):
    server = launcher.start("--user", "u", "--pass", "p")
    kw = {"user": user, "password": password} if user else {}
    with pytest.raises(errors.Error) as exc:
        await connect(server, **kw)
    assert "authorization violation" in str(exc.value).lower()


@async_test
async def test_auth_failure_raw(launcher):
    server = launcher.start("--user", "u", "--pass", "p")
    raw = await Raw.open(server, handshake=False)
    await raw.send(b'CONNECT {"verbose":false,"pedantic":false,"user":"u","pass":"bad","protocol":1}\r\nPING\r\n')
    assert await raw.line() == b"-ERR 'Authorization Violation'\r\n"
    assert await raw.closed_by_server() == b""


@async_test
async def test_config_file_users(launcher):
    server = launcher.start(users=[ALICE, BOB])
    a = await connect(server, user="alice", password="pw")
    b = await connect(server, user="bob", password="bobpw")
    await sync(a)
    await sync(b)
    with pytest.raises(errors.Error):
        await connect(server, user="alice", password="bobpw")


# ---------------------------------------------------------------- permissions


@async_test
async def test_publish_permission_violation(launcher):
    server = launcher.start(users=[ALICE, BOB])
    log = ErrorLog()
    alice = await connect(server, user="alice", password="pw", error_cb=log.cb)
    bob = await connect(server, user="bob", password="bobpw")
    watch = await bob.subscribe("orders.>")
    await sync(bob)
    await alice.publish("orders.secret", b"leak")
    err = await log.wait_for('Permissions Violation for Publish to "orders.secret"')
    assert isinstance(err, errors.Error)
    # The connection stays usable and allowed subjects still flow.
    await alice.publish("orders.ok", b"fine")
    await sync(alice)
    assert alice.is_connected
    m = await watch.next_msg(timeout=MSG_TIMEOUT)
    assert (m.subject, m.data) == ("orders.ok", b"fine")
    await assert_no_msg(watch)
    # Outside the allow list is denied too.
    await alice.publish("elsewhere", b"x")
    await log.wait_for('Permissions Violation for Publish to "elsewhere"')
    assert alice.is_connected


@async_test
async def test_subscribe_permission_violation(launcher):
    server = launcher.start(users=[ALICE, BOB])
    log = ErrorLog()
    alice = await connect(server, user="alice", password="pw", error_cb=log.cb)
    bob = await connect(server, user="bob", password="bobpw")
    denied = await alice.subscribe("x")
    await sync(alice)
    await log.wait_for('Permissions Violation for Subscription to "x"')
    assert alice.is_connected
    allowed = await alice.subscribe("orders.new")
    await sync(alice)
    await bob.publish("x", b"must not arrive")
    await bob.publish("orders.new", b"arrives")
    await sync(bob)
    assert (await allowed.next_msg(timeout=MSG_TIMEOUT)).data == b"arrives"
    await assert_no_msg(denied)


@async_test
async def test_permission_violation_texts_raw(launcher):
    """Exact -ERR lines (nats-py lower-cases them, so they are checked here on the wire)."""
    server = launcher.start(users=[ALICE])
    raw = await Raw.open(server, connect={"user": "alice", "pass": "pw"})
    await raw.send(b"PUB orders.secret 2\r\nhi\r\nPING\r\n")
    assert await raw.line() == b"-ERR 'Permissions Violation for Publish to \"orders.secret\"'\r\n"
    assert await raw.line() == b"PONG\r\n"
    for cmd, prefix in ((b"SUB x 1\r\n", b"-ERR 'Permissions Violation for Subscription to \"x\""),
                        (b"SUB x q 2\r\n", b"-ERR 'Permissions Violation for Subscription to \"x\"")):
        await raw.send(cmd + b"PING\r\n")
        ln = await raw.line()
        assert ln.startswith(prefix) and ln.endswith(b"'\r\n"), ln
        assert await raw.line() == b"PONG\r\n"
    # Still connected and allowed traffic flows.
    await raw.send(b"SUB orders.a 3\r\nPUB orders.a 2\r\nok\r\nPING\r\n")
    parts, body = await raw.msg()
    assert parts == [b"MSG", b"orders.a", b"3", b"2"] and body == b"ok"
    assert await raw.line() == b"PONG\r\n"
    await raw.close()


@async_test
async def test_allow_responses(launcher):
    """alice may answer a request on any reply subject, although her publish allow-list
    does not include it (bob's inbox prefix is outside `_INBOX.>`)."""
    server = launcher.start(users=[ALICE, BOB])
    log = ErrorLog()
    alice = await connect(server, user="alice", password="pw", error_cb=log.cb)
    bob = await connect(server, user="bob", password="bobpw", inbox_prefix="replies")

    async def answer(msg):
        await msg.respond(b"done:" + msg.data)

    await alice.subscribe("orders.service", cb=answer)
    await sync(alice)
    reply = await bob.request("orders.service", b"job", timeout=MSG_TIMEOUT)
    assert reply.data == b"done:job"
    # The response permission does not extend to publishing there unprompted.
    await alice.publish("replies.unprompted", b"x")
    await log.wait_for('Permissions Violation for Publish to "replies.unprompted"')


# ---------------------------------------------------------------- monitoring


def test_monitor_healthz(launcher):
    server = launcher.start(monitor=True)
    url = f"http://127.0.0.1:{server.monitor_port}/healthz"
    with urllib.request.urlopen(url, timeout=MSG_TIMEOUT) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"status": "ok"}
