"""``codeintel clones INDEX``: groups of near-identical functions across a repository."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clones", help="clone groups across an indexed repository",
                       description="Clone groups: candidate pairs from the index's nearest-neighbour graph, kept "
                                   "by the model's clone head where it has one (an index built with a "
                                   "clone-detection model), else by cosine, joined transitively.")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("--threshold", type=float, default=None,
                   help="P(clone) with a clone head (default: the model's eval.threshold), else cosine similarity "
                        "(default 0.9)")
    p.add_argument("-k", type=int, default=10, help="neighbours examined per function (default 10)")
    p.add_argument("--json", action="store_true", help="the groups as JSON instead of a report")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from codeintel.recipes.index import clones

    found = clones(args.index, args.threshold, args.k)
    if args.json:
        print(json.dumps(found))
        return 0
    groups = found["groups"]
    print(f"{len(groups)} clone group(s), pairs kept by {found['verified_by']}")
    for g in groups:
        head = f", P(clone) >= {g['min_probability']:.3f}" if "min_probability" in g else ""
        print(f"- {g['size']} functions, similarity >= {g['min_similarity']:.3f}{head}")
        for m in g["members"]:
            print(f"    {m['file']}:{m['start_line']}-{m['end_line']}  {m['name']}")
    return 0
