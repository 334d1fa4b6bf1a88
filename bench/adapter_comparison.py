"""Full fine-tuning against adapters, same backbone, data and step budget, several seeds (run by hand).

Configurations (each through ``codeintel train``, the CLI a user runs):

- ``full``          full fine-tuning;
- ``ner-frozen``    the NER adapter fixed, the task head trains (summarization on T5: the decoder);
- ``ner-stack``     the NER adapter fixed, a fresh Pfeiffer task adapter on top trains (``Stack(ner, task)``);
- ``pfeiffer``      a task adapter alone (SeqBn, no NER pre-training);
- ``lora-r8``       a LoRA task adapter alone (PEFT).

The NER adapter is TTC-trained once on the stdlib corpus (``codeintel adapters train-ner``). Tasks: stdlib
summarization (smoothed BLEU-4) and the stdlib clone dataset (F1). Prints, per task and configuration,
mean ± std over the seeds of the test metric, trained parameters (count, % of total) and wall time, and
writes ``OUT/adapter_comparison.{json,md}``.

    python bench/adapter_comparison.py --out /tmp/adapter-cmp --steps 200 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TASKS = {"summarization": "smoothed_bleu", "clone-detection-stdlib": "f1"}
CONFIGS = ("full", "ner-frozen", "ner-stack", "pfeiffer", "lora-r8")


def run(cmd: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if rc:
        sys.exit(f"error: {' '.join(cmd)} failed (exit {rc}); see {log}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny-codet5")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--ner-steps", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "codeintel"]
    ner = args.out / "ner"
    if not (ner / "adapter" / "codeintel-adapter.json").is_file():
        print(f"TTC-training the NER adapter ({args.ner_steps} steps) ...", flush=True)
        run([*py, "adapters", "train-ner", "--model", args.model, "--out", str(ner), "--no-progress",
             f"train.max_steps={args.ner_steps}"], args.out / "ner.log")
    flags = {"full": [], "ner-frozen": ["--adapter", str(ner / "adapter"), "--adapter-mode", "frozen"],
             "ner-stack": ["--adapter", str(ner / "adapter"), "--adapter-mode", "stack"],
             "pfeiffer": ["--adapter", "pfeiffer"], "lora-r8": ["--adapter", "lora-r8"]}
    results: dict = {}
    for task, metric in ((t, TASKS[t]) for t in args.tasks):
        for name in CONFIGS:
            for seed in args.seeds:
                d = args.out / f"{task}-{name}-{seed}"
                if not (d / "metrics.json").is_file():
                    wall = run([*py, "train", "--task", task, "--model", args.model, "--out", str(d), "--no-progress",
                                *flags[name], f"train.max_steps={args.steps}", f"train.seed={seed}",
                                "train.evals_per_epoch=1"], args.out / f"{d.name}.log")
                    (d / "wall.txt").write_text(f"{wall:.1f}\n")
                m = json.loads((d / "metrics.json").read_text())
                t = m["train"]
                results.setdefault(task, {}).setdefault(name, []).append(
                    {"seed": seed, "metric": m["test"][metric], "trainable": t["trainable_parameters"],
                     "total": t["total_parameters"], "wall_s": float((d / "wall.txt").read_text()),
                     "train_s": t["seconds"]})
                print(f"{task:<24} {name:<11} seed {seed}: {metric} {m['test'][metric]:.4f}", flush=True)
    lines = [f"model {args.model}, {args.steps} steps, seeds {args.seeds}", ""]
    for task, by_cfg in results.items():
        metric = TASKS[task]
        lines += [f"### {task} (test {metric})", "",
                  f"| configuration | {metric} (mean ± std) | trained parameters | % of total | wall s (train s) |",
                  "|---|---|---|---|---|"]
        for name, rs in by_cfg.items():
            vals = [r["metric"] for r in rs]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            r0 = rs[0]
            lines.append(f"| {name} | {statistics.mean(vals):.4f} ± {sd:.4f} | {r0['trainable']:,} | "
                         f"{100 * r0['trainable'] / r0['total']:.2f} % | "
                         f"{statistics.mean(r['wall_s'] for r in rs):.0f} "
                         f"({statistics.mean(r['train_s'] for r in rs):.0f}) |")
        lines.append("")
    text = "\n".join(lines)
    print("\n" + text)
    (args.out / "adapter_comparison.md").write_text(text + "\n")
    (args.out / "adapter_comparison.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
