"""``codeintel data stdlib --out DIR``: write the embedded default dataset as jsonl."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="write built-in datasets")
    p.add_argument("name", choices=["stdlib"], help="stdlib: (code, summary) pairs from this Python's standard library")
    p.add_argument("--out", type=Path, required=True, help="output directory (train/valid/test.jsonl); new or empty")
    p.add_argument("--overwrite", action="store_true",
                   help="move an earlier `codeintel data stdlib` output in --out aside (nothing is deleted)")
    p.set_defaults(run=run)


def is_stdlib_export(path: Path) -> bool:
    """An earlier ``codeintel data stdlib`` output: its ``meta.json`` names the standard library it came from."""
    import json

    try:
        return "stdlib" in json.loads((path / "meta.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def run(args: argparse.Namespace) -> int:
    from codeintel.data.stdlib import write_stdlib_dataset
    from codeintel.errors import ConfigError
    from codeintel.recipes.rundir import RunDir

    out: Path = args.out
    with RunDir(out, overwrite=args.overwrite, ours=is_stdlib_export):  # new/empty, or an earlier export moved aside
        try:
            sizes = write_stdlib_dataset(out)
        except OSError as exc:
            raise ConfigError(f"cannot write --out {out}: {exc.strerror}; choose a writable directory.") from None
    print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    return 0
