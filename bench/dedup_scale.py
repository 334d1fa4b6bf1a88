"""How ``codeintel data check``'s duplicate detection scales: functions/s and peak memory at 10k, 100k and 1M
functions, against ``datasketch.MinHashLSH`` on the same signatures and, at 10k, against exhaustive all-pairs.

Corpus: the embedded standard-library functions and their variants made by the hub's ContraBERT operators
(the ``stdlib-clones`` programs), grown to N by cheap mutations of random ones (a few identifiers renamed to
fresh names, a line dropped or repeated), so clusters of near-duplicates appear at every size, as in real
corpora. Each size runs in its own process, so peak memory (this process and its workers) is per size.

    python bench/dedup_scale.py                       # 10k, 100k, 1M
    python bench/dedup_scale.py --sizes 10000,100000  # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time

_WORD = re.compile(r"\b[a-z_][a-z0-9_]{2,}\b")


def corpus(n: int, seed: int = 0) -> list[str]:
    from codeintel.data.stdlib import default_stdlib_dir
    from codeintel.data.stdlib_clones import default_stdlib_clones_dir

    base = [json.loads(line)["func"] for line in (default_stdlib_clones_dir() / "data.jsonl").open()]
    base += [json.loads(line)["code"] for s in ("train", "valid", "test")
             for line in (default_stdlib_dir() / f"{s}.jsonl").open()]
    rng = random.Random(seed)
    out = base[:n]
    while len(out) < n:
        code = rng.choice(base)
        names = sorted(set(_WORD.findall(code)))
        for name in rng.sample(names, min(len(names), rng.randint(1, 4))):
            code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(10**6)}", code)
        lines = code.split("\n")
        if len(lines) > 3 and rng.random() < 0.5:
            i = rng.randrange(1, len(lines))
            lines.insert(i, lines[i]) if rng.random() < 0.5 else lines.pop(i)
        out.append("\n".join(lines))
    return out


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024  # upper bound: this process' peak plus the largest worker's


def rss_mb() -> float:
    """Current resident memory of this process (Linux)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def one(n: int, workers: int, baseline: bool) -> dict:
    from codeintel.data import hygiene as hy

    codes = corpus(n)
    settings = hy.Settings()
    t0 = time.perf_counter()
    fp = hy.fingerprint_corpus(codes, ["python"] * n, settings, workers)
    t1 = time.perf_counter()
    dup = hy.find_duplicates(fp, settings)
    t2 = time.perf_counter()
    result = {"n": n, "fingerprint_s": t1 - t0, "duplicates_s": t2 - t1, "total_s": t2 - t0,
              "docs_per_s": n / (t2 - t0), "peak_mb": peak_mb(), "signed": int((fp.signed >= 0).sum()),
              "exact_groups": dup.groups, "near_pairs": len(dup.near), "candidates": dup.candidates}
    rep_rows = fp.signed[dup.rep]
    sig = fp.sig[rep_rows[rep_rows >= 0]]
    t = time.perf_counter()
    ours = hy.candidate_pairs(sig, settings)
    result["our_lsh_s"] = time.perf_counter() - t
    if baseline:  # datasketch's index over the same signatures and bands
        from datasketch import LeanMinHash, MinHash, MinHashLSH

        rss0 = rss_mb()
        t = time.perf_counter()
        lsh = MinHashLSH(num_perm=settings.num_perm, params=settings.bands())
        scheme = MinHash(num_perm=settings.num_perm, seed=settings.seed).scheme  # what the signatures were made with
        mhs = []
        for i, row in enumerate(sig):
            m = LeanMinHash(MinHash(num_perm=settings.num_perm, hashvalues=row, scheme=scheme))
            lsh.insert(i, m)
            mhs.append(m)
        theirs = {(min(i, j), max(i, j)) for i, m in enumerate(mhs) for j in lsh.query(m) if j != i}
        result["datasketch_lsh_s"] = time.perf_counter() - t
        result["datasketch_extra_mb"] = rss_mb() - rss0  # the index and its LeanMinHash objects, still alive
        del lsh, mhs
        rss0 = rss_mb()
        ours = hy.candidate_pairs(sig, settings)
        result["our_extra_mb"] = rss_mb() - rss0
        result["datasketch_candidates"], result["our_candidates"] = len(theirs), len(ours)
        result["our_candidates_cover_theirs"] = len(theirs - set(map(tuple, ours.tolist()))) == 0
    if n <= 10_000:
        t = time.perf_counter()
        exhaustive = hy.all_pairs_near(fp, settings)
        result["all_pairs_s"] = time.perf_counter() - t
        found = set(map(tuple, dup.near.tolist()))
        result["recall"] = len(found & exhaustive) / max(1, len(exhaustive))
        result["exhaustive_pairs"] = len(exhaustive)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-max", type=int, default=100_000, help="largest size with the datasketch baseline")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.workers, args.one <= args.baseline_max)))
        return
    rows = []
    for n in map(int, args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(args.workers),
                              "--baseline-max", str(args.baseline_max)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>9,} functions: {r['total_s']:7.1f} s ({r['fingerprint_s']:.1f} fingerprints + "
              f"{r['duplicates_s']:.1f} duplicates), {r['docs_per_s']:,.0f} functions/s, peak {r['peak_mb']:,.0f} MB; "
              f"{r['exact_groups']:,} exact groups, {r['near_pairs']:,} near pairs from {r['candidates']:,} candidates",
              flush=True)
        if "datasketch_lsh_s" in r:
            print(f"           LSH index: ours {r['our_lsh_s']:.2f} s vs datasketch MinHashLSH "
                  f"{r['datasketch_lsh_s']:.2f} s ({r['datasketch_lsh_s'] / r['our_lsh_s']:.1f}x); memory held "
                  f"+{r['our_extra_mb']:,.0f} MB vs +{r['datasketch_extra_mb']:,.0f} MB; candidates "
                  f"{r['our_candidates']:,} vs "
                  f"{r['datasketch_candidates']:,} (ours include theirs: {r['our_candidates_cover_theirs']})")
        if "recall" in r:
            print(f"           recall against exhaustive all-pairs: {r['recall']:.4f} of {r['exhaustive_pairs']:,} "
                  f"pairs; all-pairs took {r['all_pairs_s']:.1f} s vs {r['duplicates_s']:.2f} s")
    base = rows[0]
    for r in rows[1:]:
        print(f"growth {base['n']:,} -> {r['n']:,} ({r['n'] / base['n']:.0f}x): time "
              f"{r['total_s'] / base['total_s']:.1f}x, time per function {base['docs_per_s'] / r['docs_per_s']:.2f}x, "
              f"peak memory {r['peak_mb'] / base['peak_mb']:.1f}x, true near pairs "
              f"{r['near_pairs'] / max(1, base['near_pairs']):.0f}x")


if __name__ == "__main__":
    main()
