#!/usr/bin/env python3
"""Training throughput: codeintel's recipe step against HF ``Seq2SeqTrainer``, padded per batch **and** with
``group_by_length=True`` (the strongest plain baseline), in one run.

Same model, same tokenized stdlib training examples, same learning rate and the same mean number of examples per
batch. The four configurations run interleaved, in ``--rounds`` rounds of ``steps / rounds`` steps each (the
order rotating every round), so that a machine whose speed drifts over minutes slows them alike; each is timed
over its optimisation steps only (collating the batch included, HF's trainer set-up excluded).
codeintel's side is the real recipe (``recipes.train.setup`` + ``train_step``: accelerate, length-grouped
token-budget batches), as is and with ``train.fast_kernels=true``; the baselines pad each batch to its longest
member (``DataCollatorForSeq2Seq``), random batches or HF's length-grouped sampler. Throughput is counted in
*real* (non-padding) source + target tokens per second of optimisation time. The script measures this machine's
fp32 matmul peak and reports achieved model FLOP/s as a fraction of it; ``--arch codet5-small`` trains a
randomly initialised model with codet5-small's architecture (the shipped 8k tokenizer, so a smaller vocabulary)
so that the fraction of peak means something.

Run by hand, alone on the machine (another busy process skews every number):

    python bench/train_throughput.py [--model tiny-codet5] [--steps 150] [--examples 2000]
    python bench/train_throughput.py --arch codet5-small --steps 12 --batch-tokens 2048
    python bench/train_throughput.py --device cuda --arch codet5-small     # on a GPU machine
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def matmul_peak(n: int = 1024, repeats: int = 30, device: str = "cpu") -> float:
    """Best fp32 matmul FLOP/s over a few timed runs of an n x n product."""
    import torch

    def sync() -> None:
        if device != "cpu":
            torch.cuda.synchronize()

    n = n if device == "cpu" else 8192
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        a @ b
        sync()
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def flops_per_token(model) -> dict[str, float]:
    """Training FLOPs per real token: 6 x the parameters a token passes through (encoder for source
    tokens; decoder + LM head for target tokens; embeddings lookups excluded)."""
    enc = sum(p.numel() for n, p in model.encoder.named_parameters() if "embed" not in n)
    dec = sum(p.numel() for n, p in model.decoder.named_parameters() if "embed" not in n)
    head = model.lm_head.weight.numel()
    return {"source": 6.0 * enc, "target": 6.0 * (dec + head)}


def recipe_run(cfg, card, n_steps: int):
    """The real recipe set up for ``cfg`` (seed 0, quiet) with its first ``n_steps`` global steps, epoch after epoch,
    and a fresh ``TrainState``: what a bench times with ``recipes.train.train_step``."""
    import torch

    from codeintel.recipes.train import TrainState, setup

    torch.manual_seed(0)
    run = setup(cfg, card, echo=lambda *a, **k: None)
    steps, epoch = [], 0
    while len(steps) < n_steps:
        steps += run.steps(epoch)
        epoch += 1
    return run, TrainState(), steps[:n_steps]


def round_sizes(n_steps: int, rounds: int) -> list[int]:
    """Steps per interleaved round: ``n_steps`` split as evenly as possible."""
    return [n_steps // rounds + (r < n_steps % rounds) for r in range(rounds)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-codet5")
    p.add_argument("--arch", choices=["codet5-small"], help="random-init this registry architecture instead")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds the steps are split into")
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--source-len", type=int, default=256)
    p.add_argument("--target-len", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine (the peak is then the GPU's)")
    args = p.parse_args()

    import numpy as np
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments
    from transformers.utils import logging as hf_logging

    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.config import RunConfig
    from codeintel.recipes.train import train_step
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.models import load_model

    hf_logging.set_verbosity_error()
    peak = matmul_peak(device=args.device)
    where = torch.cuda.get_device_name() if args.device != "cpu" else f"{torch.get_num_threads()} threads"
    print(f"machine: torch {torch.__version__}, {where}, fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (best of 30)")
    card = load_task("summarization")
    tmp = tempfile.mkdtemp(prefix="bench-throughput-")
    cfg = RunConfig(model=args.arch or args.model, task="summarization", output_dir=f"{tmp}/run",
                    source_len=args.source_len, target_len=args.target_len, device=args.device)
    if args.arch:  # the shipped 8k BPE, saved as a tokenizer directory
        shipped_tokenizer("code-bpe-8k").save_pretrained(f"{tmp}/tokenizer")
        cfg.pretrained, cfg.tokenizer = False, f"{tmp}/tokenizer"
    cfg.data.max_train_examples, cfg.data.max_eval_examples = args.examples, 4
    cfg.train.max_steps, cfg.train.lr, cfg.train.warmup_ratio = args.steps, 1e-3, 0.0
    cfg.train.batch_tokens, cfg.train.max_batch_size = args.batch_tokens, 64

    # ---- codeintel: the recipe's own setup and optimizer step, as is and with train.fast_kernels
    runs = {}
    for name, fast in (("codeintel recipe", False), ("... train.fast_kernels", True)):
        cfg.train.fast_kernels = fast
        cfg.output_dir = f"{tmp}/run-{int(fast)}"
        runs[name] = recipe_run(cfg, card, args.steps)
        run, _, steps = runs[name]
    prep, model = run.train_set, run.loaded.model
    fpt = flops_per_token(model)
    mean_bs = float(np.mean([len(b) for s in steps for b in s]))

    # ---- baselines: HF Seq2SeqTrainer, batches padded to the longest member; random or length-grouped
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Optimisation time only: from each step's start to its end (forward, backward, clipping, AdamW)."""

        def __init__(self, counted):
            self.counted = counted

        def on_step_begin(self, *_a, **_k):
            self.t = time.perf_counter()

        def on_step_end(self, *_a, **_k):
            self.counted["seconds"] += time.perf_counter() - self.t

    bs = max(1, round(mean_bs))
    hf = {}
    for name, grouped in (("HF Seq2SeqTrainer", False), ("HF ... group_by_length", True)):
        torch.manual_seed(0)
        loaded = load_model(cfg.model, "summarization", pretrained=cfg.pretrained, tokenizer=cfg.tokenizer or None)
        counted = {"src": 0, "tgt": 0, "cells": 0, "seconds": 0.0}
        collator = DataCollatorForSeq2Seq(loaded.tokenizer, model=loaded.model, padding="longest")

        def counting_collator(features, counted=counted, collator=collator):
            t = time.perf_counter()
            counted["src"] += sum(len(f["input_ids"]) for f in features)
            counted["tgt"] += sum(len(f["labels"]) for f in features)
            counted["cells"] += len(features) * (max(len(f["input_ids"]) for f in features)
                                                 + max(len(f["labels"]) for f in features))
            batch = collator(features)
            counted["seconds"] += time.perf_counter() - t               # collating counts, as in the recipe's step
            return batch

        hf[name] = (loaded.model, grouped, counted, counting_collator)
    train_ds = [{"input_ids": s, "labels": t} for s, t in prep.items]

    def hf_round(name: str, n_steps: int, r: int) -> None:
        model_, grouped, counted, collator_ = hf[name]
        targs = Seq2SeqTrainingArguments(
            output_dir=f"{tmp}/{int(grouped)}", per_device_train_batch_size=bs, max_steps=n_steps,
            learning_rate=1e-3, max_grad_norm=1.0, lr_scheduler_type="constant", logging_strategy="no",
            save_strategy="no", report_to=[], disable_tqdm=True, seed=r, dataloader_num_workers=0,
            use_cpu=args.device == "cpu", group_by_length=grouped)
        Seq2SeqTrainer(model=model_, args=targs, train_dataset=train_ds, data_collator=collator_,
                       callbacks=[StepClock(counted)]).train()

    # ---- the four, interleaved: `--rounds` rounds of steps/rounds steps each, the order rotating every round,
    # so that this machine's drifting speed touches every configuration alike
    names = [*runs, *hf]
    per = round_sizes(args.steps, args.rounds)
    done = 0
    for r, n_steps in enumerate(per):
        for name in names[r % 4:] + names[: r % 4]:
            if name in runs:
                run, state, steps = runs[name]
                for s in steps[done : done + n_steps]:
                    train_step(run, state, s)
            else:
                hf_round(name, n_steps, r)
        done += n_steps
    results = []
    for name in names:
        if name in runs:
            run, state, steps = runs[name]
            run.rundir.release()
            src = sum(len(prep.items[i][0]) for s in steps for b in s for i in b)
            tgt = sum(len(prep.items[i][1]) for s in steps for b in s for i in b)
            cells = sum(len(b) * (max(len(prep.items[i][0]) for i in b) + max(len(prep.items[i][1]) for i in b))
                        for s in steps for b in s)
            secs = state.train_seconds
        else:
            counted = hf[name][2]
            src, tgt, cells, secs = counted["src"], counted["tgt"], counted["cells"], counted["seconds"]
        results.append((name, (src + tgt) / secs, 1 - (src + tgt) / cells,
                        (src * fpt["source"] + tgt * fpt["target"]) / secs))

    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {cfg.model}{' (random init, 8k vocabulary)' if args.arch else ''}, {n_params / 1e6:.1f}M "
          f"parameters; data: {len(prep.items)} stdlib train examples, source<= {args.source_len}, target<= "
          f"{args.target_len}, {args.steps} steps each, mean {mean_bs:.1f} examples/batch")
    print(f"{'':26}{'real tok/s':>12}{'padding':>10}{'model GFLOP/s':>15}{'of peak':>9}")
    for name, tok_s, pad, flops in results:
        print(f"{name:26}{tok_s:12.0f}{pad:10.1%}{flops / 1e9:15.2f}{flops / peak:9.1%}")
    for name, tok_s, *_ in results[:2]:
        print(f"{name}: {tok_s / results[2][1]:.2f}x vs padded, {tok_s / results[3][1]:.2f}x vs group_by_length "
              "(real tokens/s; target >= 1.5x vs group_by_length)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
