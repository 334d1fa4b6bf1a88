"""``codeintel train``: fine-tune a backbone on a task, then evaluate the best checkpoint on test."""

from __future__ import annotations

import argparse
import os
import shlex

from codeintel.cli._common import add_run_arguments, add_seeds_argument, check_seeds
from codeintel.log import say as log_say

EPILOG = """config keys (key=value, or in --config FILE.yaml; generated from codeintel.config.RunConfig):
{keys}

examples:
  codeintel train                                   # tiny-codet5 on the embedded stdlib summarization set
  codeintel train --model tiny-graphcodebert --task clone-detection --data programs.jsonl pairs.txt
  codeintel train --model codet5-small --task summarization-codexglue --data CodeSearchNet/python train.lr=5e-5
  codeintel train --adapter lora-r8                 # a LoRA task adapter alone (PEFT), backbone frozen
  codeintel adapters train-ner --model tiny-codet5 --out runs/ner
  codeintel train --adapter runs/ner/adapter --adapter-mode stack    # NER adapter + a task adapter on top
  codeintel train --out runs/long train.save_every=200      # resumable: a killed run continues with
  codeintel train --resume runs/long                        #   the same final result
  torchrun --nproc_per_node=2 -m codeintel train train.precision=bf16 report_to=tensorboard
"""


def register(sub: argparse._SubParsersAction) -> None:
    from codeintel.config import RunConfig, describe_keys

    p = sub.add_parser("train", help="fine-tune a model on a task",
                       epilog=EPILOG.replace("{keys}", "\n".join(describe_keys(RunConfig))),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, "registry name, hub id or checkpoint directory (default tiny-codet5)")
    p.add_argument("--out", help="run directory (default runs/<task>-<model>); must be new or empty")
    p.add_argument("--overwrite", action="store_true",
                   help="move an earlier run in --out aside (to OUT.replaced-<time>; nothing is deleted)")
    p.add_argument("--resume", metavar="RUN",
                   help="continue the run in RUN from its newest saved state (it was started with train.save_every)")
    p.add_argument("--tokenizer",
                   help="tokenizer override for presets built from a config: tokompiler[:LANG] or a directory")
    p.add_argument("--adapter", metavar="PATH_OR_PRESET",
                   help="train with an adapter: a preset (lora-r8, pfeiffer, houlsby, prefix, ner) or an adapter "
                        "directory (e.g. a NER adapter); the backbone stays frozen")
    p.add_argument("--adapter-mode", choices=("frozen", "stack", "train"),
                   help="with an adapter directory: frozen (default: train the task head), stack (train a fresh "
                        "task adapter on top), train (train the adapter further)")
    add_seeds_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print the final result (what metrics.json holds) as JSON on stdout; log lines go to stderr")
    p.add_argument("--print-config", action="store_true",
                   help="print the fully resolved config (defaults < card < --config < key=value < flags) as YAML "
                        "and exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import reclaim_overrides, refuse_with_resume
    from codeintel.config import parse_overrides
    from codeintel.recipes import api

    if args.resume:
        refuse_with_resume(args, ("model", "task", "data", "config", "out", "tokenizer", "adapter", "adapter_mode"),
                           "the settings in its config.yaml")
    reclaim_overrides(args, keep=("train", "valid", "test"))
    settings = {"model": args.model, "task": args.task, "data": args.data, "config": args.config, "out": args.out,
                "tokenizer": args.tokenizer, "adapter": args.adapter, "adapter_mode": args.adapter_mode,
                "resume": args.resume, "overrides": parse_overrides(args.overrides)}
    check_seeds(args, settings["overrides"])
    if args.print_config:
        import yaml

        from codeintel.config import to_dict

        cfg, card = api.train_config(**settings)
        print(f"# task card: {card.path}\n" + yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")  # --config-able
        return 0
    command = shlex.join(["codeintel", *args.argv])
    result = api.train(**settings, echo=log_say, progress=not args.no_progress,
                       overwrite=args.overwrite, command=command, seeds=args.seeds, seed_jobs=args.seed_jobs)
    if args.json and int(os.environ.get("RANK", "0")) == 0:  # under torchrun / accelerate launch: rank 0 only
        import json

        print(json.dumps(result, indent=2, default=float))
    return 0
