#!/usr/bin/env python3
"""Tokenization throughput: Tokompiler against the HF fast BPE tokenizer (code-bpe-8k) on the same files.

Run by hand:  python bench/tokenize_throughput.py [--data ../shared/data/hpc/dataracebench.jsonl] [--repeats 3]
Prints files/s and tokens/s of each, measured in this run, and the ratio (BPE time / Tokompiler time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared/data/hpc/dataracebench.jsonl"
    p.add_argument("--data", type=Path, default=default)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found; pass --data FILE.jsonl (fields: code, language)")

    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    lang_of = {"C": "c", "C++": "cpp", "Fortran": "fortran"}
    rows = [r for r in rows if r.get("language") in lang_of]
    toks = {lang: TokompilerTokenizer(lang=lang) for lang in set(lang_of.values())}
    bpe = shipped_tokenizer("code-bpe-8k")

    def run_tokompiler() -> int:
        return sum(len(toks[lang_of[r["language"]]](r["code"])["input_ids"]) for r in rows)

    def run_bpe_each() -> int:
        return sum(len(bpe(r["code"])["input_ids"]) for r in rows)

    def run_bpe_batch() -> int:
        return sum(len(x) for x in bpe([r["code"] for r in rows])["input_ids"])

    results = {}
    for name, fn in [("tokompiler (per file)", run_tokompiler), ("BPE fast (per file)", run_bpe_each),
                     ("BPE fast (one batch)", run_bpe_batch)]:
        fn()  # warm-up: parsers and caches
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            n_tokens = fn()
            best = min(best, time.perf_counter() - t)
        results[name] = (best, n_tokens)
    print(f"{len(rows)} files ({sum(len(r['code']) for r in rows) / 1e6:.2f} MB), best of {args.repeats}")
    print(f"{'':24}{'files/s':>10}{'tokens/s':>12}{'tokens/file':>13}")
    for name, (sec, n) in results.items():
        print(f"{name:24}{len(rows) / sec:10.0f}{n / sec:12.0f}{n / len(rows):13.0f}")
    tk, bp = results["tokompiler (per file)"][0], results["BPE fast (per file)"][0]
    print(f"Tokompiler takes {tk / bp:.1f}x the time of the fast BPE per file "
          f"({bp / tk:.2f}x its files/s); it parses every file with tree-sitter, BPE does not.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
