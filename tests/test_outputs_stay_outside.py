"""Where a command may write and what a resume may remove (the run-directory contract's edges): no output inside a
checkpoint or a run's internals, a resume never follows a link out of its run, and a single output file is
claimed, locked and published whole like a run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeintel.cli import main
from codeintel.errors import ConfigError
from codeintel.recipes.rundir import inside_checkpoint, output_file


def _checkpoint(root: Path) -> Path:
    """A run directory whose ``best`` links to a checkpoint version (``codeintel.json`` marks it)."""
    version = root / "R" / "checkpoints" / "best-000001"
    version.mkdir(parents=True)
    (version / "codeintel.json").write_text("{}")
    (root / "R" / "config.yaml").write_text("model: tiny-codet5\n")
    (root / "R" / "best").symlink_to(Path("checkpoints") / "best-000001", target_is_directory=True)
    return root / "R"


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_inside_checkpoint_follows_links_as_the_file_system_does(tmp_path):
    run = _checkpoint(tmp_path)
    assert inside_checkpoint(run / "best" / "hyg") == (run / "checkpoints" / "best-000001").resolve()
    assert inside_checkpoint(run / "best" / "a" / "b") == (run / "checkpoints" / "best-000001").resolve()
    (run / "states" / "state-00000003").mkdir(parents=True)
    assert inside_checkpoint(run / "states" / "x") == (run / "states").resolve()
    assert inside_checkpoint(run / "eval-test") is None                         # beside the checkpoint: fine
    assert inside_checkpoint(tmp_path / "elsewhere") is None


@pytest.mark.parametrize("command", [
    ["data", "check", "{data}", "--task", "summarization", "--out", "{out}"],
    ["data", "dedup", "{data}", "--task", "summarization", "--out", "{out}"],
    ["pretrain", "mlm", "--out", "{out}"],
    ["adapters", "train-ner", "--out", "{out}"],
    ["probe", "--out", "{out}"],
    ["continual", "run", "--out", "{out}"],
    ["continual", "build-stream", "--lang", "python", "--out", "{out}.yaml"],
    ["augment", "{data}", "{out}.jsonl", "--ops", "rename_variables", "--lang", "python"],
    ["evaluate", "--model", "{run}/best", "--out", "{out}"],
], ids=lambda c: " ".join(c[:2]))
def test_no_command_writes_inside_a_checkpoint(command, tmp_path, capsys):
    run = _checkpoint(tmp_path)
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"code": "def f(a):\n    return a\n", "summary": "Return a."}) + "\n")
    before = _tree(run)
    for out in (run / "best" / "hyg", run / "best" / "deep" / "er"):
        args = [a.format(data=data, out=out, run=run) for a in command]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "inside" in err and err.count("\n") == 1, err
    assert _tree(run) == before


def test_resume_refuses_a_states_link_leaving_the_run_and_removes_nothing_there(tmp_path, capsys):
    other = tmp_path / "other" / "states"
    for step in (1, 2, 3):
        state = other / f"state-{step:08d}"
        state.mkdir(parents=True)
        (state / "COMPLETE").write_text("{}")
        (state / "trainer.json").write_text(json.dumps({"config": {}, "step": step}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "states").symlink_to(other, target_is_directory=True)
    assert main(["adapters", "train-ner", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is a link" in err and "only removes what it wrote" in err
    assert sorted(p.name for p in other.iterdir()) == ["state-00000001", "state-00000002", "state-00000003"]


def test_a_single_output_file_is_claimed_published_whole_and_never_clobbered(tmp_path):
    out = tmp_path / "o.txt"
    with output_file(out) as tmp:
        tmp.write_text("one")
        with pytest.raises(ConfigError, match="being written by another"):   # a second command meanwhile
            with output_file(out):
                pass
    assert out.read_text() == "one" and sorted(p.name for p in tmp_path.iterdir()) == ["o.txt"]
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        with output_file(out):
            pass
    with pytest.raises(ConfigError, match="appeared while"):                  # created by someone else meanwhile
        with output_file(tmp_path / "p.txt") as tmp:
            tmp.write_text("mine")
            (tmp_path / "p.txt").write_text("theirs")
    assert (tmp_path / "p.txt").read_text() == "theirs"
    with output_file(out, overwrite=True, echo=lambda *a: None) as tmp:       # the earlier file moved aside
        tmp.write_text("two")
    assert out.read_text() == "two" and [p.read_text() for p in tmp_path.glob("o.txt.replaced-*")] == ["one"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".q.txt.lock").write_text(json.dumps({"pid": int(dead.stdout)}))   # left by a killed command
    with output_file(tmp_path / "q.txt") as tmp:
        tmp.write_text("taken over")
    assert (tmp_path / "q.txt").read_text() == "taken over" and not (tmp_path / ".q.txt.lock").exists()


@pytest.mark.parametrize("out, expected", [("{tmp}/x/", "names a directory"), ("/proc/bs.yaml", "cannot write"),
                                           ("{tmp}/no/such/s.yaml", "does not exist")])
def test_build_stream_refuses_outputs_it_cannot_write(out, expected, tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["continual", "build-stream", "--lang", "python", "--out", out.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"] and not any((tmp_path / "x").iterdir())


def test_two_augments_into_one_output_one_is_refused_the_other_publishes(tmp_path):
    """A real race: the first augment holds the output's lock while it works; a second into the same file is
    refused at once, and the first's output is complete."""
    rows = [{"code": f"def f{i}(a, b):\n    c = a + b\n    return c * {i}\n"} for i in range(40000)]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "codeintel", "augment", str(data), str(out), "--ops", "rename_variables",
           "--lang", "python", "--no-progress"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".out.jsonl.lock"
    for _ in range(600):
        if lock.exists() or first.poll() is not None:
            break
        time.sleep(0.05)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and "being written by another" in second.stderr, second.stderr
    assert len(out.read_text().splitlines()) == 40000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_resume_removes_only_the_leftovers_of_its_own_killed_process(tmp_path, capsys):
    """A resumed run clears the hub's temporary names a killed process left (its pid no longer runs), and nothing
    else: a live process's temporary file and the user's files stay."""
    from codeintel.recipes.rundir import RunDir

    run = _checkpoint(tmp_path)
    state = run / "states" / "state-00000004"
    state.mkdir(parents=True)
    (state / "COMPLETE").write_text("{}")
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    left = [run / f".metrics.json.tmp-{dead}", run / ".best.link-tmp", run / "checkpoints" / f".best-000002.tmp-{dead}",
            run / "checkpoints" / "best-000001" / f".codeintel.json.tmp-{dead}", run / "states" / ".partial-00000005"]
    for p in left:
        p.mkdir() if "partial" in p.name or "best-000002" in p.name else p.write_text("half")
    kept = [run / f".metrics.json.tmp-{os.getpid()}", run / "notes.txt"]
    for p in kept:
        p.write_text("keep")
    with RunDir(run, resume=True, echo=print):
        pass
    assert not any(p.exists() or p.is_symlink() for p in left) and all(p.read_text() == "keep" for p in kept)
    assert "left half-written" in capsys.readouterr().out


def test_a_garbage_lock_is_named_not_reported_as_a_pid(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("garbage")
    assert main(["probe", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "names no process" in err and "pid None" not in err


def test_a_users_folder_named_checkpoints_is_not_a_run(tmp_path):
    """A project with its own config.yaml and a checkpoints/ folder of its own: outputs there are allowed."""
    (tmp_path / "config.yaml").write_text("lr: 1\n")
    (tmp_path / "checkpoints" / "mine").mkdir(parents=True)
    (tmp_path / "states").mkdir()
    assert inside_checkpoint(tmp_path / "checkpoints" / "run1") is None
    assert inside_checkpoint(tmp_path / "states" / "x") is None


DEEP_JSON = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
DEEP_YAML = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"


@pytest.mark.parametrize("command", [
    ["data", "check", "{jsonl}", "--task", "summarization"],
    ["data", "dedup", "{jsonl}", "--task", "summarization", "--out", "{out}"],
    ["adapters", "show", "{adapter}"],
    ["train", "--adapter", "{adapter}", "--out", "{out}"],
    ["continual", "build-stream", "--domains", "{yaml}", "--out", "{out}.yaml"],
    ["continual", "run", "--stream", "{yaml}", "--out", "{out}"],
    ["adapters", "train-ner", "--config", "{yaml}", "--out", "{out}"],
    ["probe", "--config", "{yaml}", "--out", "{out}"],
    ["train", "--task", "{yaml}", "--out", "{out}"],
], ids=lambda c: " ".join(c[:2]))
def test_deeply_nested_input_is_one_clear_error_everywhere(command, tmp_path, capsys):
    """A 100,000-deep JSON line, adapter config or YAML file: one `error:` line saying it is nested too deeply,
    no RecursionError traceback, nothing written (one reader: codeintel.io.parse_json / read_json / read_yaml)."""
    (tmp_path / "d.jsonl").write_text(DEEP_JSON + "\n")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(DEEP_JSON)
    (tmp_path / "deep.yaml").write_text(DEEP_YAML)
    out = tmp_path / "out"
    args = [a.format(jsonl=tmp_path / "d.jsonl", adapter=tmp_path / "adapter", yaml=tmp_path / "deep.yaml", out=out)
            for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nested too deeply" in err and err.count("\n") == 1, err
    assert not out.exists() and not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize("command", [["tokenize", "{src}"], ["dfg", "{src}", "--lang", "python"],
                                     ["token-types", "{src}", "--lang", "python"]], ids=lambda c: c[0])
@pytest.mark.parametrize("src, expected", [("{tmp}", "is a directory"), ("/dev/null", "not a regular file"),
                                           ("{tmp}/missing.py", "does not exist")])
def test_source_commands_say_what_the_path_is(command, src, expected, tmp_path, capsys):
    args = [a.format(src=src.format(tmp=tmp_path)) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
