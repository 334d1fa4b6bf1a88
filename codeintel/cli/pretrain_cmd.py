"""``codeintel pretrain {contrastive,mlm}``: continued pre-training of a RoBERTa-family backbone (ContraBERT)."""

from __future__ import annotations

import argparse

from codeintel.cli._common import add_config_arguments, add_seeds_argument, keys_help
from codeintel.log import say as log_say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="continued pre-training: MLM + contrastive (ContraBERT) or MLM only",
                       description="Continue pre-training a RoBERTa-family backbone; writes a backbone checkpoint "
                                   "that `codeintel train/evaluate --model DIR` load for any task.")
    objectives = p.add_subparsers(dest="objective", metavar="OBJECTIVE", required=True)
    for name, text in [("contrastive", "MLM + InfoNCE with a momentum key encoder and a queue of negatives over "
                                       "augmented views (ContraBERT)"),
                       ("mlm", "MLM only (the comparison ContraBERT makes)")]:
        q = objectives.add_parser(name, help=text, description=f"{text}.", epilog=keys_help("PretrainConfig"),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        q.add_argument("--model", help="registry name, hub id or checkpoint directory (default tiny-codebert)")
        q.add_argument("--data", nargs="+", metavar="FILE.jsonl",
                       help="jsonl with a code field (+ optional docstring); default: the stdlib corpus")
        q.add_argument("--lang", help="language of the code (python, java, c)")
        q.add_argument("--out", help="checkpoint directory (default runs/pretrain-<objective>-<model>); must be new "
                                     "or empty")
        q.add_argument("--no-progress", action="store_true", help="no progress (off a terminal: plain lines)")
        q.add_argument("--json", action="store_true", help="print the result as JSON; log lines to stderr")
        q.add_argument("--overwrite", action="store_true",
                       help="move an earlier pre-training output in --out aside (nothing is deleted)")
        q.add_argument("--resume", metavar="DIR",
                       help="continue the pre-training in DIR from its newest saved state (started with "
                            "train.save_every=N)")
        add_seeds_argument(q)
        add_config_arguments(q)
        q.add_argument("overrides", nargs="*", metavar="key=value",
                       help="e.g. train.max_steps=500 contrastive.queue_size=1024 contrastive.momentum=0.99")
        q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import (
        config_overrides,
        print_config,
        reclaim_overrides,
        refuse_with_resume,
    )
    from codeintel.recipes import api

    if args.resume:
        refuse_with_resume(args, ("model", "data", "lang", "out", "config"), "its saved settings")
    reclaim_overrides(args)
    overrides = config_overrides(args)
    from codeintel.cli._common import check_seeds

    check_seeds(args, overrides)
    if args.print_config:
        return print_config(api.pretrain_config(args.objective, args.model, args.data, lang=args.lang, out=args.out,
                                                resume=args.resume, overrides=overrides))
    result = api.pretrain(args.objective, args.model, args.data, lang=args.lang, out=args.out, resume=args.resume,
                          overwrite=args.overwrite, progress=not args.no_progress,
                          echo=log_say, overrides=overrides, seeds=args.seeds,
                          seed_jobs=args.seed_jobs)
    if args.json:
        import json

        print(json.dumps(result, indent=2, default=float))
    return 0
