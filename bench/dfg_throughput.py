#!/usr/bin/env python3
"""Data-flow extraction throughput against bare tree-sitter parsing, measured in the same run.

    python bench/dfg_throughput.py [--limit N]

For the Python functions of ../shared/data/summarization/python_dev.jsonl (field ``code``) and the Java
programs of ../shared/data/clone/gcj_programs.jsonl (field ``func``): functions/s of ``extract`` (parse
included) and the ratio of its time to the bare parse time. Targets: <= 5x (Python), <= 8x (Java).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=0, help="use only the first N functions of each file")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    from codeintel.structure.dfg import extract
    from codeintel.structure.parsing import parse

    sets = [("python", DATA / "summarization" / "python_dev.jsonl", "code", 5.0),
            ("java", DATA / "clone" / "gcj_programs.jsonl", "func", 8.0)]
    print(f"{'lang':8}{'functions':>10}{'parse/s':>10}{'extract/s':>11}{'ratio':>8}{'target':>8}")
    for lang, path, key, target in sets:
        if not path.is_file():
            print(f"{lang:8} {path} not found")
            continue
        codes = [json.loads(line)[key] for line in path.read_text().splitlines() if line.strip()]
        codes = codes[: args.limit] if args.limit else codes
        encoded = [c.encode("utf-8") for c in codes]
        t_parse = best_of(lambda encoded=encoded, lang=lang: [parse(c, lang) for c in encoded], args.repeats)
        t_dfg = best_of(lambda codes=codes, lang=lang: [extract(c, lang) for c in codes], args.repeats)
        ratio = t_dfg / t_parse
        print(f"{lang:8}{len(codes):10}{len(codes) / t_parse:10.0f}{len(codes) / t_dfg:11.0f}{ratio:7.1f}x"
              f"{'<=' + str(target):>8}  {'ok' if ratio <= target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
