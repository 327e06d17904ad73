"""Answers every request published through the server under test, so that schemathesis's
`POST /v1/request/{subject}` gets a reply (200) rather than 503 (no responders), and creates
the ORDERS stream (with one message) that `GET /v1/streams/{name}` reads.

Usage: responder.py HOST:PORT TOKEN. Prints "ready" once set up; runs until killed.

A few lines of the NATS protocol rather than a client library: subjects may hold any byte
but space, tab, CR, LF and form feed, and some clients' parsers choke on others (nats-py
treats a vertical tab as a separator and reconnects), which would leave requests without a
responder for a moment.
"""

import asyncio
import json
import sys


async def main(address: str, token: str) -> None:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await reader.readuntil(b"\r\n")  # INFO
    connect = {"auth_token": token, "verbose": False, "pedantic": False, "headers": True}
    stream = json.dumps({"name": "ORDERS", "subjects": ["orders.>"]}).encode()
    writer.write(
        b"CONNECT " + json.dumps(connect).encode() + b"\r\n"
        b"SUB > 1\r\n"
        b"PUB $JS.API.STREAM.CREATE.ORDERS _setup.1 %d\r\n%s\r\n" % (len(stream), stream)
        + b"PUB orders.new _setup.2 5\r\nfirst\r\n"
        b"PING\r\n"
    )
    await writer.drain()
    ready = False
    while True:
        line = (await reader.readuntil(b"\r\n"))[:-2]
        verb, _, rest = line.partition(b" ")
        if verb == b"PING":
            writer.write(b"PONG\r\n")
        elif verb == b"PONG" and not ready:
            ready = True
            print("ready", flush=True)
        elif verb == b"-ERR":
            print(line.decode(errors="replace"), file=sys.stderr, flush=True)
        elif verb in (b"MSG", b"HMSG"):
            # MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr> <total>
            args = rest.split(b" ")
            sizes = 2 if verb == b"HMSG" else 1
            subject = args[0]
            reply = args[2] if len(args) == 3 + sizes else None
            total = int(args[-1])
            header = int(args[-2]) if verb == b"HMSG" else 0
            data = (await reader.readexactly(total + 2))[header:total]
            if reply and not subject.startswith(b"$JS.") and not reply.startswith(b"_setup."):
                writer.write(b"PUB %s %d\r\n%s\r\n" % (reply, len(data), data))
        await writer.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
