"""JetStream interop: the unmodified nats-py client (JetStream, KV and Object Store APIs)
against the server under test started with `-js -sd <tmp dir>` (the `js_server`
fixture, conftest.py). See README.md beside tests/interop/ for how to run this against
sluice or nats-server.

Every test gets its own server and store dir. Expected values are exact: stream and
consumer sequences, counts, payload bytes and JetStream `err_code`s. Where the server
acts on something asynchronously (a fire-and-forget ack), the test waits for the state
with `eventually` or orders behind a later round trip (`ack_sync`), not on a sleep. The
only sleeps are where time itself is tested (+WPI against ack_wait) and the grace
before a SIGKILL (nats-server flushes to disk asynchronously).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import random
import signal

import nats
import pytest
from nats.js import api
from nats.js import errors as jserr

from interop_server import Launcher, Server

TEST_TIMEOUT = 60.0  # seconds, per test (persistence tests restart servers)
API_TIMEOUT = 10.0  # seconds for one JetStream API round trip
MSG_TIMEOUT = 10.0  # seconds to wait for one expected message
SHORT = 1.0  # seconds a fetch waits when nothing must arrive
# An empty fetch raises nats.errors.TimeoutError or, on some nats-py code paths, a bare
# asyncio.TimeoutError; the tests expect the latter, which covers both.


# ---------------------------------------------------------------- helpers

_clients: list = []


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


async def connect(server: Server):
    """A nats-py connection (no reconnects) and its JetStream context."""
    nc = await nats.connect(server.url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0)
    _clients.append(nc)
    return nc, nc.jetstream(timeout=API_TIMEOUT)


async def api_request(nc, subject: str, body: dict | bytes = b"") -> dict:
    """A raw $JS.API request; returns the decoded JSON reply."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg = await nc.request(subject, data, timeout=API_TIMEOUT)
    return json.loads(msg.data)


async def eventually(get, check, what: str, timeout: float = MSG_TIMEOUT):
    """Polls `await get()` until `check(value)` holds; fails with the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await get()
        if check(value):
            return value
        if loop.time() > deadline:
            pytest.fail(f"{what} never held; last value: {value}")
        await asyncio.sleep(0.05)


def seqs(ci: api.ConsumerInfo) -> dict:
    """The numbers of a ConsumerInfo, for one exact comparison."""
    return {
        "delivered": (ci.delivered.consumer_seq, ci.delivered.stream_seq),
        "ack_floor": (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq),
        "num_ack_pending": ci.num_ack_pending,
        "num_redelivered": ci.num_redelivered,
        "num_pending": ci.num_pending,
    }


def meta(msg) -> tuple[int, int, int]:
    """(stream seq, consumer seq, num_delivered) from a JetStream message's reply subject."""
    md = msg.metadata
    return md.sequence.stream, md.sequence.consumer, md.num_delivered


async def ack(msg) -> None:
    """An ack the server confirms (AckSync), so later state checks see it."""
    await msg.ack_sync(timeout=MSG_TIMEOUT)


# ---------------------------------------------------------------- streams


@async_test
async def test_add_stream_with_wildcards_and_limits(js_server: Server):
    nc, js = await connect(js_server)
    si = await js.add_stream(
        name="ORDERS", subjects=["orders.*", "ship.>"], max_msgs=100, max_bytes=1 << 20,
        max_msg_size=1024, max_msgs_per_subject=10, max_age=3600, storage=api.StorageType.FILE,
    )
    c = si.config
    assert (c.name, c.subjects) == ("ORDERS", ["orders.*", "ship.>"])
    assert (c.max_msgs, c.max_bytes, c.max_msg_size, c.max_msgs_per_subject) == (100, 1 << 20, 1024, 10)
    assert c.max_age == 3600.0
    assert (c.storage, c.retention, c.discard, c.num_replicas) == (
        api.StorageType.FILE, api.RetentionPolicy.LIMITS, api.DiscardPolicy.OLD, 1)
    assert (si.state.messages, si.state.first_seq, si.state.last_seq, si.state.consumer_count) == (0, 0, 0, 0)

    a = await js.publish("orders.new", b"one")
    assert (a.stream, a.seq, a.duplicate) == ("ORDERS", 1, None)
    a = await js.publish("ship.eu.de", b"two")
    assert (a.stream, a.seq) == ("ORDERS", 2)
    for subject in ("orders.new.x", "ship", "orders"):  # not captured by orders.* / ship.>
        with pytest.raises(jserr.NoStreamResponseError):
            await js.publish(subject, b"lost")

    si = await js.stream_info("ORDERS")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (2, 1, 2)
    assert si.state.bytes > 0
    m = await js.get_msg("ORDERS", 2)
    assert (m.subject, m.seq, m.data) == ("ship.eu.de", 2, b"two")

    # No subjects: the stream captures its own name.
    si = await js.add_stream(name="plain")
    assert si.config.subjects == ["plain"]
    assert (await js.publish("plain", b"p")).seq == 1


@async_test
async def test_publish_ack_and_msg_id_dedupe(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="DEDUPE", subjects=["dd.>"], duplicate_window=60)
    first = await js.publish("dd.a", b"x", headers={"Nats-Msg-Id": "id-1"})
    assert (first.stream, first.seq, first.duplicate) == ("DEDUPE", 1, None)
    again = await js.publish("dd.a", b"x", headers={"Nats-Msg-Id": "id-1"})
    assert (again.stream, again.seq, again.duplicate) == ("DEDUPE", 1, True)
    # Same id on another subject of the stream is still a duplicate.
    other = await js.publish("dd.b", b"y", headers={"Nats-Msg-Id": "id-1"})
    assert (other.seq, other.duplicate) == (1, True)
    second = await js.publish("dd.a", b"x", headers={"Nats-Msg-Id": "id-2"})
    assert (second.seq, second.duplicate) == (2, None)
    plain = await js.publish("dd.a", b"z")
    assert plain.seq == 3
    si = await js.stream_info("DEDUPE")
    assert (si.state.messages, si.state.last_seq) == (3, 3)
    assert si.config.duplicate_window == 60.0
    m = await js.get_msg("DEDUPE", 1)
    assert m.data == b"x" and m.headers["Nats-Msg-Id"] == "id-1"


@async_test
async def test_expected_header_failures(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="EXP", subjects=["exp.*"])
    assert (await js.publish("exp.a", b"1", headers={"Nats-Msg-Id": "m1"})).seq == 1
    assert (await js.publish("exp.b", b"2")).seq == 2

    with pytest.raises(jserr.BadRequestError) as e:
        await js.publish("exp.a", b"3", headers={"Nats-Expected-Last-Sequence": "1"})
    assert (e.value.code, e.value.err_code) == (400, 10071)
    ok = await js.publish("exp.a", b"3", headers={"Nats-Expected-Last-Sequence": "2"})
    assert ok.seq == 3

    with pytest.raises(jserr.BadRequestError) as e:  # last on exp.b is 2, not 3
        await js.publish("exp.b", b"4", headers={"Nats-Expected-Last-Subject-Sequence": "3"})
    assert e.value.err_code == 10071
    assert (await js.publish("exp.b", b"4", headers={"Nats-Expected-Last-Subject-Sequence": "2"})).seq == 4

    with pytest.raises(jserr.BadRequestError) as e:
        await js.publish("exp.a", b"5", headers={"Nats-Expected-Last-Msg-Id": "nope"})
    assert e.value.err_code == 10070
    with pytest.raises(jserr.BadRequestError) as e:
        await js.publish("exp.a", b"5", stream="OTHER")  # Nats-Expected-Stream
    assert e.value.err_code == 10060
    assert (await js.publish("exp.a", b"5", stream="EXP")).seq == 5
    si = await js.stream_info("EXP")  # the rejected ones were not stored
    assert (si.state.messages, si.state.last_seq) == (5, 5)


@async_test
async def test_stream_limits_discard_old_and_new(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="OLD", subjects=["old"], max_msgs=3)
    for i in range(1, 6):
        assert (await js.publish("old", str(i).encode())).seq == i
    si = await js.stream_info("OLD")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (3, 3, 5)
    assert (await js.get_msg("OLD", 3)).data == b"3"
    with pytest.raises(jserr.NotFoundError) as e:
        await js.get_msg("OLD", 2)
    assert e.value.err_code == 10037

    await js.add_stream(name="PER", subjects=["per.*"], max_msgs_per_subject=2)
    for subject in ("per.a", "per.a", "per.a", "per.b"):
        await js.publish(subject, b"v")
    si = await js.stream_info("PER")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (3, 2, 4)

    await js.add_stream(name="NEW", subjects=["new"], max_msgs=2, discard=api.DiscardPolicy.NEW)
    await js.publish("new", b"1")
    await js.publish("new", b"2")
    with pytest.raises(jserr.APIError) as e:
        await js.publish("new", b"3")
    assert e.value.err_code == 10077
    si = await js.stream_info("NEW")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (2, 1, 2)


@async_test
async def test_stream_names_info_purge_delete(js_server: Server):
    nc, js = await connect(js_server)
    for name in ("S1", "S2", "S3"):
        await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    names = await api_request(nc, "$JS.API.STREAM.NAMES")
    assert (names["total"], sorted(names["streams"])) == (3, ["S1", "S2", "S3"])
    names = await api_request(nc, "$JS.API.STREAM.NAMES", {"subject": "s2.x"})
    assert names["streams"] == ["S2"]
    assert sorted(si.config.name for si in await js.streams_info()) == ["S1", "S2", "S3"]
    assert (await js.account_info()).streams == 3

    for i in range(5):
        await js.publish(f"s1.{'a' if i % 2 else 'b'}", str(i).encode())  # b a b a b
    assert await js.purge_stream("S1", subject="s1.a")
    si = await js.stream_info("S1")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (3, 1, 5)
    assert await js.purge_stream("S1")
    si = await js.stream_info("S1")
    assert (si.state.messages, si.state.first_seq, si.state.last_seq) == (0, 6, 5)
    assert (await js.publish("s1.c", b"after")).seq == 6  # sequences continue

    assert await js.delete_stream("S2") is True
    with pytest.raises(jserr.NotFoundError) as e:
        await js.stream_info("S2")
    assert (e.value.code, e.value.err_code) == (404, 10059)
    with pytest.raises(jserr.NotFoundError) as e:
        await js.delete_stream("S2")
    assert e.value.err_code == 10059
    with pytest.raises(jserr.NoStreamResponseError):
        await js.publish("s2.x", b"gone")
    assert sorted(si.config.name for si in await js.streams_info()) == ["S1", "S3"]


# ---------------------------------------------------------------- pull consumers


@async_test
async def test_pull_fetch_ack_and_empty_fetch_times_out(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="JOBS", subjects=["jobs.>"])
    for i in range(1, 4):
        await js.publish(f"jobs.{i}", f"job-{i}".encode(), headers={"X-N": str(i)})
    sub = await js.pull_subscribe("jobs.>", durable="worker", stream="JOBS")
    msgs = await sub.fetch(3, timeout=MSG_TIMEOUT)
    assert [(m.subject, m.data, m.headers["X-N"]) for m in msgs] == [
        ("jobs.1", b"job-1", "1"), ("jobs.2", b"job-2", "2"), ("jobs.3", b"job-3", "3")]
    assert [meta(m) for m in msgs] == [(1, 1, 1), (2, 2, 1), (3, 3, 1)]
    assert [m.metadata.num_pending for m in msgs] == [2, 1, 0]
    assert {(m.metadata.stream, m.metadata.consumer) for m in msgs} == {("JOBS", "worker")}
    assert all(m.reply.startswith("$JS.ACK.JOBS.worker.") for m in msgs)
    for m in msgs:
        await ack(m)

    with pytest.raises(asyncio.TimeoutError):
        await sub.fetch(1, timeout=SHORT)
    with pytest.raises(asyncio.TimeoutError):
        await sub.fetch(5, timeout=SHORT)

    waiting = asyncio.create_task(sub.fetch(1, timeout=MSG_TIMEOUT))
    await js.publish("jobs.4", b"job-4")
    [m] = await waiting
    assert (m.subject, m.data, meta(m)) == ("jobs.4", b"job-4", (4, 4, 1))
    await ack(m)
    ci = await js.consumer_info("JOBS", "worker")
    assert seqs(ci) == {"delivered": (4, 4), "ack_floor": (4, 4), "num_ack_pending": 0,
                        "num_redelivered": 0, "num_pending": 0}
    assert (ci.config.durable_name, ci.config.ack_policy, ci.config.filter_subject) == (
        "worker", api.AckPolicy.EXPLICIT, "jobs.>")


@async_test
async def test_nak_redelivers_and_term_stops_redelivery(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="Q", subjects=["q"])
    await js.publish("q", b"a")
    sub = await js.pull_subscribe("q", durable="nq", stream="Q")
    [m] = await sub.fetch(1, timeout=MSG_TIMEOUT)
    assert (m.data, meta(m)) == (b"a", (1, 1, 1))
    await m.nak()
    [r] = await sub.fetch(1, timeout=MSG_TIMEOUT)  # the only message, so it must be the redelivery
    assert (r.data, meta(r)) == (b"a", (1, 2, 2))
    assert r.metadata.num_delivered == 2
    await r.term()
    await js.publish("q", b"b")
    [b] = await sub.fetch(1, timeout=MSG_TIMEOUT)
    assert (b.data, meta(b)) == (b"b", (2, 3, 1))
    await ack(b)  # acks are processed in order: the term is done too
    with pytest.raises(asyncio.TimeoutError):
        await sub.fetch(1, timeout=SHORT)
    ci = await js.consumer_info("Q", "nq")
    assert seqs(ci) == {"delivered": (3, 2), "ack_floor": (3, 2), "num_ack_pending": 0,
                        "num_redelivered": 0, "num_pending": 0}


@async_test
async def test_in_progress_holds_off_redelivery(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="SLOW", subjects=["slow"])
    await js.publish("slow", b"work")
    sub = await js.pull_subscribe("slow", durable="w", stream="SLOW", config=api.ConsumerConfig(ack_wait=3))
    [m] = await sub.fetch(1, timeout=MSG_TIMEOUT)
    assert meta(m) == (1, 1, 1)

    async def keep_working():  # +WPI every 0.5 s for 4.5 s, longer than the ack wait
        for _ in range(9):
            await asyncio.sleep(0.5)
            await m.in_progress()

    worker = asyncio.create_task(keep_working())
    with pytest.raises(asyncio.TimeoutError):  # without the +WPIs it would be back after 3 s
        await sub.fetch(1, timeout=4.0)
    await worker
    # No more progress reports: redelivered one ack wait later.
    [r] = await sub.fetch(1, timeout=MSG_TIMEOUT)
    assert (r.data, meta(r)) == (b"work", (1, 2, 2))
    await ack(r)


@async_test
async def test_consumer_info_after_known_operations(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="N", subjects=["n.*"])
    for i in range(10):
        await js.publish(f"n.{i}", str(i).encode())
    sub = await js.pull_subscribe("n.*", durable="cnt", stream="N")
    ci = await js.consumer_info("N", "cnt")
    assert seqs(ci) == {"delivered": (0, 0), "ack_floor": (0, 0), "num_ack_pending": 0,
                        "num_redelivered": 0, "num_pending": 10}

    msgs = await sub.fetch(5, timeout=MSG_TIMEOUT)
    assert [meta(m) for m in msgs] == [(i, i, 1) for i in range(1, 6)]
    assert seqs(await js.consumer_info("N", "cnt")) == {
        "delivered": (5, 5), "ack_floor": (0, 0), "num_ack_pending": 5, "num_redelivered": 0, "num_pending": 5}

    await ack(msgs[0])
    await ack(msgs[1])
    await ack(msgs[3])  # a gap: seq 3 is still pending, so the floor stays at 2
    assert seqs(await js.consumer_info("N", "cnt")) == {
        "delivered": (5, 5), "ack_floor": (2, 2), "num_ack_pending": 2, "num_redelivered": 0, "num_pending": 5}

    await msgs[2].term()  # counts as done: the floor moves over 3 and 4
    await msgs[4].nak()
    ci = await eventually(lambda: js.consumer_info("N", "cnt"),
                          lambda ci: ci.ack_floor.stream_seq == 4, "ack floor 4 after +TERM")
    assert ci.num_ack_pending == 1
    [r] = await sub.fetch(1, timeout=MSG_TIMEOUT)  # the nak'd one comes before seq 6
    assert meta(r) == (5, 6, 2)
    assert seqs(await js.consumer_info("N", "cnt")) == {
        "delivered": (6, 5), "ack_floor": (4, 4), "num_ack_pending": 1, "num_redelivered": 1, "num_pending": 5}
    await ack(r)
    assert seqs(await js.consumer_info("N", "cnt")) == {
        "delivered": (6, 5), "ack_floor": (6, 5), "num_ack_pending": 0, "num_redelivered": 0, "num_pending": 5}

    rest = await sub.fetch(5, timeout=MSG_TIMEOUT)
    assert [meta(m) for m in rest] == [(s, s + 1, 1) for s in range(6, 11)]
    assert seqs(await js.consumer_info("N", "cnt")) == {
        "delivered": (11, 10), "ack_floor": (6, 5), "num_ack_pending": 5, "num_redelivered": 0, "num_pending": 0}
    names = await api_request(nc, "$JS.API.CONSUMER.NAMES.N")
    assert (names["total"], names["consumers"]) == (1, ["cnt"])
    assert await js.delete_consumer("N", "cnt") is True
    with pytest.raises(jserr.NotFoundError) as e:
        await js.consumer_info("N", "cnt")
    assert e.value.err_code == 10014


# ---------------------------------------------------------------- push consumers


@async_test
async def test_push_durable_consumer_resumes_after_resubscribe(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="P", subjects=["p.>"])
    for i in range(1, 4):
        await js.publish(f"p.{i}", f"m{i}".encode())
    sub = await js.subscribe("p.>", durable="pd", stream="P", manual_ack=True)
    msgs = [await sub.next_msg(timeout=MSG_TIMEOUT) for _ in range(3)]
    assert [(m.subject, m.data, meta(m)) for m in msgs] == [
        ("p.1", b"m1", (1, 1, 1)), ("p.2", b"m2", (2, 2, 1)), ("p.3", b"m3", (3, 3, 1))]
    for m in msgs:
        await ack(m)
    ci = await sub.consumer_info()
    assert (ci.name, ci.config.durable_name, ci.push_bound) == ("pd", "pd", True)
    assert ci.config.deliver_subject.startswith("_INBOX.")
    assert seqs(ci)["ack_floor"] == (3, 3)

    await sub.unsubscribe()
    await eventually(lambda: js.consumer_info("P", "pd"), lambda ci: not ci.push_bound, "push_bound false")
    await js.publish("p.4", b"m4")
    await js.publish("p.5", b"m5")
    ci = await js.consumer_info("P", "pd")  # nobody listens: nothing was delivered
    assert (ci.num_pending, ci.delivered.stream_seq) == (2, 3)

    sub = await js.subscribe("p.>", durable="pd", stream="P", manual_ack=True)
    msgs = [await sub.next_msg(timeout=MSG_TIMEOUT) for _ in range(2)]
    assert [(m.data, meta(m)) for m in msgs] == [(b"m4", (4, 4, 1)), (b"m5", (5, 5, 1))]
    for m in msgs:
        await ack(m)
    assert seqs(await sub.consumer_info()) == {
        "delivered": (5, 5), "ack_floor": (5, 5), "num_ack_pending": 0, "num_redelivered": 0, "num_pending": 0}


@async_test
async def test_push_ephemeral_consumer_with_callback_auto_acks(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="E", subjects=["e.*"])
    await js.publish("e.old", b"before")
    got: asyncio.Queue = asyncio.Queue()

    async def cb(msg):
        await got.put(msg)

    sub = await js.subscribe("e.*", cb=cb)  # deliver all, acked after cb returns
    new_only = await js.subscribe("e.*", deliver_policy=api.DeliverPolicy.NEW, manual_ack=True)
    await js.publish("e.a", b"1")
    await js.publish("e.b", b"2")
    msgs = [await asyncio.wait_for(got.get(), MSG_TIMEOUT) for _ in range(3)]
    assert [(m.subject, m.data, meta(m)) for m in msgs] == [
        ("e.old", b"before", (1, 1, 1)), ("e.a", b"1", (2, 2, 1)), ("e.b", b"2", (3, 3, 1))]
    fresh = [await new_only.next_msg(timeout=MSG_TIMEOUT) for _ in range(2)]
    assert [(m.data, meta(m)) for m in fresh] == [(b"1", (2, 1, 1)), (b"2", (3, 2, 1))]

    ci = await eventually(sub.consumer_info, lambda ci: ci.ack_floor.stream_seq == 3, "auto-acks processed")
    assert ci.config.durable_name is None and ci.name
    assert (ci.num_ack_pending, ci.num_pending, ci.push_bound) == (0, 0, True)
    assert (await js.stream_info("E")).state.consumer_count == 2


@async_test
async def test_ordered_consumer_delivers_everything_in_order(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="ORD", subjects=["ord.>"])
    payloads = [bytes([i]) * 16384 for i in range(100)]  # 1.6 MB: enough for flow control
    for i, p in enumerate(payloads[:60]):
        await js.publish(f"ord.{i % 3}", p)
    sub = await js.subscribe("ord.>", ordered_consumer=True)
    first = [await sub.next_msg(timeout=MSG_TIMEOUT) for _ in range(60)]
    for i, p in enumerate(payloads[60:], start=60):
        await js.publish(f"ord.{i % 3}", p)
    live = [await sub.next_msg(timeout=MSG_TIMEOUT) for _ in range(40)]
    msgs = first + live
    assert [m.data for m in msgs] == payloads
    assert [m.subject for m in msgs] == [f"ord.{i % 3}" for i in range(100)]
    assert [meta(m) for m in msgs] == [(i, i, 1) for i in range(1, 101)]
    ci = await sub.consumer_info()
    assert (ci.config.ack_policy, ci.config.flow_control, ci.config.max_deliver) == (api.AckPolicy.NONE, True, 1)
    assert ci.config.durable_name is None
    assert (ci.num_pending, ci.num_ack_pending) == (0, 0)


# ---------------------------------------------------------------- key/value


@pytest.mark.parametrize("direct", [False, True], ids=["msg-get", "direct-get"])
@async_test
async def test_key_value_operations(js_server: Server, direct: bool):
    nc, js = await connect(js_server)
    kv = await js.create_key_value(bucket="cfg", history=5, direct=direct)
    si = await js.stream_info("KV_cfg")
    c = si.config
    assert (c.subjects, c.max_msgs_per_subject, c.discard) == (["$KV.cfg.>"], 5, api.DiscardPolicy.NEW)
    assert (c.allow_rollup_hdrs, c.deny_delete, bool(c.allow_direct)) == (True, True, direct)
    assert (await js.key_value("cfg"))._stream == "KV_cfg"

    assert await kv.put("color", b"red") == 1
    assert await kv.put("size", b"L") == 2
    e = await kv.get("color")
    assert (e.key, e.value, e.revision) == ("color", b"red", 1)
    assert await kv.update("color", b"blue", last=1) == 3
    with pytest.raises(jserr.KeyWrongLastSequenceError):
        await kv.update("color", b"green", last=1)
    with pytest.raises(jserr.KeyWrongLastSequenceError):
        await kv.create("color", b"again")
    assert await kv.create("shape", b"round") == 4
    assert (await kv.get("color", revision=1)).value == b"red"
    with pytest.raises(jserr.KeyNotFoundError):
        await kv.get("missing")

    hist = await kv.history("color")
    assert [(h.value, h.revision, h.operation) for h in hist] == [(b"red", 1, None), (b"blue", 3, None)]

    assert await kv.delete("size")
    with pytest.raises(jserr.KeyNotFoundError):
        await kv.get("size")
    assert sorted(await kv.keys()) == ["color", "shape"]
    assert [(h.revision, h.operation) for h in await kv.history("size")] == [(2, None), (5, "DEL")]

    assert await kv.purge("color")  # rollup: only the purge marker is left
    with pytest.raises(jserr.KeyNotFoundError):
        await kv.get("color")
    assert [(h.revision, h.operation) for h in await kv.history("color")] == [(6, "PURGE")]
    assert await kv.create("size", b"M") == 7  # re-create over a delete marker
    assert sorted(await kv.keys()) == ["shape", "size"]
    m = await js.get_last_msg("KV_cfg", "$KV.cfg.color")
    assert (m.seq, m.data or b"", m.headers["KV-Operation"], m.headers["Nats-Rollup"]) == (6, b"", "PURGE", "sub")

    status = await kv.status()
    assert (status.bucket, status.history, status.values) == ("cfg", 5, 5)  # 6, 2, 5, 7, 4
    assert await js.delete_key_value("cfg")
    with pytest.raises(jserr.BucketNotFoundError):
        await js.key_value("cfg")


@async_test
async def test_key_value_watch_receives_updates(js_server: Server):
    nc, js = await connect(js_server)
    kv = await js.create_key_value(bucket="w", history=3)
    await kv.put("a", b"1")
    await kv.put("a", b"2")
    w = await kv.watchall()
    e = await w.updates(timeout=MSG_TIMEOUT)  # only the latest value per key
    assert (e.key, e.value, e.revision, e.operation) == ("a", b"2", 2, None)
    assert await w.updates(timeout=MSG_TIMEOUT) is None  # end of the initial values

    await kv.put("b", b"3")
    await kv.put("a", b"4")
    await kv.delete("b")
    await kv.purge("a")
    got = [await w.updates(timeout=MSG_TIMEOUT) for _ in range(4)]
    assert [(e.key, e.value, e.revision, e.operation) for e in got] == [
        ("b", b"3", 3, None), ("a", b"4", 4, None), ("b", b"", 5, "DEL"), ("a", b"", 6, "PURGE")]
    await w.stop()

    one = await kv.watch("c.*")
    assert await one.updates(timeout=MSG_TIMEOUT) is None  # nothing yet
    await kv.put("x", b"ignored")
    await kv.put("c.1", b"seen")
    e = await one.updates(timeout=MSG_TIMEOUT)
    assert (e.key, e.value, e.revision) == ("c.1", b"seen", 8)
    await one.stop()


# ---------------------------------------------------------------- object store


@async_test
async def test_object_store_put_get_list_delete(js_server: Server):
    nc, js = await connect(js_server)
    obs = await js.create_object_store("files")
    si = await js.stream_info("OBJ_files")
    assert (si.config.subjects, si.config.allow_rollup_hdrs) == (["$O.files.C.>", "$O.files.M.>"], True)

    data = random.Random(7).randbytes(1_000_003)  # 8 chunks of 128 KiB, the last partial
    digest = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
    info = await obs.put("blob.bin", data)
    assert (info.name, info.bucket, info.size, info.chunks, info.digest) == (
        "blob.bin", "files", 1_000_003, 8, digest)
    got = await obs.get("blob.bin")
    assert got.data == data
    gi = await obs.get_info("blob.bin")
    assert (gi.name, gi.size, gi.chunks, gi.digest, gi.nuid, bool(gi.deleted)) == (
        "blob.bin", 1_000_003, 8, digest, info.nuid, False)
    assert (await js.stream_info("OBJ_files")).state.messages == 9  # 8 chunks + 1 meta

    await obs.put("small.txt", b"hello")
    assert (await obs.get("small.txt")).data == b"hello"
    assert sorted(i.name for i in await obs.list()) == ["blob.bin", "small.txt"]

    await obs.delete("blob.bin")
    with pytest.raises(jserr.ObjectNotFoundError):
        await obs.get_info("blob.bin")
    # The chunks are purged; the meta message is replaced by a deleted marker (rollup).
    assert (await js.stream_info("OBJ_files")).state.messages == 3
    assert [i.name for i in await obs.list(ignore_deletes=True)] == ["small.txt"]
    assert await js.delete_object_store("files")


# ---------------------------------------------------------------- persistence


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
@async_test
async def test_stream_and_durable_consumer_survive_restart(launcher: Launcher, sig: int):
    srv = launcher.start(jetstream=True)
    nc, js = await connect(srv)
    await js.add_stream(name="DUR", subjects=["dur.>"], duplicate_window=120)
    for i in range(1, 6):
        await js.publish(f"dur.{i}", f"v{i}".encode(), headers={"Nats-Msg-Id": f"id-{i}"})
    sub = await js.pull_subscribe("dur.>", durable="keeper", stream="DUR", config=api.ConsumerConfig(ack_wait=2))
    msgs = await sub.fetch(4, timeout=MSG_TIMEOUT)
    assert [meta(m) for m in msgs] == [(i, i, 1) for i in range(1, 5)]
    for m in msgs[:3]:
        await ack(m)  # 4 stays delivered but unacked, 5 is never delivered
    before = seqs(await js.consumer_info("DUR", "keeper"))
    assert before == {"delivered": (4, 4), "ack_floor": (3, 3), "num_ack_pending": 1,
                      "num_redelivered": 0, "num_pending": 1}
    await nc.close()
    if sig == signal.SIGKILL:
        # nats-server writes messages and consumer state to disk asynchronously
        # (consumer state within ~100 ms); a crash test is about recovery, not that race.
        await asyncio.sleep(1.0)
    srv = await asyncio.to_thread(launcher.restart, srv, sig)

    nc, js = await connect(srv)
    si = await js.stream_info("DUR")
    assert (si.config.subjects, si.config.duplicate_window) == (["dur.>"], 120.0)
    assert (si.state.messages, si.state.first_seq, si.state.last_seq, si.state.consumer_count) == (5, 1, 5, 1)
    assert (await js.get_msg("DUR", 5)).data == b"v5"
    ci = await js.consumer_info("DUR", "keeper")
    assert (ci.config.durable_name, ci.config.ack_wait) == ("keeper", 2.0)
    assert (ci.ack_floor.stream_seq, ci.delivered.stream_seq, ci.num_pending) == (3, 4, 1)

    sub = await js.pull_subscribe("dur.>", durable="keeper", stream="DUR")
    got = {}
    while len(got) < 2:  # 5 is ready now, 4 comes back when its ack wait ends
        for m in await sub.fetch(1, timeout=MSG_TIMEOUT):
            got[m.metadata.sequence.stream] = m
    assert sorted(got) == [4, 5]
    assert (got[4].data, got[4].metadata.num_delivered) == (b"v4", 2)
    assert (got[5].data, got[5].metadata.num_delivered) == (b"v5", 1)
    for m in got.values():
        await ack(m)
    ci = await js.consumer_info("DUR", "keeper")
    assert (ci.ack_floor.stream_seq, ci.num_ack_pending, ci.num_pending) == (5, 0, 0)

    dup = await js.publish("dur.5", b"v5", headers={"Nats-Msg-Id": "id-5"})  # the dedupe window survived
    assert (dup.seq, dup.duplicate) == (5, True)
    assert (await js.publish("dur.6", b"v6")).seq == 6


# ---------------------------------------------------------------- bad input


@async_test
async def test_invalid_stream_names_are_rejected(js_server: Server):
    nc, js = await connect(js_server)
    # nats-py refuses '.', '*', '>' itself, so the request is sent by hand.
    resp = await api_request(nc, "$JS.API.STREAM.CREATE.bad*name", {"name": "bad*name", "subjects": ["bn"]})
    assert resp["error"]["err_code"] == 10052, resp
    resp = await api_request(nc, "$JS.API.STREAM.CREATE.one", {"name": "two", "subjects": ["bn"]})
    assert resp["error"]["err_code"] == 10056, resp  # name in subject does not match the body
    resp = await api_request(nc, "$JS.API.STREAM.CREATE.nojson", b"{not json")
    assert resp["error"]["err_code"] == 10025, resp
    with pytest.raises(jserr.APIError) as e:
        await js.add_stream(name="x" * 256, subjects=["long"])
    assert e.value.err_code == 10052
    assert (await js.account_info()).streams == 0


@async_test
async def test_overlapping_subjects_and_conflicting_config_are_rejected(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="A", subjects=["ov.*"])
    for subjects in (["ov.x"], ["ov.>"], ["other", "ov.y"]):
        with pytest.raises(jserr.BadRequestError) as e:
            await js.add_stream(name="B", subjects=subjects)
        assert (e.value.code, e.value.err_code) == (400, 10065)
    assert (await js.add_stream(name="A", subjects=["ov.*"])).config.name == "A"  # same config: fine
    with pytest.raises(jserr.BadRequestError) as e:
        await js.add_stream(name="A", subjects=["ov.*"], max_msgs=5)
    assert e.value.err_code == 10058
    assert (await js.account_info()).streams == 1


@async_test
async def test_consumer_on_missing_stream(js_server: Server):
    nc, js = await connect(js_server)
    with pytest.raises(jserr.NotFoundError) as e:
        await js.add_consumer("NOPE", durable_name="d", ack_policy=api.AckPolicy.EXPLICIT)
    assert (e.value.code, e.value.err_code) == (404, 10059)
    with pytest.raises(jserr.NotFoundError) as e:
        await js.consumer_info("NOPE", "d")
    assert e.value.err_code == 10059
    await js.add_stream(name="HERE", subjects=["here"])
    with pytest.raises(jserr.NotFoundError) as e:
        await js.consumer_info("HERE", "d")
    assert e.value.err_code == 10014


@async_test
async def test_publish_over_max_msg_size(js_server: Server):
    nc, js = await connect(js_server)
    await js.add_stream(name="SMALL", subjects=["small"], max_msg_size=16)
    assert (await js.publish("small", b"x" * 16)).seq == 1
    with pytest.raises(jserr.BadRequestError) as e:
        await js.publish("small", b"x" * 17)
    assert (e.value.code, e.value.err_code) == (400, 10054)
    si = await js.stream_info("SMALL")
    assert (si.state.messages, si.state.last_seq) == (1, 1)


@async_test
async def test_no_jetstream_without_the_flag(server: Server):
    nc, js = await connect(server)
    with pytest.raises(jserr.ServiceUnavailableError):  # nobody answers $JS.API.INFO
        await js.account_info()
    with pytest.raises(jserr.NoStreamResponseError):
        await js.publish("anything", b"x")
