"""A searchable index of a repository's functions: ``codeintel index build`` / ``update``, ``codeintel search`` and
``codeintel clones``.

An index is a directory: ``functions.jsonl`` (one row per function: id, file, lines, name, language and the
SHA-256 of its code), ``vectors.npy`` (their unit embeddings, float32, row i = function i), ``ann.faiss`` (an
HNSW graph over the vectors, inner product = cosine; faiss-cpu, chosen by ``bench/ann_choice.py``) and
``index.json`` (the model's identity — its path, task type and a fingerprint of its weights — the sources, the
counts). The index answers only queries embedded by the model that built it: a query with another model, or
after the model's weights changed, is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.errors import ConfigError, DataError
from codeintel.recipes.predict import Inference, checkpoint_card, load_for_inference, stderr
from codeintel.recipes.rundir import new_output_dir, sibling_lock

FILES = ("functions.jsonl", "vectors.npy", "ann.faiss", "index.json")
EMBED_CHUNK = 8192  # functions embedded together (each chunk is tokenized, length-sorted and batched on its own)
EMBEDDING_TASKS_HINT = "a clone-retrieval, code-search or clone-detection model (one that embeds code)"


def fingerprint(model: str) -> str:
    """SHA-256 over a checkpoint's weight files (names and bytes); a registry name or hub id stands for itself."""
    p = Path(model)
    if not p.is_dir():
        return hashlib.sha256(model.encode()).hexdigest()
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json") and f.name != "README.md":
            h.update(str(f.relative_to(p)).encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


class Embedder:
    """The model an index is built with: checkpoint, task and the embedding of functions and queries."""

    def __init__(self, model: str | Inference) -> None:
        from codeintel.tasks.types import task_type

        if isinstance(model, Inference):            # a model already loaded (serve)
            name, card, ready = model.model, model.card, model
        else:
            name, cfg, card = checkpoint_card(model)
            ready = None
        kind = task_type(card.type)
        if not kind.index_query:
            raise ConfigError(f"{name} is a {card.type} model; an index needs {EMBEDDING_TASKS_HINT}.")
        self.model, self.task_type, self.queries_are_text = name, card.type, kind.index_query == "nl"
        self.inference = ready or load_for_inference(name, cfg, card)
        self.loaded, self.task = self.inference.loaded, self.inference.task

    def identity(self) -> dict[str, str]:
        path = str(Path(self.model).resolve()) if Path(self.model).exists() else self.model
        return {"model": path, "task": self.task_type, "fingerprint": fingerprint(self.model)}

    def embed(self, items: list[dict], batch_size: int = 32) -> np.ndarray:
        """The vectors of ``items``, :data:`EMBED_CHUNK` at a time (a repository's token ids and batches are held
        for one chunk, not for all its functions at once)."""
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        if len(items) > EMBED_CHUNK:
            return np.concatenate([self.embed(items[i : i + EMBED_CHUNK], batch_size)
                                   for i in range(0, len(items), EMBED_CHUNK)])
        if self.queries_are_text and "nl" in items[0]:   # a code-search query: the query side of the model
            out = self.inference.infer(items, batch_size)
            return np.asarray([o["embedding"] for o in out], dtype=np.float32)
        return self.task.index_vectors(self.loaded.model, items, batch_size)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector; a query longer than the model reads is refused (cutting it would search for
        something else)."""
        limit = self.task.target_len if self.queries_are_text else self.task.source_len
        n = len(self.loaded.tokenizer(query)["input_ids"])
        if limit and n > limit:
            raise ConfigError(f"the query is {n} tokens; this model reads at most {limit}: shorten it.")
        item = {"id": "query", "nl": query} if self.queries_are_text else {"id": "query", "code": query}
        return self.embed([item])[0]


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (retrieval vectors already are; a clone head's are not): cosine = inner product."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _ann(vectors: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(_unit(vectors))
    return index


def _sha(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "replace")).hexdigest()


def _write(dest: Path, rows: list[dict], vectors: np.ndarray, meta: dict) -> None:
    """Every file of an index into the new directory ``dest``."""
    import faiss

    dest.mkdir()
    with (dest / "functions.jsonl").open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    np.save(dest / "vectors.npy", vectors)
    faiss.write_index(_ann(vectors), str(dest / "ann.faiss"))
    (dest / "index.json").write_text(json.dumps(meta, indent=1) + "\n")


def build(model: str, sources: list[str], out: str | Path, *, batch_size: int = 32, lang: str | None = None,
          include_generated: bool = False, max_bytes: int = 1_000_000,
          echo: Callable[..., None] = stderr) -> dict[str, Any]:
    """Embed every function under ``sources`` with ``model`` into the new index directory ``out`` (its missing
    parents are created)."""
    out = Path(out)

    def new(path: Path) -> None:
        if path.exists() or path.is_symlink():
            raise ConfigError(f"--out {path} exists; an index is built into a new directory (use `codeintel index "
                              "update` to refresh one).")

    if not sources:
        raise DataError("index build needs SRC: source files or folders.")
    with new_output_dir(out, new):                    # claimed and locked before the work, published whole
        return _build(model, sources, out, batch_size, lang, include_generated, max_bytes, echo)


def _build(model: str, sources: list[str], out: Path, batch_size: int, lang: str | None, include_generated: bool,
           max_bytes: int, echo: Callable[..., None]) -> dict[str, Any]:
    from codeintel.data.sources import function_items

    embedder = Embedder(model)
    t0 = time.perf_counter()
    items, walk = function_items(sources, max_bytes, include_generated, lang)
    if not items:
        raise DataError(f"no functions found in {' '.join(sources)} ({len(walk.files)} source file(s) read).")
    vectors = embedder.embed(items, batch_size)
    rows = [{**{k: v for k, v in it.items() if k != "code"}, "sha256": _sha(it["code"])} for it in items]
    meta = {**embedder.identity(), "sources": [str(Path(s).resolve()) for s in sources], "lang": lang,
            "include_generated": include_generated, "max_bytes": max_bytes, "functions": len(rows),
            "files": len(walk.files), "dim": int(vectors.shape[1]), "library": "faiss-cpu HNSW32 (inner product)"}
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        _write(tmp, rows, vectors, meta)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    echo(f"indexed {len(rows)} function(s) of {len(walk.files)} file(s) in {time.perf_counter() - t0:.1f} s: {out}")
    return meta


def _check_index(d: Path) -> None:
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise DataError(f"{d} is not a codeintel index (missing {', '.join(missing)}); build one with "
                        "`codeintel index build`.")


def load(index: str | Path) -> tuple[dict, list[dict], np.ndarray]:
    d = Path(index)
    _check_index(d)
    meta = json.loads((d / "index.json").read_text())
    rows = [json.loads(x) for x in (d / "functions.jsonl").read_text().splitlines() if x.strip()]
    return meta, rows, np.load(d / "vectors.npy")


def _embedder_for(meta: dict, model: str | Inference | None) -> Embedder:
    """The embedder of ``model`` (default: the one that built the index), refused if it is another model."""
    embedder = Embedder(model or meta["model"])
    model = embedder.model
    mine = embedder.identity()
    if mine["fingerprint"] != meta["fingerprint"] or mine["task"] != meta["task"]:
        raise ConfigError(f"the index was built by {meta['model']} ({meta['task']}); {model or meta['model']} is "
                          "another model (or its weights changed since): rebuild the index with it, or query "
                          "with the model that built it.")
    return embedder


def update(index: str | Path, *, batch_size: int = 32, echo: Callable[..., None] = stderr) -> dict[str, Any]:
    """Re-read the index's sources: functions whose code is unchanged keep their vectors, new and changed ones are
    embedded, removed ones dropped; the index's files are replaced by the new ones. Returns the counts:
    ``embedded`` (new or changed), ``kept``, ``removed`` (a file and name no longer found)."""
    d = Path(index)
    _check_index(d)
    with sibling_lock(d, "index", "wait for it"):     # two updates of one index would mix their files
        return _update(d, batch_size, echo)


def _update(d: Path, batch_size: int, echo: Callable[..., None]) -> dict[str, Any]:
    from codeintel.data.sources import function_items

    meta, rows, vectors = load(d)
    embedder = _embedder_for(meta, None)
    items, walk = function_items(meta["sources"], meta["max_bytes"], meta["include_generated"], meta["lang"])
    known = {(r["file"], r["name"], r["sha256"]): i for i, r in enumerate(rows)}
    by_sha = {r["sha256"]: i for i, r in enumerate(rows)}
    new_rows, keep, fresh = [], [], []
    for it in items:
        sha = _sha(it["code"])
        old = known.get((it["file"], it["name"], sha), by_sha.get(sha))
        new_rows.append({**{k: v for k, v in it.items() if k != "code"}, "sha256": sha})
        keep.append(old)
        if old is None:
            fresh.append(it)
    if not new_rows:
        raise DataError(f"no functions left in the index's sources ({', '.join(meta['sources'])}).")
    embedded = iter(embedder.embed(fresh, batch_size)) if fresh else iter(())
    dim = vectors.shape[1]
    new_vectors = np.zeros((len(new_rows), dim), dtype=np.float32)
    for i, old in enumerate(keep):
        new_vectors[i] = vectors[old] if old is not None else next(embedded)
    removed = len({(r["file"], r["name"]) for r in rows} - {(r["file"], r["name"]) for r in new_rows})
    meta = {**meta, "functions": len(new_rows), "files": len(walk.files)}
    tmp = d / f".update-{os.getpid()}"
    try:
        _write(tmp, new_rows, new_vectors, meta)
        for f in FILES:                     # index.json last: it says the others are complete
            os.replace(tmp / f, d / f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"functions": len(new_rows), "embedded": len(fresh), "kept": len(new_rows) - len(fresh),
              "removed": removed}
    echo(f"updated {d}: {result['embedded']} function(s) embedded, {result['kept']} kept, "
         f"{result['removed']} removed")
    return result


def search(index: str | Path, query: str, k: int = 10, model: str | None = None,
           embedder: Embedder | None = None) -> list[dict]:
    """The ``k`` functions nearest to ``query`` (a description for a code-search model, code for a clone-retrieval
    model), best first, with their cosine ``score``. ``embedder``: the index's model, already loaded and checked
    (``serve``); else ``model`` (default: the one that built the index) is loaded."""
    import faiss

    if not query.strip():
        raise ConfigError("the query is empty.")
    if k < 1:
        raise ConfigError(f"-k must be >= 1, got {k}.")
    meta, rows, _ = load(index)
    vec = (embedder or _embedder_for(meta, model)).embed_query(query)
    ann = faiss.read_index(str(Path(index) / "ann.faiss"))
    ann.hnsw.efSearch = max(64, k)
    scores, ids = ann.search(_unit(vec[None, :]), min(k, len(rows)))
    return [{**rows[i], "score": float(s)} for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


def clones(index: str | Path, threshold: float | None = None, k: int = 10, model: str | None = None) -> dict:
    """Clone groups across the index: candidate pairs from the ANN graph (``k`` neighbours of each function),
    kept by the model's clone head where it has one (a clone-detection model: P(clone) >= ``threshold``, default
    the model's ``eval.threshold``), else by cosine (>= ``threshold``, default 0.9), joined transitively; largest
    groups first. Returns ``{"verified_by", "threshold", "groups"}``."""
    import faiss

    from codeintel.tasks.types import task_type

    meta, rows, vectors = load(index)
    has_head = task_type(meta["task"]).head == "pair"
    if threshold is not None and not (0 < threshold < 1 if has_head else 0 < threshold <= 1):
        raise ConfigError(f"--threshold must be in (0, {'1)' if has_head else '1]'}, got {threshold}.")
    unit = _unit(vectors)
    ann = faiss.read_index(str(Path(index) / "ann.faiss"))
    ann.hnsw.efSearch = max(64, k + 1)
    scores, ids = ann.search(unit, min(k + 1, len(rows)))
    cosine = {(min(i, int(j)), max(i, int(j))): float(sc) for i in range(len(rows))
              for sc, j in zip(scores[i], ids[i], strict=True) if j >= 0 and j != i}
    pairs = sorted(cosine)
    if has_head:
        embedder = _embedder_for(meta, model)
        threshold = embedder.inference.cfg.eval.threshold if threshold is None else threshold
        probs = embedder.task.verify_pairs(embedder.loaded.model, vectors, pairs)
        kept = {p: float(q) for p, q in zip(pairs, probs, strict=True) if q >= threshold}
        verified_by = f"the model's clone head: P(clone) >= {threshold}"
    else:
        threshold = 0.9 if threshold is None else threshold
        kept = {p: c for p, c in cosine.items() if c >= threshold}
        verified_by = f"cosine >= {threshold}"
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in kept:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        sims = unit[members] @ unit[members].T
        group = {"size": len(members), "min_similarity": float(sims.min()),
                 "members": [{k2: rows[m][k2] for k2 in ("id", "file", "start_line", "end_line", "name")}
                             for m in members]}
        if has_head:
            inside = set(members)
            group["min_probability"] = min(q for (i, j), q in kept.items() if i in inside and j in inside)
        out.append(group)
    return {"verified_by": verified_by, "threshold": threshold,
            "groups": sorted(out, key=lambda g: (-g["size"], -g["min_similarity"]))}
