"""Scale-out and resume: a real 2-process (gloo) training against one process with the same global batches,
real SIGKILLs at several points of a run that is then resumed to the same result, TensorBoard event files
read back with TensorBoard's reader, gradient checkpointing and bf16 on CPU."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from codeintel.cli import main
from codeintel.recipes import engine

LM = ["--task", "language-modeling", "--no-progress", "train.max_steps=8", "train.evals_per_epoch=2",
      "train.threads=1", "target_len=64", "train.lr=3e-3", "train.batch_tokens=512"]

# records, per process, the micro-batches each global step gave it; then runs the CLI
RECORD = textwrap.dedent("""
    import json, os, sys
    from codeintel.recipes import train
    real, seen = train.Run.mine, []
    def mine(self, step_batches):
        out = real(self, step_batches)
        seen.append(out)
        with open(os.environ["RECORD_TO"] + f"-{self.acc.process_index}.json", "w") as fh:
            json.dump(seen, fh)
        return out
    train.Run.mine = mine
    from codeintel.cli import exit_process, main
    exit_process(main(sys.argv[1:]))
""")


def _lm_data(tmp_path: Path) -> Path:
    path = tmp_path / "lm.jsonl"
    path.write_text("".join(json.dumps({"id": f"f{i}", "language": "c", "code": f"int f{i}(int x) {{ int y = x + {i}; "
                                        f"return y * y - {i % 7}; }}\n" * (1 + i % 4)}) + "\n" for i in range(120)))
    return path


def _free_port() -> int:
    """A port nobody listens on now: two test runs on one machine must not share torchrun's rendezvous."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", **extra)


def test_group_steps_keeps_one_process_order_and_pairs_similar_batches():
    lengths = np.array([10, 50, 20, 40, 30, 60, 5])
    batches = [[0], [1], [2], [3], [4], [5], [6]]
    assert engine.group_steps(batches, lengths, 1, seed=0) == [[b] for b in batches]
    steps = engine.group_steps(batches, lengths, 2, seed=0)
    assert len(steps) == 4 and all(len(s) == 2 for s in steps)
    # by size: 60,50 | 40,30 | 20,10 | 5 + the smallest of the other steps again (10)
    assert sorted(sorted(lengths[[b[0] for b in s]].tolist()) for s in steps) == [[5, 10], [10, 20], [30, 40], [50, 60]]
    assert engine.group_steps([[0]], lengths, 2, seed=0) == [[[0], [0]]]  # nothing else to fill with
    assert engine.group_steps(batches, lengths, 2, seed=0) == steps              # the same seed, the same steps
    assert engine.group_steps(batches, lengths, 2, seed=1) != steps              # another epoch, another order


def test_merge_puts_sharded_predictions_back_in_row_order():
    rows = list(range(7))
    parts = [engine.shard(rows, r, 3) for r in range(3)]
    assert engine.merge(parts, 7) == rows
    arrays = [np.array(p, dtype=float)[:, None] * [1, -1] for p in parts]
    assert engine.merge(arrays, 7).tolist() == [[x, -x] for x in rows]
    assert engine.merge([{"nll": a[:, 0]} for a in arrays], 7)["nll"].tolist() == rows
    assert engine.merge([["a", "b"]], 2) == ["a", "b"]


def test_two_processes_train_disjoint_batches_and_match_one_process_with_the_same_global_batches(tmp_path):
    data = _lm_data(tmp_path)
    script = tmp_path / "record.py"
    script.write_text(RECORD)
    two, one = tmp_path / "two", tmp_path / "one"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    proc = subprocess.run([*torchrun, str(script), "train", "--data", str(data), "--out", str(two), *LM],
                          capture_output=True, text=True, timeout=600,
                          env=_env(RECORD_TO=str(tmp_path / "two")))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("== language-modeling") == 1  # only rank 0 reports
    proc = subprocess.run([sys.executable, str(script), "train", "--data", str(data), "--out", str(one), *LM,
                           "train.grad_accum=2"], capture_output=True, text=True, timeout=600,
                          env=_env(RECORD_TO=str(tmp_path / "one")))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    rank0, rank1 = (json.loads((tmp_path / f"two-{r}.json").read_text()) for r in (0, 1))
    single = json.loads((tmp_path / "one-0.json").read_text())
    assert len(rank0) == len(rank1) == len(single) == 8
    for a, b, both in zip(rank0, rank1, single, strict=True):
        assert len(a) == len(b) == 1 and len(both) == 2
        assert not set(a[0]) & set(b[0])           # the two processes trained on different examples
        assert [a[0], b[0]] == both                # ... exactly the global step the single process took

    # the run directory was written once, by rank 0; the lock is gone
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == ["two", "two-0.json",
                                                                                        "two-1.json"]
    assert not (two / ".lock").exists() and len(list((two / "checkpoints").iterdir())) == 1
    m2, m1 = (json.loads((d / "metrics.json").read_text()) for d in (two, one))
    assert m2["train"]["processes"] == 2 and m1["train"]["grad_accum"] == 2
    assert m2["train"]["tokens"] == m1["train"]["tokens"]
    # gradients all-reduced (DDP) vs accumulated in one process differ only in float summation order
    for k, v in m1["test"].items():
        assert m2["test"][k] == pytest.approx(v, rel=1e-4), k
    for h2, h1 in zip(m2["history"], m1["history"], strict=True):
        assert h2["loss"] == pytest.approx(h1["loss"], rel=1e-4) if h1["loss"] else h2["loss"] is None
    p2, p1 = ([json.loads(line) for line in (d / "predictions.jsonl").read_text().splitlines()] for d in (two, one))
    assert [p["id"] for p in p2] == [p["id"] for p in p1]  # the gathered test set: every row once, in order
    assert len({p["id"] for p in p2}) == len(p2)
    assert [p["nll"] for p in p2] == pytest.approx([p["nll"] for p in p1], rel=1e-4)


KILL = textwrap.dedent("""
    import os, signal, sys
    where, nth = os.environ["KILL_AT"].split(":")
    calls = [0]
    def kill_on_nth(fn):
        def wrapped(*a, **k):
            calls[0] += 1
            if where == "state" and calls[0] == int(nth):
                fn(*a, **k)                      # the weights are written, the state is not complete
                os.kill(os.getpid(), signal.SIGKILL)
            if calls[0] == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*a, **k)
        return wrapped
    import torch, safetensors.torch
    from codeintel.tasks.lm import LanguageModelingTask
    if where == "step":
        torch.optim.AdamW.step = kill_on_nth(torch.optim.AdamW.step)        # after backward, before the update
    elif where == "state":
        safetensors.torch.save_model = kill_on_nth(safetensors.torch.save_model)
    elif where == "eval":
        LanguageModelingTask.predict = kill_on_nth(LanguageModelingTask.predict)
    from codeintel.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("kill_at", ["step:6", "state:3", "eval:4"])
def test_a_run_killed_anywhere_and_resumed_ends_identical_to_the_uninterrupted_run(tmp_path, kill_at, reference):
    args, reference = reference
    run = tmp_path / "run"
    script = tmp_path / "kill.py"
    script.write_text(KILL)
    proc = subprocess.run([sys.executable, str(script), *args, "--out", str(run)], capture_output=True, text=True,
                          timeout=600, env=_env(KILL_AT=kill_at))
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (run / "metrics.json").exists()
    states = sorted(p.name for p in (run / "states").iterdir())
    if kill_at.startswith("state"):
        assert any(s.startswith(".partial-") for s in states)  # the half-written one ...
    complete = [s for s in states if s.startswith("state-")]
    assert complete and len(complete) <= 2

    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    got = json.loads((run / "metrics.json").read_text())
    assert got["test"] == reference["test"]                            # identical, not approximately
    assert got["history"] == reference["history"]
    assert got["dev_best"] == reference["dev_best"]
    assert sorted(p.name for p in (run / "states").iterdir()) == ["state-00000006", "state-00000008"]
    assert len(list((run / "checkpoints").iterdir())) == 1            # a killed, unlinked version is gone


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (once for the module): data, training arguments and its metrics."""
    tmp = tmp_path_factory.mktemp("reference")
    data = _lm_data(tmp)
    args = ["train", "--data", str(data), *LM, "train.save_every=2", "train.keep_last=2"]
    assert main([*args, "--out", str(tmp / "run")]) == 0
    return args, json.loads((tmp / "run" / "metrics.json").read_text())


def test_resume_refusals(tmp_path, capsys):
    data = _lm_data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *LM, "train.max_steps=2", "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run)]) == 2
    assert "no complete saved training state" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "train.lr=1"]) == 2
    assert "drop train.lr=1" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no config.yaml" in capsys.readouterr().err


def test_tensorboard_logs_read_back_with_tensorboards_reader(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = _lm_data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *LM, "train.max_steps=4", "report_to=tensorboard",
                 "--out", str(run)]) == 0
    event_dirs = {p.parent for p in (run / "logs").rglob("events.out.tfevents.*")}
    scalars: dict[str, list] = {}
    for d in event_dirs:
        acc = EventAccumulator(str(d))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(acc.Scalars(tag))
    assert [e.step for e in scalars["train/loss"]] == [1, 2, 3, 4]
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [e.step for e in scalars["dev/token_ppl"]] == [h["step"] for h in history]
    assert scalars["dev/token_ppl"][-1].value == pytest.approx(history[-1]["token_ppl"], rel=1e-6)
    assert all(e.value > 0 for e in scalars["train/tokens_per_s"]) and "train/lr" in scalars
    assert "test/token_ppl" in scalars
    hparams = next((run / "logs").rglob("hparams.yml")).read_text()
    assert "train.lr: 0.003" in hparams


def test_a_tracker_that_is_not_installed_names_the_pip_command(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    assert main(["train", "--data", str(_lm_data(tmp_path)), *LM, "report_to=wandb", "--out",
                 str(tmp_path / "r")]) == 2
    assert "pip install 'codeintel-hub[wandb]'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["train", "--data", str(_lm_data(tmp_path)), *LM, "train.precision=fp16", "--out",
                 str(tmp_path / "r")]) == 2  # no CPU autocast for fp16: refused, not silently fp32
    assert "fp16 needs a CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_gradient_checkpointing_gives_the_same_training_and_bf16_runs_on_cpu(tmp_path, capsys):
    data = _lm_data(tmp_path)
    short = [*LM, "train.max_steps=3", "train.evals_per_epoch=1"]
    assert main(["train", "--data", str(data), *short, "--out", str(tmp_path / "plain")]) == 0
    assert main(["train", "--data", str(data), *short, "train.gradient_checkpointing=true",
                 "--out", str(tmp_path / "gc")]) == 0
    plain, gc = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("plain", "gc"))
    assert [h["loss"] for h in gc["history"][1:]] == pytest.approx([h["loss"] for h in plain["history"][1:]], rel=1e-5)
    assert gc["test"] == pytest.approx(plain["test"], rel=1e-5)  # recomputed activations, the same dropout masks
    capsys.readouterr()
    assert main(["train", "--data", str(data), *short, "train.precision=bf16", "--out", str(tmp_path / "bf")]) == 0
    out = capsys.readouterr().out
    bf = json.loads((tmp_path / "bf" / "metrics.json").read_text())
    assert bf["train"]["precision"] == "bf16" and np.isfinite(bf["test"]["token_ppl"])
    if "train.precision=bf16 on this CPU" in out:
        assert "GFLOP/s" in out and "measured just now" in out
    shutil.rmtree(tmp_path / "bf")


def test_pretraining_killed_mid_step_and_resumed_ends_identical(tmp_path):
    from safetensors.torch import load_file

    corpus = tmp_path / "functions.jsonl"
    corpus.write_text("".join(json.dumps({"code": f"def f{i}(x):\n    y = x + {i}\n    return y * {i % 5}\n",
                                          "docstring": f"function number {i}"}) + "\n" for i in range(24)))
    args = ["pretrain", "contrastive", "--data", str(corpus), "--lang", "python", "train.max_steps=6",
            "train.batch_size=4", "contrastive.queue_size=8", "source_len=64", "contrastive.variants=2",
            "train.save_every=2", "train.threads=1"]
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    script = tmp_path / "kill.py"
    script.write_text(KILL)
    proc = subprocess.run([sys.executable, str(script), *args, "--out", str(tmp_path / "run")], capture_output=True,
                          text=True, timeout=600, env=_env(KILL_AT="step:5"))
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (tmp_path / "run" / "pretrain.json").exists()
    assert main(["pretrain", "mlm", "--resume", str(tmp_path / "run")]) == 2            # the other objective
    assert main(["pretrain", "contrastive", "--resume", str(tmp_path / "run")]) == 0
    ref, got = (json.loads((tmp_path / d / "pretrain.json").read_text()) for d in ("ref", "run"))
    assert got["history"] == ref["history"]                  # every step's losses, identical
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("ref", "run"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model,task", [("tiny-codebert", "code-search"), ("tiny-codebert", "clone-detection-stdlib")])
def test_two_processes_train_tasks_with_two_forwards_or_unused_parameters(tmp_path, model, task):
    """Code search runs the model twice per step; RoBERTa's pooler is unused by the heads: DDP (static graph)
    handles both. Code search's queries x codes matrix is scored on rank 0 over the whole split."""
    out = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    proc = subprocess.run([*torchrun, "-m", "codeintel", "train", "--model", model, "--task", task, "--out", str(out),
                           "--no-progress", "train.max_steps=2", "data.max_train_examples=64",
                           "data.max_eval_examples=16", "train.threads=1", "train.grad_accum=2",
                           "report_to=tensorboard"],  # trackers closed without ending the process group early
                          capture_output=True, text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["processes"] == 2 and metrics["train"]["steps"] == 2 and metrics["test"]
    assert any((out / "logs").rglob("events.out.tfevents.*")) and not (out / ".lock").exists()


# records each rank's pid, and slows its steps so that the launcher can be killed mid-run
SLOW = textwrap.dedent("""
    import os, sys, time
    with open(os.environ["PIDS_TO"] + f"-{os.environ.get('LOCAL_RANK', '0')}", "w") as fh:
        fh.write(str(os.getpid()))
    from codeintel.recipes import train
    real = train.train_step
    def slow(*a, **k):
        time.sleep(0.4)
        return real(*a, **k)
    train.train_step = slow
    from codeintel.cli import exit_process, main
    exit_process(main(sys.argv[1:]))
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state     # a zombie has stopped; nobody may reap it here


def test_ranks_stop_when_their_launcher_is_killed_and_the_run_resumes_on_one_process(tmp_path):
    """A pre-empted job: SIGKILL reaches torchrun only. Its ranks stop (parent-death signal) within seconds,
    the run keeps its last complete state, and `train --resume` on one process takes train.grad_accum=2 by
    itself (the same global batches) and ends as an uninterrupted one-process run with grad_accum=2 does."""
    import time

    data = _lm_data(tmp_path)
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    run = tmp_path / "run"
    args = ["train", "--data", str(data), *LM, "train.max_steps=12", "train.save_every=2"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    launcher = subprocess.Popen([*torchrun, str(script), *args, "--out", str(run)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=_env(PIDS_TO=str(tmp_path / "pid")))
    deadline = time.time() + 300
    while time.time() < deadline and not list(run.glob("states/state-*")) and launcher.poll() is None:
        time.sleep(0.2)
    assert launcher.poll() is None and list(run.glob("states/state-*")), "no state was saved mid-run"
    launcher.kill()
    launcher.wait()
    pids = [int((tmp_path / f"pid-{r}").read_text()) for r in (0, 1)]
    for _ in range(50):
        if not any(_alive(p) for p in pids):
            break
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "a rank outlived its launcher"
    assert not (run / "metrics.json").exists()

    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    one = tmp_path / "one"
    assert main([*args, "train.grad_accum=2", "--out", str(one)]) == 0
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (run, one))
    assert got["train"]["steps"] == want["train"]["steps"] == 12
    for h_got, h_want in zip(got["history"], want["history"], strict=True):
        assert h_got["step"] == h_want["step"]
        assert h_got["loss"] == pytest.approx(h_want["loss"], rel=1e-4) if h_want["loss"] else h_got["loss"] is None
    for k, v in want["test"].items():
        assert got["test"][k] == pytest.approx(v, rel=1e-4), k
