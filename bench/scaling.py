#!/usr/bin/env python3
"""How dfg, augment and Tokompiler grow with input: 4 sizes of ordinary code and 4 nesting depths.

For each tool the script times the real API (``structure.dfg.extract``, every augmentation operator through
``augment.apply_op``, ``tokenization.tokompiler.tokompile``) on generated Python (many functions, each with
its own names: the number of distinct names grows with the size), and on Java blocks nested ``d`` deep,
and prints the growth exponent ``b`` of ``time ~ size^b`` (least squares over the four points). Near-linear
is ``b`` close to 1; 2 is quadratic. The baseline in the same run is a bare tree-sitter parse of the same
input (every tool parses first, so it is the least any of them can cost).

Run by hand, alone on the machine:

    python bench/scaling.py [--max-kb 1024] [--max-depth 2000]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import warnings


def python_code(kb: int) -> str:
    parts, i = [], 0
    while sum(map(len, parts)) < kb * 1024:
        parts.append(f"def fn_{i}(alpha_{i}, beta_{i}):\n    gamma_{i} = alpha_{i} + beta_{i} * {i}\n"
                     f"    for k_{i} in range(gamma_{i}):\n        if k_{i} > beta_{i}:\n"
                     f"            gamma_{i} = gamma_{i} - k_{i}\n    return gamma_{i}\n\n")
        i += 1
    return "".join(parts)


def java_nested(depth: int) -> str:
    opens = "".join(f"{'  ' * (d % 8)}if (x > {d}) {{ int v{d} = x + {d}; x = v{d} - 1;\n" for d in range(depth))
    return f"class A {{ int f(int x) {{\n{opens}{'}' * depth}\nreturn x; }} }}\n"


def timed(fn, repeats: int = 1) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def exponent(xs: list[float], ts: list[float]) -> float:
    lx, lt = [math.log(x) for x in xs], [math.log(max(t, 1e-6)) for t in ts]
    mx, mt = sum(lx) / len(lx), sum(lt) / len(lt)
    return sum((a - mx) * (b - mt) for a, b in zip(lx, lt, strict=True)) / sum((a - mx) ** 2 for a in lx)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-kb", type=int, default=1024, help="largest size (the others: /2, /4, /8)")
    p.add_argument("--max-depth", type=int, default=2000, help="deepest nesting (the others: /2, /4, /8)")
    args = p.parse_args()

    from codeintel.augment.core import apply_op, operators
    from codeintel.structure.dfg import Limits, extract
    from codeintel.structure.parsing import parse
    from codeintel.tokenization.tokompiler import TokompilerError, tokompile

    warnings.simplefilter("ignore")
    big = Limits(max_bytes=10**9)

    def tools(lang: str) -> dict:
        out = {"parse (baseline)": lambda c: parse(c, lang), "dfg": lambda c: extract(c, lang, big)}
        for name, op in operators().items():
            if op.kind == "code" and lang in op.languages:
                out[f"augment {name}"] = lambda c, n=name: apply_op(n, c, lang, random.Random(0))

        def tok(c):
            try:
                tokompile(c, lang)
            except TokompilerError:  # over the name limit: refused (before the work, it should be)
                pass
        out["tokompile"] = tok
        return out

    for title, make, unit, top, lang in (("size", python_code, "KB", args.max_kb, "python"),
                                         ("depth", java_nested, "levels", args.max_depth, "java")):
        xs = [top // 8, top // 4, top // 2, top]
        inputs = [make(x) for x in xs]
        sizes = [len(c.encode()) for c in inputs]
        kbs = ", ".join(f"{s / 1024:.0f}" for s in sizes)
        print(f"\n{title}: {lang}, {', '.join(f'{x} {unit}' for x in xs)} ({kbs} KB)")
        print(f"{'':32}" + "".join(f"{x:>10}" for x in xs) + f"{'exponent':>10}{'x parse':>9}")
        base = None
        for name, fn in tools(lang).items():
            ts = [timed(lambda c=c, fn=fn: fn(c)) for c in inputs]
            base = base or ts
            print(f"{name:32}" + "".join(f"{t:10.3f}" for t in ts) + f"{exponent(sizes, ts):10.2f}"
                  f"{ts[-1] / base[-1]:9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
