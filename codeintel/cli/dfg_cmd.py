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
    p.add_argument("--format", choices=["text", "json", "dot"], default="text")
    p.set_defaults(run=run)


EXTENSIONS = {".py": "python", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp",
              ".js": "javascript", ".go": "go", ".rb": "ruby", ".php": "php", ".cs": "c_sharp"}


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
    from codeintel.errors import ConfigError, DataError
    from codeintel.structure.dfg import extract

    if str(args.file) == "-":
        code = sys.stdin.read()
    elif not args.file.is_file():
        raise DataError(f"{args.file} does not exist.")
    else:
        code = args.file.read_text(encoding="utf-8", errors="replace")
    lang = args.lang or EXTENSIONS.get(args.file.suffix.lower())
    if not lang:
        raise ConfigError(f"cannot tell the language of {args.file}; pass --lang.")
    flow = extract(code, lang)
    if args.format == "json":
        print(json.dumps({"tokens": flow.tokens, "edges": flow.edges, "syntax_errors": flow.errors}))
    elif args.format == "dot":
        print(to_dot(flow))
    else:
        for var, pos, kind, _, sources in flow.edges:
            src = ", ".join(f"{flow.tokens[p]}@{p}" for p in sources) or "-"
            print(f"{var}@{pos:<5} {kind:<13} {src}")
    if flow.errors:
        print(f"warning: {flow.errors} syntax error node(s); the graph covers what parsed", file=sys.stderr)
    return 0
