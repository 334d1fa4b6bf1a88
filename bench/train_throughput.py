#!/usr/bin/env python3
"""Training throughput: codeintel's loop against a plain padded HF ``Seq2SeqTrainer``, in one run.

Same model (tiny-codet5 by default), same stdlib training examples, same lengths, same learning rate and
the same mean number of examples per batch. The baseline pads each random batch to its longest member
(``DataCollatorForSeq2Seq``); codeintel groups batches by length under a token budget. Throughput is
counted in *real* (non-padding) source + target tokens per second of optimisation time. The script also
measures this machine's fp32 matmul peak and reports the achieved model FLOP/s as a fraction of it.

Run by hand, alone on the machine (another busy process skews every number):

    python bench/train_throughput.py [--model tiny-codet5] [--steps 150] [--examples 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def matmul_peak(n: int = 1024, repeats: int = 30) -> float:
    """Best fp32 matmul FLOP/s over a few timed runs of an n x n product."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def flops_per_token(model) -> dict[str, float]:
    """Training FLOPs per real token: 6 x the parameters a token passes through (encoder for source
    tokens; decoder + LM head for target tokens; embeddings lookups excluded)."""
    enc = sum(p.numel() for n, p in model.encoder.named_parameters() if "embed" not in n)
    dec = sum(p.numel() for n, p in model.decoder.named_parameters() if "embed" not in n)
    head = model.lm_head.weight.numel()
    return {"source": 6.0 * enc, "target": 6.0 * (dec + head)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-codet5")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--source-len", type=int, default=256)
    p.add_argument("--target-len", type=int, default=32)
    args = p.parse_args()

    import numpy as np
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments
    from transformers.utils import logging as hf_logging

    from codeintel.data.loaders import load_summarization
    from codeintel.data.stdlib import default_stdlib_dir
    from codeintel.recipes.batching import make_batches
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import make_task

    hf_logging.set_verbosity_error()
    peak = matmul_peak()
    print(f"machine: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (1024^3, best of 30)")

    rows = load_summarization([str(default_stdlib_dir())])["train"][: args.examples]
    card = load_task("summarization")

    def fresh():
        torch.manual_seed(0)
        loaded = load_model(args.model, "summarization")
        task = make_task(card, loaded.tokenizer, args.source_len, args.target_len)
        return loaded, task, task.prepare(rows)

    # ---- codeintel: length-grouped token-budget batches (the recipe's batching, loss and optimizer step)
    loaded, task, prep = fresh()
    model = loaded.model
    fpt = flops_per_token(model)
    batches = []
    epoch = 0
    while len(batches) < args.steps:
        batches += make_batches(prep.lengths, args.batch_tokens, 64, "length", seed=epoch)
        epoch += 1
    batches = batches[: args.steps]
    mean_bs = float(np.mean([len(b) for b in batches]))
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    tokens = src_tok = tgt_tok = cells = 0
    t0 = time.perf_counter()
    for idx in batches:
        batch = task.collate(prep, idx)
        loss, n = task.loss(model, batch)
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        tokens += n
        src_tok += int(batch["attention_mask"].sum())
        tgt_tok += int((batch["labels"] != -100).sum())
        cells += batch["input_ids"].numel() + batch["labels"].numel()
    ours_s = time.perf_counter() - t0
    ours = tokens / ours_s
    ours_flops = (src_tok * fpt["source"] + tgt_tok * fpt["target"]) / ours_s

    # ---- baseline: HF Seq2SeqTrainer, random batches padded to the longest member
    loaded, task, prep = fresh()
    train_ds = [{"input_ids": s, "labels": t} for s, t in prep.items]
    counted = {"src": 0, "tgt": 0, "cells": 0}
    collator = DataCollatorForSeq2Seq(loaded.tokenizer, model=loaded.model, padding="longest")

    def counting_collator(features):
        counted["src"] += sum(len(f["input_ids"]) for f in features)
        counted["tgt"] += sum(len(f["labels"]) for f in features)
        counted["cells"] += len(features) * (max(len(f["input_ids"]) for f in features)
                                             + max(len(f["labels"]) for f in features))
        return collator(features)

    bs = max(1, round(mean_bs))
    with tempfile.TemporaryDirectory() as tmp:
        targs = Seq2SeqTrainingArguments(
            output_dir=tmp, per_device_train_batch_size=bs, max_steps=args.steps, learning_rate=1e-3,
            max_grad_norm=1.0, lr_scheduler_type="constant", logging_strategy="no", save_strategy="no",
            report_to=[], disable_tqdm=True, seed=0, dataloader_num_workers=0, use_cpu=True)
        trainer = Seq2SeqTrainer(model=loaded.model, args=targs, train_dataset=train_ds,
                                 data_collator=counting_collator)
        t0 = time.perf_counter()
        trainer.train()
        base_s = time.perf_counter() - t0
    base_tokens = counted["src"] + counted["tgt"]
    base = base_tokens / base_s
    base_pad = 1 - base_tokens / counted["cells"]
    base_flops = (counted["src"] * fpt["source"] + counted["tgt"] * fpt["target"]) / base_s

    print(f"data: {len(rows)} stdlib train examples, source<= {args.source_len}, target<= {args.target_len}, "
          f"{args.steps} steps each, mean {mean_bs:.1f} examples/batch")
    print(f"{'':24}{'real tok/s':>12}{'padding':>10}{'model GFLOP/s':>15}{'of peak':>9}")
    print(f"{'HF Seq2SeqTrainer':24}{base:12.0f}{base_pad:10.1%}"
          f"{base_flops / 1e9:15.2f}{base_flops / peak:9.1%}")
    print(f"{'codeintel loop':24}{ours:12.0f}{1 - tokens / cells:10.1%}"
          f"{ours_flops / 1e9:15.2f}{ours_flops / peak:9.1%}")
    print(f"speed-up (real tokens/s): {ours / base:.2f}x  (target >= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
