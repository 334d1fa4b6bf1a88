"""``codeintel dfg FILE --lang L``: print a file's data-flow graph as text, JSON or Graphviz dot."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dfg", help="print the data-flow graph (GraphCodeBERT semantics) of a source file")
    p.add_argument("file", type=Path, help="source file ('-' for standard input)")
    p.add_argument("--lang",
                   help="python, java, c, cpp, javascript, go, ruby, php, c_sharp (default: from the extension)")
    p.add_argument("--format", choices=["text", "json", "dot"], default="text",
                   help="dot: Graphviz (`codeintel dfg f.py --format dot | dot -Tsvg > f.svg`)")
    p.add_argument("--max-bytes", type=int, default=1_000_000, help="longer input: the graph of its first N bytes")
    p.add_argument("--max-loop-depth", type=int, default=8,
                   help="loops nested deeper are walked once, not twice (each level doubles the work)")
    p.set_defaults(run=run)


def to_dot(tokens: list[str], edges: list) -> str:
    """Graphviz: one node per variable occurrence, an arrow from each source to the variable it feeds."""
    lines = ["digraph dfg {", "  rankdir=LR; node [shape=box, fontname=monospace];"]
    positions = sorted({p for e in edges for p in (e[1], *e[4])})
    for p in positions:
        lines.append(f'  n{p} [label="{json.dumps(tokens[p])[1:-1]} @{p}"];')
    for _, pos, kind, _, sources in edges:
        style = "solid" if kind == "computedFrom" else "dashed"
        lines += [f'  n{s} -> n{pos} [style={style}, label="{kind}"];' for s in sources]
    return "\n".join([*lines, "}"])


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import read_source
    from codeintel.errors import ConfigError
    from codeintel.recipes.api import dfg

    if args.max_bytes < 1 or args.max_loop_depth < 0:
        raise ConfigError("--max-bytes must be positive and --max-loop-depth at least 0.")
    code, lang = read_source(args.file, args.lang)
    flow = dfg(code, lang, max_bytes=args.max_bytes, max_loop_depth=args.max_loop_depth)
    if args.format == "json":
        print(json.dumps({k: flow[k] for k in ("tokens", "edges", "syntax_errors")}))
    elif args.format == "dot":
        print(to_dot(flow["tokens"], flow["edges"]))
    else:
        for var, pos, kind, _, sources in flow["edges"]:
            src = ", ".join(f"{flow['tokens'][p]}@{p}" for p in sources) or "-"
            print(f"{var}@{pos:<5} {kind:<13} {src}")
    for note in flow["limited"]:
        print(f"warning: {note}", file=sys.stderr)
    if flow["syntax_errors"]:
        print(f"warning: {flow['syntax_errors']} syntax error node(s); the graph covers what parsed", file=sys.stderr)
    return 0
