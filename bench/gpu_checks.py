#!/usr/bin/env python3
"""The checks that need a GPU, as one prepared script for a machine that has one (it runs on CPU too).

``train``: for each precision (fp32, bf16, fp16 with accelerate's gradient scaler) and with and without
``train.fast_kernels``: a short tiny-codet5 training on the embedded stdlib set, its real tokens/s, whether
every logged loss is finite, and the test scores. Then a run killed with SIGKILL mid-training and resumed
from its newest state, compared with the uninterrupted run (on CUDA, bit-identical results are not
guaranteed: some backward kernels use atomics; the script reports the largest difference).
``graph``: graph-guided training (GraphCodeBERT's data-flow input) against plain training of tiny-graphcodebert
on the embedded clone set, tokens/s of each; and the graph-guided encoder's states and gradients on batches cut
to their longest input against the full C + D layout, on the device (largest difference).
``generate``: :func:`codeintel.tasks.decoding.greedy` against ``generate`` on the device (tiny-codet5, random
encoder states, rows ending at different steps): identical tokens, and the time of each.
Prints one JSON document and writes it to ``OUT/gpu_checks.json``.

    python bench/gpu_checks.py --device cuda --out $OUT       # train + resume: about 3 minutes on one GPU
    python bench/gpu_checks.py --device cpu --steps 6          # the same script, here (fp16 skipped)
    python bench/gpu_checks.py --device cpu --only graph,generate   # 25 s here (2 cores)
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
    p.add_argument("--only", default="train,resume,graph,generate", help="the sections to run")
    args = p.parse_args()
    only = set(args.only.split(","))

    import torch

    import codeintel

    tmp = Path(tempfile.mkdtemp(prefix="gpu-checks-"))
    common = {"train.max_steps": args.steps, "data.max_eval_examples": 16, "train.evals_per_epoch": 1,
              "device": args.device}
    report: dict = {"torch": torch.__version__, "device": args.device,
                    "name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu", "runs": []}
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    for precision in precisions if "train" in only else []:
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

    if "resume" in only:
        # killed mid-training and resumed, against the uninterrupted run
        argv = ["train", "--no-progress", f"train.max_steps={args.steps}",
                f"train.save_every={max(1, args.steps // 3)}", "data.max_eval_examples=16", f"device={args.device}"]
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
    if "graph" in only:
        report["graph"] = graph_checks(args, tmp, common)
    if "generate" in only:
        report["generate"] = generate_checks(args.device)
    text = json.dumps(report, indent=2, default=float)
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_checks.json").write_text(text + "\n")
    return 0


def graph_checks(args, tmp: Path, common: dict) -> dict:
    """Graph-guided against plain training (tokens/s), and cut against full-layout states and gradients."""
    import numpy as np
    import torch

    import codeintel
    from codeintel.backbones.graphcodebert import attention_mask, build_input, collate, encode
    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.tasks.models import load_model

    out: dict = {}
    for graph in (False, True):
        res = codeintel.train(model="tiny-graphcodebert", task="clone-detection-stdlib", out=tmp / f"graph-{graph}",
                              echo=lambda *a, **k: None,
                              overrides={**common, "graph": graph, "data.max_train_examples": 400})
        out[f"graph={str(graph).lower()}_tokens_per_s"] = res["train"]["tokens_per_s"]
        out[f"graph={str(graph).lower()}_test"] = res["test"]
    tok = shipped_tokenizer("code-bpe-8k")
    roberta = load_model("tiny-graphcodebert", "clone-retrieval").model.backbone.to(args.device).eval()
    inputs = [build_input(c, "python", tok, 64, 16) for c in
              ("x = 1\ny = x\n", "def f(a, b):\n    c = a + b\n    return c * a\n", "total = price + tax\n")]
    full = {"input_ids": torch.tensor([g.input_ids for g in inputs]),
            "position_ids": torch.tensor([g.position_ids for g in inputs]),
            "attention_mask": torch.from_numpy(np.stack([attention_mask(g) for g in inputs]))}

    def run(batch):
        batch = {k: v.to(args.device) for k, v in batch.items()}
        roberta.zero_grad()
        hidden = encode(roberta, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
        real = hidden[batch["position_ids"].ne(1)]
        (real ** 2).sum().backward()
        return real.detach(), [p.grad.clone() for p in roberta.parameters() if p.grad is not None]

    (h_full, g_full), (h_cut, g_cut) = run(full), run(collate(inputs))
    out["cut_vs_full_max_state_difference"] = float((h_full - h_cut).abs().max())
    out["cut_vs_full_max_gradient_difference"] = max(float((a - b).abs().max()) for a, b in zip(g_full, g_cut,
                                                                                                 strict=True))
    return out


def generate_checks(device: str) -> dict:
    """Greedy decoding against ``generate`` on the device: the same tokens, and each one's time."""
    import time

    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from codeintel.tasks.decoding import greedy
    from codeintel.tasks.models import load_model

    torch.manual_seed(0)
    model = load_model("tiny-codet5", "summarization").model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    hidden = (torch.randn(64, 48, model.config.d_model, generator=g) * 3).to(device)
    mask = torch.ones(64, 48, dtype=torch.long, device=device)
    mask[32:, 24:] = 0
    times: dict = {"greedy": [], "generate": []}
    outs = {}
    with torch.no_grad():
        for _ in range(3):
            for name in times:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t = time.perf_counter()
                outs[name] = (greedy(model, None, mask, 32, 2, encoder_hidden=hidden) if name == "greedy" else
                              model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                                             attention_mask=mask, max_new_tokens=32, do_sample=False,
                                             no_repeat_ngram_size=2))
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t)
    return {"identical": bool(outs["greedy"].shape == outs["generate"].shape
                              and torch.equal(outs["greedy"], outs["generate"])),
            "greedy_seconds": min(times["greedy"]), "generate_seconds": min(times["generate"])}


if __name__ == "__main__":
    sys.exit(main())
