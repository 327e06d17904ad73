"""nkey interop: nats-py signs the INFO nonce with a user seed (`nkeys_seed_str`), against
a server whose config lists the user's public key (sluice's `[[auth.users]] nkey = ...`,
nats-server's `authorization { users = [{nkey: ...}] }`). Raw sockets check the nonce itself
and the signature encodings both servers take. Keys are made per test with `nkeys`."""

from __future__ import annotations

import base64
import json
import os

import nkeys
import pytest
from nats import errors

from interop_server import User
from test_interop import MSG_TIMEOUT, ErrorLog, Raw, assert_no_msg, async_test, connect, sync


def new_user_key() -> tuple[str, str, nkeys.KeyPair]:
    """(public key, seed, key pair) of a fresh user nkey."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()
    kp = nkeys.from_seed(bytearray(seed.encode()))
    return kp.public_key.decode(), seed, kp


def nkey_user(public: str) -> User:
    return User(
        nkey=public,
        publish=(["nk.>"], []),
        subscribe=(["nk.>", "_INBOX.>"], []),
    )


BOB = User("bob", "bobpw")


async def raw_connect(raw: Raw, public: str, sig: str) -> bytes:
    """Sends an nkey CONNECT and a PING; returns the first answer line."""
    opts = {"verbose": False, "pedantic": False, "protocol": 1, "nkey": public, "sig": sig}
    await raw.send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
    return await raw.line()


def url_b64(sig: bytes) -> str:
    return base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


@async_test
async def test_nkey_user_connects_and_permissions_apply(launcher):
    public, seed, _ = new_user_key()
    server = launcher.start(users=[nkey_user(public), BOB])
    log = ErrorLog()
    nc = await connect(server, nkeys_seed_str=seed, error_cb=log.cb)
    sub = await nc.subscribe("nk.>")
    denied = await nc.subscribe("other.>")
    await nc.publish("nk.one", b"mine")
    await nc.publish("other.one", b"not mine")
    await sync(nc)
    await log.wait_for('permissions violation for subscription to "other.>"')
    await log.wait_for('permissions violation for publish to "other.one"')
    bob = await connect(server, user="bob", password="bobpw")
    await bob.publish("nk.two", b"from bob")
    await bob.publish("other.two", b"from bob")
    await sync(bob)
    got = [await sub.next_msg(timeout=MSG_TIMEOUT) for _ in range(2)]
    assert [(m.subject, m.data) for m in got] == [("nk.one", b"mine"), ("nk.two", b"from bob")]
    await assert_no_msg(denied)
    assert nc.is_connected


@async_test
async def test_unknown_nkey_is_refused(launcher):
    public, _, _ = new_user_key()
    _, stranger_seed, _ = new_user_key()
    server = launcher.start(users=[nkey_user(public)])
    with pytest.raises(errors.Error) as exc:
        await connect(server, nkeys_seed_str=stranger_seed)
    assert "authorization violation" in str(exc.value).lower()


@async_test
async def test_nonce_per_connection_and_signature_checks(launcher):
    public, _, kp = new_user_key()
    _, _, stranger = new_user_key()
    server = launcher.start(users=[nkey_user(public)])
    conns = [await Raw.open(server, handshake=False) for _ in range(5)]
    nonces = [c.info.get("nonce") for c in conns]
    for n in nonces:
        assert isinstance(n, str) and len(n) == 15, n
        base64.urlsafe_b64decode(n + "=")  # raw URL-safe base64 of 11 bytes
    assert len(set(nonces)) == len(nonces)
    a, b, c, d, e = conns

    # The right key over its own nonce, in both encodings nats-server accepts.
    assert await raw_connect(a, public, url_b64(kp.sign(nonces[0].encode()))) == b"PONG\r\n"
    std = base64.b64encode(kp.sign(nonces[1].encode())).decode()
    assert await raw_connect(b, public, std) == b"PONG\r\n"
    # Refused, and closed: another connection's nonce, another key's signature, no signature.
    refused = [
        (c, url_b64(kp.sign(nonces[0].encode()))),
        (d, url_b64(stranger.sign(nonces[3].encode()))),
        (e, ""),
    ]
    for raw, sig in refused:
        assert await raw_connect(raw, public, sig) == b"-ERR 'Authorization Violation'\r\n"
        assert await raw.closed_by_server() == b""
    for raw in (a, b):
        await raw.close()


@async_test
async def test_no_nonce_without_nkey_users(launcher):
    server = launcher.start(users=[BOB])
    raw = await Raw.open(server, handshake=False)
    assert "nonce" not in raw.info, raw.info
    await raw.close()
