"""Resident memory per idle client connection, for any server binary that takes nats-server's
flags. Usage: python3 benches/idle_memory.py BINARY N   (run it for sluice and for nats-server)."""
import asyncio, subprocess, re, sys, time, os
async def main(binary, n):
    p = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", "-1"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    port = None
    for line in p.stderr:
        m = re.search(rb"Listening for client connections on [\d.]+:(\d+)", line)
        if m: port = int(m.group(1))
        if b"Server is ready" in line: break
    def rss():
        return int(open(f"/proc/{p.pid}/statm").read().split()[1]) * 4096
    base = rss()
    conns = []
    for i in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        await r.readline()
        w.write(b'CONNECT {"verbose":false}\r\nSUB x.%d 1\r\nPING\r\n' % i)
        await w.drain()
        await r.readline()
        conns.append((r, w))
    await asyncio.sleep(1)
    after = rss()
    print(f"{os.path.basename(binary)}: base {base/1e6:.1f} MB, with {n} idle conns {after/1e6:.1f} MB, per conn {(after-base)/n/1024:.1f} KiB")
    p.kill()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
