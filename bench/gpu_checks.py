#!/usr/bin/env python3
"""The checks of the scale-out issue that need a GPU, as one prepared script for a machine that has one.

For each precision (fp32, bf16, fp16 with accelerate's gradient scaler) and with and without
``train.fast_kernels``: a short tiny-codet5 training on the embedded stdlib set, its real tokens/s, whether
every logged loss is finite, and the test scores. Then a run killed with SIGKILL mid-training and resumed
from its newest state, compared with the uninterrupted run (on CUDA, bit-identical results are not
guaranteed: some backward kernels use atomics; the script reports the largest difference). Prints one JSON
document and writes it to ``OUT/gpu_checks.json``.

    python bench/gpu_checks.py --device cuda --out $OUT       # about 3 minutes on one GPU
    python bench/gpu_checks.py --device cpu --steps 6          # the same script, here (fp16 skipped)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

KILL = """
import os, signal, sys
import torch
calls = [0]
step = torch.optim.AdamW.step
def killing_step(*a, **k):
    calls[0] += 1
    if calls[0] == int(os.environ["KILL_AT_STEP"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return step(*a, **k)
torch.optim.AdamW.step = killing_step
from codeintel.cli import main
sys.exit(main(sys.argv[1:]))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--out", default=".")
    args = p.parse_args()

    import torch

    import codeintel

    tmp = Path(tempfile.mkdtemp(prefix="gpu-checks-"))
    common = {"train.max_steps": args.steps, "data.max_eval_examples": 16, "train.evals_per_epoch": 1,
              "device": args.device}
    report: dict = {"torch": torch.__version__, "device": args.device,
                    "name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu", "runs": []}
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    for precision in precisions:
        for fast in (False, True):
            name = f"{precision}{'-fast' if fast else ''}"
            try:
                res = codeintel.train(out=tmp / name, echo=lambda *a, **k: None,
                                      overrides={**common, "train.precision": precision, "train.fast_kernels": fast})
            except Exception as exc:  # noqa: BLE001 - a failing configuration is a result to report
                report["runs"].append({"run": name, "error": f"{type(exc).__name__}: {exc}"[:400]})
                continue
            losses = [h["loss"] for h in res["history"] if h.get("loss") is not None]
            report["runs"].append({"run": name, "tokens_per_s": res["train"]["tokens_per_s"],
                                   "losses_finite": all(math.isfinite(v) for v in losses),
                                   "last_loss": losses[-1] if losses else None, "test": res["test"]})

    # killed mid-training and resumed, against the uninterrupted run
    argv = ["train", "--no-progress", f"train.max_steps={args.steps}", f"train.save_every={max(1, args.steps // 3)}",
            "data.max_eval_examples=16", f"device={args.device}"]
    subprocess.run([sys.executable, "-m", "codeintel", *argv, "--out", str(tmp / "ref")], check=True,
                   capture_output=True)
    script = tmp / "kill.py"
    script.write_text(KILL)
    env = {**os.environ, "KILL_AT_STEP": str(args.steps // 2 + 1)}
    killed = subprocess.run([sys.executable, str(script), *argv, "--out", str(tmp / "run")], env=env,
                            capture_output=True)
    resumed = subprocess.run([sys.executable, "-m", "codeintel", "train", "--resume", str(tmp / "run"),
                              "--no-progress"], capture_output=True, text=True)
    entry = {"killed_by_sigkill": killed.returncode == -signal.SIGKILL, "resume_rc": resumed.returncode}
    if resumed.returncode == 0:
        ref, got = (json.loads((tmp / d / "metrics.json").read_text()) for d in ("ref", "run"))
        entry["identical"] = ref["test"] == got["test"] and ref["history"] == got["history"]
        entry["max_test_difference"] = max(abs(ref["test"][k] - got["test"][k]) for k in ref["test"])
    else:
        entry["stderr"] = resumed.stderr[-800:]
    report["resume"] = entry
    text = json.dumps(report, indent=2, default=float)
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_checks.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
