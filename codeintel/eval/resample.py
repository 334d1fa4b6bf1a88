"""Per-example statistics of every corpus metric, and paired significance tests on them.

A corpus metric is a function of sums over test examples: exact match and smoothed BLEU are means of
per-example scores, corpus BLEU a function of summed n-gram counts and lengths, F1 a function of summed
true/false positives and false negatives, a perplexity the exponential of summed NLL over summed tokens.
:class:`Decomposed` holds one row of such sufficient statistics per example and a ``kind`` that turns summed
rows back into the metric, so that

- :meth:`Decomposed.value` with every example once gives exactly the harness's corpus score (tested per task
  type), and
- a resample of the test set is a vector of example counts ``w``: the metric of ``w @ stats``. Many resamples
  at once are one matrix product (``W @ stats``), which is what makes 10,000 resamples of a 14k-example test set
  take seconds (``bench/resampling.py``).

:func:`paired_bootstrap` resamples test examples with replacement, the same resample for both systems, and
recomputes each corpus metric (not an average of sentence scores where the metric is corpus-level):
the 95 % percentile interval of the difference B − A. :func:`approximate_randomization` swaps the two
systems' outputs on each example with probability ½ and counts how often the absolute difference is at least
the observed one: p = (count + 1) / (trials + 1) (Noreen 1989; Riezler & Maxwell 2005). scipy.stats has a
bootstrap and a permutation test, but both call the statistic once per resample on resampled data, and their
paired permutation needs a per-example difference, which a corpus metric does not have; the loops here are the
same procedures on the sufficient statistics, vectorised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("mean", "f1", "precision", "recall", "bleu", "bleu_smooth", "nltk_bleu", "ratio", "codebleu", "exp_ratio",
         "macro_f1")
FILE = "per_example.json"
CHUNK = 256  # resamples per matrix product


@dataclass
class Decomposed:
    """A corpus metric as per-example sufficient statistics.

    ``kind``: ``mean`` (one column; the metric is ``scale`` × the mean), ``f1`` / ``precision`` / ``recall``
    (columns tp, fp, fn; binary, 0 where undefined as sklearn), ``bleu`` (clipped matches n = 1..4, possible
    matches n = 1..4, prediction length, shortest reference length: CodeXGLUE's corpus BLEU × 100; ``bleu_smooth``
    the same with add-one smoothing on every order, CodeXGLUE's code-to-code ``_bleu``), ``nltk_bleu`` (CodeBLEU's
    n-gram parts: :func:`codeintel.eval.codebleu.ngram_stats` columns, × 100), ``ratio`` (columns a, b:
    ``scale`` × Σa / Σb, 0 where Σb = 0), ``codebleu`` (the 10 + 10 + 2 + 2 columns of CodeBLEU's four
    components, combined with ``weights``), ``exp_ratio`` (columns NLL, count: exp(Σ NLL / Σ count), a
    perplexity) or ``macro_f1`` (columns tp, predicted, gold of each class in turn: the mean over the classes
    with gold > 0 of F1 with P = tp / max(1, predicted), R = tp / max(1, gold); token-classification)."""

    kind: str
    stats: np.ndarray
    scale: float = 1.0
    digits: int | None = None         # the harness rounds this metric (MAP@R: 4 decimals)
    lower_is_better: bool = False
    weights: tuple[float, ...] | None = None   # codebleu: α, β, γ, δ

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {', '.join(KINDS)}")
        self.stats = np.asarray(self.stats, dtype=np.float64)
        if self.stats.ndim == 1:
            self.stats = self.stats[:, None]

    @property
    def n(self) -> int:
        return len(self.stats)

    def value(self) -> float:
        """The corpus metric over every example once (the harness's score)."""
        v = float(self.from_sums(self.stats.sum(0)[None, :], np.array([self.n], dtype=np.float64))[0])
        return round(v, self.digits) if self.digits is not None else v

    def from_sums(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The metric of each row of summed statistics (``counts``: the examples each row sums)."""
        s = sums
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "mean":
                return self.scale * s[:, 0] / counts
            if self.kind in ("f1", "precision", "recall"):
                tp, fp, fn = s[:, 0], s[:, 1], s[:, 2]
                den = {"f1": 2 * tp + fp + fn, "precision": tp + fp, "recall": tp + fn}[self.kind]
                num = 2 * tp if self.kind == "f1" else tp
                return self.scale * np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
            if self.kind == "exp_ratio":
                return np.exp(s[:, 0] / s[:, 1])
            if self.kind == "macro_f1":
                c = s.reshape(len(s), -1, 3)
                tp, pred, gold = c[..., 0], c[..., 1], c[..., 2]
                p, r = tp / np.maximum(pred, 1), tp / np.maximum(gold, 1)
                f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
                present = gold > 0
                return self.scale * (f1 * present).sum(1) / np.maximum(present.sum(1), 1)
            if self.kind == "ratio":
                return self.scale * np.where(s[:, 1] > 0, s[:, 0] / np.where(s[:, 1] > 0, s[:, 1], 1), 0.0)
            if self.kind == "nltk_bleu":
                return _nltk_bleu(s)
            if self.kind == "codebleu":
                w = self.weights or (0.25, 0.25, 0.25, 0.25)
                syn = np.where(s[:, 21] > 0, s[:, 20] / np.where(s[:, 21] > 0, s[:, 21], 1), 0.0)
                flow = np.where(s[:, 23] > 0, s[:, 22] / np.where(s[:, 23] > 0, s[:, 23], 1), 0.0)
                return (w[0] * _nltk_bleu(s[:, :10]) + w[1] * _nltk_bleu(s[:, 10:20])
                        + 100.0 * (w[2] * syn + w[3] * flow))
            matches, possible, hyp, ref = s[:, :4], s[:, 4:8], s[:, 8], s[:, 9]           # bleu, bleu_smooth
            if self.kind == "bleu_smooth":
                possible, matches = possible + 1, matches + 1
            prec = np.where(possible > 0, matches / np.where(possible > 0, possible, 1), 0.0)
            ok = (hyp > 0) & (prec.min(1) > 0)
            geo = np.exp(np.log(np.where(prec > 0, prec, 1)).mean(1))
            ratio = np.where(ref > 0, hyp / np.where(ref > 0, ref, 1), np.inf)
            bp = np.where(ratio > 1, 1.0, np.exp(1 - 1 / np.where(ratio > 0, ratio, 1)))
            return np.where(ok, 100.0 * geo * bp, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "scale": self.scale, "digits": self.digits,
                "lower_is_better": self.lower_is_better, "stats": self.stats.tolist(),
                **({"weights": list(self.weights)} if self.weights else {})}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Decomposed:
        return cls(d["kind"], np.asarray(d["stats"], dtype=np.float64), d.get("scale", 1.0), d.get("digits"),
                   d.get("lower_is_better", False), tuple(d["weights"]) if d.get("weights") else None)


def _nltk_bleu(s: np.ndarray) -> np.ndarray:
    """CodeBLEU's n-gram parts × 100 from summed :func:`codeintel.eval.codebleu.ngram_stats` columns."""
    num, den, hyp, ref = s[:, :4], s[:, 4:8], s[:, 8], s[:, 9]
    p = np.where(num == 0, 0.1, num) / den
    bp = np.where(hyp > ref, 1.0, np.where(hyp > 0, np.exp(1 - ref / np.where(hyp > 0, hyp, 1)), 0.0))
    return np.where(num[:, 0] > 0, 100.0 * bp * np.exp(0.25 * np.log(p).sum(1)), 0.0)


def save(path: Path, task: str, split: str, ids: list[str], metrics: dict[str, Decomposed]) -> None:
    """``per_example.json``: the task, the split, the example ids in order and each metric's statistics."""
    from codeintel.io import write_text

    bad = [m for m, d in metrics.items() if d.n != len(ids)]
    if bad:
        raise ValueError(f"per-example statistics of {bad} do not have one row per id ({len(ids)})")
    write_text(path, json.dumps({"task": task, "split": split, "ids": [str(i) for i in ids],
                                 "metrics": {m: d.to_json() for m, d in metrics.items()}}) + "\n")


def load(path: Path) -> dict[str, Any]:
    raw = json.loads(Path(path).read_text())
    raw["metrics"] = {m: Decomposed.from_json(d) for m, d in raw["metrics"].items()}
    return raw


def _counts(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """``b`` bootstrap resamples of ``n`` examples as example counts (b, n): each row sums to n."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


Systems = Decomposed | list[Decomposed]


def _seeds(x: Systems) -> list[Decomposed]:
    return [x] if isinstance(x, Decomposed) else list(x)


def paired_bootstrap(a: Systems, b: Systems, resamples: int = 10_000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, float]:
    """The difference B − A of a corpus metric with its paired-bootstrap percentile interval.

    ``a`` and ``b``: one run each, or the runs of several seeds (a list): then a system's score is the mean over
    its seeds, and each replicate resamples the seeds of each side as well as the test examples (both sources of
    variance). Returns ``a``, ``b`` and ``diff`` (the observed scores), ``low`` / ``high`` (the interval of the
    difference), ``a_low`` / ``a_high`` / ``b_low`` / ``b_high`` (each system's own interval), ``resamples``,
    ``seed``."""
    sa_, sb_ = _seeds(a), _seeds(b)
    for x in [*sa_[1:], *sb_]:
        _same(sa_[0], x)
    rng = np.random.default_rng(seed)
    n, da, va, vb = sa_[0].n, [], [], []
    for start in range(0, resamples, CHUNK):
        w = _counts(rng, min(CHUNK, resamples - start), n)
        m = len(w)
        side = []
        for systems in (sa_, sb_):
            scores = np.stack([d.from_sums(w @ d.stats, np.full(m, n)) for d in systems])       # (seeds, m)
            if len(systems) > 1:                                           # the seeds resampled too
                pick = rng.integers(0, len(systems), size=(len(systems), m))
                scores = scores[pick, np.arange(m)[None, :]]
            side.append(scores.mean(0))
        da.append(side[1] - side[0])
        va.append(side[0])
        vb.append(side[1])
    diffs, sa, sb = np.concatenate(da), np.concatenate(va), np.concatenate(vb)
    q = [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100]
    lo, hi = np.percentile(diffs, q)
    out = {"a": float(np.mean([d.value() for d in sa_])), "b": float(np.mean([d.value() for d in sb_])),
           "low": float(lo), "high": float(hi), "resamples": resamples, "seed": seed, "seeds": [len(sa_), len(sb_)]}
    out["diff"] = out["b"] - out["a"]
    out["a_low"], out["a_high"] = (float(x) for x in np.percentile(sa, q))
    out["b_low"], out["b_high"] = (float(x) for x in np.percentile(sb, q))
    return out


def approximate_randomization(a: Systems, b: Systems, trials: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of the difference between paired systems: on each trial every example's outputs are
    swapped between A and B with probability ½; p = (trials with |diff| >= observed + 1) / (trials + 1).

    With several seeds per side (the same number), seed i of A is paired with seed i of B, one swap decision
    per example applies to every pair, and the statistic is the difference of the means over the seeds."""
    sa_, sb_ = _seeds(a), _seeds(b)
    if len(sa_) != len(sb_):
        raise ValueError(f"approximate randomization pairs the seeds: {len(sa_)} against {len(sb_)}")
    for x in [*sa_[1:], *sb_]:
        _same(sa_[0], x)
    rng = np.random.default_rng(seed)
    n = sa_[0].n
    ones = np.full(1, n, dtype=np.float64)

    def mean_of(systems: list[Decomposed], sums: list[np.ndarray], counts: np.ndarray) -> np.ndarray:
        return np.mean([d.from_sums(s, counts) for d, s in zip(systems, sums, strict=True)], axis=0)

    observed = abs(float(mean_of(sb_, [d.stats.sum(0)[None] for d in sb_], ones)[0]
                         - mean_of(sa_, [d.stats.sum(0)[None] for d in sa_], ones)[0]))
    hits = 0
    for start in range(0, trials, CHUNK):
        m = min(CHUNK, trials - start)
        swap = rng.integers(0, 2, size=(m, n)).astype(np.float64)
        keep = 1.0 - swap
        counts = np.full(m, n, dtype=np.float64)
        new_a = [keep @ x.stats + swap @ y.stats for x, y in zip(sa_, sb_, strict=True)]
        new_b = [keep @ y.stats + swap @ x.stats for x, y in zip(sa_, sb_, strict=True)]
        d = np.abs(mean_of(sb_, new_b, counts) - mean_of(sa_, new_a, counts))
        hits += int(np.sum(d >= observed - 1e-12 * max(1.0, observed)))
    return (hits + 1) / (trials + 1)


def _same(a: Decomposed, b: Decomposed) -> None:
    if a.kind != b.kind or a.stats.shape != b.stats.shape:
        raise ValueError(f"the two systems' statistics differ in kind or shape ({a.kind} {a.stats.shape} vs "
                         f"{b.kind} {b.stats.shape})")
    if not math.isfinite(float(a.stats.sum())) or not math.isfinite(float(b.stats.sum())):
        raise ValueError("per-example statistics are not finite")
