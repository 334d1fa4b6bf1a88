"""The augmentation registry, the guard every code operator runs behind, and composition.

An operator is a function ``op(text, lang, rng, **params) -> str`` described by :func:`operator` and listed
by name in :data:`OPERATORS` (code operators in :mod:`~codeintel.augment.code_ops`, natural-language ones in
:mod:`~codeintel.augment.nl_ops`, each imported on first use); it raises
:class:`NotApplicable` with a reason when it cannot apply. :func:`apply_op` runs it behind the guard: code
that does not parse is passed through (``reason="does not parse"``), and an output that would not re-parse
is rejected (``reason="output did not re-parse"``; the operators are written so that this never happens,
and ``bench/augment_coverage.py`` measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from codeintel.errors import ConfigError
from codeintel.registry import LazyTable


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


CODE_LANGUAGES = ("python", "java", "c")
_CODE, _NL = "codeintel.augment.code_ops", "codeintel.augment.nl_ops"
OPERATORS = LazyTable("augmentation", {
    **{name: f"{_CODE}:{name}" for name in ("rename_function", "rename_variables", "insert_dead_code", "swap_operands",
                                            "exchange_loop", "swap_if_else", "permute_statements")},
    **{name: f"{_NL}:{name}" for name in ("delete_tokens", "swap_tokens", "duplicate_tokens")},
}, hint="See `codeintel augment --list`.")


def operator(kind: str, summary: str, languages: tuple[str, ...] = CODE_LANGUAGES, **params):
    """Decorator that describes an operator function: ``@operator("code", "…", k=1)`` (``k`` defaults to 1).

    The decorated name becomes an :class:`Operator`; :data:`OPERATORS` lists it under the function's name.
    """
    def deco(fn: Callable[..., str]) -> Operator:
        return Operator(fn.__name__, kind, fn, summary, languages if kind == "code" else (), params)
    return deco


def get(name: str) -> Operator:
    """The operator registered as ``name`` (unknown names fail with the allowed set and a suggestion)."""
    return OPERATORS[name]


def operators() -> dict[str, Operator]:
    """Every operator (code and NL), by name."""
    return {name: OPERATORS[name] for name in OPERATORS}


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
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
            raise ConfigError(f"{name}:{key}={value!r}: use a whole number 1 <= {key} <= {MAX_K}.")
    if op.kind == "nl":
        try:
            return Outcome(op.fn(text, rng, **{**op.params, **params}), [name])
        except NotApplicable as exc:
            return Outcome(text, skipped={name: str(exc)})
    from codeintel.structure.parsing import canonical, count_errors, parse, utf8_safe

    lang = canonical(lang or "")
    if lang not in op.languages:
        return Outcome(text, skipped={name: f"not implemented for {lang}"})
    if utf8_safe(text) is not text:
        return Outcome(text, skipped={name: "not valid UTF-8 (a lone surrogate)"})
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


MAX_K = 1000


def param_value(op_name: str, key: str, value: str) -> int:
    """An operator parameter from text: every parameter is a count ``k`` in [1, MAX_K]."""
    try:
        k = int(value)
    except ValueError:
        raise ConfigError(f"{op_name}:{key}={value!r} is not a whole number; use e.g. {key}=2.") from None
    if not 1 <= k <= MAX_K:
        raise ConfigError(f"{op_name}:{key}={k} is out of range; use 1 <= {key} <= {MAX_K}.")
    return k


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
            params[key] = param_value(name, key, value)
        ops.append((name, params))
    if not ops:
        raise ConfigError("no operators given; see `codeintel augment --list`.")
    return ops
