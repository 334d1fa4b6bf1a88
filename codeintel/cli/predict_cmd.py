"""``codeintel predict --model RUN INPUT...``: a trained model on your own code, one JSON line per item."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a trained model on your own code (files, folders or jsonl)",
                       description="Summaries, generated code, defect or clone probabilities, or embeddings, by the "
                                   "checkpoint's task: one JSON line per item on stdout (or --out). INPUT is a jsonl "
                                   "in the task's format without labels, or source files and folders, whose "
                                   "functions are extracted with tree-sitter (generated, vendored, binary and "
                                   ".gitignore'd files skipped).")
    p.add_argument("--model", required=True, help="a checkpoint (RUN or RUN/best), registry name or hub id")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="jsonl files, or source files and folders")
    p.add_argument("--out", help="write here (a new file) instead of stdout; with --format npy, the .npy array")
    p.add_argument("--format", default="jsonl", help="jsonl (default) or npy (embeddings)")
    p.add_argument("--lang", help="the language of every source file (default: from each file's extension)")
    p.add_argument("--batch-size", type=int, default=32, help="items per batch (default 32)")
    p.add_argument("--max-bytes", type=int, default=1_000_000, help="skip source files larger than this")
    p.add_argument("--include-generated", action="store_true", help="also read files marked as generated")
    p.add_argument("--overwrite", action="store_true", help="move an existing --out aside instead of refusing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from codeintel.recipes.predict import predict

    predict(args.model, args.inputs, out=args.out, fmt=args.format, batch_size=args.batch_size, lang=args.lang,
            include_generated=args.include_generated, max_bytes=args.max_bytes, overwrite=args.overwrite,
            progress=not args.no_progress and sys.stderr.isatty())
    return 0
