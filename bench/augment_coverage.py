#!/usr/bin/env python3
"""How often each code operator applies, and whether its raw output re-parses, on real code.

    python bench/augment_coverage.py [--limit N] [--seeds S]

For the Python functions of ../shared/data/summarization/python_dev.jsonl (and, for reference, the Java
programs of gcj_programs.jsonl and the C programs of poj104_dev.jsonl): per operator, the share of
functions it applies to, the share of its outputs that re-parse without syntax errors (the operator is
called directly, bypassing the guard in ``apply_op``; the requirement is 100 %), and its cost as a ratio
to a bare tree-sitter parse of the same functions measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=0, help="use only the first N functions of each file")
    p.add_argument("--seeds", type=int, default=1, help="seeds per function")
    args = p.parse_args()
    from codeintel.augment import operators
    from codeintel.augment.core import NotApplicable
    from codeintel.structure.parsing import count_errors, parse

    sets = [("python", DATA / "summarization" / "python_dev.jsonl", "code"),
            ("java", DATA / "clone" / "gcj_programs.jsonl", "func"),
            ("c", DATA / "clone" / "poj104_dev.jsonl", "code")]
    failed = False
    for lang, path, key in sets:
        if not path.is_file():
            print(f"skip {lang}: {path} not found", file=sys.stderr)
            continue
        codes = [json.loads(line)[key] for line in path.open()]
        codes = codes[: args.limit] if args.limit else codes
        t = time.perf_counter()
        parsed = [c for c in codes if count_errors(parse(c, lang)) == 0]
        parse_s = time.perf_counter() - t
        print(f"\n{lang}: {len(codes)} functions from {path.name}, {len(parsed)} parse cleanly "
              f"(the others are passed through); parse+check {len(codes) / parse_s:.0f} functions/s")
        print(f"{'operator':<20} {'applies':>9} {'re-parses':>10} {'x parse':>8}")
        for name, op in sorted(operators().items()):
            if op.kind != "code":
                continue
            applied = reparsed = 0
            t = time.perf_counter()
            for seed in range(args.seeds):
                for code in parsed:
                    try:
                        new = op.fn(code, lang, random.Random(seed), **op.params)
                    except NotApplicable:
                        continue
                    applied += 1
                    reparsed += count_errors(parse(new, lang)) == 0
            cost = (time.perf_counter() - t) / args.seeds / parse_s * len(codes) / max(len(parsed), 1)
            n = len(parsed) * args.seeds
            share = 100 * reparsed / applied if applied else 100.0
            failed |= share < 100
            print(f"{name:<20} {100 * applied / max(n, 1):8.1f}% {share:9.1f}% {cost:7.1f}x")
    print("\nre-parse requirement (100 %):", "FAILED" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
