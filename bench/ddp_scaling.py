#!/usr/bin/env python3
"""Multi-process scaling and the cost of resumable states, measured with the real ``codeintel train``.

1. Scaling: the same global batches (2 micro-batches per optimizer step) trained by one process
   (``train.grad_accum=2``, all threads) and by N processes under ``torchrun`` (gloo on CPU, NCCL on CUDA;
   threads split between them). Reported: real tokens/s of optimisation time and the scaling efficiency
   ``tokens/s(N) / (N x tokens/s(1 process, 1/N of the threads))`` next to the plain speed-up over one process
   with all threads (the fair baseline on a CPU, where one process can already use every core).
2. State writes: the time ``train.save_every=K`` spends writing states (``metrics.json``'s
   ``state_seconds``) as a share of the optimisation time.

Run by hand, alone on the machine:

    python bench/ddp_scaling.py [--procs 2] [--steps 40] [--model tiny-codet5] [--save-every 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(cmd: list[str], out: Path, threads: int) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([*cmd, "--out", str(out), "--no-progress"], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())["train"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--model", default="tiny-codet5")
    p.add_argument("--save-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="threads in all")
    args = p.parse_args()
    n = args.procs
    base = ["--model", args.model, f"train.max_steps={args.steps}", "train.evals_per_epoch=1",
            "data.max_train_examples=4000", "data.max_eval_examples=16"]
    codeintel = [sys.executable, "-m", "codeintel", "train"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}", "-m", "codeintel", "train"]
    per = max(1, args.threads // n)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one_all = run([*codeintel, *base, f"train.grad_accum={n}", f"train.threads={args.threads}"], tmp / "a",
                      args.threads)
        one_part = run([*codeintel, *base, f"train.grad_accum={n}", f"train.threads={per}"], tmp / "b", per)
        many = run([*torchrun, *base, f"train.threads={per}"], tmp / "c", per)
        saved = run([*codeintel, *base, f"train.grad_accum={n}", f"train.threads={args.threads}",
                     f"train.save_every={args.save_every}"], tmp / "d", args.threads)
    print(f"{args.model}, {args.steps} steps of {n} micro-batches, {args.threads} threads in all")
    print(f"{'':44}{'tokens/s':>10}")
    print(f"{'1 process, ' + str(args.threads) + ' threads, grad_accum=' + str(n):44}{one_all['tokens_per_s']:10.0f}")
    print(f"{'1 process, ' + str(per) + ' thread(s), grad_accum=' + str(n):44}{one_part['tokens_per_s']:10.0f}")
    print(f"{str(n) + ' processes x ' + str(per) + ' thread(s) (torchrun)':44}{many['tokens_per_s']:10.0f}")
    print(f"scaling efficiency vs {n} x (1 process, {per} thread(s)): "
          f"{many['tokens_per_s'] / (n * one_part['tokens_per_s']):.2f}")
    speedup = many["tokens_per_s"] / one_all["tokens_per_s"]
    print(f"speed-up vs 1 process with all {args.threads} threads: {speedup:.2f}x")
    writes = args.steps // args.save_every
    share = saved["state_seconds"] / saved["seconds"]
    print(f"train.save_every={args.save_every}: {writes} state writes took {saved['state_seconds']:.2f}s = {share:.1%} "
          f"of the {saved['seconds']:.1f}s optimisation time (throughput ratio {1 / (1 + share):.3f}); "
          f"{saved['state_seconds'] / writes * 1e3:.0f} ms per write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
