"""The evaluation recipe: score a model on a split, shared by ``codeintel train`` (dev and test) and
``codeintel evaluate`` (a checkpoint on one split, optionally with the robustness suite)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from codeintel.config import RunConfig
from codeintel.data.loaders import LoadReport
from codeintel.errors import ConfigError, DataError
from codeintel.io import write_json, write_text
from codeintel.log import say
from codeintel.recipes.kit import claimed
from codeintel.tasks.types import build_task


def load_splits(task, cfg: RunConfig, echo) -> dict[str, Any]:
    """The task's train/valid/test rows from ``cfg.data.paths`` (or the card's default data)."""
    report = LoadReport(columns=task.column_map(cfg.data))
    raw = task.load(list(cfg.data.paths), cfg.data.skip_bad_lines, report)
    if report.skipped_lines:
        echo(f"warning: skipped {report.skipped_lines} malformed line(s) (data.skip_bad_lines=true)")
    for note in report.messages:
        echo(f"note: {note}")
    return raw


def predict_split(task, model, prepared, cfg: RunConfig, progress: bool = False) -> Any:
    """Raw predictions of ``model`` on one prepared split, with the config's decoding settings."""
    return task.predict(model, prepared, beam_size=cfg.eval.beam_size, batch_size=cfg.eval.batch_size,
                        no_repeat_ngram_size=cfg.eval.no_repeat_ngram_size, progress=progress)


def evaluate_split(task, model, prepared, cfg: RunConfig, progress: bool = False) -> tuple[dict, Any]:
    """Scores and raw predictions of ``model`` on one prepared split."""
    preds = predict_split(task, model, prepared, cfg, progress)
    return task.score(preds, prepared.rows), preds


def write_per_example(out_dir: Path, task, card: str, split: str, preds, rows, got=None):
    """``per_example.json`` beside the predictions: each metric's per-example statistics
    (:mod:`codeintel.eval.resample`), what ``codeintel compare`` resamples. ``got``: ``task.per_example(preds,
    rows)`` when the caller has it already. Returns it (``None`` for a task type without them)."""
    from codeintel.eval import resample

    got = got if got is not None else task.per_example(preds, rows)
    if got is not None:
        resample.save(out_dir / resample.FILE, card, split, *got)
    return got


def sanity(task, select_by: str, preds, rows: list, splits: dict, untrained=None, resamples: int = 2000,
           per_example=None) -> dict[str, Any]:
    """Did the model learn anything? The number of distinct predictions, and the trivial baselines (and the
    untrained model, ``untrained``: its per-example statistics of ``select_by`` on the same rows) that the
    model's ``select_by`` score is not distinguishable from: 0 inside the 95 % paired-bootstrap interval of the
    difference. ``per_example``: ``task.per_example(preds, rows)`` when the caller has it already."""
    from codeintel.eval.resample import paired_bootstrap

    distinct = task.distinct_predictions(preds)
    out: dict[str, Any] = {"distinct_predictions": distinct, "examples": len(rows), "metric": select_by,
                           "few_predictions": distinct is not None and distinct <= task.few_distinct < len(rows),
                           "indistinguishable_from": {}}
    got = per_example if per_example is not None else task.per_example(preds, rows)
    if got is None or select_by not in got[1]:
        return out
    mine = got[1][select_by]
    refs = {name: task.per_example(p, rows)[1][select_by]
            for name, p in task.baseline_predictions(splits, rows).items()}
    if untrained is not None:
        refs["the untrained model"] = untrained
    for name, ref in refs.items():
        boot = paired_bootstrap(ref, mine, resamples=resamples, seed=0)
        if boot["low"] <= 0 <= boot["high"]:
            out["indistinguishable_from"][name] = {k: boot[k] for k in ("a", "b", "diff", "low", "high")}
    return out


def sanity_lines(s: dict[str, Any]) -> list[str]:
    """The warnings of :func:`sanity`, one line each (none when the model is distinguishable from them all)."""
    lines = []
    if s.get("few_predictions"):
        lines.append(f"warning: the model made {s['distinct_predictions']} distinct prediction(s) on "
                     f"{s['examples']} test examples")
    for name, b in s["indistinguishable_from"].items():
        lines.append(f"warning: test {s['metric']} {b['b']:.4f} is not distinguishable from {name} ({b['a']:.4f}; "
                     f"difference {b['diff']:+.4f}, 95 % interval [{b['low']:+.4f}, {b['high']:+.4f}]): the model "
                     "may have learned nothing")
    return lines


def default_eval_dir(model: str, split: str) -> Path:
    """``RUN/eval-<split>`` beside a run's ``best`` link, else ``runs/eval-<model>-<split>``: never inside a
    checkpoint (the next training would replace it with the checkpoint)."""
    path = Path(model)
    if path.name == "best" and (path.parent / "config.yaml").is_file():
        return path.parent / f"eval-{split}"
    name = path.name if path.is_dir() else model.replace("/", "--")
    return Path("runs") / f"eval-{name}-{split}"


def evaluate_checkpoint(cfg: RunConfig, out_dir: Path, split: str = "test", echo=say,
                        robustness: list[str] | None = None, overwrite: bool = False,
                        progress: bool = True) -> dict[str, Any]:
    """``codeintel evaluate``: score a checkpoint on one split, write ``metrics.json`` and predictions.

    ``out_dir`` is claimed like a run directory: new or empty, or an earlier output moved aside with
    ``overwrite``; it may not be inside a checkpoint.

    ``robustness``: operator specs (``rename_variables:k=1-8``); the split is also scored on transformed
    copies, written to ``robustness.json`` and ``robustness.png``.
    """
    from codeintel.config import validate
    from codeintel.recipes.rundir import RunDir

    if split not in ("train", "valid", "test", "all"):
        raise DataError(f"unknown split {split!r}; use train, valid, test or all.")
    validate(cfg)  # also the values the checkpoint brought (beam size, threshold, ...)
    out_dir = Path(out_dir)
    if (out_dir.parent / "config.json").is_file() and (out_dir.parent / "codeintel.json").is_file():
        raise ConfigError(f"--out {out_dir} is inside the checkpoint {out_dir.parent}; evaluations go beside "
                          "checkpoints, never inside them. Choose another --out.")
    rundir = RunDir(out_dir, overwrite=overwrite, echo=echo)
    rundir.check()
    with claimed(rundir):  # locked from here to the last write
        return _evaluate(cfg, out_dir, split, echo, robustness, progress)


def _evaluate(cfg: RunConfig, out_dir: Path, split: str, echo, robustness: list[str] | None,
              progress: bool) -> dict[str, Any]:
    """The work of :func:`evaluate_checkpoint` in its claimed directory."""
    import torch

    from codeintel.config import resolve_device
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.models import load_model

    torch.manual_seed(cfg.train.seed)
    card = load_task(cfg.task)
    variants, lang = _robustness_plan(cfg, card, robustness)
    # a checkpoint of another task type fails here, clearly
    loaded = load_model(cfg.model, card.type, allow_pickle=cfg.allow_pickle)
    loaded.model.to(resolve_device(cfg.device))
    task = build_task(cfg, card, loaded)
    raw = load_splits(task, cfg, echo)
    rows = [r for s in ("train", "valid", "test") for r in raw[s]] if split == "all" else raw[split]
    echo(f"evaluating {cfg.model} on {card.name}, split {split} ({len(rows)} rows)")
    t0 = time.perf_counter()
    prepared = task.prepare(rows)
    scores, preds = evaluate_split(task, loaded.model, prepared, cfg, progress=progress)
    task.write_predictions(out_dir, preds, rows)
    got = write_per_example(out_dir, task, card.name, split, preds, rows)
    result = {"task": card.name, "model": cfg.model, "split": split, "n": len(rows), "scores": scores,
              "baselines": task.baselines(raw) if split == "test" else {},
              "seconds": round(time.perf_counter() - t0, 2)}
    if split == "test":
        result["sanity"] = sanity(task, card.select_by, preds, rows, raw, per_example=got)
    write_json(out_dir / "metrics.json", result)
    from codeintel.recipes.modelcard import evaluation_entry

    write_text(out_dir / "model-index.yaml", evaluation_entry(result, card))
    if variants:
        chance = task.baselines({**raw, "test": rows})   # trivial baselines on the rows that are perturbed
        result["robustness"] = _robustness(task, card, loaded, cfg, rows, scores, preds, variants, lang, out_dir,
                                           echo, chance)
    return result


def _robustness_plan(cfg: RunConfig, card, specs: list[str] | None):
    if not specs:
        return [], None
    from codeintel.recipes.robustness import parse_specs
    from codeintel.tasks.types import TASK_TYPES, task_type

    if not task_type(card.type).robustness:
        supported = [name for name in TASK_TYPES if task_type(name).robustness]
        raise ConfigError(f"--robustness works on {', '.join(supported)} tasks, not {card.type}.")
    lang = cfg.lang or card.lang
    if not lang:
        raise ConfigError(f"--robustness: set lang=... (the language of the code); card {card.name} names none.")
    return parse_specs(specs), lang


def _robustness(task, card, loaded, cfg: RunConfig, rows, clean_scores, clean_preds, variants, lang, out_dir, echo,
                baselines: dict[str, dict]):
    """Score transformed copies of ``rows``; write robustness.json / robustness.png."""
    from codeintel.recipes import robustness as rb

    metric = card.metrics[0]
    result = {"task": card.name, "model": cfg.model, "lang": lang, "clean": clean_scores, "variants": [],
              "baselines": {name: b[metric] for name, b in baselines.items() if metric in b}}
    echo(f"clean     {format_scores({metric: clean_scores[metric]})}")
    for v in variants:
        new_rows, stats = rb.perturb(task, rows, lang, v, cfg.train.seed)
        scores, preds = evaluate_split(task, loaded.model, task.prepare(new_rows), cfg)
        entry = {"op": v.op, "params": v.params, "scores": scores, **stats}
        if task.embeds:
            entry.update(rb.embedding_protocol(clean_preds, preds, [r["label"] for r in rows]))
        result["variants"].append(entry)
        extra = f"  cosine={entry['cosine']:.4f}" if "cosine" in entry else ""
        echo(f"robust    {format_scores({metric: scores[metric]})}{extra}   ({v.label}; applied to "
             f"{stats['applied']}/{stats['n']})")
    write_json(out_dir / "robustness.json", result)
    rb.plot(result, metric, out_dir)
    return result


def format_scores(scores: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in scores.items())
