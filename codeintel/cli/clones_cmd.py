"""``codeintel clones INDEX``: groups of near-identical functions across a repository."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clones", help="clone groups across an indexed repository",
                       description="Functions whose embeddings are within --threshold cosine of each other "
                                   "(candidates from the index's nearest-neighbour graph, joined transitively).")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("--threshold", type=float, default=0.9, help="cosine similarity (default 0.9)")
    p.add_argument("-k", type=int, default=10, help="neighbours examined per function (default 10)")
    p.add_argument("--json", action="store_true", help="the groups as JSON instead of a report")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from codeintel.recipes.index import clones

    groups = clones(args.index, args.threshold, args.k)
    if args.json:
        print(json.dumps(groups))
        return 0
    print(f"{len(groups)} clone group(s) at cosine >= {args.threshold}")
    for g in groups:
        print(f"- {g['size']} functions, similarity >= {g['min_similarity']:.3f}")
        for m in g["members"]:
            print(f"    {m['file']}:{m['start_line']}-{m['end_line']}  {m['name']}")
    return 0
