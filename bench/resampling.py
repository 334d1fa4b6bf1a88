"""Paired bootstrap of corpus BLEU on a CodeXGLUE-sized test set: codeintel's vectorised resampling against
sacreBLEU's paired bootstrap (the accepted reference implementation), in the same process and on the same
sentences, interleaved over rounds.

    python bench/resampling.py [--examples 14000] [--resamples 1000] [--rounds 3]

Prints each tool's seconds for ``--resamples`` resamples (best of the rounds), the ratio, and codeintel's time
for 10,000 resamples plus 10,000 approximate-randomization trials (the `codeintel compare` defaults).
sacreBLEU indexes one (resamples x examples) matrix of statistics at once; at 10,000 x 14,000 that is beyond
this machine's memory for a comparison, hence the shared, smaller ``--resamples``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--examples", type=int, default=14_000)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    from codeintel.eval.bleu import bleu_stats
    from codeintel.eval.resample import Decomposed, approximate_randomization, paired_bootstrap

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(200)]
    refs = [" ".join(rng.choice(vocab, rng.integers(5, 30))) for _ in range(args.examples)]

    def noisy(q: float) -> list[str]:
        return [" ".join(t if rng.random() > q else rng.choice(vocab) for t in r.split()) for r in refs]

    sys_a, sys_b = noisy(0.5), noisy(0.45)
    t = time.perf_counter()
    da = Decomposed("bleu", [bleu_stats(h, r) for h, r in zip(sys_a, refs, strict=True)])
    db = Decomposed("bleu", [bleu_stats(h, r) for h, r in zip(sys_b, refs, strict=True)])
    stats_s = time.perf_counter() - t
    ours, theirs = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        boot = paired_bootstrap(da, db, resamples=args.resamples)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        test = PairedTest([("a", sys_a), ("b", sys_b)], {"BLEU": BLEU(tokenize="none", smooth_method="none")},
                          references=[refs], test_type="bs", n_samples=args.resamples)
        _, scores = test()
        theirs.append(time.perf_counter() - t)
    print(f"{args.examples} examples, {args.resamples} resamples, best of {args.rounds} rounds")
    print(f"  BLEU a {da.value():.2f} / b {db.value():.2f} (sacreBLEU {scores['BLEU'][0].score:.2f} / "
          f"{scores['BLEU'][1].score:.2f}); our statistics once: {stats_s:.1f}s")
    print(f"  codeintel paired bootstrap: {min(ours):.2f}s (+ {stats_s:.1f}s statistics)   sacreBLEU paired bootstrap "
          f"(its statistics included): {min(theirs):.2f}s   ratio {min(theirs) / (min(ours) + stats_s):.1f}x "
          f"statistics included, {min(theirs) / min(ours):.1f}x on the resampling")
    print(f"  interval half-width of b: ours {(boot['b_high'] - boot['b_low']) / 2:.3f}, sacreBLEU "
          f"{scores['BLEU'][1].ci:.3f}")
    t = time.perf_counter()
    paired_bootstrap(da, db, resamples=10_000)
    approximate_randomization(da, db, trials=10_000)
    print(f"  codeintel compare defaults (10,000 resamples + 10,000 AR trials): {time.perf_counter() - t:.1f}s")


if __name__ == "__main__":
    main()
