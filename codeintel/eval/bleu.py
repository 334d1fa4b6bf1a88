"""Smoothed sentence BLEU-4, exactly as CodeXGLUE's Code-Text evaluator (``evaluator/bleu.py``) computes it.

The same outputs give very different numbers under other BLEU variants (NLTK, sacreBLEU corpus BLEU);
this one is the number on the CodeXGLUE leaderboard and in the CodeT5 paper:

1. ``computeMaps``: ``text.strip().lower()`` and ``splitPuncts`` (runs of ``\\w+`` and single
   punctuation characters, joined by spaces); only ids that have a prediction are scored.
2. NIST mteval-v11a ``normalize`` (lower-case, punctuation split, ``.``/``,`` kept inside numbers).
3. Per sentence: clipped n-gram matches (max count over references), n = 1..4; +1 added to matches
   and guesses for n >= 2 (Lin & Och 2004); brevity penalty ``min(0, 1 - (r + 1) / (c + 1))`` in log
   space with r the *shortest* reference.
4. The score is the mean of the sentence scores, times 100.
"""

from __future__ import annotations

import math
import re
import sys
import xml.sax.saxutils
from collections.abc import Iterable, Mapping, Sequence

_TINY = sys.float_info.min
_NORM1 = [(re.compile(p), r) for p, r in [(r"<skipped>", ""), (r"-\n", ""), (r"\n", " ")]]
_NORM2 = [
    (re.compile(p), r)
    for p, r in [
        (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),  # punctuation (the apostrophe is not in the ranges)
        (r"([^0-9])([\.,])", r"\1 \2 "),  # period and comma unless preceded by a digit
        (r"([\.,])([^0-9])", r" \1 \2"),  # period and comma unless followed by a digit
        (r"([0-9])(-)", r"\1 \2 "),  # dash after a digit
    ]
]


def normalize(text: str) -> list[str]:
    """NIST mteval-v11a tokenisation, as in the CodeXGLUE evaluator."""
    for pattern, repl in _NORM1:
        text = pattern.sub(repl, text)
    text = xml.sax.saxutils.unescape(text, {"&quot;": '"'})
    text = f" {text} ".lower()
    for pattern, repl in _NORM2:
        text = pattern.sub(repl, text)
    return text.split()


def split_puncts(line: str) -> str:
    """CodeXGLUE's ``splitPuncts``: word runs and single punctuation characters, space-joined."""
    return " ".join(re.findall(r"[\w]+|[^\s\w]", line))


def _ngrams(words: Sequence[str], n: int = 4) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            gram = tuple(words[i : i + k])
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def sentence_bleu(references: Sequence[str], hypothesis: str, n: int = 4) -> float:
    """Smoothed sentence BLEU in [0, 1] of one (already ``computeMaps``-normalised) hypothesis."""
    refs = [normalize(r) for r in references]
    max_counts: dict[tuple[str, ...], int] = {}
    for ref in refs:
        for gram, c in _ngrams(ref, n).items():
            max_counts[gram] = max(max_counts.get(gram, 0), c)
    hyp = normalize(hypothesis)
    ref_len = min(len(r) for r in refs)
    guess = [max(len(hyp) - k + 1, 0) for k in range(1, n + 1)]
    correct = [0] * n
    for gram, c in _ngrams(hyp, n).items():
        correct[len(gram) - 1] += min(max_counts.get(gram, 0), c)
    log_bleu = 0.0
    for k in range(n):
        add = 1 if k > 0 else 0
        log_bleu += math.log(correct[k] + add + _TINY) - math.log(guess[k] + add + _TINY)
    log_bleu /= n
    log_bleu += min(0.0, 1 - (ref_len + 1) / (len(hyp) + 1))
    return math.exp(log_bleu)


def _prep(text: str) -> str:
    return split_puncts(text.strip().lower())


def smoothed_bleu(predictions: Mapping[str, str] | Sequence[str],
                  references: Mapping[str, Sequence[str] | str] | Sequence[Sequence[str] | str]) -> float:
    """CodeXGLUE smoothed BLEU-4 (× 100), the mean over scored ids.

    Args:
        predictions: id -> text, or a list aligned with ``references``.
        references: id -> one text or a list of texts (several references per id), or an aligned list.
    """
    scores = smoothed_bleu_scores(predictions, references)
    return sum(scores.values()) * 100.0 / len(scores)


def smoothed_bleu_scores(predictions: Mapping[str, str] | Sequence[str],
                         references: Mapping[str, Sequence[str] | str] | Sequence[Sequence[str] | str]
                         ) -> dict[str, float]:
    """Per scored id: the smoothed sentence BLEU-4 (0-1) that :func:`smoothed_bleu` averages."""
    if not isinstance(predictions, Mapping):
        predictions = {str(i): p for i, p in enumerate(predictions)}
        references = {str(i): r for i, r in enumerate(references)}
    if not predictions:
        raise ValueError("smoothed_bleu needs at least one prediction")
    scores = {}
    for rid, pred in predictions.items():
        if rid not in references:
            continue  # CodeXGLUE scores ids present in both maps
        refs = references[rid]
        refs = [refs] if isinstance(refs, str) else list(refs)
        scores[rid] = sentence_bleu([_prep(r) for r in refs], _prep(pred))
    if not scores:
        raise ValueError("no prediction id has a reference")
    return scores


def corpus_bleu(predictions: Sequence[str], references: Sequence[Sequence[str] | str], max_order: int = 4,
                smooth: bool = False) -> float:
    """Corpus BLEU × 100 as Google's NMT ``compute_bleu``, which CodeXGLUE's ``bleu.py`` wraps.

    Texts are stripped and split on whitespace; n-gram matches and possible matches are summed over the corpus
    (several references per prediction: clipped by the per-n-gram maximum, length = the shortest reference), the
    brevity penalty is ``exp(1 - reference length / prediction length)`` when the predictions are shorter.
    ``smooth=False`` (``compute_bleu``'s default): the geometric mean of the precisions is 0 when any is 0.
    ``smooth=True`` (what CodeXGLUE's code-to-code evaluator ``_bleu`` passes): every order's precision is
    (matches + 1) / (possible + 1). CodeXGLUE rounds the result to two decimals; this returns it unrounded.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    totals = [0] * (2 * max_order + 2)
    for pred, refs in zip(predictions, references, strict=True):
        totals = [t + x for t, x in zip(totals, bleu_stats(pred, refs, max_order), strict=True)]
    return bleu_from_stats(totals, max_order, smooth)


def bleu_stats(prediction: str, references: Sequence[str] | str, max_order: int = 4) -> list[int]:
    """One example's sufficient statistics of :func:`corpus_bleu`, which sums them over the corpus: clipped
    n-gram matches (n = 1..``max_order``), possible matches, prediction length, shortest reference length."""
    refs = [references] if isinstance(references, str) else list(references)
    ref_toks = [r.strip().split() for r in refs]
    hyp = prediction.strip().split()
    matches = [0] * max_order
    merged: dict[tuple[str, ...], int] = {}
    for r in ref_toks:
        for gram, c in _ngrams(r, max_order).items():
            merged[gram] = max(merged.get(gram, 0), c)
    for gram, c in _ngrams(hyp, max_order).items():
        matches[len(gram) - 1] += min(c, merged.get(gram, 0))
    possible = [max(len(hyp) - order + 1, 0) for order in range(1, max_order + 1)]
    return [*matches, *possible, len(hyp), min(len(r) for r in ref_toks)]


def bleu_from_stats(totals: Sequence[float], max_order: int = 4, smooth: bool = False) -> float:
    """Corpus BLEU × 100 from summed :func:`bleu_stats` (``smooth``: see :func:`corpus_bleu`)."""
    matches, possible = totals[:max_order], totals[max_order : 2 * max_order]
    hyp_len, ref_len = totals[2 * max_order], totals[2 * max_order + 1]
    if smooth:
        precisions = [(m + 1) / (p + 1) for m, p in zip(matches, possible, strict=True)]
    else:
        precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)]
    if hyp_len == 0 or min(precisions) <= 0:
        return 0.0
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / max_order)
    ratio = hyp_len / ref_len if ref_len else float("inf")
    return 100.0 * geo_mean * (1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio))


def read_id_tab_file(lines: Iterable[str]) -> dict[str, list[str]]:
    """Parse CodeXGLUE ``id<TAB>text`` lines; several lines may share an id (several references)."""
    out: dict[str, list[str]] = {}
    for line in lines:
        cols = line.rstrip("\n").split("\t", 1)
        out.setdefault(cols[0], []).append(cols[1] if len(cols) > 1 else "")
    return out
