"""Opens N SSE streams and holds them open (benches/sse_throughput.sh, part b).

Each connection sends one GET and reads until its first event has arrived, then stays idle.
Prints "open N" once every stream is open, holds them for --hold seconds (default 60), then
closes them and exits. Usage: python hold_streams.py HOST PORT PATH N [--hold SECONDS]
[--post JSON] (--post: each stream is a POST of that JSON body instead of a GET).
"""
import asyncio
import sys


def first_event_complete(buf):
    """True once an event (LF or CRLF line ends) has fully arrived."""
    at = buf.find(b"event:")
    rest = buf[at:] if at >= 0 else b""
    return at >= 0 and (b"\n\n" in rest or b"\r\n\r\n" in rest)


async def open_one(host, port, path, sem, opened, post):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        if post is None:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
        else:
            body = post.encode()
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                         "Accept: text/event-stream\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        buf = b""
        while not first_event_complete(buf):
            chunk = await reader.read(4096)
            if not chunk:
                raise RuntimeError("stream closed before its first event")
            buf += chunk
        opened.append((reader, writer))


async def main():
    host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    opts = dict(zip(sys.argv[5::2], sys.argv[6::2]))
    hold = float(opts.get("--hold", 60.0))
    post = opts.get("--post")
    sem = asyncio.Semaphore(256)
    opened = []
    await asyncio.gather(*(open_one(host, port, path, sem, opened, post) for _ in range(n)))
    print(f"open {len(opened)}", flush=True)
    await asyncio.sleep(hold)
    for _, w in opened:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
