#!/usr/bin/env python3
"""Adapter and LoRA training against full fine-tuning: tokens/s and peak memory, as ratios, in one run.

Every configuration trains the same model on the same length-grouped batches (the recipe's own ``setup`` and
``train_step``, seed fixed, so the batch order is identical) for the same number of steps, each in a fresh
process so that peak memory is its own: CPU peak resident memory (``ru_maxrss``) and its growth during
training (activations, gradients, optimizer state), or ``torch.cuda.max_memory_allocated`` on a GPU.
Throughput is real (non-padding) source + target tokens per second of optimisation time.

Configurations: ``full`` (baseline), ``pfeiffer``, ``houlsby``, ``lora-r8``, ``prefix`` (task adapters
alone) and ``ner-stack`` (a NER adapter fixed with a Pfeiffer task adapter on top). Run by hand, alone on
the machine:

    python bench/adapter_overhead.py [--model tiny-codet5] [--steps 30]
    python bench/adapter_overhead.py --arch codet5-small --steps 8 --batch-tokens 2048
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
CONFIGS = ("full", "pfeiffer", "houlsby", "lora-r8", "prefix", "ner-stack")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(args) -> dict:
    """Train one configuration; returns its measurements."""
    import torch

    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.config import RunConfig
    from codeintel.recipes.train import TrainState, setup, train_step
    from codeintel.tasks.cards import load_task

    tmp = tempfile.mkdtemp(prefix="bench-adapters-")
    cfg = RunConfig(model=args.arch or args.model, task="summarization", output_dir=f"{tmp}/run")
    if args.arch:  # random init of the published architecture with the shipped 8k BPE
        shipped_tokenizer("code-bpe-8k").save_pretrained(f"{tmp}/tokenizer")
        cfg.pretrained, cfg.tokenizer = False, f"{tmp}/tokenizer"
    if args.one == "ner-stack":
        from codeintel.peft_adapters import ner
        from codeintel.structure.token_types import LABELS
        from codeintel.tasks.models import load_encoder

        os.makedirs(f"{tmp}/ner")
        ner.save(ner.build(*load_encoder(cfg.model) if not args.arch else _encoder(cfg), cfg.model, LABELS),
                 __import__("pathlib").Path(f"{tmp}/ner"))
        cfg.adapter, cfg.adapter_mode = f"{tmp}/ner", "stack"
    elif args.one != "full":
        cfg.adapter = args.one
    cfg.data.max_train_examples, cfg.data.max_eval_examples = args.examples, 4
    cfg.train.max_steps, cfg.train.lr, cfg.train.warmup_ratio = args.steps, 1e-3, 0.0
    cfg.train.batch_tokens = args.batch_tokens
    torch.manual_seed(0)
    run = setup(cfg, load_task("summarization"), echo=lambda *a, **k: None)
    trained, total = run.loaded.parameter_counts()
    state, steps, epoch = TrainState(), [], 0
    while len(steps) < args.steps + 2:
        steps += run.steps(epoch)
        epoch += 1
    before = rss_mb()  # model and data loaded; what training adds comes next
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for s in steps[:2]:  # warm-up, not timed
        train_step(run, state, s)
    state.tokens = 0
    state.train_seconds = 0.0
    for s in steps[2 : args.steps + 2]:
        train_step(run, state, s)
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else rss_mb()
    return {"config": args.one, "tokens_per_s": state.tokens / state.train_seconds, "peak_mb": peak,
            "growth_mb": peak - before if not torch.cuda.is_available() else peak, "trained": trained,
            "total": total}


def _encoder(cfg):
    """(encoder, tokenizer, family) of a random-init architecture (no hub): the task model's T5 encoder."""
    from transformers import T5EncoderModel

    from codeintel.tasks.models import load_model

    loaded = load_model(cfg.model, "summarization", pretrained=False, tokenizer=cfg.tokenizer)
    enc = T5EncoderModel(loaded.model.config)
    enc.load_state_dict(loaded.model.state_dict(), strict=False)
    return enc, loaded.tokenizer, loaded.family


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-codet5")
    p.add_argument("--arch", choices=["codet5-small"], help="random-init this registry architecture instead")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--examples", type=int, default=1500)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return 0
    rows = []
    for c in args.configs:
        cmd = [sys.executable, __file__, "--one", c, "--model", args.model, "--steps", str(args.steps),
               "--examples", str(args.examples), "--batch-tokens", str(args.batch_tokens)]
        if args.arch:
            cmd += ["--arch", args.arch]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"error: {c} failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{c:<10} {r['tokens_per_s']:>9.0f} tok/s  peak {r['peak_mb']:>7.0f} MB  "
              f"(+{r['growth_mb']:.0f} MB training)  trained {r['trained']:,} of {r['total']:,}", flush=True)
    base = next((r for r in rows if r["config"] == "full"), rows[0])
    print(f"\nmodel {args.arch or args.model}, {args.steps} timed steps, batch_tokens {args.batch_tokens}; "
          f"ratios against {base['config']}:")
    print(f"{'config':<10} {'tokens/s':>9} {'peak mem':>9} {'growth':>8} {'trained %':>10}")
    for r in rows:
        print(f"{r['config']:<10} {r['tokens_per_s'] / base['tokens_per_s']:>8.2f}x "
              f"{r['peak_mb'] / base['peak_mb']:>8.2f}x {r['growth_mb'] / max(base['growth_mb'], 1e-9):>7.2f}x "
              f"{100 * r['trained'] / r['total']:>9.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
