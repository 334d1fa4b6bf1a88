"""CodeBLEU, computed as CodeXGLUE's ``evaluator/CodeBLEU/calc_code_bleu.py`` computes it, component by component.

CodeBLEU = α·BLEU + β·weighted n-gram match + γ·syntax match + δ·data-flow match (0.25 each by default). Every
component is reported, not only the sum, all × 100 here (the evaluator prints fractions). Inputs are lines: one
hypothesis per example and one or more references per example.

1. **BLEU** (``ngram``): tokens are ``line.strip().split()``; NLTK's corpus BLEU-4 as the evaluator ships it: per
   order n, clipped n-gram counts of the hypothesis (clipped by the largest count in any reference) over the
   hypothesis's n-grams (at least 1) are summed over the corpus; 0 if no unigram matches; an order with no match
   gets (0 + 0.1) / count (NLTK ``SmoothingFunction().method1``, the evaluator's default); brevity penalty
   exp(1 − r / c) with r the summed length of the reference *closest* in length to each hypothesis (ties to the
   shorter), 1 if c > r, 0 if c = 0.
2. **Weighted n-gram match** (``weighted_ngram``): the same shape, but a *recall* over reference n-grams: per
   reference (counts are *added over all references*, not maximised), the reference's n-grams clipped by the
   hypothesis's counts over the reference's n-grams (at least 1 per reference); for unigrams every token weighs
   1 if it is one of the language's keywords, else 0.2. The evaluator's brevity penalty compares the summed
   hypothesis length with 2 per example (it measures ``len([tokens, weights])``): the penalty applies only
   when hypotheses average 2 tokens or fewer. Kept, since it is what the published numbers contain.
3. **Syntax match** (``syntax``): comments are removed with the evaluator's rule — its *Java* regular expression
   (``//`` to the end of the line, ``/* */``, string literals kept) in every language, so Python ``#`` comments
   and docstrings stay and Python's ``//`` operator cuts its line — and blank lines dropped; both sides are parsed
   and every reference subtree (the root and every node with children, as an s-expression with field names,
   ERROR and MISSING nodes included) counts 1 if the hypothesis has a subtree with the same s-expression (no
   clipping). Matches and subtree counts are summed over all references and examples.
4. **Data-flow match** (``dataflow``): after the same comment removal, each side's data-flow graph (the hub's
   engine, :mod:`codeintel.structure.dfg`, in its GraphCodeBERT setting ``compat=True``: the evaluator's extractor's
   rules, not the hub's fixes; identical graphs to that extractor run on the same trees), reduced as the evaluator
   reduces GraphCodeBERT's: entries sorted by
   token position, only positions that have sources or are a source kept, entries at the same position merged
   (the later entry's name and relation, sources united); then variable names are renamed ``var_0, var_1, …`` in
   order of appearance (sources before the variable) and each reference triple (name, relation, sources) matches
   at most one equal hypothesis triple. Summed over references and examples; a corpus whose references have no
   data flow scores 0, with a warning (so an exact copy of ``int Size(){return 5;}`` scores 75).
   The evaluator unites merged sources with ``list(set(...))``, whose order changes with ``PYTHONHASHSEED``; here
   the united sources keep the order in which they first appear (deterministic).

Where this cannot equal the evaluator (it loads 2020-era compiled grammars; the grammar wheels here are newer),
and why, is listed in the README ("CodeBLEU: the differences that remain"): node types renamed or restructured
since 2020 change syntax-match subtrees (a bare Java method parses without ERROR nodes today; Java string
literals have children today), which also changes the data-flow graphs of such code. The n-gram parts are exact.

Keywords: the evaluator's lists for Java, C# and Python; for JavaScript, PHP, Go, Ruby, C and C++ (which the
evaluator has no list for — it cannot score them) the languages' reserved words, written here. C and C++ also
have no data-flow rules in the evaluator; the hub's engine has them.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from codeintel.structure.parsing import canonical

WEIGHTS = (0.25, 0.25, 0.25, 0.25)
COMPONENTS = ("ngram", "weighted_ngram", "syntax", "dataflow")

_JAVA = """abstract assert boolean break byte case catch char class const continue default do double else enum extends
final finally float for goto if implements import instanceof int interface long native new package private protected
public return short static strictfp super switch synchronized this throw throws transient try void volatile while"""
_CSHARP = """abstract as base bool break byte case catch char checked class const continue decimal default delegate do
double else enum event explicit extern false finally fixed float for foreach goto if implicit in int interface internal
is lock long namespace new null object operator out override params private protected public readonly ref return sbyte
sealed short sizeof stackalloc static string struct switch this throw true try typeof uint ulong unchecked unsafe ushort
using virtual void volatile while add alias ascending async await by descending dynamic equals from get global group
into join let nameof notnull on orderby partial remove select set unmanaged value var when where yield"""
_PYTHON = """False None True and as assert async await break class continue def del elif else except finally for from
global if import in is lambda nonlocal not or pass raise return try while with yield"""
_JAVASCRIPT = """await break case catch class const continue debugger default delete do else enum export extends false
finally for function if implements import in instanceof interface let new null package private protected public return
super switch static this throw true try typeof var void while with yield"""
_PHP = """__halt_compiler abstract and array as break callable case catch class clone const continue declare default
die do echo else elseif empty enddeclare endfor endforeach endif endswitch endwhile eval exit extends final finally fn
for foreach function global goto if implements include include_once instanceof insteadof interface isset list match
namespace new or print private protected public readonly require require_once return static switch throw trait try
unset use var while xor yield"""
_GO = """break case chan const continue default defer else fallthrough for func go goto if import interface map package
range return select struct switch type var"""
_RUBY = """__ENCODING__ __LINE__ __FILE__ BEGIN END alias and begin break case class def defined? do else elsif end
ensure false for if in module next nil not or redo rescue retry return self super then true undef unless until when
while yield"""
_C = """auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while"""
_CPP = _C + """ alignas alignof and and_eq asm bitand bitor bool catch class compl concept consteval constexpr constinit
const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export false friend mutable namespace new
noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast requires static_assert
static_cast template this thread_local throw true try typeid typename using virtual wchar_t xor xor_eq"""
KEYWORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in {
    "java": _JAVA, "c_sharp": _CSHARP, "python": _PYTHON, "javascript": _JAVASCRIPT, "php": _PHP, "go": _GO,
    "ruby": _RUBY, "c": _C, "cpp": _CPP}.items()}
EVALUATOR_LANGUAGES = ("java", "c_sharp", "python")  # the evaluator has keyword lists for these only


class CodeBLEUWarning(UserWarning):
    """A CodeBLEU component degenerated (no reference data flow in the whole corpus)."""


# ---------------------------------------------------------------- the n-gram parts
def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)) if len(tokens) >= n else Counter()


def ngram_stats(hypothesis: Sequence[str], references: Sequence[Sequence[str]], orders: int = 4) -> list[float]:
    """One example's BLEU statistics: clipped matches per order, hypothesis n-grams (at least 1) per order,
    hypothesis length, closest reference length."""
    num, den = [], []
    for n in range(1, orders + 1):
        counts = _ngrams(hypothesis, n)
        best: dict[tuple, int] = {}
        for ref in references:
            rc = _ngrams(ref, n)
            for gram in counts:
                best[gram] = max(best.get(gram, 0), rc[gram])
        num.append(sum(min(c, best[g]) for g, c in counts.items()))
        den.append(max(1, sum(counts.values())))
    hyp_len = len(hypothesis)
    closest = min((len(r) for r in references), key=lambda r: (abs(r - hyp_len), r))
    return [*num, *den, hyp_len, closest]


def weighted_ngram_stats(hypothesis: Sequence[str], references: Sequence[Sequence[str]], keywords: frozenset[str],
                         orders: int = 4) -> list[float]:
    """One example's weighted n-gram statistics: weighted clipped reference n-grams per order, (weighted) reference
    n-grams per order (at least 1 per reference), hypothesis length, and 2 (the evaluator's
    "closest reference length" is the length of a ``[tokens, weights]`` pair; see the module docstring)."""
    num: list[float] = [0] * orders
    den: list[float] = [0] * orders
    for n in range(1, orders + 1):
        counts = _ngrams(hypothesis, n)
        for ref in references:
            rc = _ngrams(ref, n)
            if n == 1:                                    # every reference token is weighted (its own weights)
                w = {tok: 1 if tok in keywords else 0.2 for tok in ref}
                matched = 0
                total = 0
                for gram, c in rc.items():               # in order of first occurrence, as the evaluator sums
                    matched += min(c, counts[gram]) * w[gram[0]]
                for gram, c in rc.items():
                    total += c * w[gram[0]]
                num[0] += matched
                den[0] += max(1, total)
            else:
                num[n - 1] += sum(min(c, counts[g]) for g, c in rc.items())
                den[n - 1] += max(1, sum(rc.values()))
    return [*num, *den, len(hypothesis), 2]


def bleu_from(stats_sum: Sequence[float], orders: int = 4, weights: Sequence[float] = WEIGHTS) -> float:
    """NLTK corpus BLEU (the evaluator's copy, ``method1`` smoothing) in [0, 1] from summed statistics of
    :func:`ngram_stats` or :func:`weighted_ngram_stats`."""
    num, den = stats_sum[:orders], stats_sum[orders : 2 * orders]
    hyp_len, ref_len = stats_sum[2 * orders], stats_sum[2 * orders + 1]
    if num[0] == 0:
        return 0.0
    bp = 1.0 if hyp_len > ref_len else (0.0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len))
    p = [(0.1 if m == 0 else m) / d for m, d in zip(num, den, strict=True)]
    return bp * math.exp(math.fsum(w * math.log(x) for w, x in zip(weights, p, strict=True)))


def _sums(rows: list[list[float]]) -> list[float]:
    """Column sums in example order (the evaluator's float summation order)."""
    out = [0] * len(rows[0])
    for r in rows:
        out = [a + b for a, b in zip(out, r, strict=True)]
    return out


# ---------------------------------------------------------------- the structural parts
_COMMENTS = re.compile(r"//.*?$|/\*.*?\*/|'(?:\\.|[^\\'])*'|\"(?:\\.|[^\\\"])*\"", re.DOTALL | re.MULTILINE)


def strip_comments(code: str) -> str:
    """The evaluator's comment removal for the syntax and data-flow parts (its Java rule, in every language):
    ``//…`` and ``/*…*/`` become one space (string and character literals are skipped over), blank lines go."""
    text = _COMMENTS.sub(lambda m: " " if m.group(0).startswith("/") else m.group(0), code)
    return "\n".join(line for line in text.split("\n") if line.strip())


def subtrees(code: str, lang: str) -> list[str]:
    """The s-expressions of the root and of every node with children (pre-order)."""
    from codeintel.structure.parsing import parse

    root = parse(code, lang).root_node
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(str(node))
        stack.extend(c for c in node.children if c.child_count)
    return out


def syntax_stats(hypothesis: str, references: Sequence[str], lang: str) -> list[float]:
    """(matched reference subtrees, reference subtrees), summed over the references."""
    matched = total = 0
    for ref in references:
        hypothesis = strip_comments(hypothesis)      # as the evaluator, once per reference
        have = set(subtrees(hypothesis, lang))
        ref_trees = subtrees(strip_comments(ref), lang)
        matched += sum(1 for s in ref_trees if s in have)
        total += len(ref_trees)
    return [matched, total]


def data_flow(code: str, lang: str, compat: bool = True) -> list[tuple[str, str, list[str]]]:
    """The evaluator's reduced, name-normalised data flow of ``code`` (see the module docstring); ``compat``: the
    data-flow engine's GraphCodeBERT setting (what the evaluator runs), ``False`` for the hub's own rules."""
    from codeintel.structure import dfg

    if lang == "php" and not code.lstrip().startswith("<?php"):
        return []        # the evaluator parses a bare PHP snippet as inline HTML text: no data flow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dfg.DFGLimitWarning)
        edges = dfg.extract(code, lang, compat=compat).edges
    return reduce_flow(edges)


def reduce_flow(edges) -> list[tuple[str, str, list[str]]]:
    """The evaluator's reduction of a graph's 5-tuples: merged per position, names renamed ``var_k``."""
    merged: dict[int, tuple[str, str, list[str]]] = {}
    for name, pos, rel, srcs, _ in sorted(edges, key=lambda e: e[1]):
        if pos in merged:
            merged[pos] = (name, rel, list(dict.fromkeys([*merged[pos][2], *srcs])))
        else:
            merged[pos] = (name, rel, list(srcs))
    names: dict[str, str] = {}
    out = []
    for name, rel, srcs in merged.values():
        for s in (*srcs, name):
            names.setdefault(s, f"var_{len(names)}")
        out.append((names[name], rel, [names[s] for s in srcs]))
    return out


def dataflow_stats(hypothesis: str, references: Sequence[str], lang: str) -> list[float]:
    """(matched reference data-flow triples, reference triples), summed over the references."""
    matched = total = 0
    for ref in references:
        hypothesis = strip_comments(hypothesis)
        have = data_flow(hypothesis, lang)
        want = data_flow(strip_comments(ref), lang)
        total += len(want)
        for item in want:
            if item in have:
                matched += 1
                have.remove(item)
    return [matched, total]


# ---------------------------------------------------------------- the metric
@dataclass
class CodeBLEU:
    """Per-example statistics of every component (rows in example order) and the corpus scores (× 100)."""

    ngram: list[list[float]]
    weighted_ngram: list[list[float]]
    syntax: list[list[float]]
    dataflow: list[list[float]]
    weights: tuple[float, float, float, float] = WEIGHTS
    warned: list[str] = field(default_factory=list)

    def components(self) -> dict[str, float]:
        """Each component × 100, and ``codebleu``, their weighted sum."""
        syn, flow = _sums(self.syntax), _sums(self.dataflow)
        if flow[1] == 0:
            note = ("no reference has data flow in the whole corpus: the data-flow match degenerates to 0 (as the "
                    "CodeXGLUE evaluator scores it); consider ignoring that component")
            warnings.warn(note, CodeBLEUWarning, stacklevel=2)
            self.warned.append(note)
        parts = {"ngram": bleu_from(_sums(self.ngram)), "weighted_ngram": bleu_from(_sums(self.weighted_ngram)),
                 "syntax": syn[0] / syn[1], "dataflow": flow[0] / flow[1] if flow[1] else 0.0}
        total = sum(w * parts[c] for w, c in zip(self.weights, COMPONENTS, strict=True))
        return {"codebleu": 100.0 * total, **{c: 100.0 * v for c, v in parts.items()}}


def _same_length(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")


def check_language(lang: str) -> str:
    from codeintel.errors import ConfigError

    name = canonical(lang)
    if name not in KEYWORDS:
        raise ConfigError(f"CodeBLEU has no keyword list for {lang!r}; it scores {', '.join(sorted(KEYWORDS))}.")
    return name


def codebleu_stats(predictions: Sequence[str], references: Sequence[Sequence[str] | str], lang: str,
                   weights: Sequence[float] = WEIGHTS) -> CodeBLEU:
    """The per-example statistics of :func:`codebleu` (what ``codeintel compare`` resamples)."""
    _same_length(predictions, references)
    lang = check_language(lang)
    if len(weights) != 4:
        raise ValueError(f"CodeBLEU takes 4 weights (n-gram, weighted n-gram, syntax, data flow), got {len(weights)}")
    keywords = KEYWORDS[lang]
    out = CodeBLEU([], [], [], [], tuple(float(w) for w in weights))
    for pred, refs in zip(predictions, references, strict=True):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs:
            raise ValueError("an example has no reference")
        hyp, ref_lines = pred.strip(), [r.strip() for r in refs]
        hyp_toks, ref_toks = hyp.split(), [r.split() for r in ref_lines]
        out.ngram.append(ngram_stats(hyp_toks, ref_toks))
        out.weighted_ngram.append(weighted_ngram_stats(hyp_toks, ref_toks, keywords))
        out.syntax.append(syntax_stats(hyp, ref_lines, lang))
        out.dataflow.append(dataflow_stats(hyp, ref_lines, lang))
    return out


def codebleu(predictions: Sequence[str], references: Sequence[Sequence[str] | str], lang: str = "java",
             weights: Sequence[float] = WEIGHTS) -> dict[str, float]:
    """CodeBLEU × 100 and its four components × 100 (``codebleu``, ``ngram``, ``weighted_ngram``, ``syntax``,
    ``dataflow``): one hypothesis per example, one reference or a list of them per example; ``weights`` α, β, γ, δ."""
    return codebleu_stats(predictions, references, lang, weights).components()


def xmatch_scores(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """Per example: 1.0 where the stripped lines are equal (CodeXGLUE's ``xMatch``), else 0.0."""
    _same_length(predictions, references)
    return [float(p.strip() == r.strip()) for p, r in zip(predictions, references, strict=True)]


def xmatch(predictions: Sequence[str], references: Sequence[str]) -> float:
    """CodeXGLUE exact match × 100 for code (translation, refinement, CONCODE evaluators): stripped lines equal."""
    scores = xmatch_scores(predictions, references)
    return 100.0 * sum(scores) / len(scores)
