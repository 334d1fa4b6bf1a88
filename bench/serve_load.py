"""``codeintel serve`` under load: 8 concurrent clients (threads with their own HTTP connections) sending
``/embed`` (or ``/summarize``) requests for ``--seconds``; requests/s, p50/p99 latency, and the batch sizes the
worker ran. The baseline in the same run: the same requests one at a time through ``Task.infer`` (no HTTP, no
batching), the throughput a single-request server would have at best.

    python bench/serve_load.py --model RUN [--clients 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()

    from codeintel.recipes.serve import Service, make_server

    service = Service(args.model)
    path = next(e for e in service.endpoints() if e in ("/embed", "/summarize", "/translate", "/classify"))
    server = make_server(service, port=0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    codes = [f"def f{i}(values):\n    total = 0\n    for v in values:\n        total += v * {i}\n    return total\n"
             for i in range(200)]

    def one(code: str) -> float:
        t = time.perf_counter()
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps({"code": code}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            resp.read()
        return time.perf_counter() - t

    one(codes[0])                                                    # warm up
    latencies: list[float] = []
    stop = time.monotonic() + args.seconds

    def client(c: int) -> None:
        i = c
        while time.monotonic() < stop:
            latencies.append(one(codes[i % len(codes)]))
            i += args.clients

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(latencies) * 1000
    sizes = service.batcher.batches[1:]
    print(f"{args.clients} clients, {path}, {len(latencies)} requests in {wall:.1f} s: {len(latencies) / wall:.1f} "
          f"requests/s, latency p50 {np.percentile(ms, 50):.1f} ms p99 {np.percentile(ms, 99):.1f} ms; "
          f"mean batch {np.mean(sizes):.1f} items")
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < min(args.seconds, 10):
        service._run([{"id": "x", "code": codes[n % len(codes)]}])
        n += 1
    single = n / (time.perf_counter() - t)
    print(f"baseline, one request at a time without HTTP: {single:.1f} requests/s; the server: "
          f"{len(latencies) / wall / single:.2f}x")
    server.shutdown()


if __name__ == "__main__":
    main()
