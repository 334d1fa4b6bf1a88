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


def run(args: argparse.Namespace) -> int:
    import json

    from codeintel.data.stdlib import write_stdlib_dataset
    from codeintel.errors import ConfigError
    from codeintel.recipes.rundir import aside_path

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory; choose a new directory.")
    if out.is_dir() and any(out.iterdir()):
        try:
            earlier = "stdlib" in json.loads((out / "meta.json").read_text())
        except (OSError, ValueError, TypeError):
            earlier = False
        if not earlier:
            raise ConfigError(f"--out {out} already holds files that `codeintel data` did not write; choose a new or "
                              "empty directory (nothing there was changed).")
        if not args.overwrite:
            raise ConfigError(f"--out {out} holds an earlier stdlib export; pass --overwrite to move it aside (to "
                              f"{out.name}.replaced-<time>, nothing is deleted) or choose another directory.")
        moved = aside_path(out)
        out.rename(moved)
        print(f"moved the earlier export in {out} to {moved}")
    try:
        sizes = write_stdlib_dataset(out)
    except OSError as exc:
        raise ConfigError(f"cannot write --out {out}: {exc.strerror}; choose a writable directory.") from None
    print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    return 0
