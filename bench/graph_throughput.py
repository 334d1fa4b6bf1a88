#!/usr/bin/env python3
"""Graph-guided (GraphCodeBERT data-flow) training against plain training of the same model, in one run.

Clone detection on the embedded stdlib clone set, the real recipe (``recipes.train.setup`` + ``train_step``):
``graph=false`` (code tokens, batches padded to their longest program) and ``graph=true`` (code tokens, then one
node per variable, graph-guided attention) at the same code length C, the same seed and the same token budget.
The two run interleaved in ``--rounds`` rounds (the order alternating), each timed over its optimisation steps
(collating included). Printed per configuration: real input positions per second (code tokens, plus data-flow
nodes for the graph run), code tokens per second and programs per second, and the graph run's cost per real
position and per program against the plain run's (target: <= 1.3x per real token).

    python bench/graph_throughput.py                          # tiny-graphcodebert
    python bench/graph_throughput.py --arch graphcodebert-base --steps 6 --rounds 2 --batch-tokens 4096
    python bench/graph_throughput.py --device cuda --arch graphcodebert-base     # on a GPU machine

``--arch`` random-initialises that registry architecture with the shipped tokenizer (no download).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-graphcodebert")
    p.add_argument("--arch", choices=["graphcodebert-base"], help="random-init this registry architecture instead")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--examples", type=int, default=600, help="training pairs")
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--source-len", type=int, default=256, help="code length C (both runs)")
    p.add_argument("--dfg-length", type=int, default=64, help="data-flow nodes D (graph run)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    import torch
    from train_throughput import recipe_run, round_sizes  # this folder's bench: the same recipe steps
    from transformers.utils import logging as hf_logging

    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.config import RunConfig
    from codeintel.recipes.train import train_step
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.encoding import program_length

    hf_logging.set_verbosity_error()
    card = load_task("clone-detection-stdlib")
    tmp = tempfile.mkdtemp(prefix="bench-graph-")
    runs = {}
    for graph in (False, True):
        cfg = RunConfig(model=args.arch or args.model, task="clone-detection-stdlib",
                        output_dir=f"{tmp}/run-{int(graph)}", source_len=args.source_len,
                        graph=graph, dfg_length=args.dfg_length, device=args.device)
        if args.arch:
            shipped_tokenizer("code-bpe-8k").save_pretrained(f"{tmp}/tokenizer")
            cfg.pretrained, cfg.tokenizer = False, f"{tmp}/tokenizer"
        cfg.data.max_train_examples, cfg.data.max_eval_examples = args.examples, 4
        cfg.train.max_steps, cfg.train.lr, cfg.train.warmup_ratio = args.steps, 1e-4, 0.0
        cfg.train.batch_tokens, cfg.train.max_batch_size = args.batch_tokens, 64
        runs[graph] = recipe_run(cfg, card, args.steps)

    per = round_sizes(args.steps, args.rounds)
    done = 0
    for r, n_steps in enumerate(per):
        for graph in ((False, True) if r % 2 == 0 else (True, False)):
            run, state, steps = runs[graph]
            for s in steps[done : done + n_steps]:
                train_step(run, state, s)
        done += n_steps

    rows = {}
    for graph, (run, state, steps) in runs.items():
        run.rundir.release()
        prog, pairs = run.train_set.items["programs"], run.train_set.items["pairs"]
        examples = [i for s in steps for b in s for i in b]
        real = code = 0
        for i in examples:
            for k in pairs[i][:2]:
                x = prog[k]
                if isinstance(x, list):
                    real += len(x)
                    code += len(x)
                else:
                    real += x.n_real
                    code += x.n_code
        secs = state.train_seconds
        rows[graph] = (real / secs, code / secs, 2 * len(examples) / secs, secs, len(examples) / len(steps),
                       max(program_length(prog[k]) for k in prog))
    name = args.arch or args.model
    print(f"model: {name}{' (random init)' if args.arch else ''}; {args.steps} steps each on {args.examples} stdlib "
          f"clone pairs, C={args.source_len}, D={args.dfg_length}, budget {args.batch_tokens} tokens, "
          f"{torch.get_num_threads()} threads, {args.device}")
    print(f"{'':14}{'real pos/s':>12}{'code tok/s':>12}{'programs/s':>12}{'seconds':>9}{'pairs/batch':>12}")
    for graph, (real_s, code_s, prog_s, secs, bs, _) in rows.items():
        print(f"{'graph=' + str(graph).lower():14}{real_s:12.0f}{code_s:12.0f}{prog_s:12.1f}{secs:9.1f}{bs:12.1f}")
    plain, graph = rows[False], rows[True]
    print(f"graph-guided cost: {plain[0] / graph[0]:.2f}x per real position, {plain[1] / graph[1]:.2f}x per code "
          f"token, {plain[2] / graph[2]:.2f}x per program (target <= 1.3x per real token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
