import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("CODEINTEL_CACHE", str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "codeintel"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (a user's fresh clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def toy_stream():
    """Builds a small continual-learning stream in a folder (``toy_stream(tmp_path)`` -> its YAML): Python
    functions calling json (domain serial), re (regex) or math (in-distribution)."""
    def build(folder: Path) -> Path:
        import json

        import yaml

        from codeintel.cli import main

        calls = {"json": ["s = json.dumps(a)", "d = json.loads(b)"], "re": ["r = re.compile(a)", "m = re.sub(a, b, s)"],
                 "math": ["v = math.sqrt(a)", "w = math.floor(b)"]}
        units = [f"import {mod}\n\ndef {mod}_{i}(a, b):\n    s = str(a)\n    {lines[i % 2]}\n    {lines[1 - i % 2]}\n"
                 f"    return b\n" for mod, lines in calls.items() for i in range(36)]
        data = folder / "code.jsonl"
        data.write_text("".join(json.dumps({"id": f"u{i}", "code": u}) + "\n" for i, u in enumerate(units)))
        (folder / "def.yaml").write_text(yaml.safe_dump({
            "name": "toy", "lang": "python", "by": "module", "seed": 0, "test_fraction": 0.2,
            "domains": [{"name": "serial", "apis": ["json"]}, {"name": "regex", "apis": ["re"]}]}))
        stream = folder / "toy.yaml"
        assert main(["continual", "build-stream", "--domains", str(folder / "def.yaml"), "--data", str(data),
                     "--out", str(stream), "--no-progress"]) == 0
        return stream
    return build


def snapshot(root: Path) -> list[tuple]:
    """Every entry under ``root`` (links not followed): relative path, kind, and a file's size and modification
    time (a directory's own time is left out: a lock taken and released beside an output touches it)."""
    out = []
    for p in sorted([root, *root.rglob("*")]) if root.is_dir() else [root]:
        try:
            st = p.lstat()
        except FileNotFoundError:
            out.append((str(p), "missing"))
            continue
        kind = "link" if p.is_symlink() else "dir" if p.is_dir() else "file"
        out.append((str(p.relative_to(root)) if p != root else ".", kind,
                    (st.st_size, st.st_mtime_ns) if kind == "file" else os.readlink(p) if kind == "link" else None))
    return out


@pytest.fixture
def refused(capsys, tmp_path):
    """``refused(argv, expected, paths)``: the bad-input contract of every command, checked on one call of the
    CLI — exit 2, no traceback, exactly one ``error:`` line (the last; warnings may come before it) holding
    ``expected``, and nothing new or changed under ``tmp_path`` or the other paths in ``paths``. ``argv`` and
    ``expected`` are templates filled from ``paths`` (``{t}``, ``{R}``, ``{ck}``, ...); the test's own directory
    reads ``<tmp>`` on both sides of the match, so that a path can never match the expected words. Returns
    stderr."""
    from codeintel.cli import main

    def check(argv: list[str], expected: str, paths: dict[str, Path]) -> str:
        def fill(text: str) -> str:
            return text.format(**paths).replace(str(tmp_path), "<tmp>")

        outside = [p for p in paths.values() if isinstance(p, Path) and p != tmp_path and tmp_path not in p.parents]
        roots = [tmp_path, *outside]
        before = [snapshot(r) for r in roots]
        capsys.readouterr()
        code = main([a.format(**paths) for a in argv])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and [line for line in lines if line.startswith("error:")] == lines[-1:], err
        assert fill(expected) in lines[-1].replace(str(tmp_path), "<tmp>"), err
        assert [snapshot(r) for r in roots] == before, "the output location changed"
        return err
    return check


@pytest.fixture
def fake_run(tmp_path):
    """A run directory ``tmp_path/R`` as train leaves it, cheaply: ``best`` links to ``checkpoints/best-000001``
    (a checkpoint: it holds ``codeintel.json``) and a complete state under ``states/``."""
    run = tmp_path / "R"
    version = run / "checkpoints" / "best-000001"
    version.mkdir(parents=True)
    (version / "codeintel.json").write_text("{}")
    (run / "config.yaml").write_text("model: tiny-codet5\n")
    (run / "best").symlink_to(Path("checkpoints") / "best-000001", target_is_directory=True)
    (run / "states" / "state-00000002").mkdir(parents=True)
    (run / "states" / "state-00000002" / "COMPLETE").write_text("{}")
    return run


@pytest.fixture
def live_lock():
    """``live_lock(path, beside=False)``: a lock naming a process that is alive (a ``sleep``), as a second
    command meets it while the first runs: ``path/.lock`` (a run directory) or ``.NAME.lock`` beside ``path``
    (a file, or a directory published whole)."""
    import json
    import socket
    import subprocess

    sleeper = subprocess.Popen(["sleep", "600"])

    def lock(path: Path, beside: bool = False) -> Path:
        info = {"pid": sleeper.pid, "host": socket.gethostname(), "command": "codeintel (the first)",
                "started": "just now"}
        if not beside:
            path.mkdir(parents=True, exist_ok=True)
        where = path.with_name(f".{path.name}.lock") if beside else path / ".lock"
        where.write_text(json.dumps(info))
        return path
    yield lock
    sleeper.kill()
    sleeper.wait()


@pytest.fixture(scope="session")
def task_checkpoint(tmp_path_factory):
    """A fine-tuned task checkpoint (tiny-codet5, clone detection; random weights), saved once per session."""
    from codeintel.tasks.models import load_model, save_model

    path = tmp_path_factory.mktemp("task-checkpoint") / "clone"
    save_model(load_model("tiny-codet5", "clone-detection"), path)
    return path


@pytest.fixture
def linked_run(tmp_path):
    """``tmp_path/linked``: a run whose ``states/`` is a link to another run's states (``tmp_path/other``), which
    a resume must neither follow nor clean."""
    other = tmp_path / "other" / "states"
    for step in (1, 2):
        (other / f"state-{step:08d}").mkdir(parents=True)
        (other / f"state-{step:08d}" / "COMPLETE").write_text("{}")
    run = tmp_path / "linked"
    run.mkdir()
    (run / "config.yaml").write_text("model: tiny-codebert\n")
    (run / "states").symlink_to(other, target_is_directory=True)
    return run


@pytest.fixture
def hostile_inputs(tmp_path, fake_run, live_lock, linked_run, task_checkpoint):
    """The inputs every command family's bad-input table draws on, in ``tmp_path`` (``{t}``) beside ``fake_run``
    (``{R}``), ``linked_run`` (``{linked}``) and the session's ``task_checkpoint`` (``{ck}``): ``deep.yaml`` and
    ``deep.jsonl`` (100,000 levels of nesting), ``nul.jsonl`` (a NUL right after a string), ``garbage/`` (a
    ``.lock`` that names no process), ``busy/`` (locked by a live process), ``a-file``."""
    t = tmp_path
    (t / "deep.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (t / "deep.jsonl").write_text('{"code": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    (t / "nul.jsonl").write_bytes(b'{"code": "def f(a): return a"\x00, "summary": "s", "lang": "python"}\n')
    (t / "garbage").mkdir()
    (t / "garbage" / ".lock").write_text("garbage")
    (t / "a-file").write_text("mine\n")
    live_lock(t / "busy")
    return {"t": t, "R": fake_run, "linked": linked_run, "ck": task_checkpoint}
