"""Robustness evaluation: the task metric on the clean test set and on transformed copies of it.

``--robustness rename_variables:k=1-8`` evaluates eight transformed copies (k = 1 … 8 renamed variables,
each row with its own seeded stream, so the variables renamed at k are a superset of those at k-1);
several specs may be given. For embedding tasks (clone retrieval, code search) the ContraBERT POJ-104
protocol is added: the cosine similarity between each program's embedding and its variant's, over all
programs and over those the model gets right on clean data (nearest neighbour of the same label); the
same cosine minus the variant's mean cosine to the other programs (a randomly initialised encoder puts
every program near one direction, so the raw cosine is close to 1 for any pair); and the share of
variants whose nearest clean program is their own original.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.augment.core import apply_op, get, param_value
from codeintel.errors import ConfigError
from codeintel.eval.metrics import unit_rows
from codeintel.io import save_figure


@dataclass(frozen=True)
class Variant:
    op: str
    params: dict
    label: str          # "rename_variables k=3"


def parse_specs(specs: list[str]) -> list[Variant]:
    """``["rename_variables:k=1-8", "swap_operands"]`` -> one Variant per point of every range."""
    out = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        op = get(name)
        if op.kind != "code":
            raise ConfigError(f"--robustness takes code operators; {name} works on natural language.")
        grid: list[dict] = [{}]
        for kv in filter(None, rest.split(";")):
            key, eq, value = kv.partition("=")
            if not eq or key not in op.params:
                raise ConfigError(f"bad parameter {kv!r} for {name}; it takes "
                                  f"{', '.join(f'{k}=...' for k in op.params) or 'no parameters'} "
                                  "(a range is written k=1-8).")
            lo, dash, hi = value.partition("-")
            if dash:
                lo_k, hi_k = param_value(name, key, lo), param_value(name, key, hi)
                if lo_k > hi_k:
                    raise ConfigError(f"{name}:{key}={value}: the range is empty; write it low-high, e.g. 1-8.")
                values = list(range(lo_k, hi_k + 1))
            else:
                values = [param_value(name, key, value)]
            grid = [{**g, key: v} for g in grid for v in values]
        for params in grid:
            label = " ".join([name, *(f"{k}={v}" for k, v in params.items())])
            out.append(Variant(name, params, label))
    return out


def transform_codes(codes: list[str], lang: str, variant: Variant, seed: int) -> tuple[list[str], dict]:
    """Each code through the operator with its own stream (seeded by row, not by k); counts of what happened."""
    out, applied, unparsable = [], 0, 0
    for i, code in enumerate(codes):
        res = apply_op(variant.op, code, lang, random.Random(f"{seed}:{variant.op}:{i}"), **variant.params)
        out.append(res.text)
        applied += bool(res.applied)
        unparsable += res.skipped.get(variant.op) == "does not parse"
    return out, {"applied": applied, "unparsable": unparsable, "n": len(codes)}


def perturb(task, rows: list, lang: str, variant: Variant, seed: int) -> tuple[list, dict]:
    """A transformed copy of a split, in the task's own row format (the task type's ``perturb``)."""
    stats: dict = {}

    def transform(codes: list[str]) -> list[str]:
        new, counts = transform_codes(codes, lang, variant, seed)
        stats.update(counts)
        return new

    return task.perturb(rows, transform, variant.label), stats


def embedding_protocol(clean: np.ndarray, variant: np.ndarray, labels: list | None) -> dict[str, float]:
    """ContraBERT's POJ-104 check: cosine(program, its variant); nearest-clean-program accuracy."""
    a, b = unit_rows(clean), unit_rows(variant)
    cos = (a * b).sum(1)
    cross = b @ a.T                                                           # (variant, original)
    others = (cross.sum(1) - np.diag(cross)) / max(len(a) - 1, 1)
    out = {"cosine": float(cos.mean()),
           "cosine_margin": float((cos - others).mean()),  # minus the variant's mean cosine to other programs
           "own_original_top1": float((cross.argmax(1) == np.arange(len(a))).mean())}
    if labels is not None:
        sims = a @ a.T
        np.fill_diagonal(sims, -np.inf)
        right = np.array([labels[j] == labels[i] for i, j in enumerate(sims.argmax(1))])
        out["cosine_on_correct"] = float(cos[right].mean()) if right.any() else float("nan")
        out["n_correct"] = int(right.sum())
    return out


def plot(result: dict[str, Any], metric: str, out: Path) -> Path:
    """One panel per operator: the metric (and the embedding cosine, where there is one) against the parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_op: dict[str, list[dict]] = {}
    for v in result["variants"]:
        by_op.setdefault(v["op"], []).append(v)
    fig, axes = plt.subplots(1, len(by_op), figsize=(4.6 * len(by_op), 3.4), squeeze=False, constrained_layout=True)
    for ax, (op, points) in zip(axes[0], by_op.items(), strict=True):
        key = next(iter(points[0]["params"]), None)
        xs = [p["params"][key] for p in points] if key else list(range(1, len(points) + 1))
        ax.plot([0, *xs], [result["clean"][metric], *(p["scores"][metric] for p in points)], marker="o",
                color="tab:blue", label=metric)
        if "cosine" in points[0]:
            ax.plot([0, *xs], [1.0, *(p["cosine"] for p in points)], marker="s", color="tab:orange",
                    label="cosine(original, variant)")
        for (name, value), style in zip(result.get("baselines", {}).items(), ("--", ":", "-."), strict=False):
            ax.axhline(value, ls=style, color="gray", label=f"{name}: {value:.4g}")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # k is a count: no k = 0.25
        ax.margins(y=0.15)                                                        # the data's range, not 0-1
        ax.set(xlabel=f"{op} {key or ''} (0 = clean)", ylabel=metric, title=op)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"{result['task']} — {result['model']}", fontsize=9)
    path = out / "robustness.png"
    save_figure(fig, path)
    return path
