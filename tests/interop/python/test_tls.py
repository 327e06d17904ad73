"""TLS interop: the unmodified nats-py client over TLS, with server authentication and with
mutual TLS, against the server under test started with nats-server's own flags (`--tls
--tlscert --tlskey`, `--tlsverify --tlscacert`), so the same test runs against sluice and
nats-server. Certificates are made per test with trustme."""

from __future__ import annotations

import asyncio
import ssl

import nats
import pytest
import trustme

TIMEOUT = 10.0


@pytest.fixture
def pki(tmp_path):
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("alice@example.com")
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key", "ccert", "ckey")}
    ca.cert_pem.write_to_path(paths["ca"])
    server.cert_chain_pems[0].write_to_path(paths["cert"])
    server.private_key_pem.write_to_path(paths["key"])
    client.cert_chain_pems[0].write_to_path(paths["ccert"])
    client.private_key_pem.write_to_path(paths["ckey"])
    return {k: str(v) for k, v in paths.items()}


def context(pki, with_client_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if with_client_cert:
        ctx.load_cert_chain(pki["ccert"], pki["ckey"])
    return ctx


async def round_trip(nc) -> None:
    sub = await nc.subscribe("tls.py")
    await nc.flush()
    await nc.publish("tls.py", b"secret")
    msg = await sub.next_msg(timeout=TIMEOUT)
    assert msg.data == b"secret"


async def connect(srv, ctx):
    return await nats.connect(
        f"tls://127.0.0.1:{srv.port}",
        tls=ctx,
        tls_hostname="127.0.0.1",
        allow_reconnect=False,
        connect_timeout=5,
    )


def test_server_tls(launcher, pki):
    srv = launcher.start("--tls", "--tlscert", pki["cert"], "--tlskey", pki["key"])

    async def body():
        nc = await connect(srv, context(pki, False))
        try:
            assert nc.connected_url.scheme == "tls"
            await round_trip(nc)
        finally:
            await nc.close()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_mutual_tls(launcher, pki):
    srv = launcher.start(
        "--tlsverify",
        "--tlscert",
        pki["cert"],
        "--tlskey",
        pki["key"],
        "--tlscacert",
        pki["ca"],
    )

    async def body():
        nc = await connect(srv, context(pki, True))
        try:
            await round_trip(nc)
        finally:
            await nc.close()
        # Without a client certificate the handshake is refused.
        with pytest.raises(Exception):
            bad = await connect(srv, context(pki, False))
            await bad.flush(timeout=2)
            await bad.close()

    asyncio.run(asyncio.wait_for(body(), 30))
