"""What every task implementation shares: padding, the prepared-split record, default data paths."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def no_grad(fn):
    """``torch.no_grad()`` as a decorator, torch imported at the first call (task modules import no torch, so
    ``codeintel models`` and ``codeintel tasks`` can read the task types' attributes in a fraction of a second)."""

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return inner


@dataclass
class Prepared:
    """A tokenized split: ``items`` (what a batch indexes), their padded ``lengths``, and the raw rows.
    ``parts``: (n, k) lengths of the parts a batch pads separately (source and target), when there are several;
    ``real``: (n,) non-padding tokens of each item, where its padded length counts more (a clone pair's two
    programs are padded to the longer one)."""

    items: Any
    lengths: np.ndarray
    rows: Any
    parts: np.ndarray | None = None
    real: np.ndarray | None = None


def pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) ids padded with ``pad_id`` and the matching attention mask."""
    import torch

    longest = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), longest), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def default_paths(card, paths: list[str], expects: str = "PATH") -> list[str]:
    """``--data`` if given, else the card's default data (``stdlib`` = the embedded corpus)."""
    if paths:
        return paths
    if card.data == "stdlib":
        from codeintel.data.stdlib import default_stdlib_dir

        return [str(default_stdlib_dir())]
    if card.data == "stdlib-clones":
        from codeintel.data.stdlib_clones import default_stdlib_clones_dir

        return [str(default_stdlib_clones_dir())]
    if card.data:
        return [card.data]
    from codeintel.errors import DataError

    raise DataError(f"task {card.name!r} has no default data: pass --data {expects}.")
