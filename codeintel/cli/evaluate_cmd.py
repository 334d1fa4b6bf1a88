"""``codeintel evaluate``: score a checkpoint; write metrics.json and per-example predictions."""

from __future__ import annotations

import argparse
import json

from codeintel.cli._common import add_run_arguments, reclaim_overrides
from codeintel.log import say as log_say


def register(sub: argparse._SubParsersAction) -> None:
    from codeintel.config import RunConfig, describe_keys

    keys = [line for line in describe_keys(RunConfig) if line.lstrip().startswith(("eval.", "data.", "source_len",
                                                                                    "target_len", "lang", "device"))]
    p = sub.add_parser("evaluate", help="evaluate a checkpoint on a task's data",
                       epilog="config keys that matter here (key=value; the checkpoint's own settings otherwise; "
                              "generated from codeintel.config.RunConfig):\n" + "\n".join(keys),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, "checkpoint directory (from `codeintel train`), registry name or hub id")
    p.add_argument("--split", default="test", choices=["train", "valid", "test", "all"], help="default: test")
    p.add_argument("--out", help="output directory, never inside a checkpoint (default: RUN/eval-<split> for a "
                                 "run's RUN/best, else runs/eval-<model>-<split>)")
    p.add_argument("--no-progress", action="store_true", help="no progress (off a terminal: plain lines)")
    p.add_argument("--json", action="store_true", help="print the result (metrics.json) as JSON; log lines to stderr")
    p.add_argument("--overwrite", action="store_true",
                   help="move an earlier evaluation in --out aside (nothing is deleted)")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config (the checkpoint's settings < --config < key=value) as YAML and exit")
    p.add_argument("--robustness", action="append", metavar="OP[:k=1-8]",
                   help="also score transformed copies of the split (repeatable), e.g. rename_variables:k=1-8; "
                        "writes robustness.json and robustness.png")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.config import parse_overrides
    from codeintel.recipes import api

    reclaim_overrides(args, keep=("train", "valid", "test"))
    if args.print_config:
        import yaml

        from codeintel.config import to_dict

        cfg, card = api.evaluate_config(args.model, args.data, task=args.task, config=args.config,
                                        overrides=parse_overrides(args.overrides))
        print(f"# task card: {card.path}\n" + yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    result = api.evaluate(args.model, args.split, args.data, task=args.task, config=args.config, out=args.out,
                          robustness=args.robustness, overwrite=args.overwrite, progress=not args.no_progress,
                          echo=log_say, overrides=parse_overrides(args.overrides))
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    return 0
