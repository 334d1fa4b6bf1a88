"""``codeintel compare``: is run B better than run A on the same test set, and by how much?

Each run's evaluation wrote ``per_example.json`` (every metric's per-example sufficient statistics, see
:mod:`codeintel.eval.resample`). For every metric both runs have, this reports A's and B's score, the
difference B − A with its 95 % paired-bootstrap interval (test examples resampled, the corpus metric
recomputed) and the p-value of paired approximate randomization. Runs scored on different tasks, splits or
test examples are refused, naming the difference. With more than two runs, each is compared with the first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeintel.config import check_option
from codeintel.errors import ConfigError, DataError
from codeintel.eval import resample

FORMATS = ("table", "markdown", "latex", "json")


def find_per_example(path: str | Path) -> list[Path]:
    """The ``per_example.json`` of a run or evaluation directory (``RUN/``, ``RUN/eval-test/``) or the file; of
    a multi-seed directory (``train --seeds``), one per seed."""
    from codeintel.recipes.seeds import is_multi_seed, seed_dirs

    p = Path(path)
    if p.is_dir() and is_multi_seed(p):
        return [_one_per_example(d) for d in seed_dirs(p)]
    return [_one_per_example(p)]


def _one_per_example(p: Path) -> Path:
    for candidate in (p, p / resample.FILE, p / "eval-test" / resample.FILE):
        if candidate.is_file():
            return candidate
    if not p.exists():
        raise DataError(f"{p} does not exist.")
    raise DataError(f"{p} holds no {resample.FILE} (runs and evaluations write it with their test predictions; "
                    "re-run `codeintel evaluate --model RUN/best` for a run made before they did).")


def _load(path: Path) -> dict[str, Any]:
    try:
        return resample.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a readable {resample.FILE} ({type(exc).__name__}: {exc}).") from None


def _aligned(base: dict, other: dict, names: tuple[str, str]) -> dict:
    """``other`` with its examples in ``base``'s order; refused unless both hold the same task, split and ids."""
    for key in ("task", "split"):
        if base[key] != other[key]:
            raise ConfigError(f"{names[0]} is scored on {key} {base[key]!r} and {names[1]} on {other[key]!r}; "
                              "compare runs evaluated on the same test set.")
    a_ids, b_ids = base["ids"], other["ids"]
    if len(set(b_ids)) != len(b_ids) or len(set(a_ids)) != len(a_ids):
        raise DataError(f"{names[0] if len(set(a_ids)) != len(a_ids) else names[1]} repeats example ids; "
                        "per-example scores cannot be paired.")
    if set(a_ids) != set(b_ids):
        only_a, only_b = sorted(set(a_ids) - set(b_ids)), sorted(set(b_ids) - set(a_ids))
        raise ConfigError(f"{names[0]} and {names[1]} are scored on different test examples ({len(a_ids)} vs "
                          f"{len(b_ids)}; {len(only_a)} only in the first, e.g. {only_a[:2]}, {len(only_b)} only in "
                          f"the second, e.g. {only_b[:2]}); compare runs evaluated on the same test set.")
    order = {i: k for k, i in enumerate(b_ids)}
    perm = [order[i] for i in a_ids]
    metrics = {m: resample.Decomposed(d.kind, d.stats[perm], d.scale, d.digits, d.lower_is_better)
               for m, d in other["metrics"].items()}
    return {**other, "ids": list(a_ids), "metrics": metrics}


def compare(runs: list[str | Path], *, resamples: int = 10_000, trials: int = 10_000, seed: int = 0,
            confidence: float = 0.95) -> dict[str, Any]:
    """Compare runs on their shared test set: per metric and run after the first, the scores, the difference
    to the first run with its paired-bootstrap interval and the approximate-randomization p-value."""
    if len(runs) < 2:
        raise ConfigError("compare needs at least two runs (RUN_A RUN_B ...).")
    if resamples < 100 or trials < 100:
        raise ConfigError(f"--resamples and --trials must be at least 100, got {resamples} and {trials}.")
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"--confidence must be in [0.5, 1), got {confidence}.")
    check_option("--seed", "seed", seed)
    files = [find_per_example(r) for r in runs]
    sides = [[_load(f) for f in fs] for fs in files]
    base = sides[0][0]
    sides = [[_aligned(base, x, (str(runs[0]), str(run))) for x in side] for run, side in zip(runs, sides, strict=True)]
    rows = []
    for run, side in zip(runs[1:], sides[1:], strict=True):
        shared = [m for m in base["metrics"] if all(m in x["metrics"] for x in [*sides[0], *side])]
        if not shared:
            raise ConfigError(f"{runs[0]} and {run} share no metric.")
        if len(side) != len(sides[0]):
            raise ConfigError(f"{runs[0]} has {len(sides[0])} seed(s) and {run} {len(side)}; paired tests pair the "
                              "seeds: compare the same number of seeds.")
        for m in shared:
            a, b = [x["metrics"][m] for x in sides[0]], [x["metrics"][m] for x in side]
            boot = resample.paired_bootstrap(a, b, resamples, seed, confidence)
            p = resample.approximate_randomization(a, b, trials, seed)
            rows.append({"metric": m, "run_a": str(runs[0]), "run_b": str(run), **boot, "p": p,
                         "lower_is_better": a[0].lower_is_better})
    return {"task": base["task"], "split": base["split"], "examples": len(base["ids"]), "confidence": confidence,
            "trials": trials, "runs": [str(r) for r in runs], "files": [[str(f) for f in fs] for fs in files],
            "seeds": [len(x) for x in sides], "rows": rows}


def _cells(r: dict) -> list[str]:
    better = "lower is better" if r["lower_is_better"] else ""
    return [r["metric"] + (f" ({better})" if better else ""), Path(r["run_b"]).name or r["run_b"], f"{r['a']:.4f}",
            f"{r['b']:.4f}", f"{r['diff']:+.4f}", f"[{r['low']:+.4f}, {r['high']:+.4f}]",
            f"{r['p']:.4f}" + (" *" if r["p"] < 0.05 else "")]


HEADER = ["metric", "run B", "A", "B", "B − A", "interval", "p"]


def render(result: dict[str, Any], fmt: str = "table") -> str:
    """The comparison as an aligned table, markdown, LaTeX (booktabs) or JSON."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if fmt == "json":
        return json.dumps(result, indent=2)
    pct = f"{100 * result['confidence']:g} %"
    head = [*HEADER[:5], f"{pct} interval", "p (AR)"]
    body = [_cells(r) for r in result["rows"]]
    seeds = "" if max(result["seeds"]) == 1 else \
        f"; {result['seeds'][0]} seeds a side: means over seeds, seeds resampled too"
    note = (f"A = {result['runs'][0]}; {result['task']} {result['split']}, {result['examples']} examples; paired "
            f"bootstrap ({result['rows'][0]['resamples']} resamples) and approximate randomization "
            f"({result['trials']} trials){seeds}; * p < 0.05")
    if fmt == "markdown":
        rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|"
        lines = ["| " + " | ".join(head) + " |", rule]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines) + f"\n\n{note}\n"
    if fmt == "latex":
        esc = lambda s: s.replace("_", r"\_").replace("%", r"\%").replace("−", "$-$").replace("*", "$^*$")  # noqa: E731
        lines = [r"\begin{tabular}{ll" + "r" * (len(head) - 2) + "}", r"\toprule",
                 " & ".join(esc(h) for h in head) + r" \\", r"\midrule"]
        lines += [" & ".join(esc(c) for c in row) + r" \\" for row in body]
        lines += [r"\bottomrule", r"\end{tabular}", f"% {esc(note)}"]
        return "\n".join(lines) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    fmt_row = lambda row: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))  # noqa: E731,E501
    return "\n".join([fmt_row(head), *(fmt_row(r) for r in body), note]) + "\n"


def plot(result: dict[str, Any], path: Path, fmt: str | None = None) -> None:
    """One panel per metric: each run's difference to A with its interval (a line at 0: no difference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codeintel.io import save_figure

    metrics = list(dict.fromkeys(r["metric"] for r in result["rows"]))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 1.2 + 0.5 * len(result["rows"])), squeeze=False)
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        rows = [r for r in result["rows"] if r["metric"] == m]
        y = list(range(len(rows)))
        diffs = [r["diff"] for r in rows]
        err = [[r["diff"] - r["low"] for r in rows], [r["high"] - r["diff"] for r in rows]]
        colors = ["tab:green" if (r["p"] < 0.05 and (r["diff"] < 0) == r["lower_is_better"]) else
                  "tab:red" if r["p"] < 0.05 else "tab:gray" for r in rows]
        for k, color in enumerate(colors):
            ax.errorbar([diffs[k]], [y[k]], xerr=[[err[0][k]], [err[1][k]]], fmt="o", color=color, capsize=4)
        ax.axvline(0, color="black", lw=0.8)
        pval = [f"p={r['p']:.3f}" if r["p"] >= 0.001 else "p<0.001" for r in rows]
        ax.set_yticks(y, [f"{Path(r['run_b']).name or r['run_b']} ({q})" for r, q in zip(rows, pval, strict=True)])
        ax.set_title(f"{m}: B − A" + (" (lower is better)" if rows[0]["lower_is_better"] else ""), fontsize=9)
    fig.suptitle(f"vs {result['runs'][0]} · {100 * result['confidence']:g} % paired-bootstrap intervals", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, fmt=fmt)
