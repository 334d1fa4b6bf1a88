"""The run-directory contract: nothing a command did not create is deleted, renamed or overwritten; one lock per
directory; a SIGKILL at any point leaves a loadable ``best``."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeintel.cli import main

FAST = ["train.max_steps=4", "train.batch_tokens=2048", "source_len=48", "target_len=12", "train.lr=3e-3",
        "data.max_eval_examples=16", "train.evals_per_epoch=8"]


def _data(tmp_path: Path) -> Path:
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner"]
    rows = [{"id": f"r{i}", "code": f"def get_{w}(self):\n    return self._{w}", "summary": f"Return the {w}."}
            for i, w in enumerate(words * 8)]
    path = tmp_path / "sum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _tree(path: Path) -> dict[str, str]:
    """Every file under ``path`` (links followed) -> sha256 of its bytes."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished run, shared by the tests that must not change it."""
    tmp = tmp_path_factory.mktemp("trained")
    data = _data(tmp)
    run = tmp / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST]) == 0
    return data, run


def test_best_is_a_link_to_a_complete_version(trained):
    _, run = trained
    assert (run / "best").is_symlink()
    target = (run / "best").resolve()
    assert target.parent == (run / "checkpoints").resolve()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [target.name]  # older versions removed
    assert not (run / ".lock").exists()


def test_rerun_into_an_existing_run_is_refused_and_changes_nothing(trained, capsys):
    data, run = trained
    before = _tree(run)
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST]) == 2
    err = capsys.readouterr().err
    assert "already holds an earlier run" in err and "--overwrite" in err and "Traceback" not in err
    assert _tree(run) == before


def test_overwrite_moves_the_earlier_run_aside(tmp_path, capsys):
    data = _data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST]) == 0
    before = _tree(run)
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", "--overwrite", *FAST]) == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and _tree(moved[0]) == before
    assert "moved the earlier run" in capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["pretrain", "mlm", "--model", "tiny-codebert", "train.max_steps=1", "train.batch_size=2"],
    ["train", "--model", "tiny-codet5", *FAST],
])
def test_a_folder_of_user_files_is_never_touched(tmp_path, capsys, command):
    out = tmp_path / "thesis"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "thesis.txt").write_text("three years of work")
    for flags in ([], ["--overwrite"]):
        assert main([*command, "--out", str(out), *flags]) == 2
        assert "did not write" in capsys.readouterr().err
        assert _tree(out) == {"notes/thesis.txt": hashlib.sha256(b"three years of work").hexdigest()}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main(["pretrain", "mlm", "--model", "tiny-codebert", "train.max_steps=1", "train.batch_size=2",
                 "--out", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert f.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


def test_pretrain_writes_its_checkpoint_and_refuses_a_second_time(tmp_path, capsys):
    out = tmp_path / "pt"
    args = ["pretrain", "mlm", "--model", "tiny-codebert", "train.max_steps=1", "train.batch_size=2", "--out", str(out)]
    assert main(args) == 0
    assert (out / "model.safetensors").is_file() and not (out / ".lock").exists()
    before = _tree(out)
    assert main(args) == 2
    assert "already holds an earlier run" in capsys.readouterr().err
    assert _tree(out) == before


def test_evaluate_writes_beside_the_checkpoint_never_inside(trained, capsys):
    _, run = trained
    best = _tree(run / "best")
    assert main(["evaluate", "--model", str(run / "best")]) == 0
    assert (run / "eval-test" / "metrics.json").is_file()
    assert _tree(run / "best") == best
    assert main(["evaluate", "--model", str(run / "best"), "--out", str(run / "best" / "eval")]) == 2
    assert "inside the checkpoint" in capsys.readouterr().err
    first = _tree(run / "eval-test")
    assert main(["evaluate", "--model", str(run / "best")]) == 0  # the default directory is taken: eval-test-2
    assert (run / "eval-test-2" / "metrics.json").is_file() and _tree(run / "eval-test") == first
    out = ["--out", str(run / "eval-test")]
    assert main(["evaluate", "--model", str(run / "best"), *out]) == 2  # named explicitly: refused
    assert main(["evaluate", "--model", str(run / "best"), *out, "--overwrite"]) == 0
    moved = next(p for p in run.iterdir() if p.name.startswith("eval-test.replaced-"))
    assert _tree(moved) == first


def test_a_second_run_without_out_gets_a_fresh_default_directory(tmp_path, monkeypatch):
    from codeintel.recipes.rundir import fresh

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "x").write_text("1")
    (tmp_path / "runs" / "a-2").mkdir()
    assert fresh("runs/a") == Path("runs/a-2")  # empty: free
    (tmp_path / "runs" / "a-2" / "y").write_text("2")
    assert fresh("runs/a") == Path("runs/a-3")
    assert fresh("runs/b") == Path("runs/b")


HOLD = textwrap.dedent("""
    import sys, time
    from codeintel.recipes.rundir import RunDir
    d = RunDir(sys.argv[1])
    d.claim()
    print("claimed", flush=True)
    time.sleep(120)
""")


def test_a_second_run_on_a_locked_directory_is_refused_and_a_dead_lock_is_taken_over(tmp_path, capsys):
    data, run = _data(tmp_path), tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        for flags in ([], ["--overwrite"]):
            assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *flags, *FAST]) == 2
            err = capsys.readouterr().err
            assert f"in use by pid {holder.pid}" in err, err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".lock").exists()  # left behind by the killed process
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", "--overwrite", *FAST]) == 0
    assert "no longer runs" in capsys.readouterr().out


KILL_AT_SWAP = textwrap.dedent("""
    import os, signal, sys
    real = os.replace
    swaps = []
    def replace(src, dst):
        if str(dst).endswith("/best"):
            swaps.append(dst)
            if len(swaps) == 2:          # the second new best: killed at the swap
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    os.replace = replace
    from codeintel.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_sigkill_at_the_checkpoint_swap_leaves_a_loadable_best(tmp_path):
    data, run = _data(tmp_path), tmp_path / "run"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    # the kill needs a second new best: summarization BLEU may not improve twice in 12 steps, perplexity does
    lm = tmp_path / "lm.jsonl"
    lm.write_text("".join(json.dumps({"id": f"f{i}", "language": "c",
                                      "code": f"int f{i}(int x) {{ int y = x + {i}; return y * y; }}\n" * 3}) + "\n"
                          for i in range(40)))
    proc = subprocess.run([sys.executable, "-c", KILL_AT_SWAP, "train", "--model", "tiny-codet5", "--task",
                           "language-modeling", "--data", str(lm), "--out", str(run), "--no-progress",
                           "train.max_steps=12", "train.evals_per_epoch=12", "train.lr=3e-3", "target_len=64"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (run / "best").is_symlink()
    from codeintel.tasks.models import load_model

    load_model(str(run / "best"))  # the previous complete version
    assert main(["evaluate", "--model", str(run / "best")]) == 0
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST]) == 2
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", "--overwrite", *FAST]) == 0
    moved = next(p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-"))
    load_model(str(moved / "best"))  # the killed run's checkpoint is still there and loads


def test_evaluate_takes_the_run_directory_for_its_best(trained, tmp_path):
    _, run = trained
    assert main(["evaluate", "--model", str(run), "--out", str(tmp_path / "e1")]) == 0
    assert main(["evaluate", "--model", str(run / "best"), "--out", str(tmp_path / "e2")]) == 0
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("e1", "e2"))
    assert a["scores"] == b["scores"] and a["model"] == str(run / "best")


def test_the_package_shows_its_api_and_its_hub_module_without_importing_torch():
    code = ("import sys, codeintel\nnames = dir(codeintel)\n"
            "assert {'train', 'evaluate', 'compare', 'report', 'probe', 'train_ner'} <= set(names), names\n"
            "print(codeintel.hub.hub_path('eval', 'smoothed_bleu'))\n"
            "assert 'torch' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("smoothed_bleu")
