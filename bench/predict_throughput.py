"""``codeintel predict`` against a plain transformers loop over the same functions, in the same process,
interleaved over rounds: functions/s.

The functions are those of a source folder (default: this Python's standard library ``json``, ``email`` and
``asyncio`` packages), extracted once. The plain loop is what a user writes without the hub: batches of
``--batch-size`` functions in file order, ``tokenizer(..., padding=True, truncation=True)``, ``generate`` (or the
encoder's mean vector for an embedding model). Both use the same checkpoint, lengths, batch size and decoding (the
checkpoint's beam size and ``no_repeat_ngram_size``).

    python bench/predict_throughput.py --model RUN [--src DIR ...] [--batch-size 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sysconfig
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="a summarization or embedding checkpoint (RUN or RUN/best)")
    default = [str(Path(sysconfig.get_paths()["stdlib"]) / d) for d in ("json", "email", "asyncio")]
    p.add_argument("--src", nargs="+", default=default)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--limit", type=int, default=600, help="functions used (the first N)")
    args = p.parse_args()

    import torch

    from codeintel.data.sources import function_items
    from codeintel.recipes.api import _evaluate_setup, resolve_checkpoint
    from codeintel.tasks.encoding import normalise
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import build_task

    items, _ = function_items(args.src)
    items = items[: args.limit]
    model = resolve_checkpoint(args.model)
    cfg, card, _ = _evaluate_setup(model, None, None, None, {})
    loaded = load_model(cfg.model, card.type)
    task = build_task(cfg, card, loaded)
    net, tok = loaded.model.eval(), loaded.tokenizer
    codes = [normalise(it["code"]) for it in items]

    def ours() -> list:
        return task.infer(net, items, batch_size=args.batch_size, beam_size=cfg.eval.beam_size,
                          no_repeat_ngram_size=cfg.eval.no_repeat_ngram_size)

    def plain() -> list:
        out = []
        with torch.no_grad():
            for i in range(0, len(codes), args.batch_size):
                enc = tok(codes[i : i + args.batch_size], padding=True, truncation=True,
                          max_length=task.source_len, return_tensors="pt")
                if not task.generates:                       # an embedding model: its unit vectors
                    out += list(net(enc["input_ids"], enc["attention_mask"]).numpy())
                    continue
                gen = net.generate(**enc, max_new_tokens=task.target_len, num_beams=cfg.eval.beam_size,
                                   do_sample=False, no_repeat_ngram_size=cfg.eval.no_repeat_ngram_size)
                out += [" ".join(t.split()) for t in tok.batch_decode(gen, skip_special_tokens=True)]
        return out

    a_t, b_t = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        mine = ours()
        a_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs = plain()
        b_t.append(time.perf_counter() - t)
    a, b = min(a_t), min(b_t)
    if task.generates:
        same = sum(m["summary"] == t for m, t in zip(mine, theirs, strict=True))
    else:                                                    # the same vectors, to float tolerance
        import numpy as np

        same = sum(bool(np.allclose(m["embedding"], t, atol=1e-5)) for m, t in zip(mine, theirs, strict=True))
    n = len(items)
    print(f"{n} functions, batch {args.batch_size}, beam {cfg.eval.beam_size} (best of {args.rounds}): predict "
          f"{a:.2f} s ({n / a:.1f} functions/s), plain loop {b:.2f} s ({n / b:.1f} functions/s): ratio {b / a:.2f}x; "
          f"identical outputs {same}/{n}")


if __name__ == "__main__":
    main()
