"""The augmentation registry, the guard every code operator runs behind, composition, and the NL operators.

An operator is a function ``op(text, lang, rng, **params) -> str`` registered under a name; it raises
:class:`NotApplicable` with a reason when it cannot apply. :func:`apply_op` runs it behind the guard: code
that does not parse is passed through (``reason="does not parse"``), and an output that would not re-parse
is rejected (``reason="output did not re-parse"``; the operators are written so that this never happens,
and ``bench/augment_coverage.py`` measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from codeintel.errors import ConfigError, UnknownNameError


class NotApplicable(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The operator has nothing to change in this sample (the reason says why)."""


@dataclass(frozen=True)
class Operator:
    name: str
    kind: str                     # "code" or "nl"
    fn: Callable[..., str]
    summary: str
    languages: tuple[str, ...]    # code operators: the languages they support
    params: dict[str, object]     # parameter -> default


AUGMENTATIONS: dict[str, Operator] = {}
CODE_LANGUAGES = ("python", "java", "c")


def register(name: str, kind: str, summary: str, languages: tuple[str, ...] = CODE_LANGUAGES, **params):
    """Decorator: ``@register("rename_variables", "code", "…", k=1)``."""
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        AUGMENTATIONS[name] = Operator(name, kind, fn, summary, languages if kind == "code" else (), params)
        return fn
    return deco


def get(name: str) -> Operator:
    _load()
    if name not in AUGMENTATIONS:
        raise UnknownNameError("augmentation", name, AUGMENTATIONS, "See `codeintel augment --list`.")
    return AUGMENTATIONS[name]


def _load() -> None:
    from codeintel.augment import code_ops  # noqa: F401 - registers the code operators


@dataclass
class Outcome:
    """What one operator (or a composition) did to one sample."""

    text: str
    applied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # operator -> reason


def apply_op(name: str, text: str, lang: str | None, rng: random.Random, **params) -> Outcome:
    """Run one operator behind the guard; never raises for unparsable or unsuitable input."""
    op = get(name)
    unknown = set(params) - set(op.params)
    if unknown:
        raise ConfigError(f"operator {name} has no parameter {sorted(unknown)[0]!r}; it takes {sorted(op.params)}.")
    if op.kind == "nl":
        try:
            return Outcome(op.fn(text, rng, **{**op.params, **params}), [name])
        except NotApplicable as exc:
            return Outcome(text, skipped={name: str(exc)})
    from codeintel.structure.parsing import canonical, count_errors, parse

    lang = canonical(lang or "")
    if lang not in op.languages:
        return Outcome(text, skipped={name: f"not implemented for {lang}"})
    if count_errors(parse(text, lang)):
        return Outcome(text, skipped={name: "does not parse"})
    try:
        new = op.fn(text, lang, rng, **{**op.params, **params})
    except NotApplicable as exc:
        return Outcome(text, skipped={name: str(exc)})
    if count_errors(parse(new, lang)):
        return Outcome(text, skipped={name: "output did not re-parse"})
    return Outcome(new, [name])


def compose(text: str, lang: str | None, ops: list[tuple[str, dict]], rng: random.Random) -> Outcome:
    """Apply several operators in order; each sees the previous one's output."""
    out = Outcome(text)
    for name, params in ops:
        step = apply_op(name, out.text, lang, rng, **params)
        out.text = step.text
        out.applied += step.applied
        out.skipped.update(step.skipped)
    return out


def parse_ops(spec: str) -> list[tuple[str, dict]]:
    """``"rename_variables:k=3,swap_operands"`` -> ``[("rename_variables", {"k": 3}), ("swap_operands", {})]``."""
    ops = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, rest = part.partition(":")
        op = get(name)
        params: dict[str, object] = {}
        for kv in filter(None, rest.split(";")):
            key, eq, value = kv.partition("=")
            if not eq or key not in op.params:
                raise ConfigError(f"bad parameter {kv!r} for {name}; it takes "
                                  f"{', '.join(f'{k}=...' for k in op.params) or 'no parameters'}.")
            params[key] = type(op.params[key])(value)
        ops.append((name, params))
    if not ops:
        raise ConfigError("no operators given; see `codeintel augment --list`.")
    return ops


# --------------------------------------------------------------------------- natural-language operators

def _words(text: str, need: int) -> list[str]:
    words = text.split()
    if len(words) < need:
        raise NotApplicable(f"fewer than {need} words")
    return words


@register("delete_tokens", "nl", "delete k random words of the text (never all of them)", k=1)
def delete_tokens(text: str, rng: random.Random, k: int = 1) -> str:
    words = _words(text, 2)
    drop = set(rng.sample(range(len(words)), min(k, len(words) - 1)))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


@register("swap_tokens", "nl", "swap k random pairs of different words", k=1)
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


@register("duplicate_tokens", "nl", "repeat k random words in place ('Print with indent' -> 'Print with with indent')",
          k=1)
def duplicate_tokens(text: str, rng: random.Random, k: int = 1) -> str:
    words = _words(text, 1)
    for _ in range(k):
        i = rng.randrange(len(words))
        words.insert(i, words[i])
    return " ".join(words)
