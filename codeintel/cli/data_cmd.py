"""``codeintel data``: the embedded dataset (``stdlib``), and dataset hygiene (``check``, ``dedup``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="built-in datasets; duplicate and leakage checks (check, dedup)")
    data_sub = p.add_subparsers(dest="data_command", metavar="{stdlib,check,dedup}")
    data_sub.required = True

    s = data_sub.add_parser("stdlib", help="write (code, summary) pairs from this Python's standard library")
    s.add_argument("--out", type=Path, required=True, help="output directory (train/valid/test.jsonl); new or empty")
    s.add_argument("--overwrite", action="store_true",
                   help="move an earlier `codeintel data stdlib` output in --out aside (nothing is deleted)")
    s.set_defaults(run=run_stdlib)

    for name, helptext in (("check", "report exact and near-duplicates and train/valid/test leakage"),
                           ("dedup", "write a copy of a dataset without its duplicates")):
        c = data_sub.add_parser(name, help=helptext, description=helptext + ". Exact: the same tokens once "
                                "comments and whitespace are removed (tree-sitter). Near: identifier-set Jaccard >= "
                                "--threshold and multiset Jaccard >= --multiset-threshold (Allamanis 2019), found "
                                "with MinHash LSH and verified exactly.")
        c.add_argument("paths", nargs="+", metavar="PATH",
                       help="data as `codeintel train --data` takes it (files or a directory), or stdlib / "
                            "stdlib-clones for an embedded set")
        c.add_argument("--task", help="task card whose format PATH is in (default: inferred from the files)")
        c.add_argument("--lang", help="language of the code (default: the rows' or the card's)")
        c.add_argument("--threshold", type=float, default=0.8, help="identifier-set Jaccard of near-duplicates "
                       "(default 0.8)")
        c.add_argument("--multiset-threshold", type=float, default=0.7,
                       help="identifier-multiset Jaccard they must also reach (default 0.7)")
        c.add_argument("--min-tokens", type=int, default=20,
                       help="documents with fewer identifiers are compared exactly only (default 20)")
        c.add_argument("--exact-only", action="store_true", help="skip near-duplicates")
        c.add_argument("--workers", type=int, default=0, help="processes (default: one per CPU, at most 8)")
        c.add_argument("--skip-bad-lines", action="store_true", help="skip (and count) malformed jsonl lines")
        c.add_argument("--no-progress", action="store_true", help="no progress bar")
        if name == "check":
            c.add_argument("--out", type=Path, help="write hygiene.json, hygiene.md and hygiene.png here")
            c.add_argument("--overwrite", action="store_true",
                           help="move an earlier report in --out aside (nothing is deleted)")
            c.set_defaults(run=run_check)
        else:
            c.add_argument("--out", type=Path, required=True,
                           help="new or empty directory for the cleaned files, removed.json and dedup.json")
            c.add_argument("--keep", choices=["first", "longest"], default=None,
                           help="which document of a duplicate cluster stays: the first in train/valid/test and "
                                "file order (default), or the longest")
            c.add_argument("--cross-split-only", action="store_true",
                           help="only remove valid/test documents that duplicate an earlier split's; keep "
                                "duplicates within a split")
            c.set_defaults(run=run_dedup)


def is_stdlib_export(path: Path) -> bool:
    """An earlier ``codeintel data stdlib`` output: its ``meta.json`` names the standard library it came from."""
    import json

    try:
        return "stdlib" in json.loads((path / "meta.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def run_stdlib(args: argparse.Namespace) -> int:
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


def _common(args: argparse.Namespace) -> dict:
    """The analysis options both commands share, as the API functions' keyword arguments."""
    return {"task": args.task, "lang": args.lang, "threshold": args.threshold,
            "multiset_threshold": args.multiset_threshold, "min_tokens": args.min_tokens,
            "exact_only": args.exact_only, "workers": args.workers, "skip_bad_lines": args.skip_bad_lines,
            "progress": not args.no_progress and sys.stderr.isatty(), "echo": _echo}


def _echo(*args, **kwargs) -> None:
    """Warnings to stderr, the rest to stdout (as the commands always printed them)."""
    text = " ".join(str(a) for a in args)
    print(text, file=sys.stderr if text.startswith("warning:") else sys.stdout, **kwargs)


def run_check(args: argparse.Namespace) -> int:
    from codeintel.recipes.api import data_check

    data_check(list(args.paths), out=args.out, overwrite=args.overwrite, **_common(args))
    return 0


def run_dedup(args: argparse.Namespace) -> int:
    from codeintel.recipes.api import dedup

    dedup(list(args.paths), args.out, keep=args.keep or "first", cross_split_only=args.cross_split_only,
          **_common(args))
    return 0
