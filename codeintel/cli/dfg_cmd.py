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


def to_dot(flow) -> str:
    """Graphviz: one node per variable occurrence, an arrow from each source to the variable it feeds."""
    lines = ["digraph dfg {", "  rankdir=LR; node [shape=box, fontname=monospace];"]
    positions = sorted({p for e in flow.edges for p in (e[1], *e[4])})
    for p in positions:
        lines.append(f'  n{p} [label="{json.dumps(flow.tokens[p])[1:-1]} @{p}"];')
    for _, pos, kind, _, sources in flow.edges:
        style = "solid" if kind == "computedFrom" else "dashed"
        lines += [f'  n{s} -> n{pos} [style={style}, label="{kind}"];' for s in sources]
    return "\n".join([*lines, "}"])


def run(args: argparse.Namespace) -> int:
    import warnings

    from codeintel.cli._common import read_source
    from codeintel.errors import ConfigError
    from codeintel.structure.dfg import Limits, extract

    if args.max_bytes < 1 or args.max_loop_depth < 0:
        raise ConfigError("--max-bytes must be positive and --max-loop-depth at least 0.")
    code, lang = read_source(args.file, args.lang)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the limits hit are printed below, once
        flow = extract(code, lang, Limits(args.max_bytes, args.max_loop_depth))
    if args.format == "json":
        print(json.dumps({"tokens": flow.tokens, "edges": flow.edges, "syntax_errors": flow.errors}))
    elif args.format == "dot":
        print(to_dot(flow))
    else:
        for var, pos, kind, _, sources in flow.edges:
            src = ", ".join(f"{flow.tokens[p]}@{p}" for p in sources) or "-"
            print(f"{var}@{pos:<5} {kind:<13} {src}")
    for note in flow.limited:
        print(f"warning: {note}", file=sys.stderr)
    if flow.errors:
        print(f"warning: {flow.errors} syntax error node(s); the graph covers what parsed", file=sys.stderr)
    return 0
