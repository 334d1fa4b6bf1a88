"""Natural-language perturbations of comments and queries (ContraBERT's word deletion, swap and duplication)."""

from __future__ import annotations

import random

from codeintel.augment.core import NotApplicable, operator


def _words(text: str, need: int) -> list[str]:
    words = text.split()
    if len(words) < need:
        raise NotApplicable(f"fewer than {need} words")
    return words


@operator("nl", "delete k random words of the text (never all of them)", k=1)
def delete_tokens(text: str, rng: random.Random, k: int = 1) -> str:
    words = _words(text, 2)
    drop = set(rng.sample(range(len(words)), min(k, len(words) - 1)))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


@operator("nl", "swap k random pairs of different words", k=1)
def swap_tokens(text: str, rng: random.Random, k: int = 1) -> str:
    words = _words(text, 2)
    if len(set(words)) < 2:
        raise NotApplicable("all words are the same")
    for _ in range(k):
        i, j = rng.sample(range(len(words)), 2)
        while words[i] == words[j]:
            i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


@operator("nl", "repeat k random words in place ('Print with indent' -> 'Print with with indent')",
          k=1)
def duplicate_tokens(text: str, rng: random.Random, k: int = 1) -> str:
    words = _words(text, 1)
    for _ in range(k):
        i = rng.randrange(len(words))
        words.insert(i, words[i])
    return " ".join(words)
