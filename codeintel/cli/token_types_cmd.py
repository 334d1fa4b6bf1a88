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
    from collections import Counter

    from codeintel.cli._common import read_source
    from codeintel.structure.token_types import token_types

    code, lang = read_source(args.file, args.lang)
    spans = token_types(code, lang)
    if args.format == "json":
        print(json.dumps([{"start": s, "end": e, "text": t, "label": lab} for s, e, t, lab in spans]))
        return 0
    line_starts = [0] + [i + 1 for i, ch in enumerate(code) if ch == "\n"]
    for s, _, text, label in spans:
        row = bisect.bisect_right(line_starts, s) - 1
        shown = text if "\n" not in text and len(text) <= 60 else json.dumps(text[:57] + "..." * (len(text) > 57))
        print(f"{row + 1}:{s - line_starts[row] + 1}\t{label}\t{shown}")
    counts = Counter(label for *_, label in spans)
    print("# " + ", ".join(f"{k} {v}" for k, v in counts.most_common()), flush=True)
    return 0
