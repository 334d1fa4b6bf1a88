"""``codeintel search INDEX "query"``: the functions of an index nearest to a description or a piece of code."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="query an index: ranked file:line name score",
                       description="A description (code-search model) or code (clone-retrieval model) against an "
                                   "index built by `codeintel index build`, embedded by the model that built it.")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("query", help="the query text (or @FILE to read it from a file)")
    p.add_argument("-k", type=int, default=10, help="results (default 10)")
    p.add_argument("--model", help="check that this is the model that built the index")
    p.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from codeintel.errors import DataError
    from codeintel.recipes.index import search

    query = args.query
    if query.startswith("@"):
        path = Path(query[1:])
        if not path.is_file():
            raise DataError(f"query file {path} does not exist.")
        query = path.read_text(encoding="utf-8", errors="replace")
    hits = search(args.index, query, args.k, args.model)
    if args.json:
        print(json.dumps(hits))
    else:
        for h in hits:
            print(f"{h['file']}:{h['start_line']}  {h['name']}  {h['score']:.4f}")
    return 0
