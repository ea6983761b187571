"""Opens N SSE streams and holds them open (benches/sse_throughput.sh, part b).

Each connection sends one GET and reads until its first event has arrived, then stays idle.
Prints "open N" once every stream is open, holds them for --hold seconds (default 60), then
closes them and exits. Usage: python hold_streams.py HOST PORT PATH N [--hold SECONDS]
"""
import asyncio
import sys


async def open_one(host, port, path, sem, opened):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        buf = b""
        while not (b"event:" in buf and b"\n\n" in buf[buf.index(b"event:"):]):
            chunk = await reader.read(4096)
            if not chunk:
                raise RuntimeError("stream closed before its first event")
            buf += chunk
        opened.append((reader, writer))


async def main():
    host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    hold = float(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] == "--hold" else 60.0
    sem = asyncio.Semaphore(256)
    opened = []
    await asyncio.gather(*(open_one(host, port, path, sem, opened) for _ in range(n)))
    print(f"open {len(opened)}", flush=True)
    await asyncio.sleep(hold)
    for _, w in opened:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
