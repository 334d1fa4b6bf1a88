"""Which approximate-nearest-neighbour library the code index uses: faiss-cpu (HNSW, inner product) against
usearch (HNSW, cosine) on the same unit vectors, in the same process: build time, single-query latency p50/p99,
recall@10 against exact search (one matrix product), and the serialized index size. Exact search itself is
timed too (the baseline an index must beat).

Vectors are clustered like embeddings of code (a mixture of 2,000 Gaussian centres, normalised), 256 dimensions
(CodeT5+ embedding width) unless ``--dim``.

    python bench/ann_choice.py [--n 100000] [--dim 256] [--queries 1000] [--threads 2]
    python bench/ann_choice.py --vectors INDEX/vectors.npy      # real embeddings (``codeintel index build``)

``--vectors``: the rows of a real index's ``vectors.npy`` instead of the synthetic mixture; ``--queries`` of them,
drawn at random (seed 0), are held out of the indexed set and used as the queries.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def data(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    x = centres[rng.integers(0, 2000, n)] + 0.35 * rng.normal(size=(n, dim)).astype(np.float32)
    q = centres[rng.integers(0, 2000, queries)] + 0.35 * rng.normal(size=(queries, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def latencies(search, q: np.ndarray) -> tuple[float, float, np.ndarray]:
    times, found = [], []
    for v in q:
        t = time.perf_counter()
        found.append(search(v))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), np.array(found)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth, strict=True)]))


def tie_recall(found: np.ndarray, q: np.ndarray, x: np.ndarray, k: int) -> float:
    """Recall@k where a result counts if it is as similar as the exact k-th neighbour (to 1e-5): real code holds
    identical functions, and among tied neighbours the exact top k is an arbitrary choice."""
    hits = []
    for row, ids in zip(q, found, strict=True):
        sims = x @ row
        kth = -np.partition(-sims, k - 1)[k - 1]
        hits.append(np.mean(sims[np.asarray(ids, dtype=np.int64)] >= kth - 1e-5))
    return float(np.mean(hits))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--vectors", help="an .npy of real unit vectors (e.g. an index's vectors.npy)")
    args = p.parse_args()
    import faiss
    from usearch.index import Index

    faiss.omp_set_num_threads(args.threads)
    if args.vectors:
        v = np.load(args.vectors).astype(np.float32)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        order = np.random.default_rng(0).permutation(len(v))
        q, x = v[order[: args.queries]], np.ascontiguousarray(v[order[args.queries :]])
        args.n, args.dim = x.shape
    else:
        x, q = data(args.n, args.dim, args.queries)
    k = args.k
    t = time.perf_counter()
    truth = np.argsort(-(q @ x.T), axis=1)[:, :k]
    exact_all = time.perf_counter() - t
    p50, p99, _ = latencies(lambda v: np.argpartition(-(x @ v), k)[:k], q[:200])
    print(f"{args.n:,} x {args.dim} unit vectors, {args.queries} queries, k={k}, {args.threads} threads")
    print(f"exact (numpy)   batch of {args.queries}: {exact_all:.2f} s; one query p50 {p50:.2f} ms p99 {p99:.2f} ms; "
          f"memory {x.nbytes / 2**20:.0f} MB")
    tmp = tempfile.mkdtemp()

    t = time.perf_counter()
    fi = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
    fi.hnsw.efConstruction = 64
    fi.add(x)
    build = time.perf_counter() - t
    fi.hnsw.efSearch = 64
    p50, p99, found = latencies(lambda v: fi.search(v[None, :], k)[1][0], q)
    path = os.path.join(tmp, "f.faiss")
    faiss.write_index(fi, path)
    print(f"faiss HNSW32    build {build:.1f} s; query p50 {p50:.3f} ms p99 {p99:.3f} ms; recall@{k} "
          f"{recall(found, truth):.4f} (ties counted {tie_recall(found, q, x, k):.4f}); index "
          f"{os.path.getsize(path) / 2**20:.0f} MB")

    t = time.perf_counter()
    ui = Index(ndim=args.dim, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)
    ui.add(np.arange(args.n), x, threads=args.threads)
    build = time.perf_counter() - t
    p50, p99, found = latencies(lambda v: ui.search(v, k).keys, q)
    path = os.path.join(tmp, "u.usearch")
    ui.save(path)
    print(f"usearch HNSW16  build {build:.1f} s; query p50 {p50:.3f} ms p99 {p99:.3f} ms; recall@{k} "
          f"{recall(found, truth):.4f} (ties counted {tie_recall(found, q, x, k):.4f}); index "
          f"{os.path.getsize(path) / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
