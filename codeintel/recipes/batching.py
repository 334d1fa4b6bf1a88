"""Batches that do not spend compute on padding.

``length`` grouping: shuffle, cut into windows of ``window`` batches, sort each window by length, then
fill batches up to a token budget (``n_examples * longest <= batch_tokens``) and shuffle the batch order.
Padding stays small while the order stays random from epoch to epoch; the same seed gives the same batches.
"""

from __future__ import annotations

import numpy as np


def make_batches(lengths: np.ndarray, batch_tokens: int, max_batch_size: int, grouping: str = "length",
                 seed: int = 0, window: int = 50) -> list[list[int]]:
    """Index batches over examples of the given lengths (in tokens, as the batch will pad them)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    if grouping == "random":
        return [order[i : i + max_batch_size].tolist() for i in range(0, len(order), max_batch_size)]
    batches: list[list[int]] = []
    span = window * max_batch_size
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        current: list[int] = []
        longest = 0
        for idx in chunk.tolist():
            new_longest = max(longest, int(lengths[idx]))
            if current and (len(current) >= max_batch_size or (len(current) + 1) * new_longest > batch_tokens):
                batches.append(current)
                current, new_longest = [], int(lengths[idx])
            current.append(idx)
            longest = new_longest
        if current:
            batches.append(current)
    return [batches[i] for i in rng.permutation(len(batches))]


def padding_fraction(batches: list[list[int]], lengths: np.ndarray, parts: np.ndarray | None = None,
                     real: np.ndarray | None = None) -> float:
    """Fraction of the batch tensors' cells that are padding. ``parts`` (n, k): lengths of parts padded
    separately (a source and a target tensor), each to its own longest member. ``real`` (n,): the non-padding
    tokens of each example where its padded length counts more (a clone pair is padded as two programs of
    the longer one's length)."""
    if parts is None:
        parts = lengths.reshape(-1, 1)
    cells = sum(len(b) * int(parts[b].max(0).sum()) for b in batches)
    real_tokens = sum(int((parts if real is None else real)[b].sum()) for b in batches)
    return 1.0 - real_tokens / cells if cells else 0.0
