"""``codeintel probe``: AST-Probe, the syntax tree recovered from a backbone's hidden states, layer by layer."""

from __future__ import annotations

import argparse

from codeintel.cli._common import add_config_arguments, add_seeds_argument, keys_help


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="AST-Probe: how much syntax each layer of a backbone holds",
                       description="Train a linear syntactic probe (AST-Probe) on every layer of a backbone's "
                                   "frozen hidden states and report constituent F1 per layer, with the embedding "
                                   "layer and random layers as baselines.", epilog=keys_help("ProbeConfig"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="registry name, hub id, or a directory from train/pretrain (default tiny-codebert)")
    p.add_argument("--lang", help="language of the code (default python)")
    p.add_argument("--data", nargs="+", metavar="PATH",
                   help="jsonl with a code field, or a directory of train/valid/test jsonl; default: the "
                        "embedded standard-library corpus")
    p.add_argument("--layers", help="all (default), one layer, a-b or a,b,c; 0 = the embedding layer")
    p.add_argument("--dims", help="probe ranks below the hidden size, comma-separated (default: 128, or half "
                                  "the hidden size of a narrower model), e.g. 8,16,32,64,128,256,512")
    p.add_argument("--out", help="output directory (default runs/probe-<model>-<lang>); new or empty")
    p.add_argument("--overwrite", action="store_true", help="move an earlier probe output in --out aside")
    p.add_argument("--resume", metavar="RUN",
                   help="continue RUN (started with train.save_every=N) from its newest saved "
                   "state, with its own settings: the probes it holds are not trained again")
    p.add_argument("--no-progress", action="store_true", help="no per-layer progress lines (the summary stays)")
    p.add_argument("--json", action="store_true", help="print the result (probe.json) as JSON; log lines to stderr")
    add_seeds_argument(p)
    add_config_arguments(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.max_train_examples=500 train.epochs=10")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import print_config, recipe_config, reclaim_overrides
    from codeintel.config import ProbeConfig
    from codeintel.recipes.probe import probe

    reclaim_overrides(args)
    from codeintel.cli._common import check_seeds, config_overrides

    check_seeds(args, config_overrides(args) if not args.resume else {})
    cfg = recipe_config(args, ProbeConfig, {"model": "model", "lang": "lang", "layers": "layers", "dims": "dims",
                                            "out": "output_dir", "data": "data.paths"})
    if args.print_config:
        return print_config(cfg)
    from codeintel.log import say as log_say

    say = log_say
    result = probe(cfg, overwrite=args.overwrite, echo=say, progress=not args.no_progress, resume=bool(args.resume),
                   seeds=args.seeds, seed_jobs=args.seed_jobs)
    if args.seeds:
        if args.json:
            import json

            print(json.dumps(result, indent=2, default=float))
        return 0
    b = result["best"]
    say(f"best: layer {b['layer']} (dim {b['dim']}) F1 {b['f1']:.3f}; layer 0 {result['baselines']['layer0_f1']:.3f}"
        + (f"; random layers best {max(result['baselines']['random'].values()):.3f}"
           if result["baselines"]["random"] else ""))
    say(f"wrote {result['output_dir']}/probe.json, probe.md, probe.png ({result['seconds']:.0f}s)")
    if args.json:
        import json

        print(json.dumps(result, indent=2, default=float))
    return 0
