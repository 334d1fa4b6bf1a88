"""``codeintel token-types FILE``: every code token and its syntactic type (the NER adapters' labels)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token-types", help="print each code token's syntactic type (variable, function, type, ...)")
    p.add_argument("file", type=Path, help="source file ('-' for standard input)")
    p.add_argument("--lang", help="python, java, javascript, go, ruby, php, c_sharp, c, cpp (default: the extension)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="text: one token per line (line:col, label, token); json: one list of records")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import bisect
    import sys
    from collections import Counter

    from codeintel.cli._common import read_source
    from codeintel.structure.token_types import iter_token_types

    code, lang = read_source(args.file, args.lang)
    spans = iter_token_types(code, lang)   # streamed: a 10 MB file's tokens are never all held
    out = sys.stdout
    if args.format == "json":   # one JSON list, written record by record
        out.write("[")
        for i, (s, e, t, lab) in enumerate(spans):
            out.write((", " if i else "") + json.dumps({"start": s, "end": e, "text": t, "label": lab}))
        out.write("]\n")
        out.flush()
        return 0
    line_starts = [0]
    at = code.find("\n")
    while at >= 0:
        line_starts.append(at + 1)
        at = code.find("\n", at + 1)
    counts: Counter = Counter()
    for s, _, text, label in spans:
        row = bisect.bisect_right(line_starts, s) - 1
        shown = text if "\n" not in text and len(text) <= 60 else json.dumps(text[:57] + "..." * (len(text) > 57))
        out.write(f"{row + 1}:{s - line_starts[row] + 1}\t{label}\t{shown}\n")
        counts[label] += 1
    out.write("# " + ", ".join(f"{k} {v}" for k, v in counts.most_common()) + "\n")
    out.flush()
    return 0
