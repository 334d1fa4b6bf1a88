"""The run-directory contract's edges, as units: what counts as inside a checkpoint, a single output file claimed,
locked and published whole, and what a resume may remove. Each command's refusals (outputs inside checkpoints,
links out of a run, locks, deep files) are rows of its family's table in ``test_bad_input_*.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_inside_checkpoint_follows_links_as_the_file_system_does(tmp_path):
    run = _checkpoint(tmp_path)
    assert inside_checkpoint(run / "best" / "hyg") == (run / "checkpoints" / "best-000001").resolve()
    assert inside_checkpoint(run / "best" / "a" / "b") == (run / "checkpoints" / "best-000001").resolve()
    (run / "states" / "state-00000003").mkdir(parents=True)
    assert inside_checkpoint(run / "states" / "x") == (run / "states").resolve()
    assert inside_checkpoint(run / "eval-test") is None                         # beside the checkpoint: fine
    assert inside_checkpoint(tmp_path / "elsewhere") is None


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


def test_a_users_folder_named_checkpoints_is_not_a_run(tmp_path):
    """A project with its own config.yaml and a checkpoints/ folder of its own: outputs there are allowed."""
    (tmp_path / "config.yaml").write_text("lr: 1\n")
    (tmp_path / "checkpoints" / "mine").mkdir(parents=True)
    (tmp_path / "states").mkdir()
    assert inside_checkpoint(tmp_path / "checkpoints" / "run1") is None
    assert inside_checkpoint(tmp_path / "states" / "x") is None
