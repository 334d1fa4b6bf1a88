"""The recipe kit (codeintel.recipes.kit): every recipe holds its output directory for the whole run, gives it
back untouched when it fails before writing, and shares one best-score tracker and one batch order."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codeintel.cli import main
from codeintel.recipes import kit
from codeintel.recipes.kit import BestTracker, batch_stream


def _summaries(tmp_path: Path) -> Path:
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner"]
    rows = [{"id": f"r{i}", "code": f"def get_{w}(self):\n    return self._{w}", "summary": f"Return the {w}."}
            for i, w in enumerate(words * 8)]
    path = tmp_path / "sum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _functions(tmp_path: Path) -> Path:
    path = tmp_path / "functions.jsonl"
    path.write_text("".join(json.dumps({"code": f"def f{i}(a, b):\n    c = a + b * {i}\n    return c - a\n"}) + "\n"
                            for i in range(40)))
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kit")
    data = _summaries(tmp)
    assert main(["train", "--data", str(data), "--out", str(tmp / "run"), "--no-progress", "train.max_steps=2",
                 "source_len=48", "target_len=12", "data.max_eval_examples=8"]) == 0
    return tmp / "run" / "best", data


# Each recipe's command (the output directory appended), and a line it prints after claiming its directory and
# loading its inputs, before its long work: when that line is out, the directory must already be locked.
def _commands(tmp_path: Path, checkpoint) -> dict[str, tuple[list[str], str]]:
    best, data = checkpoint
    functions = _functions(tmp_path)
    return {
        "train": (["train", "--data", str(data), "--no-progress", "train.max_steps=400", "source_len=48",
                   "target_len=12"], "data: train="),
        "pretrain": (["pretrain", "mlm", "--data", str(functions), "--lang", "python", "--no-progress",
                      "train.max_steps=2000", "train.batch_size=4", "source_len=64"], "pre-training "),
        "probe": (["probe", "--model", "tiny-codebert", "data.max_train_examples=60", "data.max_eval_examples=20",
                   "data.max_test_examples=20", "train.epochs=400", "train.patience=400"], "probe tiny-codebert"),
        "train-ner": (["adapters", "train-ner", "--no-progress", "train.max_steps=5000", "train.eval_every=5000",
                       "data.max_train_examples=100", "data.max_eval_examples=20"], "ner adapter on"),
        "evaluate": (["evaluate", "--model", str(best), "--split", "all", "--no-progress"], "evaluating "),
    }


RECIPES = ["train", "pretrain", "probe", "train-ner", "evaluate"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_output_directory_is_locked_while_the_recipe_works(recipe, tmp_path, checkpoint, capsys):
    """A real second process: the first is stopped (SIGSTOP) right after it printed the line that precedes its
    work; the second, into the same --out, is refused at once, with and without --overwrite."""
    args, marker = _commands(tmp_path, checkpoint)[recipe]
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    first = subprocess.Popen([sys.executable, "-m", "codeintel", *args, "--out", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
    try:
        seen = []
        for line in first.stdout:
            seen.append(line)
            if marker in line:
                break
        else:
            pytest.fail(f"{recipe} ended (rc {first.wait()}) before printing {marker!r}:\n{''.join(seen)[-3000:]}")
        first.send_signal(signal.SIGSTOP)
        assert (out / ".lock").is_file(), f"{recipe} works without holding {out}/.lock"
        for flags in ([], ["--overwrite"]):
            assert main([*args, "--out", str(out), *flags]) == 2
            err = capsys.readouterr().err
            assert f"in use by pid {first.pid}" in err, err
    finally:
        first.kill()  # SIGKILL ends a stopped process too
        first.wait()


def test_continual_run_is_locked_while_it_works(tmp_path, toy_stream):
    """The same for `continual run`, on a stream built here (its fixtures live in test_continual)."""
    from codeintel.recipes.rundir import RunDir

    out = tmp_path / "c"
    stream = toy_stream(tmp_path)
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    first = subprocess.Popen([sys.executable, "-m", "codeintel", "continual", "run", "--stream", str(stream),
                              "--strategy", "naive", "--out", str(out), "--no-progress", "objective=api",
                              "train.epochs=500", "train.batch_size=8", "source_len=64", "data.max_test_examples=12",
                              "min_test_examples=5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    try:
        for line in first.stdout:
            if line.startswith("stream "):
                break
        else:
            pytest.fail(f"continual run ended early (rc {first.wait()})")
        first.send_signal(signal.SIGSTOP)
        with pytest.raises(Exception, match=f"in use by pid {first.pid}"):
            RunDir(out, overwrite=True).check()
        assert main(["continual", "run", "--stream", str(stream), "--out", str(out), "--overwrite"]) == 2
    finally:
        first.kill()
        first.wait()


# --------------------------------------------------------------------------- a failed start gives the directory back

def test_a_run_that_fails_before_writing_leaves_no_directory_and_puts_an_earlier_run_back(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "run"
    assert main(["train", "--data", str(empty), "--out", str(out), "--no-progress", "train.max_steps=1"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()                                   # created by the claim, removed by the failure
    assert main(["probe", "--model", "no-such-model", "--out", str(out)]) == 2
    assert not out.exists()
    # an earlier run moved aside by --overwrite is moved back when the new run fails before writing
    out.mkdir()
    (out / "metrics.json").write_text('{"earlier": true}')
    assert main(["train", "--data", str(empty), "--out", str(out), "--no-progress", "--overwrite",
                 "train.max_steps=1"]) == 2
    assert json.loads((out / "metrics.json").read_text()) == {"earlier": True}
    assert [p.name for p in tmp_path.iterdir() if ".replaced-" in p.name] == []
    # an empty directory the user made stays (empty)
    mine = tmp_path / "mine"
    mine.mkdir()
    assert main(["adapters", "train-ner", "--model", "no-such-model", "--out", str(mine)]) == 2
    assert mine.is_dir() and not any(mine.iterdir())


# --------------------------------------------------------------------------- shared parts

def test_best_tracker_by_direction_and_patience():
    up = BestTracker("max", patience=2)
    assert [up.update(s, v) for s, v in [(0, 0.5), (1, 0.4), (2, 0.6), (3, 0.6), (4, 0.1)]] == \
        [True, False, True, False, False]
    assert (up.best, up.best_step, up.waited, up.stop) == (0.6, 2, 2, True)
    down = BestTracker("min")                                  # perplexity; patience 0: never stops
    assert [down.update(s, v) for s, v in enumerate([3.0, 2.0, 2.5, 1.0])] == [True, True, False, True]
    assert (down.best, down.best_step) == (1.0, 3)
    for _ in range(100):
        down.update(9, 9.0)
    assert not down.stop


class _Bar:
    def __init__(self) -> None:
        self.n, self.postfix = 0, None

    def set_postfix(self, postfix, refresh=False) -> None:
        self.postfix = postfix

    def update(self, n) -> None:
        self.n += n


def test_step_loop_calls_its_points_in_order_and_stops_early():
    """The step-counted loop: step, then evaluation every eval_every steps (and at the last), a new best's
    snapshot, early stopping, and a state every save_every steps; a resumed loop starts after `start`."""
    calls, scores = [], {2: 0.5, 4: 0.4, 6: 0.3, 8: 0.9}
    kw = dict(step=lambda s: calls.append(("step", s)) or {"loss": 1.0 / s},
              evaluate=lambda s: calls.append(("eval", s)) or scores[s], eval_every=2,
              on_best=lambda s: calls.append(("best", s)), on_stop=lambda s: calls.append(("stop", s)),
              save=lambda s: calls.append(("save", s)), save_every=3)
    bar = _Bar()
    last = kit.step_loop(start=0, total=8, bar=bar, tracker=BestTracker("max", patience=2), **kw)
    assert last == 6 and bar.n == 6 and bar.postfix == {"loss": f"{1 / 6:.3f}"}
    assert calls == [("step", 1), ("step", 2), ("eval", 2), ("best", 2), ("step", 3), ("save", 3), ("step", 4),
                     ("eval", 4), ("step", 5), ("step", 6), ("eval", 6), ("stop", 6)]
    calls.clear()                                                  # resumed after step 5, no early stopping
    assert kit.step_loop(start=5, total=7, bar=_Bar(), tracker=BestTracker("max"), save_last=True,
                         **{**kw, "evaluate": lambda s: calls.append(("eval", s)) or 0.0}) == 7
    assert calls == [("step", 6), ("eval", 6), ("best", 6), ("save", 6), ("step", 7), ("eval", 7), ("save", 7)]


def test_epoch_loop_returns_the_best_snapshot_and_stops_after_patience():
    values, snapshots = [3.0, 2.0, 2.5, 2.2, 1.0], []
    best = kit.epoch_loop(epochs=5, run_epoch=lambda e: values[e], tracker=BestTracker("min", patience=2),
                          snapshot=lambda: snapshots.append(len(snapshots)) or f"after epoch {len(snapshots)}")
    assert best == "after epoch 2" and len(snapshots) == 2      # epochs 3 and 4 did not improve: stopped


def test_batch_stream_refills_lazily_and_resumes_from_the_remaining_order():
    batches = batch_stream(5, 3, np.random.default_rng(0))
    got = [next(batches) for _ in range(4)]
    rng = np.random.default_rng(0)
    p1, p2, p3 = (rng.permutation(5).tolist() for _ in range(3))
    flat = p1 + p2 + p3                                        # refilled whenever fewer than 3 remain
    assert got == [flat[0:3], flat[3:6], flat[6:9], flat[9:12]]
    # resume: the remaining order and the generator's state continue the same stream
    rng_a, order = np.random.default_rng(7), []
    a = batch_stream(7, 4, rng_a, order)
    first = [next(a) for _ in range(3)]
    saved_order, saved_rng = list(order), rng_a.bit_generator.state
    rest = [next(a) for _ in range(5)]
    rng_b = np.random.default_rng()
    rng_b.bit_generator.state = saved_rng
    b = batch_stream(7, 4, rng_b, saved_order)
    assert [next(b) for _ in range(5)] == rest and len(first) == 3


def test_atomic_writers_leave_the_old_file_on_failure(tmp_path):
    from codeintel.io import atomic_open, write_json

    path = tmp_path / "m.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write('{"half": ')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"a": 1} and [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_no_recipe_writes_its_own_temporary_file_and_rename():
    """The atomic temp-file-then-rename pattern lives in codeintel/io.py (and the run directory's versioned
    checkpoints); a recipe that writes it again by hand fails here."""
    root = Path(__file__).resolve().parent.parent / "codeintel"
    # api: augment's move-aside; hygiene: a dedup tree; index: an index's files replaced as one set, index.json last
    allowed = {"io.py", "rundir.py", "api.py", "hygiene.py", "index.py"}
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name not in allowed
                 and ("tmp.replace(" in p.read_text() or "os.replace(" in p.read_text())]
    assert not offenders, offenders



def test_a_failed_start_removes_the_parents_it_created_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["train", "--data", str(empty), "--no-progress"]) == 2          # default: runs/<card>-<model>
    assert main(["train", "--data", str(empty), "--out", "a/b/c", "--no-progress"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep.txt").write_text("mine")
    assert main(["train", "--data", str(empty), "--out", "a/b/c", "--no-progress"]) == 2
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["keep.txt"]


# --------------------------------------------------------------------------- resume after a real SIGKILL

KILL_ON_CALL = """
import importlib, os, signal, sys
target, nth = os.environ["KILL_TARGET"], int(os.environ["KILL_AT_CALL"])   # "module:attr[.attr]", the nth call
module, _, path = target.partition(":")
*owner_path, attr = path.split(".")
owner = importlib.import_module(module)
for part in owner_path:
    owner = getattr(owner, part)
real, calls = getattr(owner, attr), [0]
def wrapped(*a, **k):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
setattr(owner, attr, wrapped)
from codeintel.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _killed(tmp_path: Path, args: list[str], target: str, nth: int) -> None:
    """Run the command in a process that SIGKILLs itself at the ``nth`` call of ``target``; check that it died so."""
    script = tmp_path / "kill.py"
    script.write_text(KILL_ON_CALL)
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", KILL_TARGET=target, KILL_AT_CALL=str(nth))
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]



def test_ner_killed_mid_run_and_resumed_ends_identical(tmp_path, capsys):
    from safetensors.torch import load_file

    functions = _functions(tmp_path)
    args = ["adapters", "train-ner", "--data", str(functions), "--lang", "python", "--no-progress",
            "train.max_steps=12", "train.eval_every=4", "train.save_every=4", "train.batch_size=4", "source_len=64",
            "data.max_eval_examples=8", "train.threads=1", "train.lr=3e-3"]
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    _killed(tmp_path, [*args, "--out", str(tmp_path / "run")], "torch.optim:AdamW.step", 7)  # before step 7's update
    assert not (tmp_path / "run" / "ner.json").exists() and (tmp_path / "run" / ".lock").exists()
    capsys.readouterr()
    assert main(["adapters", "train-ner", "--resume", str(tmp_path / "run"), "train.max_steps=20"]) == 2  # its own
    assert "drop train.max_steps=20" in capsys.readouterr().err
    assert main(["adapters", "train-ner", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "from state-00000004" in capsys.readouterr().out
    ref, got = (json.loads((tmp_path / d / "ner.json").read_text()) for d in ("ref", "run"))
    assert got["history"] == ref["history"] and got["held_out"] == ref["held_out"]
    assert got["best_step"] == ref["best_step"]
    for f in ("adapter.safetensors", "head.safetensors"):                # the trained weights, bit for bit
        a, b = (load_file(tmp_path / d / "adapter" / f) for d in ("ref", "run"))
        assert a and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)




def test_probe_killed_mid_run_and_resumed_ends_identical(tmp_path, capsys):
    args = ["probe", "--model", "tiny-codebert", "--layers", "0-2", "--dims", "8", "--no-progress",
            "data.max_train_examples=30", "data.max_eval_examples=10", "data.max_test_examples=10", "train.epochs=2",
            "train.save_every=1", "train.threads=1"]
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    _killed(tmp_path, [*args, "--out", str(tmp_path / "run")], "codeintel.recipes.probe:train_probe", 4)
    assert not (tmp_path / "run" / "probe.json").exists()
    import shutil

    shutil.copytree(tmp_path / "run", tmp_path / "copy", symlinks=True)   # an interrupted run is codeintel's own:
    assert main([*args, "--out", str(tmp_path / "copy"), "--overwrite"]) == 0   # --overwrite moves it aside
    assert any(p.name.startswith("copy.replaced-") for p in tmp_path.iterdir())
    capsys.readouterr()
    assert main(["probe", "--resume", str(tmp_path / "run"), "--dims", "16"]) == 2          # its own settings
    assert main(["probe", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "3 probe(s) done" in capsys.readouterr().out
    ref, got = (json.loads((tmp_path / d / "probe.json").read_text()) for d in ("ref", "run"))
    drop = ("seconds",)
    assert len(got["results"]) == len(ref["results"]) == 5
    assert [{k: v for k, v in r.items() if k not in drop} for r in got["results"]] == \
        [{k: v for k, v in r.items() if k not in drop} for r in ref["results"]]
    assert got["best"] == ref["best"] and got["baselines"] == ref["baselines"]




def test_continual_run_killed_mid_strategy_and_resumed_ends_identical(tmp_path, toy_stream, capsys):
    from safetensors.torch import load_file

    stream = toy_stream(tmp_path)
    args = ["continual", "run", "--model", "tiny-codebert", "--stream", str(stream), "--strategy", "naive",
            "--strategy", "ewc", "--no-progress", "objective=api", "train.epochs=1", "train.batch_size=8",
            "source_len=64", "data.max_test_examples=8", "min_test_examples=5", "train.save_every=1", "train.threads=1"]
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    _killed(tmp_path, [*args, "--out", str(tmp_path / "run")], "codeintel.recipes.continual:train_epochs",
            4)                                                       # in ewc's second experience (of two)
    assert not (tmp_path / "run" / "continual.json").exists()
    capsys.readouterr()
    assert main(["continual", "run", "--resume", str(tmp_path / "run"), "--strategy", "si"]) == 2
    assert main(["continual", "run", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "naive done" in capsys.readouterr().out
    ref, got = (json.loads((tmp_path / d / "continual.json").read_text()) for d in ("ref", "run"))
    for name in ("naive", "ewc"):
        r, g = ref["per_seed"][0]["strategies"][name], got["per_seed"][0]["strategies"][name]
        assert g["R"] == r["R"] and g["summary"] == r["summary"] and g["history"] == r["history"], name
    assert got["summary"] == ref["summary"]
    for name in ("naive", "ewc"):                                  # the saved final models, bit for bit
        a, b = (load_file(tmp_path / d / "models" / name / "model.safetensors") for d in ("ref", "run"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_stops_early_after_patience_evaluations_without_a_better_dev_score(tmp_path):
    """train.patience: with a learning rate too small to change the dev score, the first `patience` evaluations
    after step 0 are no better (ties do not count), so training stops there; the best is still step 0's."""
    data = _summaries(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "train.max_steps=40",
                 "train.evals_per_epoch=8", "train.batch_tokens=512", "train.lr=1e-12", "train.patience=2",
                 "source_len=48", "target_len=12", "data.max_eval_examples=8", "train.save_every=4"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    steps = [h["step"] for h in metrics["history"]]
    assert len(steps) == 3 and steps[0] == 0                               # step 0, then two evaluations
    assert metrics["train"]["early_stopped_at"] == steps[-1] == metrics["train"]["steps"] < 40
    assert metrics["dev_best"]["step"] == 0
    # resumed from the state written at the stop: it does not train on, and scores the same
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["test"] == metrics["test"] and again["train"]["steps"] == metrics["train"]["steps"]


def test_ner_runs_on_two_processes_with_a_tracker_and_bf16(tmp_path):
    """adapters train-ner on the kit's engine: torchrun with 2 processes (each its slice of every global batch,
    DDP), TensorBoard read back with its own reader, bf16 autocast; one process writes, the lock is released."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    functions = _functions(tmp_path)
    out = tmp_path / "two"
    args = ["adapters", "train-ner", "--data", str(functions), "--lang", "python", "--no-progress", "train.max_steps=6",
            "train.eval_every=3", "train.batch_size=4", "source_len=64", "data.max_eval_examples=8",
            "train.threads=1", "report_to=tensorboard"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([*torchrun, "-m", "codeintel", *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "ner.json").read_text())
    assert [h["step"] for h in result["history"]] == [3, 6] and not (out / ".lock").exists()
    assert (out / "adapter" / "adapter.safetensors").is_file()
    scalars = _scalars(out / "logs", EventAccumulator)
    assert [e.step for e in scalars["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in scalars["held_out/macro_f1"]] == [3, 6]
    assert main([*args[:-1], "train.precision=bf16", "train.max_steps=2", "train.eval_every=2",
                 "--out", str(tmp_path / "bf")]) == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pretraining_runs_on_two_processes_with_a_tracker(tmp_path):
    """pretrain contrastive under torchrun: each rank its slice of the global batch, gradients averaged, the keys
    of both ranks in the one queue; TensorBoard read back; rank 0 writes a checkpoint every task loads."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from codeintel.tasks.models import load_model

    functions = _functions(tmp_path)
    out = tmp_path / "two"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([*torchrun, "-m", "codeintel", "pretrain", "contrastive", "--data", str(functions), "--lang",
                           "python", "--out", str(out), "--no-progress", "train.max_steps=4", "train.batch_size=4",
                           "contrastive.queue_size=8", "source_len=64", "contrastive.variants=1", "train.threads=1",
                           "report_to=tensorboard"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "pretrain.json").read_text())
    assert result["processes"] == 2 and [h["step"] for h in result["history"]] == [1, 2, 3, 4]
    assert all(np.isfinite(h["infonce"]) and 0 <= h["key_top1"] <= 1 for h in result["history"])
    assert load_model(str(out), "clone-retrieval").family == "roberta" and not (out / ".lock").exists()
    scalars = _scalars(out / "logs", EventAccumulator)
    assert [e.step for e in scalars["train/infonce"]] == [1, 2, 3, 4]
    assert scalars["train/loss"][-1].value == pytest.approx(result["history"][-1]["loss"], rel=1e-5)


def _scalars(logs: Path, reader) -> dict[str, list]:
    """Every scalar series under a TensorBoard log directory (hparams live in a directory of their own)."""
    scalars: dict[str, list] = {}
    for d in sorted({p.parent for p in logs.rglob("events.out.tfevents.*")}):
        acc = reader(str(d))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(acc.Scalars(tag))
    return scalars


def test_continual_run_reports_to_a_tracker(tmp_path, toy_stream):
    """report_to=tensorboard on continual run: each strategy's score on every domain after each experience."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    stream = toy_stream(tmp_path)
    out = tmp_path / "c"
    assert main(["continual", "run", "--stream", str(stream), "--strategy", "naive", "--strategy", "ewc", "--out",
                 str(out), "--no-progress", "objective=api", "train.epochs=1", "train.batch_size=8", "source_len=64",
                 "data.max_test_examples=8", "min_test_examples=5", "report_to=tensorboard"]) == 0
    result = json.loads((out / "continual.json").read_text())
    scalars = _scalars(out / "logs", EventAccumulator)
    for name in ("naive", "ewc"):
        R = result["per_seed"][0]["strategies"][name]["R"]               # R[i][j]: domain j after experience i
        for j, domain in enumerate(result["stream"]["domains"]):
            series = scalars[f"{name}/seed42/{domain}"]
            assert [e.step for e in series] == [1, 2]
            assert [e.value for e in series] == pytest.approx([R[0][j], R[1][j]], abs=1e-4)


def test_probe_reports_to_a_tracker_and_runs_its_backbone_in_bf16(tmp_path, capsys):
    """probe with report_to=tensorboard: each probe's F1 per layer read back equals probe.json; bf16 hidden states
    (the backbone under autocast) give other vectors than fp32, so other validation losses."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = ["probe", "--model", "tiny-codebert", "--layers", "0-2", "--dims", "16", "--no-progress",
            "data.max_train_examples=40", "data.max_eval_examples=10", "data.max_test_examples=10", "train.epochs=2",
            "train.threads=1"]
    assert main([*args, "--out", str(tmp_path / "bf"), "train.precision=bf16", "report_to=tensorboard"]) == 0
    assert main([*args, "--out", str(tmp_path / "fp")]) == 0
    bf, fp = (json.loads((tmp_path / d / "probe.json").read_text())["results"] for d in ("bf", "fp"))
    scalars = _scalars(tmp_path / "bf" / "logs", EventAccumulator)
    model = [r for r in bf if r["kind"] == "model"]
    assert [e.step for e in scalars["model/dim16/f1"]] == [r["layer"] for r in model]
    assert [e.value for e in scalars["model/dim16/f1"]] == pytest.approx([r["f1"] for r in model], rel=1e-6)
    assert [r["best_valid_loss"] for r in bf] != [r["best_valid_loss"] for r in fp]
    assert not (tmp_path / "fp" / "logs").exists()


def test_continual_run_trains_in_bf16_and_refuses_fp16(tmp_path, toy_stream, capsys):
    stream = toy_stream(tmp_path)
    args = ["continual", "run", "--model", "tiny-codebert", "--stream", str(stream), "--strategy", "naive",
            "--no-progress", "objective=api", "train.epochs=1", "train.batch_size=8", "source_len=64",
            "data.max_test_examples=8", "min_test_examples=5", "eval.decoding=greedy", "eval.n_samples=1",
            "save_models=false", "train.threads=1"]
    assert main([*args, "--out", str(tmp_path / "bf"), "train.precision=bf16"]) == 0
    assert main([*args, "--out", str(tmp_path / "fp")]) == 0
    loss = {d: json.loads((tmp_path / d / "continual.json").read_text())["per_seed"][0]["strategies"]["naive"]
            ["history"][0][0]["train_loss"] for d in ("bf", "fp")}
    assert np.isfinite(loss["bf"]) and loss["bf"] != loss["fp"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "f16"), "train.precision=fp16"]) == 2
    assert "use bf16" in capsys.readouterr().err and not (tmp_path / "f16").exists()
