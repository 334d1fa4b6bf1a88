"""The metric family: each metric is a plain function, registered by name, and exposed as an
``evaluate`` module under the hub's ``eval/`` folder (loadable offline from that local path).

All of them reproduce the official CodeXGLUE evaluators where one exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from codeintel.errors import UnknownNameError
from codeintel.eval.bleu import corpus_bleu, smoothed_bleu


def exact_match_scores(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """Per example: 1.0 where the whitespace-token sequences are equal, else 0.0."""
    _same_length(predictions, references)
    return [float(p.split() == r.split()) for p, r in zip(predictions, references, strict=True)]


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """CodeXGLUE exact match (× 100): whitespace-token sequences equal."""
    return 100.0 * float(np.mean(exact_match_scores(predictions, references)))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(predictions: Sequence[str], references: Sequence[str | Sequence[str]], beta: float = 1.2) -> float:
    """ROUGE-L (× 100) as coco-caption's ``Rouge`` scorer, used for code summarization (NeuralCodeSum):
    lower-cased whitespace tokens, LCS precision and recall (each the max over references),
    F = (1 + β²)·P·R / (R + β²·P) with β = 1.2, averaged over examples.
    """
    return 100.0 * float(np.mean(rouge_l_scores(predictions, references, beta)))


def rouge_l_scores(predictions: Sequence[str], references: Sequence[str | Sequence[str]],
                   beta: float = 1.2) -> list[float]:
    """Per example: the ROUGE-L F of :func:`rouge_l` (0-1)."""
    _same_length(predictions, references)
    scores = []
    for pred, refs in zip(predictions, references, strict=True):
        refs = [refs] if isinstance(refs, str) else refs
        cand = pred.lower().split()
        precs, recs = [], []
        for ref in refs:
            toks = ref.lower().split()
            lcs = _lcs(cand, toks)
            precs.append(lcs / len(cand) if cand else 0.0)
            recs.append(lcs / len(toks) if toks else 0.0)
        p, r = max(precs), max(recs)
        scores.append((1 + beta**2) * p * r / (r + beta**2 * p) if p > 0 and r > 0 else 0.0)
    return scores


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Fraction of predictions equal to their reference."""
    _same_length(predictions, references)
    return float(np.mean([p == r for p, r in zip(predictions, references, strict=True)]))


def precision_recall_f1(predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
    """Binary precision, recall and F1 of class 1, as sklearn's ``average='binary'`` in CodeXGLUE's
    BigCloneBench evaluator (0 where the denominator is 0, as sklearn's ``zero_division`` default)."""
    _same_length(predictions, references)
    for name, values in (("predictions", predictions), ("references", references)):
        bad = sorted({v for v in np.asarray(values).ravel().tolist() if v not in (0, 1)})
        if bad:  # the official evaluator refuses them too (sklearn's binary average)
            raise ValueError(f"{name} hold labels {bad[:3]}; binary P/R/F1 takes 0 (not a clone) and 1 (clone).")
    pred = np.asarray(predictions).astype(bool)
    gold = np.asarray(references).astype(bool)
    tp = int(np.sum(pred & gold))
    fp, fn = int(np.sum(pred & ~gold)), int(np.sum(~pred & gold))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1}


def map_at_r(predictions: Mapping[str, Sequence[str]], answers: Mapping[str, Sequence[str]]) -> float:
    """MAP@R exactly as CodeXGLUE's POJ-104 evaluator: for each query, walk its ranked list of R items;
    at each relevant rank k add hits/k; divide by R (not by the hits); mean over queries, 4 decimals.

    Args:
        predictions: query id -> ranked list of exactly R other ids.
        answers: query id -> the R ids with the same label.
    """
    return round(float(np.mean(list(average_precisions(predictions, answers).values()))), 4)


def average_precisions(predictions: Mapping[str, Sequence[str]], answers: Mapping[str, Sequence[str]]
                       ) -> dict[str, float]:
    """Per query: the average precision at R of :func:`map_at_r` (unrounded)."""
    scores = {}
    for key, relevant in answers.items():
        if key not in predictions:
            raise ValueError(f"no prediction for index {key}")
        ranked = predictions[key]
        if len(ranked) != len(relevant):
            raise ValueError(f"index {key}: ranked list has {len(ranked)} items, R is {len(relevant)}")
        rel = set(relevant)
        hits, precisions = 0, []
        for k, item in enumerate(ranked):
            if item in rel:
                hits += 1
                precisions.append(hits / (k + 1))
        scores[key] = sum(precisions) / len(relevant)
    return scores


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero): dot products become cosines."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def map_at_r_from_embeddings(embeddings: np.ndarray, labels: Sequence) -> float:
    """MAP@R of programs ranked by cosine similarity (self excluded), R = same-label count − 1."""
    emb = unit_rows(embeddings)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    return map_at_r(*rank_by_scores(sims, labels))


def rank_by_scores(scores: np.ndarray, labels: Sequence) -> tuple[dict, dict]:
    labels = [str(x) for x in labels]
    ids = [str(i) for i in range(len(labels))]
    predictions, answers = {}, {}
    for i, lab in enumerate(labels):
        relevant = [ids[j] for j in range(len(labels)) if j != i and labels[j] == lab]
        if not relevant:
            continue
        order = np.argsort(-scores[i], kind="stable")
        order = order[order != i][: len(relevant)]
        predictions[ids[i]] = [ids[j] for j in order]
        answers[ids[i]] = relevant
    return predictions, answers


def mrr(scores: np.ndarray, gold: Sequence[int] | None = None, cutoff: int = 1000) -> float:
    """Mean reciprocal rank, as GraphCodeBERT's code-search evaluation: candidates sorted by score
    (stable, descending), the gold's rank counted within the top ``cutoff`` (0 beyond it).

    Args:
        scores: (queries, candidates) similarity matrix.
        gold: index of each query's correct candidate (default: the diagonal).
    """
    return float(np.mean(reciprocal_ranks(scores, gold, cutoff)))


def reciprocal_ranks(scores: np.ndarray, gold: Sequence[int] | None = None, cutoff: int = 1000) -> list[float]:
    """Per query: the reciprocal rank of :func:`mrr` (0 beyond ``cutoff``)."""
    scores = np.asarray(scores)
    gold = np.arange(scores.shape[0]) if gold is None else np.asarray(gold)
    ranks = []
    for row, g in zip(scores, gold, strict=True):
        order = np.argsort(-row, kind="stable")[:cutoff]
        pos = np.nonzero(order == g)[0]
        ranks.append(1.0 / (pos[0] + 1) if len(pos) else 0.0)
    return ranks


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} predictions but {len(b)} references")
    if len(a) == 0:
        raise ValueError("no predictions to score")


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownNameError("metric", name, METRICS) from None


def compute_metric(name: str, *args, **kwargs):
    """Compute a registered metric by name, e.g. ``compute_metric("smoothed_bleu", preds, refs)``."""
    return get_metric(name).fn(*args, **kwargs)


def lexer_token_count(text: str, lang: str) -> int:
    """Pygments lexer tokens of ``text`` (every token ``pygments.lex`` yields, whitespace included): the
    denominator of PolyCoder's normalized perplexity."""
    import pygments
    from pygments.lexers import get_lexer_by_name

    return sum(1 for _ in pygments.lex(text, get_lexer_by_name(lang)))


def lexer_rule_count(lang: str) -> int:
    """Regex rules of the Pygments lexer: the Tokompiler authors' helper (OMPify ``CompCoder/ppl.py``)
    multiplies the lexer-token count by this ("tokompiler-compat" normalized perplexity)."""
    from pygments.lexers import get_lexer_by_name

    return sum(len(v) for v in get_lexer_by_name(lang).tokens.values())


def normalized_perplexity(total_nll: float, lexer_tokens: int) -> float:
    """PolyCoder's tokenizer-independent perplexity: exp(Σ NLL over model tokens / lexer tokens)."""
    if lexer_tokens <= 0:
        raise ValueError("normalized perplexity needs at least one lexer token")
    return float(np.exp(total_nll / lexer_tokens))


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    description: str
    scale: str = "0-1"
    """``0-100``, ``0-1``, or ``>= 1, lower is better`` (perplexities)."""


def codexglue_bleu(predictions: Sequence[str], references: Sequence[Sequence[str] | str]) -> float:
    """CodeXGLUE's ``_bleu`` (code-to-code translation, refinement and CONCODE evaluators): corpus BLEU-4 × 100 over
    whitespace tokens of the stripped lines, add-one smoothing on every order, rounded to 2 decimals."""
    _same_length(predictions, references)
    return round(corpus_bleu(predictions, references, smooth=True), 2)


def xmatch(predictions: Sequence[str], references: Sequence[str]) -> float:
    """CodeXGLUE's exact match for code × 100: the stripped lines are equal."""
    from codeintel.eval.codebleu import xmatch as fn

    return fn(predictions, references)


def _codebleu_part(key: str) -> Callable:
    def fn(predictions: Sequence[str], references: Sequence[Sequence[str] | str], lang: str = "java") -> float:
        from codeintel.eval.codebleu import codebleu

        return codebleu(predictions, references, lang)[key]

    fn.__name__ = key
    fn.__doc__ = f"CodeBLEU's {key} (× 100) of the predictions in ``lang`` (see codeintel.eval.codebleu)."
    return fn


def pass_at_k(passed: Sequence[int], samples: Sequence[int], k: int) -> float:
    """pass@k over problems: the mean of 1 − C(n−c, k) / C(n, k) (n ``samples``, c ``passed`` per problem),
    computed as 1 − Π (1 − k / i) for i = n−c+1..n; 1 where n − c < k."""
    _same_length(passed, samples)
    out = []
    for c, n in zip(passed, samples, strict=True):
        if k > n:
            raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
        out.append(1.0 if n - c < k else float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))))
    return float(np.mean(out))


def _pass_at(k: int) -> Callable:
    def fn(passed: Sequence[int], samples: Sequence[int]) -> float:
        return pass_at_k(passed, samples, k)

    fn.__name__ = f"pass_at_{k}"
    fn.__doc__ = f"pass@{k} over problems (see :func:`pass_at_k`)."
    return fn


def _one_of_prf(key: str) -> Callable:
    def fn(predictions: Sequence[int], references: Sequence[int]) -> float:
        return precision_recall_f1(predictions, references)[key]

    fn.__name__ = key
    fn.__doc__ = f"Binary {key} of class 1 (see :func:`precision_recall_f1`)."
    return fn


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("smoothed_bleu", smoothed_bleu, "CodeXGLUE smoothed sentence BLEU-4 × 100 (Code-Text evaluator)",
               "0-100"),
        Metric("corpus_bleu", corpus_bleu, "CodeXGLUE corpus BLEU-4 × 100 (bleu.py _bleu: no smoothing; "
               "code generation/completion evaluators)", "0-100"),
        Metric("bleu", codexglue_bleu, "CodeXGLUE code-to-code corpus BLEU-4 × 100 (bleu.py _bleu: whitespace tokens, "
               "add-one smoothing on every order, rounded to 2 decimals; translation, refinement, CONCODE)", "0-100"),
        Metric("xmatch", xmatch, "exact match × 100 of stripped lines (CodeXGLUE xMatch)", "0-100"),
        Metric("codebleu", _codebleu_part("codebleu"), "CodeBLEU × 100 (CodeXGLUE calc_code_bleu.py: 0.25 each of "
               "BLEU, weighted n-gram, syntax and data-flow match)", "0-100"),
        Metric("ngram_match", _codebleu_part("ngram"), "CodeBLEU's BLEU component × 100", "0-100"),
        Metric("weighted_ngram_match", _codebleu_part("weighted_ngram"), "CodeBLEU's keyword-weighted n-gram "
               "recall × 100", "0-100"),
        Metric("syntax_match", _codebleu_part("syntax"), "CodeBLEU's syntax (AST subtree) match × 100", "0-100"),
        Metric("dataflow_match", _codebleu_part("dataflow"), "CodeBLEU's data-flow match × 100", "0-100"),
        *[Metric(f"pass@{k}", _pass_at(k), f"pass@{k}: the unbiased estimator's mean over problems (Chen et al. "
                 "2021)") for k in (1, 10, 100)],
        Metric("exact_match", exact_match, "whitespace-token exact match × 100", "0-100"),
        Metric("rouge_l", rouge_l, "ROUGE-L F (β=1.2, coco-caption) × 100", "0-100"),
        Metric("accuracy", accuracy, "fraction correct"),
        Metric("precision_recall_f1", precision_recall_f1, "binary P/R/F1 (BigCloneBench evaluator), a dict"),
        Metric("f1", _one_of_prf("f1"), "binary F1 of class 1 (BigCloneBench evaluator)"),
        Metric("precision", _one_of_prf("precision"), "binary precision of class 1 (BigCloneBench evaluator)"),
        Metric("recall", _one_of_prf("recall"), "binary recall of class 1 (BigCloneBench evaluator)"),
        Metric("map_at_r", map_at_r, "MAP@R (POJ-104 evaluator)"),
        Metric("mrr", mrr, "mean reciprocal rank (code search)"),
        Metric("normalized_ppl", normalized_perplexity, "PolyCoder's normalized perplexity: exp(summed NLL / "
               "lexer tokens)", ">= 1, lower is better"),
    ]
}
# every metric a task card may name, with its scale (token_ppl is computed inside the language-modelling task)
SCALES = {**{name: m.scale for name, m in METRICS.items()}, "token_ppl": ">= 1, lower is better"}
LOWER_IS_BETTER = frozenset(name for name, scale in SCALES.items() if "lower is better" in scale)
