"""``codeintel serve``: a local HTTP JSON endpoint for editors and scripts.

``POST /summarize {"code": ...}`` (summarization models), ``/translate {"code": ...}`` (code-to-code and
text-to-code models: ``{"nl": ...}`` for the latter), ``/embed {"code": ...}`` or ``{"nl": ...}`` (embedding
models), ``/classify {"code": ...}`` or ``{"code1", "code2"}`` (defect and clone detection), ``/search {"query",
"k"}`` and ``/clones {"threshold"}`` (with ``--index``), ``GET /health``. A request may also send ``"items": [...]``
(several inputs at once). Requests from all clients are batched: one worker thread takes whatever has arrived
(up to ``max_batch`` items, waiting at most ``batch_wait`` seconds for more) and runs the model once. Bounds: a
body of at most ``max_body`` bytes (413), a reply within ``timeout`` seconds (504); malformed JSON, a missing
field or an endpoint the model does not serve is a 4xx with ``{"error": ...}``, and the server goes on. It binds
to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from codeintel.errors import CodeintelError, ConfigError
from codeintel.log import say


class Batcher:
    """One worker thread that runs ``fn`` on batches of items submitted from any thread."""

    def __init__(self, fn, max_batch: int = 32, wait: float = 0.01) -> None:
        self.fn, self.max_batch, self.wait = fn, max_batch, wait
        self.q: queue.Queue[tuple[dict, Future]] = queue.Queue()
        self.batches: list[int] = []                 # sizes of the batches run (what tests and benches read)
        threading.Thread(target=self._loop, daemon=True).start()

    def submit(self, items: list[dict]) -> list[Future]:
        futures = []
        for it in items:
            f: Future = Future()
            self.q.put((it, f))
            futures.append(f)
        return futures

    def _loop(self) -> None:
        while True:
            batch = [self.q.get()]
            deadline = time.monotonic() + self.wait
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    batch.append(self.q.get(timeout=max(left, 0)) if left > 0 else self.q.get_nowait())
                except queue.Empty:
                    break
            self.batches.append(len(batch))
            try:
                outs = self.fn([it for it, _ in batch])
                for (_, f), o in zip(batch, outs, strict=True):
                    f.set_result(o)
            except Exception as exc:                    # one bad batch fails its requests, not the server
                for _, f in batch:
                    if not f.done():
                        f.set_exception(exc)


class Service:
    """The model (and optional index) behind the endpoint."""

    def __init__(self, model: str, index: str | None = None, max_batch: int = 32, batch_wait: float = 0.01) -> None:
        from codeintel.recipes.predict import checkpoint_card, load_for_inference
        from codeintel.tasks.types import task_type

        self.model, cfg, card = checkpoint_card(model)
        self.kind = task_type(card.type)
        if not self.kind.infer_input:
            raise ConfigError(f"{model} is a {card.type} model, which serves nothing (no predict).")
        self.inference = load_for_inference(self.model, cfg, card)
        self.task, self.card = self.inference.task, card
        self.index, self.embedder = None, None
        if index:
            from codeintel.recipes.index import _embedder_for, load

            meta, _, _ = load(index)
            self.embedder = _embedder_for(meta, self.inference)     # the index must be this model's
            self.index = str(index)
        self.lock = threading.Lock()
        self.batcher = Batcher(self._run, max_batch, batch_wait)

    def _run(self, items: list[dict]) -> list[dict]:
        with self.lock:
            return self.inference.infer(items, batch_size=len(items))

    def endpoints(self) -> list[str]:
        out = ["/health"]
        k = self.kind
        if k.generates and k.infer_input in ("code", "nl"):
            out.append("/summarize" if getattr(self.task, "infer_output", "") == "summary" else "/translate")
        if k.index_query:
            out.append("/embed")
        if k.head in ("pair", "single"):
            out.append("/classify")
        if self.index:
            out += ["/search", "/clones"]
        return out

    def handle(self, path: str, body: dict, timeout: float) -> dict:
        if path not in self.endpoints():
            raise LookupError(f"{path} is not served by this {self.card.type} model; it serves "
                              f"{', '.join(self.endpoints())}")
        if path == "/health":
            return {"status": "ok", "model": self.model, "task": self.card.type, "endpoints": self.endpoints()}
        if path == "/search":
            from codeintel.recipes.index import search

            query = body.get("query")
            if not isinstance(query, str) or not query.strip():
                raise ValueError("/search needs a non-empty 'query' string")
            k = body.get("k", 10)
            if not isinstance(k, int) or not 1 <= k <= 1000:
                raise ValueError("'k' must be a whole number from 1 to 1000")
            with self.lock:
                return {"results": search(self.index, query, k, embedder=self.embedder)}   # the loaded model
        if path == "/clones":
            from codeintel.recipes.index import clones

            threshold = body.get("threshold")
            if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                          or not 0 < threshold <= 1):
                raise ValueError("'threshold' must be a number in (0, 1]")
            with self.lock:
                return clones(self.index, None if threshold is None else float(threshold))
        items = body.get("items")
        single = items is None
        items = [body] if single else items
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise ValueError("'items' must be a non-empty list of objects")
        need = {"pair": ("code1", "code2")}.get(self.kind.infer_input, (self.kind.infer_input,))
        if path == "/embed" and self.kind.index_query == "nl":
            need = ()                                            # code search embeds code or a query
        prepared = []
        for n, it in enumerate(items):
            fields = need or (("code",) if "code" in it else ("nl",))
            for f in fields:
                if not isinstance(it.get(f), str):
                    raise ValueError(f"item {n}: '{f}' must be a string")
            prepared.append({"id": str(it.get("id", n)), **{f: it[f] for f in fields}})
        futures = self.batcher.submit(prepared)
        deadline = time.monotonic() + timeout
        outs = [f.result(timeout=max(0.0, deadline - time.monotonic())) for f in futures]
        return outs[0] if single else {"results": outs}


def make_server(service: Service, host: str = "127.0.0.1", port: int = 8765, max_body: int = 1 << 20,
                timeout: float = 60.0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:     # quiet: the CLI prints one line per start
            pass

        def _reply(self, code: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:                       # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/health":
                self._reply(405 if self.path in service.endpoints() else 404,
                            {"error": f"GET {self.path}: use POST with a JSON body, or GET /health"})
                return
            self._reply(200, service.handle("/health", {}, timeout))

        def do_POST(self) -> None:                      # noqa: N802
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                self._reply(400, {"error": "a numeric Content-Length is required"})
                return
            if length > max_body:
                self.close_connection = True
                self._reply(413, {"error": f"request body of {length} bytes; the limit is {max_body}"})
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except ValueError as exc:
                self._reply(400, {"error": f"malformed JSON: {exc}"})
                return
            try:
                self._reply(200, service.handle(self.path.split("?")[0], body, timeout))
            except LookupError as exc:
                self._reply(404, {"error": str(exc)})
            except (ValueError, CodeintelError) as exc:
                self._reply(400 if isinstance(exc, ValueError) else 422, {"error": str(exc)})
            except TimeoutError:
                self._reply(504, {"error": f"no reply within {timeout} s"})

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(model: str, index: str | None = None, host: str = "127.0.0.1", port: int = 8765, echo=say,
          **bounds: Any) -> None:
    """Serve until interrupted."""
    service = Service(model, index)
    server = make_server(service, host, port, **bounds)
    echo(f"serving {service.card.type} model {service.model} on http://{host}:{server.server_address[1]} "
         f"({', '.join(service.endpoints())}); Ctrl-C stops")
    try:
        server.serve_forever()
    finally:
        server.server_close()

