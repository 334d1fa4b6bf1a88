#!/usr/bin/env python3
"""Generation: codeintel's decoding against transformers' ``generate`` on the same checkpoint, inputs, batches
and decoding settings, interleaved in one run.

The inputs are a summarization checkpoint's test split (the embedded stdlib corpus for the demo's checkpoint),
tokenized once and cut into the same length-sorted batches for both sides (``generate`` on length-sorted batches
is the strongest plain baseline: random batches pad more). Settings: greedy (with the checkpoint's
``no_repeat_ngram_size``), beam 10, and sampling with n = 10 (``num_return_sequences``). Printed per setting:
generated tokens/s (each output's tokens up to and including EOS), the ratio, and for greedy and beam whether
every output is token-for-token identical.

    python3 dev.py demo                                   # a checkpoint: runs/summarization-tiny-codet5
    python bench/generate_throughput.py --model runs/summarization-tiny-codet5 [--rounds 3] [--limit 600]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="runs/summarization-tiny-codet5", help="a summarization checkpoint")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--limit", type=int, default=600, help="test examples used")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--settings", default="greedy,beam,sample")
    args = p.parse_args()

    import numpy as np
    import torch

    from codeintel.recipes.predict import load_for_inference
    from codeintel.tasks.common import pad
    from codeintel.tasks.decoding import beam_search, decode, greedy

    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found: train one with `python3 dev.py demo` or pass --model RUN")
    inf = load_for_inference(args.model)
    task, model, tok = inf.task, inf.loaded.model.eval(), inf.loaded.tokenizer
    from codeintel.data.loaders import LoadReport

    rows = task.load(list(inf.cfg.data.paths), False, LoadReport())["test"][: args.limit]
    prepared = task.prepare(rows)
    order = np.argsort([-len(s) for s, _ in prepared.items], kind="stable")
    batches = []
    for start in range(0, len(order), args.batch_size):
        idx = order[start : start + args.batch_size].tolist()
        batches.append(pad([prepared.items[i][0] for i in idx], tok.pad_token_id))
    ngram = inf.cfg.eval.no_repeat_ngram_size
    pad_id = tok.pad_token_id
    length = task.target_len

    def count(gen: torch.Tensor) -> int:                    # generated tokens, through EOS
        body = gen[:, 1:]
        return int((body != pad_id).sum())

    def hf(setting: str):
        kw = {"greedy": dict(num_beams=1, do_sample=False, no_repeat_ngram_size=ngram),
              "beam": dict(num_beams=10, early_stopping=True, do_sample=False, no_repeat_ngram_size=ngram),
              "sample": dict(do_sample=True, num_return_sequences=10, top_p=0.95, temperature=0.8)}[setting]
        return [model.generate(input_ids=ids, attention_mask=m, max_new_tokens=length, **kw) for ids, m in batches]

    def ours(setting: str):
        if setting == "greedy":
            return [greedy(model, ids, m, length, ngram) for ids, m in batches]
        if setting == "sample":                              # the encoder once per input, finished rows leave
            return [decode(model, ids, m, length, n=10, sample=True, top_p=0.95, temperature=0.8)
                    for ids, m in batches]
        if setting == "beam":                                # generate's steps; finished inputs leave the batch
            return [beam_search(model, ids, m, length, 10, ngram) for ids, m in batches]
        return hf(setting)

    settings = args.settings.split(",")
    results = {s: {"ours": [], "hf": [], "out": {}} for s in settings}
    for r in range(args.rounds):
        for s in settings:
            for side in (("ours", "hf") if r % 2 == 0 else ("hf", "ours")):
                torch.manual_seed(r)
                t = time.perf_counter()
                with torch.no_grad():
                    out = (ours if side == "ours" else hf)(s)
                results[s][side].append(time.perf_counter() - t)
                results[s]["out"][side] = out
    n = len(prepared.items)
    print(f"checkpoint {args.model}: {n} test inputs, batch {args.batch_size} (length-sorted, the same for both), "
          f"max {length} new tokens, no_repeat_ngram_size {ngram}, {torch.get_num_threads()} threads; best of "
          f"{args.rounds} interleaved rounds")
    print(f"{'setting':10}{'ours tok/s':>12}{'generate tok/s':>16}{'ratio':>8}  identical outputs")
    for s in settings:
        res = results[s]
        toks = {side: sum(count(g) for g in res["out"][side]) for side in ("ours", "hf")}
        a, b = toks["ours"] / min(res["ours"]), toks["hf"] / min(res["hf"])
        if s == "sample":
            same = "n/a (random draws)"
        else:
            pairs = [(x, y) for x, y in zip(res["out"]["ours"], res["out"]["hf"], strict=True)]
            same = f"{sum(x.shape == y.shape and bool((x == y).all()) for x, y in pairs)}/{len(pairs)} batches"
        print(f"{s:10}{a:12.0f}{b:16.0f}{a / b:7.2f}x  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
