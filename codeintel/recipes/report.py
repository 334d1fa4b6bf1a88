"""``codeintel report RUNS...``: a leaderboard across tasks.

One row per model configuration (the model, and the settings that change what is trained: ``graph``,
``adapter``, ``adapter_mode``, ``tokenizer``), one column per task and metric, each cell the test score — mean ±
std over the seeds of a multi-seed directory (``train --seeds``). In each column the best score is bold only
where it is significantly better than the second best on the same test examples (paired approximate
randomization on the runs' ``per_example.json``, p < 0.05); otherwise nothing is marked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.config import check_option
from codeintel.errors import ConfigError, DataError
from codeintel.eval import resample

FORMATS = ("markdown", "latex", "json")
CONFIG_KEYS = ("graph", "adapter", "adapter_mode", "tokenizer")


def _run(path: str | Path) -> dict[str, Any]:
    """One entry: its task, row label, test scores (per seed) and per-example statistics (per seed)."""
    from codeintel.config import load_yaml
    from codeintel.recipes.seeds import is_multi_seed, seed_dirs

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist.")
    multi = p.is_dir() and is_multi_seed(p)
    dirs = seed_dirs(p) if multi else [p]
    if multi:  # any recipe's --seeds: its summary holds every seed's scores
        if not (p / "summary.json").is_file():
            raise DataError(f"{p} holds no summary.json; run its --seeds command again to finish it.")
        summary = json.loads((p / "summary.json").read_text())
        task, model = summary["task"], str(summary["model"])
        scores = [{m: v["per_seed"][str(s)] for m, v in summary["metrics"].items()} for s in summary["seeds"]]
    else:
        if not (p / "metrics.json").is_file():
            raise DataError(f"{p} holds no metrics.json; report reads finished runs and evaluations.")
        m = json.loads((p / "metrics.json").read_text())
        task, model = m.get("task", "?"), str(m.get("model", "?"))
        scores = [m.get("test") or m.get("scores") or {}]
    per = [resample.load(d / resample.FILE) if (d / resample.FILE).is_file() else None for d in dirs]
    cfg = load_yaml(dirs[0] / "config.yaml") if (dirs[0] / "config.yaml").is_file() else {}
    extra = [f"{k}={cfg[k]}" for k in CONFIG_KEYS if cfg.get(k) not in (None, "", False)]
    label = model + (f" ({', '.join(extra)})" if extra else "")
    return {"path": str(p), "task": task, "label": label, "scores": scores, "per_example": per}


def report(runs: list[str | Path], *, trials: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """The leaderboard of ``runs``: rows, columns, cells (mean, std, seeds) and the significant bests."""
    from codeintel.eval.metrics import LOWER_IS_BETTER

    if not runs:
        raise ConfigError("report needs at least one run.")
    check_option("--seed", "seed", seed)
    entries = [_run(r) for r in runs]
    rows = list(dict.fromkeys(e["label"] for e in entries))
    columns: list[tuple[str, str]] = []
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in entries:
        metrics = [m for m, v in e["scores"][0].items() if isinstance(v, int | float) and m != "threshold"]
        for m in metrics:
            col = (e["task"], m)
            if col not in columns:
                columns.append(col)
            key = (e["label"], *col)
            if key in cells:
                raise ConfigError(f"{e['path']} and {cells[key]['path']} are both {e['label']} on {e['task']}; "
                                  "give one run (or one multi-seed directory) per configuration and task.")
            values = np.array([float(s[m]) for s in e["scores"]])
            cells[key] = {"path": e["path"], "mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0, "seeds": len(values),
                          "per_example": [p["metrics"].get(m) if p else None for p in e["per_example"]],
                          "ids": e["per_example"][0]["ids"] if e["per_example"][0] else None}
    best: dict[str, dict[str, Any]] = {}
    for task, m in columns:
        here = [(r, cells[(r, task, m)]) for r in rows if (r, task, m) in cells]
        if len(here) < 2:
            continue
        lower = m in LOWER_IS_BETTER
        here.sort(key=lambda rc: rc[1]["mean"], reverse=not lower)
        (r1, c1), (_, c2) = here[0], here[1]
        p = _p_value(c1, c2, trials, seed)
        best[f"{task}/{m}"] = {"row": r1, "p": p, "significant": p is not None and p < 0.05}
    return {"rows": rows, "columns": [list(c) for c in columns],
            "cells": {f"{r}|{t}|{m}": {k: v for k, v in c.items() if k not in ("per_example", "ids")}
                      for (r, t, m), c in cells.items()},
            "best": best, "trials": trials}


def _p_value(c1: dict, c2: dict, trials: int, seed: int) -> float | None:
    """Approximate randomization between two cells, where both have per-example statistics on the same examples
    and the same number of seeds; ``None`` where they cannot be paired."""
    if None in c1["per_example"] or None in c2["per_example"] or c1["ids"] is None or c2["ids"] is None \
            or sorted(c1["ids"]) != sorted(c2["ids"]) or len(c1["per_example"]) != len(c2["per_example"]):
        return None
    order = {i: k for k, i in enumerate(c2["ids"])}
    perm = [order[i] for i in c1["ids"]]
    b = [resample.Decomposed(d.kind, d.stats[perm], d.scale, d.digits, d.lower_is_better) for d in c2["per_example"]]
    return resample.approximate_randomization(c1["per_example"], b, trials, seed)


def render(board: dict[str, Any], fmt: str = "markdown") -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if fmt == "json":
        return json.dumps(board, indent=2)
    cols = [tuple(c) for c in board["columns"]]

    def cell(row: str, task: str, m: str) -> str:
        c = board["cells"].get(f"{row}|{task}|{m}")
        if c is None:
            return "–"
        text = f"{c['mean']:.4f}" + (f" ± {c['std']:.4f}" if c["seeds"] > 1 else "")
        b = board["best"].get(f"{task}/{m}")
        if b and b["significant"] and b["row"] == row:
            text = f"**{text}**" if fmt == "markdown" else rf"\textbf{{{text}}}"
        return text.replace("±", r"$\pm$") if fmt == "latex" else text

    note = ("bold: the best in its column and significantly better than the second best on the same test "
            f"examples (paired approximate randomization, {board['trials']} trials, p < 0.05); mean ± std over "
            "seeds where a run has several")
    if fmt == "markdown":
        lines = ["| model | " + " | ".join(f"{t} {m}" for t, m in cols) + " |", "|---|" + "---:|" * len(cols)]
        lines += ["| " + r + " | " + " | ".join(cell(r, t, m) for t, m in cols) + " |" for r in board["rows"]]
        return "\n".join(lines) + f"\n\n{note}\n"
    esc = lambda s: s.replace("_", r"\_").replace("%", r"\%")  # noqa: E731
    lines = [r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule",
             "model & " + " & ".join(esc(f"{t} {m}") for t, m in cols) + r" \\", r"\midrule"]
    lines += [esc(r) + " & " + " & ".join(cell(r, t, m) for t, m in cols) + r" \\" for r in board["rows"]]
    lines += [r"\bottomrule", r"\end{tabular}", f"% {esc(note)}"]
    return "\n".join(lines) + "\n"
