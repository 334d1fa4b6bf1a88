"""``codeintel data stdlib --out DIR``: write the embedded default dataset as jsonl."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="write built-in datasets")
    p.add_argument("name", choices=["stdlib"], help="stdlib: (code, summary) pairs from this Python's standard library")
    p.add_argument("--out", type=Path, required=True, help="output directory (train/valid/test.jsonl)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.data.stdlib import write_stdlib_dataset

    sizes = write_stdlib_dataset(args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    return 0
