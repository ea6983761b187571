"""The reference stack for benches/sse_throughput.sh: aiohttp + aiohttp-sse serving the same
synthetic stream as txclass-server's GET /v1/bench/sse (same events, same framing).

Usage: python sse_reference_aiohttp.py PORT
"""
import asyncio
import json
import sys
import uuid

from aiohttp import web
from aiohttp_sse import sse_response


def events(job_id, n):
    yield "accepted", {"customer_id": "bench", "from": "2026-01-01", "job_id": job_id,
                       "partner_id": "bench", "to": "2026-03-31"}
    for i in range(2, n):
        page = i // 2
        if i % 2 == 0:
            yield "page_fetched", {"page": page, "transactions": 100, "via_retry": False}
        else:
            yield "classified", {"inserted": 100, "page": page, "total": page * 100,
                                 "transactions": 100}
    page = n // 2
    yield "done", {"job_id": job_id, "summary": {"categories": {}, "elapsed_ms": 0,
                   "pages": page, "retried_calls": 0, "total_in_minor": 0,
                   "total_out_minor": 0, "transactions": page * 100}}


async def bench_sse(request):
    n = max(2, int(request.query.get("events", "100")))
    hold = request.query.get("hold") == "true"
    job_id = str(uuid.uuid4())
    async with sse_response(request) as resp:
        resp.ping_interval = 15
        for seq, (name, data) in enumerate(events(job_id, n), start=1):
            await resp.send(json.dumps(data, separators=(",", ":")), event=name,
                            id=f"{job_id}:{seq}")
            if hold:
                await resp.wait()
                break
    return resp


def main():
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_get("/v1/bench/sse", bench_sse)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                backlog=4096)


if __name__ == "__main__":
    main()
