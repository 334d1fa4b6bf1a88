#!/usr/bin/env python3
"""ContraBERT's comparison on the shared POJ-104 sample: MLM + contrastive vs MLM only, renaming curve.

    python bench/contrastive_vs_mlm.py [--steps 500] [--seeds 42] [--out runs/contrastive-vs-mlm] [key=value ...]

Defaults reproduce the issue note's run: 500 steps x 32, source_len 256, queue 1,024, momentum 0.99 (with the
library default 0.999 the key encoder barely moves in a few hundred steps), seed 42; ~25 min per seed on 2
cores. With several seeds (``--seeds 1,2,3``) each seed's runs go to ``OUT/seed-S/`` (a finished seed is read
back, not rerun) and ``OUT/summary.json`` gives, per metric and k, the mean and standard deviation over seeds of
both continuations and their paired difference (contrastive minus MLM) with a 95 % t-interval.

The same tiny RoBERTa-family model (``--model``, default tiny-codebert), data, steps and seed are continued
with ``codeintel pretrain mlm`` and ``codeintel pretrain contrastive`` on the programs of the training
problems (labels of the train split; no label is used by either objective); each checkpoint (and the
starting model) is then scored on the held-out test problems, clean and with k = 1…8 variables renamed:
MAP@R, and the ContraBERT protocol (cosine between a program and its variant, and that cosine minus the
variant's mean cosine to the other programs). Prints both curves and writes ``curves.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clone" / "poj104_dev.jsonl"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-codebert")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--out", default="runs/contrastive-vs-mlm")
    p.add_argument("--kmax", type=int, default=8)
    p.add_argument("--seeds", default="42", help="comma-separated pre-training seeds (default 42)")
    p.add_argument("overrides", nargs="*", help="PretrainConfig keys for both runs, e.g. train.batch_size=32")
    args = p.parse_args()
    from codeintel.config import parse_overrides, set_key
    from codeintel.data.loaders import load_clone_retrieval
    from codeintel.recipes.pretrain import PretrainConfig, pretrain

    if not Path(args.data).is_file():
        print(f"{args.data} not found", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_clone_retrieval([args.data])
    train_file = out / "pretrain-programs.jsonl"
    train_file.write_text("".join(json.dumps({"code": r["code"]}) + "\n" for r in splits["train"]))
    print(f"pre-training programs: {len(splits['train'])} (train problems); scored on {len(splits['test'])} "
          f"test programs ({len({r['label'] for r in splits['test']})} problems)")

    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    start = None
    per_seed = {}
    for seed in seeds:
        sdir = out if len(seeds) == 1 else out / f"seed-{seed}"
        if len(seeds) > 1 and (sdir / "curves.json").is_file():
            per_seed[seed] = json.loads((sdir / "curves.json").read_text())
            print(f"seed {seed}: read back from {sdir / 'curves.json'}")
            continue
        curves = {}
        for name in ("start", "mlm", "contrastive"):
            if name == "start":
                if start is None:
                    start = score(args.model, args.data, out / "eval-start", args.kmax)
                curves[name] = start
                continue
            cfg = PretrainConfig(model=args.model, objective=name, lang="c", output_dir=str(sdir / name))
            cfg.data.paths = [str(train_file)]
            cfg.train.max_steps = args.steps
            run_defaults = {"train.batch_size": "32", "source_len": "256", "contrastive.queue_size": "1024",
                            "contrastive.momentum": "0.99", "train.seed": str(seed)}
            for k, v in {**run_defaults, **parse_overrides(args.overrides)}.items():
                set_key(cfg, k, v)
            res = pretrain(cfg, echo=print)
            final = {k: round(v, 3) for k, v in res["final"].items()}
            print(f"seed {seed} {name}: {res['seconds']:.0f}s, final {json.dumps(final)}")
            curves[name] = score(res["checkpoint"], args.data, sdir / f"eval-{name}", args.kmax)
        sdir.mkdir(parents=True, exist_ok=True)
        (sdir / "curves.json").write_text(json.dumps(curves, indent=2, default=float))
        per_seed[seed] = curves
        print_curves(curves, args.kmax, f"seed {seed}")
    if len(seeds) > 1:
        summary = summarize(per_seed, args.kmax)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"\nover seeds {seeds} (mean ± std; contrastive - MLM, paired by seed, with a 95 % t-interval)")
        for key, by_k in summary.items():
            print(f"\n{key}")
            for k, row in by_k.items():
                print(f"  k={k}  start {row['start']:.4f}  mlm {row['mlm']['mean']:.4f} ± {row['mlm']['std']:.4f}"
                      f"  contrastive {row['contrastive']['mean']:.4f} ± {row['contrastive']['std']:.4f}"
                      f"  difference {row['difference']['mean']:+.4f} [{row['difference']['ci95'][0]:+.4f}, "
                      f"{row['difference']['ci95'][1]:+.4f}]")
    plot(per_seed, out / "curves.png", args.kmax)
    print(f"\nwrote {out}/curves.png" + (" and summary.json" if len(seeds) > 1 else ""))
    return 0


KEYS = {"map_at_r": lambda v: v["scores"]["map_at_r"], "cosine": lambda v: v["cosine"],
        "cosine_margin": lambda v: v["cosine_margin"], "own_original_top1": lambda v: v["own_original_top1"]}


def score(ckpt: str, data: str, out: Path, kmax: int) -> dict:
    """The checkpoint's robustness curve on the test programs (clean and with k = 1..kmax variables renamed)."""
    from codeintel.config import RunConfig
    from codeintel.recipes.evaluate import evaluate_checkpoint

    run = RunConfig(model=ckpt, task="clone-retrieval")
    run.data.paths = [data]
    result = evaluate_checkpoint(run, out, "test", echo=lambda *a, **k: None,
                                 robustness=[f"rename_variables:k=1-{kmax}"])
    return result["robustness"]


def print_curves(curves: dict, kmax: int, title: str) -> None:
    for key, get in KEYS.items():
        print(f"\n{title}: {key} (k = renamed variables; 0 = clean)")
        print("k   " + "".join(f"{n:>13}" for n in curves))
        if key == "map_at_r":
            print("0   " + "".join(f"{c['clean']['map_at_r']:13.4f}" for c in curves.values()))
        for i in range(kmax):
            print(f"{i + 1:<4}" + "".join(f"{get(c['variants'][i]):13.4f}" for c in curves.values()))


def summarize(per_seed: dict, kmax: int) -> dict:
    """Per metric and k = 1..kmax: mean and std over seeds of each continuation, the untrained start, and the
    paired difference (contrastive - MLM, same seed) with its 95 % t-interval (df = seeds - 1)."""
    import numpy as np
    from scipy import stats

    out: dict = {}
    for key, get in KEYS.items():
        out[key] = {}
        for k in range(1, kmax + 1):
            vals = {n: np.array([get(c[n]["variants"][k - 1]) for c in per_seed.values()])
                    for n in ("mlm", "contrastive")}
            diff = vals["contrastive"] - vals["mlm"]
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
            out[key][str(k)] = {
                **{n: {"mean": float(v.mean()), "std": float(v.std(ddof=1)), "values": v.tolist()}
                   for n, v in vals.items()},
                "start": float(get(next(iter(per_seed.values()))["start"]["variants"][k - 1])),
                "difference": {"mean": float(diff.mean()), "ci95": [float(diff.mean() - half),
                                                                   float(diff.mean() + half)]}}
    return out


def plot(per_seed: dict, path: Path, kmax: int) -> None:
    """Each continuation's curves: the mean over seeds, with a band from the lowest to the highest seed."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    ks = np.arange(kmax + 1)
    for name in ("start", "mlm", "contrastive"):
        rows = {
            0: [[c[name]["clean"]["map_at_r"], *(v["scores"]["map_at_r"] for v in c[name]["variants"])]
                for c in per_seed.values()],
            1: [[1.0, *(v["cosine"] for v in c[name]["variants"])] for c in per_seed.values()],
            2: [[v["cosine_margin"] for v in c[name]["variants"]] for c in per_seed.values()]}
        for i, ax in enumerate(axes):
            arr = np.array(rows[i])
            x = ks if i < 2 else ks[1:]
            line, = ax.plot(x, arr.mean(0), marker="o", label=name)
            if len(arr) > 1 and name != "start":
                ax.fill_between(x, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2)
    n = len(per_seed)
    for ax, title in zip(axes, ["MAP@R on renamed test programs", "cosine(program, variant)",
                                "cosine minus mean cosine to other programs"], strict=True):
        ax.set(xlabel="renamed variables k", title=title + (f"\n(mean of {n} seeds, band min-max)" if n > 1 else ""))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
