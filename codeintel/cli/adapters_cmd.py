"""``codeintel adapters``: ``train-ner`` (token-type classification pre-training of a NER adapter),
``presets`` (the adapter presets ``codeintel train --adapter`` takes) and ``show DIR`` (what an adapter
directory holds: its format, detected from its files, backbone and head)."""

from __future__ import annotations

import argparse
import sys

from codeintel.cli._common import add_config_arguments, add_seeds_argument, keys_help


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapters", help="adapters: train a NER adapter on token types, list presets, inspect one")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pr = actions.add_parser("presets", help="list the adapter presets (codeintel train --adapter NAME)")
    pr.set_defaults(run=run_presets)
    sh = actions.add_parser("show", help="what an adapter directory holds (format, backbone, head)")
    sh.add_argument("path", metavar="DIR")
    sh.set_defaults(run=run_show)
    q = actions.add_parser("train-ner", help="train a NER adapter (frozen backbone) to classify token types",
                           description="Insert a bottleneck adapter in every layer of a frozen backbone and train it "
                                       "with a token-type head; writes OUT/adapter (weights, head, card).",
                           epilog=keys_help("NerConfig"), formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("--model", help="backbone: registry name, hub id or directory (default tiny-codebert)")
    q.add_argument("--data", nargs="+", metavar="FILE.jsonl", help="jsonl with a code field; default: stdlib corpus")
    q.add_argument("--lang", help="language of the code (default: each row's lang/language)")
    q.add_argument("--out", help="output directory (default runs/ner-<model>); new or empty")
    q.add_argument("--overwrite", action="store_true", help="move an earlier output in --out aside")
    q.add_argument("--resume", metavar="RUN", help="continue RUN from its newest saved state (started with "
                   "train.save_every=N), with its own settings, to the result of an uninterrupted run")
    q.add_argument("--no-progress", action="store_true")
    add_seeds_argument(q)
    add_config_arguments(q)
    q.add_argument("overrides", nargs="*", metavar="key=value",
                   help="e.g. train.max_steps=100 train.lr=1e-3 source_len=128 reduction_factor=8 "
                        "data.max_train_examples=500 (keys listed below)")
    q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import config_overrides, print_config, reclaim_overrides, refuse_with_resume
    from codeintel.recipes.api import ner_config, train_ner

    reclaim_overrides(args)
    if args.resume:
        refuse_with_resume(args, ("model", "data", "lang", "out", "config"), "its own settings")
    overrides = config_overrides(args)
    from codeintel.cli._common import check_seeds

    check_seeds(args, overrides)
    if args.print_config:
        return print_config(ner_config(args.model, args.data, lang=args.lang, out=args.out, resume=args.resume,
                                       overrides=overrides))
    train_ner(args.model, args.data, lang=args.lang, out=args.out, overwrite=args.overwrite, resume=args.resume,
              overrides=overrides, progress=not args.no_progress, command=["codeintel", *sys.argv[1:]],
              seeds=args.seeds, seed_jobs=args.seed_jobs)
    return 0


def run_presets(args: argparse.Namespace) -> int:
    from codeintel.peft_adapters.core import presets

    for p in presets().values():
        opts = ", ".join(f"{k}={v}" for k, v in p.options.items())
        print(f"{p.name:<10} {p.library:<10} {p.method:<14} {opts}")
        print(f"{'':<10} {p.description}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """One adapter directory; an adapter run's checkpoint (``RUN/best``, or ``RUN``) shows each of its adapters."""
    from pathlib import Path

    from codeintel.errors import CheckpointError
    from codeintel.tasks.models import META_FILE, read_meta

    path = Path(args.path)
    if not (path / "adapter_config.json").exists() and (path / "best").is_dir():
        path = path / "best"                     # a run directory: its best checkpoint
    if (path / "adapter_config.json").exists() or not (path / META_FILE).is_file():
        _show_one(path)
        return 0
    run = read_meta(path).get("adapter_run")
    if not isinstance(run, dict) or not isinstance(run.get("adapters"), list):
        raise CheckpointError(f"{path} is a checkpoint trained without adapters (no adapter_config.json, and its "
                              "codeintel.json names no adapter run); pass an adapter directory.")
    print(f"adapter run  {path}: backbone {run.get('backbone')}, adapters {', '.join(map(str, run['adapters']))} "
          f"(active {', '.join(map(str, run.get('active') or []))}; trained: {run.get('task_adapter') or 'none'})")
    for name in run["adapters"]:
        print(f"\n{path / 'adapters' / str(name)}")
        _show_one(path / "adapters" / str(name))
    return 0


def _show_one(path) -> None:
    import json

    from codeintel.peft_adapters.core import read_config, read_meta

    fmt, cfg = read_config(path)
    meta = read_meta(path)
    print(f"format    {fmt}")
    if fmt == "peft":
        print(f"method    {cfg.get('peft_type')}  r={cfg.get('r')}  targets={cfg.get('target_modules')}  "
              f"task_type={cfg.get('task_type')}")
    else:
        c = cfg["config"]
        print(f"method    {c.get('architecture') or 'bottleneck'}  reduction_factor={c.get('reduction_factor')}  "
              f"trained on {cfg.get('model_class')}")
    backbone = meta.get("backbone") or cfg.get("base_model_name_or_path") or cfg.get("model_name") or "?"
    family = meta.get("family") or cfg.get("model_type") or "?"
    print(f"backbone  {backbone}  ({family}, hidden {meta.get('hidden_size') or cfg.get('hidden_size') or '?'})")
    head = meta.get("head")
    print(f"head      {json.dumps(head) if head else 'none'}")
    print(f"weights   {_weights_line(path, fmt)}")


def _weights_line(path, fmt: str) -> str:
    """What the weight files hold; a missing or damaged file is a CheckpointError (the adapter cannot load)."""
    import math

    from safetensors import SafetensorError, safe_open

    from codeintel.errors import CheckpointError
    from codeintel.peft_adapters.core import HUB_PICKLE, HUB_WEIGHTS, PEFT_PICKLE, PEFT_WEIGHTS

    safe, pickled = (PEFT_WEIGHTS, PEFT_PICKLE) if fmt == "peft" else (HUB_WEIGHTS, HUB_PICKLE)
    if not (path / safe).is_file():
        if (path / pickled).is_file():
            return (f"{pickled} only (a pickle, which can run code when loaded): loaded only with allow_pickle=true; "
                    "no safetensors copy")
        raise CheckpointError(f"{path} holds no adapter weights ({safe}); the adapter is incomplete: restore the "
                              "file or re-train.")
    try:
        with safe_open(str(path / safe), "pt") as fh:
            names = list(fh.keys())
            size = sum(math.prod(fh.get_slice(k).get_shape()) for k in names)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path / safe} is damaged ({str(exc).splitlines()[0][:120]}); restore it or "
                              "re-train.") from None
    return f"{safe}: {len(names)} tensors, {size:,} parameters"

