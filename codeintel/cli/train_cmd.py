"""``codeintel train``: fine-tune a backbone on a task, then evaluate the best checkpoint on test."""

from __future__ import annotations

import argparse

from codeintel.cli._common import add_run_arguments, resolve_config

EPILOG = """config keys (set with key=value or in --config FILE.yaml):
  model, task, output_dir, tokenizer, device, pretrained, allow_pickle, source_len, target_len, graph,
  dfg_length, lang,
  data.{paths,skip_bad_lines,max_train_examples,max_eval_examples},
  train.{epochs,max_steps,lr,weight_decay,warmup_ratio,batch_tokens,max_batch_size,grouping,grad_clip,seed,
         evals_per_epoch,threads},
  eval.{beam_size,no_repeat_ngram_size,batch_size,threshold,ppl_compat}

examples:
  codeintel train                                   # tiny-codet5 on the embedded stdlib summarization set
  codeintel train --model tiny-graphcodebert --task clone-detection --data programs.jsonl pairs.txt
  codeintel train --model codet5-small --task summarization-codexglue --data CodeSearchNet/python train.lr=5e-5
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a model on a task", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, "registry name, hub id or checkpoint directory (default tiny-codet5)")
    p.add_argument("--out", help="run directory (default runs/<task>-<model>); must be new or empty")
    p.add_argument("--overwrite", action="store_true",
                   help="move an earlier run in --out aside (to OUT.replaced-<time>; nothing is deleted)")
    p.add_argument("--tokenizer",
                   help="tokenizer override for presets built from a config: tokompiler[:LANG] or a directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg, card = resolve_config(args)
    if args.out:
        cfg.output_dir = args.out
    if args.tokenizer:
        cfg.tokenizer = args.tokenizer
    from codeintel.config import validate

    validate(cfg)
    from codeintel.recipes.evaluate import format_scores
    from codeintel.recipes.train import train

    result = train(cfg, card, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"\n== {card.name} | {cfg.model} | test split ({result['checkpoint']})")
    print(f"model     {format_scores(result['test'])}")
    for name, scores in result["baselines"].items():
        scores = {k: v for k, v in scores.items() if k != "prediction"}
        print(f"baseline  {format_scores(scores)}   ({name})")
    t = result["train"]
    print(f"trained {t['steps']} steps in {t['seconds']}s, {t['tokens_per_s']:.0f} tokens/s, "
          f"padding {100 * t['padding_fraction']:.1f}%; metrics: {result['checkpoint'].rsplit('/', 1)[0]}/metrics.json")
    return 0
