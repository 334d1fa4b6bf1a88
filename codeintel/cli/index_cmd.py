"""``codeintel index build|update``: a searchable index of a repository's functions (``codeintel.recipes.index``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build or update a searchable index of a repository's functions",
                       description="Embed every function of a source tree with a clone-retrieval or code-search "
                                   "model into an approximate-nearest-neighbour index (faiss HNSW), for "
                                   "`codeintel search` and `codeintel clones`.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    b = verbs.add_parser("build", help="a new index of SRC... with --model")
    b.add_argument("--model", required=True, help="a clone-retrieval or code-search checkpoint (RUN or RUN/best)")
    b.add_argument("sources", nargs="+", metavar="SRC", help="source files and folders")
    b.add_argument("--out", required=True, help="the index directory to create")
    b.add_argument("--lang", help="the language of every file (default: from extensions)")
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--max-bytes", type=int, default=1_000_000, help="skip source files larger than this")
    b.add_argument("--include-generated", action="store_true", help="also index files marked as generated")
    u = verbs.add_parser("update", help="re-embed only what changed in the index's sources")
    u.add_argument("index", metavar="INDEX")
    u.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(run=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from codeintel.recipes import index

    if args.verb == "build":
        index.build(args.model, args.sources, args.out, batch_size=args.batch_size, lang=args.lang,
                    include_generated=args.include_generated, max_bytes=args.max_bytes)
    elif args.verb == "update":
        index.update(args.index, batch_size=args.batch_size)
    else:
        args.parser.print_help()
        return 2
    return 0
