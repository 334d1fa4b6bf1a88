"""A real SIGKILL at every rename point of a continual, probe and NER run (each distinct place a file or
directory of the run is published, the first and the last state included), then `--resume` (or, killed before
any state, the same command with --overwrite): the result is identical to the uninterrupted run's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codeintel.cli import main

# counts (COUNT_TO) or kills at (KILL_AT) the renames whose destination lies in RUN_DIR
HARNESS = """
import atexit, json, os, re, signal, sys
run = os.path.abspath(os.environ["RUN_DIR"]) + os.sep
kill_at, seen = int(os.environ.get("KILL_AT", "0")), []
def wrap(real):
    def f(src, dst, *a, **k):
        if os.path.abspath(os.fspath(dst)).startswith(run):
            seen.append(re.sub(r"\\d+", "N", os.path.relpath(os.fspath(dst), run)))
            if len(seen) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *a, **k)
    return f
os.replace, os.rename = wrap(os.replace), wrap(os.rename)
if os.environ.get("COUNT_TO"):
    atexit.register(lambda: open(os.environ["COUNT_TO"], "w").write(json.dumps(seen)))
from codeintel.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _functions(tmp_path: Path) -> Path:
    path = tmp_path / "functions.jsonl"
    path.write_text("".join(json.dumps({"code": f"def f{i}(a, b):\n    c = a + b * {i}\n    return c - a\n"}) + "\n"
                            for i in range(40)))
    return path


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _same_weights(a: Path, b: Path) -> None:
    x, y = _weights(a), _weights(b)
    assert x and x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), (a, b)


def _ner(tmp_path, _):
    args = ["adapters", "train-ner", "--data", str(_functions(tmp_path)), "--lang", "python", "--no-progress",
            "train.max_steps=8", "train.eval_every=4", "train.save_every=4", "train.batch_size=4", "source_len=64",
            "data.max_eval_examples=8", "train.threads=1", "train.lr=3e-3"]

    def same(ref: Path, got: Path) -> None:
        r, g = (json.loads((d / "ner.json").read_text()) for d in (ref, got))
        assert g["history"] == r["history"] and g["held_out"] == r["held_out"] and g["best_step"] == r["best_step"]
        for f in ("adapter.safetensors", "head.safetensors"):
            _same_weights(ref / "adapter" / f, got / "adapter" / f)
    return args, ["adapters", "train-ner"], same


def _probe(tmp_path, _):
    args = ["probe", "--model", "tiny-codebert", "--layers", "0-1", "--dims", "8", "--no-progress",
            "data.max_train_examples=30", "data.max_eval_examples=10", "data.max_test_examples=10", "train.epochs=2",
            "train.save_every=1", "train.threads=1"]

    def same(ref: Path, got: Path) -> None:
        r, g = (json.loads((d / "probe.json").read_text()) for d in (ref, got))
        strip = [[{k: v for k, v in x.items() if k != "seconds"} for x in d["results"]] for d in (r, g)]
        assert strip[0] == strip[1] and g["best"] == r["best"] and g["baselines"] == r["baselines"]
    return args, ["probe"], same


def _continual(tmp_path, toy_stream):
    args = ["continual", "run", "--model", "tiny-codebert", "--stream", str(toy_stream(tmp_path)),
            "--strategy", "naive", "--strategy", "ewc", "--no-progress", "objective=api", "train.epochs=1",
            "train.batch_size=8", "source_len=64", "data.max_test_examples=6", "min_test_examples=5",
            "train.save_every=1", "train.threads=1"]

    def same(ref: Path, got: Path) -> None:
        r, g = (json.loads((d / "continual.json").read_text()) for d in (ref, got))
        assert g["summary"] == r["summary"]
        for name in ("naive", "ewc"):
            a, b = r["per_seed"][0]["strategies"][name], g["per_seed"][0]["strategies"][name]
            assert a["R"] == b["R"] and a["history"] == b["history"], name
            _same_weights(ref / "models" / name / "model.safetensors", got / "models" / name / "model.safetensors")
    return args, ["continual", "run"], same


def _run(tmp_path: Path, args: list[str], out: Path, **env) -> subprocess.CompletedProcess:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    return subprocess.run([sys.executable, str(script), *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
                                                RUN_DIR=str(out), **env))


@pytest.mark.parametrize("recipe", [_ner, _probe, _continual], ids=["ner", "probe", "continual"])
def test_sigkill_at_every_rename_point_then_resume_ends_identical(tmp_path, recipe, capsys, toy_stream):
    args, command, same = recipe(tmp_path, toy_stream)
    ref = tmp_path / "ref"
    proc = _run(tmp_path, args, ref, COUNT_TO=str(tmp_path / "renames.json"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    renames = json.loads((tmp_path / "renames.json").read_text())
    # every distinct rename point (the destination with numbers masked), at its first call; the last state too
    points = sorted({renames.index(p) + 1 for p in set(renames)} |
                    {max(i + 1 for i, p in enumerate(renames) if p.startswith("states/"))})
    assert len(points) >= 3, renames
    for n in points:
        run = tmp_path / f"run-{n}"
        proc = _run(tmp_path, args, run, KILL_AT=str(n))
        assert proc.returncode == -signal.SIGKILL, (n, renames[n - 1], proc.stderr[-2000:])
        has_state = any(re.match(r"state-\d+$", p.name) for p in (run / "states").glob("*")) \
            if (run / "states").is_dir() else False
        capsys.readouterr()
        code = main([*command, "--resume", str(run), "--no-progress"]) if has_state else \
            main([*args, "--out", str(run), "--overwrite"])
        assert code == 0, (n, renames[n - 1], capsys.readouterr().err[-2000:])
        same(ref, run)
        assert not [p.name for p in run.iterdir() if ".tmp-" in p.name or p.name.endswith(".link-tmp")], n
