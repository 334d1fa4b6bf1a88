"""Several seeds in one command: one run directory per seed under the output directory, and their summary.

Every recipe on the recipe kit takes ``--seeds`` (``train``, ``pretrain``, ``probe``, ``adapters train-ner``;
``continual run`` has ``repeats``): every config has ``train.seed`` and ``output_dir``, so :func:`over_seeds`
runs any of them. ``OUT/seeds.json`` names the seeds and the settings they share; ``OUT/seed-<s>/`` is an
ordinary run of the recipe with ``train.seed = s``; ``OUT/summary.json`` and ``OUT/summary.md`` hold, per
metric, the mean, standard deviation, min/max and a 95 % interval of the mean (Student's t over the seeds), each
seed's value and the trivial baselines. Running the same command again continues: a finished seed (its result
file written) is not run again, an interrupted one with a saved state is resumed, one interrupted before its
first state is moved aside (``seed-<s>.replaced-<time>``) and run again. Another configuration into the same
directory is refused.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.errors import ConfigError
from codeintel.io import parse_json, write_json, write_text
from codeintel.log import say

SEEDS_FILE, SUMMARY = "seeds.json", "summary.json"


def parse_seeds(text: str) -> list[int]:
    """``1,2,3`` or ``1-5`` (or both: ``1-3,7``) as a list of distinct seeds in [0, 2^32)."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else ("", part)
                seeds += list(range(int(lo), int(hi) + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give seeds as 1,2,3 or a range 1-5.") from None
    if not seeds or len(set(seeds)) != len(seeds) or not all(0 <= s < 2**32 for s in seeds):
        raise ConfigError(f"--seeds {text!r}: give distinct seeds in [0, 2^32), e.g. 1,2,3.")
    if len(seeds) > 1000:
        raise ConfigError(f"--seeds {text!r} names {len(seeds)} seeds; at most 1000.")
    return seeds


def is_multi_seed(path: str | Path) -> bool:
    return (Path(path) / SEEDS_FILE).is_file()


def seed_dirs(path: str | Path) -> list[Path]:
    """The seed run directories of a multi-seed directory, in the order of its seeds."""
    meta = json.loads((Path(path) / SEEDS_FILE).read_text())
    return [Path(path) / f"seed-{s}" for s in meta["seeds"]]


def over_seeds(cfg, seeds: list[int] | str, run: Callable[[Any, bool], dict], resumed: Callable[[Path], Any], *,
               result_file: str, scores: Callable[[dict], dict], default_out: str, resume: bool = False,
               echo=say, overwrite: bool = False, extra: dict[str, Any] | None = None,
               task: str | None = None, jobs: int = 1) -> dict[str, Any]:
    """``--seeds`` for any recipe config ``cfg`` (:func:`run_seeds` in ``cfg.output_dir``, else a fresh
    ``default_out``), the summary printed through ``echo``: each seed's config is ``cfg`` with ``train.seed`` and
    ``output_dir`` changed; ``run(cfg, resume)`` runs it, ``resumed(run_dir)`` reads the config of an interrupted
    seed; ``result_file`` marks a finished seed; ``scores(result)`` picks the scores to summarise. ``extra``:
    settings beside the config that the seeds share (a task card); ``task``: the summary's task name (default:
    the result's own). ``resume`` is refused: the same command again continues. ``jobs``: seeds run at once, each
    in its own process (see :func:`run_seeds`)."""
    import copy
    import dataclasses

    from codeintel.recipes.rundir import fresh

    if resume:
        raise ConfigError("--seeds continues by itself: run the same command again (drop --resume).")
    seeds = parse_seeds(seeds if isinstance(seeds, str) else ",".join(map(str, seeds)))
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--seeds runs the seeds itself (one after another, or --seed-jobs at once); launch it "
                          "without torchrun.")
    if jobs < 1:
        raise ConfigError(f"--seed-jobs must be at least 1, got {jobs}.")
    cfg.output_dir = cfg.output_dir or str(fresh(default_out))
    shared = dataclasses.asdict(cfg)
    shared.pop("output_dir")
    shared["train"].pop("seed")

    def one(seed: int, run_dir: Path, again: bool) -> dict:
        if again:
            return run(resumed(run_dir), True)
        c = copy.deepcopy(cfg)
        c.train.seed, c.output_dir = seed, str(run_dir)
        return run(c, False)

    summary = run_seeds(Path(cfg.output_dir), seeds, {**(extra or {}), **shared}, one, echo=echo,
                        overwrite=overwrite, result_file=result_file, scores=scores, task=task, jobs=jobs)
    print_summary(summary, echo)
    return summary


def print_summary(summary: dict[str, Any], echo=say) -> None:
    echo(f"\n== {summary['task']} | {summary['model']} | {len(summary['seeds'])} seeds "
         f"({', '.join(map(str, summary['seeds']))})")
    for m, v in summary["metrics"].items():
        ci = "" if v["ci95"][0] != v["ci95"][0] else f"  95 % interval [{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}]"
        echo(f"{m:<16} {v['mean']:.4f} ± {v['std']:.4f}  (min {v['min']:.4f}, max {v['max']:.4f}){ci}")
    echo(f"wrote {summary['output_dir']}/summary.json and summary.md")


def run_seeds(out: Path, seeds: list[int], settings: dict[str, Any], run_one: Callable[[int, Path, bool], dict],
              *, echo=say, overwrite: bool = False, result_file: str = "metrics.json",
              scores: Callable[[dict], dict] = lambda r: r["test"], task: str | None = None,
              jobs: int = 1) -> dict[str, Any]:
    """Run ``run_one(seed, run_dir, resume)`` for each seed not finished yet in ``out``, then summarise.

    ``settings``: what every seed shares (the configuration without the seed and the output directory); a
    directory holding seeds of other settings is refused. ``run_one`` returns the run's result (what
    ``result_file`` holds); ``scores(result)`` are the numbers summarised. ``jobs`` > 1: up to that many seeds
    at once, each in a forked process with the machine's cores shared out (``torch.set_num_threads``; a
    recipe's own ``train.threads`` wins), its log in ``out/seed-<s>.log``; the results are read back from the
    seeds' ``result_file``. A seed is the same run either way (its own seed, its own process state)."""
    from codeintel.recipes.kit import claimed
    from codeintel.recipes.rundir import RunDir, latest_state

    meta_path = out / SEEDS_FILE
    if meta_path.is_file() and not overwrite:
        try:
            meta = parse_json(meta_path.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"{meta_path} is unreadable; choose another --out.") from None
        if meta.get("settings") != json.loads(json.dumps(settings, default=str)):
            raise ConfigError(f"--out {out} holds seeds of another configuration; choose another --out, or pass "
                              "--overwrite to move them aside.")
        seeds_all = list(dict.fromkeys([*meta["seeds"], *seeds]))
        continuing = True
    else:
        seeds_all, continuing = seeds, False
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=continuing, needs_state=False,
                    ours=lambda p: (p / SEEDS_FILE).is_file() or (p / SUMMARY).is_file())
    with claimed(rundir):
        write_json(meta_path, {"seeds": seeds_all, "settings": json.loads(json.dumps(settings, default=str))})
        results, pending = {}, []
        for seed in seeds_all:
            run_dir = out / f"seed-{seed}"
            if (run_dir / result_file).is_file():
                echo(f"== seed {seed}: finished before ({run_dir}/{result_file})")
                results[seed] = json.loads((run_dir / result_file).read_text())
                continue
            resume = run_dir.is_dir() and latest_state(run_dir) is not None
            if run_dir.exists() and not resume:
                from codeintel.recipes.rundir import aside_path

                aside = aside_path(run_dir)
                run_dir.rename(aside)
                echo(f"== seed {seed}: an interrupted run without a saved state; moved it to {aside}")
            pending.append((seed, run_dir, resume))
        if jobs > 1 and len(pending) > 1:
            results.update(_in_processes(pending, run_one, jobs, out, result_file, echo))
        else:
            for seed, run_dir, resume in pending:
                echo(f"== seed {seed} ({len(results) + 1} of {len(seeds_all)})" + (": resuming" if resume else ""))
                results[seed] = run_one(seed, run_dir, resume)
        results = {s: results[s] for s in seeds_all}
        summary = summarise(results, scores)
        summary["task"] = task or summary["task"]
        write_json(out / SUMMARY, summary)
        write_text(out / "summary.md", markdown(summary))
    summary["output_dir"] = str(out)
    return summary


def _in_processes(pending: list[tuple[int, Path, bool]], run_one: Callable[[int, Path, bool], dict], jobs: int,
                  out: Path, result_file: str, echo) -> dict[int, dict]:
    """The pending seeds in forked processes, ``jobs`` at a time; their results read from ``result_file``. An
    interrupted parent (Ctrl-C) stops the running seeds; their last saved states remain for the next run."""
    import multiprocessing as mp
    import time

    ctx = mp.get_context("fork")            # the child inherits run_one (a closure) as it is: nothing to pickle
    threads = max(1, (os.cpu_count() or 1) // jobs)
    todo, running, failed, results = list(pending), {}, [], {}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                seed, run_dir, resume = todo.pop(0)
                log = out / f"seed-{seed}.log"
                proc = ctx.Process(target=_child, args=(run_one, seed, run_dir, resume, log, threads))
                proc.start()
                running[seed] = (proc, run_dir, log)
                echo(f"== seed {seed}: started in process {proc.pid}" + (" (resuming)" if resume else "")
                     + f"; its log: {log}")
            for seed, (proc, run_dir, log) in list(running.items()):
                if proc.is_alive():
                    continue
                del running[seed]
                if proc.exitcode == 0 and (run_dir / result_file).is_file():
                    results[seed] = json.loads((run_dir / result_file).read_text())
                    echo(f"== seed {seed}: finished")
                else:
                    failed.append((seed, log))
            time.sleep(0.2)
    except BaseException:
        for proc, _, _ in running.values():
            proc.terminate()
        for proc, _, _ in running.values():
            proc.join(10)
        raise
    if failed:
        tail = {s: (log.read_text(errors="replace").strip().splitlines() or ["(empty log)"])[-1] for s, log in failed}
        raise ConfigError("seed(s) " + ", ".join(str(s) for s, _ in failed) + " failed: "
                          + "; ".join(f"{s}: {tail[s]} (log {log})" for s, log in failed)
                          + ". The finished seeds are kept; the same command again reruns the others.")
    return results


def _child(run_one, seed: int, run_dir: Path, resume: bool, log: Path, threads: int) -> None:
    """One seed in a forked process: its output to ``log``, the cores it is given, exit 0 when it finished."""
    import ctypes
    import signal
    import sys

    import torch

    try:                      # Linux: die with the parent (a SIGKILLed `--seeds` leaves no seed running unseen)
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    with open(log, "a", buffering=1) as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        sys.stdout = sys.stderr = f
        torch.set_num_threads(threads)
        try:
            run_one(seed, run_dir, resume)
        except BaseException as exc:  # noqa: BLE001 - the parent reads the last line of the log
            print(f"error: {type(exc).__name__}: {exc}", flush=True)
            os._exit(1)
    os._exit(0)


def summarise(results: dict[int, dict[str, Any]], scores: Callable[[dict], dict] = lambda r: r["test"]
              ) -> dict[str, Any]:
    """Per metric over the seeds: mean, std (n − 1), min, max, the 95 % t-interval of the mean, each seed's
    value; the trivial baselines (the test set is the same for every seed)."""
    from scipy import stats

    seeds = list(results)
    first = results[seeds[0]]
    metrics = [m for m, v in scores(first).items() if isinstance(v, int | float) and not isinstance(v, bool)
               and m != "threshold"]
    out: dict[str, Any] = {"task": first.get("task"),
                           "model": first.get("model") or first.get("backbone"), "seeds": seeds, "metrics": {}}
    for m in metrics:
        values = np.array([float(scores(results[s])[m]) for s in seeds])
        n = len(values)
        std = float(values.std(ddof=1)) if n > 1 else 0.0
        half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else float("nan")
        out["metrics"][m] = {"mean": float(values.mean()), "std": std, "min": float(values.min()),
                             "max": float(values.max()), "ci95": [float(values.mean()) - half,
                                                                  float(values.mean()) + half],
                             "per_seed": dict(zip(map(str, seeds), values.tolist(), strict=True))}
    base = first.get("baselines") or ({"majority_label": first["majority_baseline"]}
                                      if "majority_baseline" in first else {})
    out["baselines"] = {k: v for k, v in base.items() if isinstance(v, dict)}
    return out


def markdown(summary: dict[str, Any]) -> str:
    seeds = summary["seeds"]
    lines = [f"# {summary['task']} | {summary['model']} | {len(seeds)} seeds ({', '.join(map(str, seeds))})", "",
             "| metric | mean ± std | 95 % interval of the mean | min – max | " + " | ".join(f"seed {s}" for s in seeds)
             + " |", "|---|---:|---:|---:|" + "---:|" * len(seeds)]
    for m, v in summary["metrics"].items():
        ci = "–" if math.isnan(v["ci95"][0]) else f"[{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}]"
        lines.append(f"| {m} | {v['mean']:.4f} ± {v['std']:.4f} | {ci} | {v['min']:.4f} – {v['max']:.4f} | "
                     + " | ".join(f"{v['per_seed'][str(s)]:.4f}" for s in seeds) + " |")
    if summary["baselines"]:
        lines += ["", "Trivial baselines on the same test set:", ""]
        for name, scores in summary["baselines"].items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, int | float))
            lines.append(f"- {name}: {shown}")
    return "\n".join(lines) + "\n"
