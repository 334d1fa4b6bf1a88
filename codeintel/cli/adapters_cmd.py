"""``codeintel adapters train-ner``: token-type classification pre-training of a NER adapter."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapters", help="NER adapters: train one on token types from the syntax tree")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("train-ner", help="train a NER adapter (frozen backbone) to classify token types",
                           description="Insert a bottleneck adapter in every layer of a frozen backbone and train it "
                                       "with a token-type head; writes OUT/adapter (weights, head, card).")
    q.add_argument("--model", help="backbone: registry name, hub id or directory (default tiny-codebert)")
    q.add_argument("--data", nargs="+", metavar="FILE.jsonl", help="jsonl with a code field; default: stdlib corpus")
    q.add_argument("--lang", help="language of the code (default: each row's lang/language)")
    q.add_argument("--out", help="output directory (default runs/ner-<model>); new or empty")
    q.add_argument("--overwrite", action="store_true", help="move an earlier output in --out aside")
    q.add_argument("--no-progress", action="store_true")
    q.add_argument("overrides", nargs="*", metavar="key=value",
                   help="steps, batch_size, lr, max_len, reduction_factor, eval_every, patience, max_examples, seed")
    q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import reclaim_overrides
    from codeintel.config import NerConfig, parse_overrides, set_key
    from codeintel.recipes.ner import train_ner

    reclaim_overrides(args)
    cfg = NerConfig()
    for key, value in parse_overrides(args.overrides).items():
        set_key(cfg, key, value)
    cfg.model, cfg.data, cfg.lang = args.model or cfg.model, list(args.data or cfg.data), args.lang or cfg.lang
    if args.out:
        cfg.output_dir = args.out
    r = train_ner(cfg, progress=not args.no_progress, overwrite=args.overwrite, argv=["codeintel", *sys.argv[1:]])
    base, held = r["majority_baseline"], r["held_out"]
    print(f"== ner adapter | {cfg.model} | held-out: accuracy {held['accuracy']:.4f}  macro_f1 {held['macro_f1']:.4f}"
          f"   (always {base['label']}: accuracy {base['accuracy']:.4f}  macro_f1 {base['macro_f1']:.4f})")
    print(f"trained {r['trainable_parameters']:,} of {r['total_parameters']:,} parameters "
          f"({100 * r['trainable_parameters'] / r['total_parameters']:.2f} %); wrote {cfg.output_dir or 'runs/'}")
    return 0
