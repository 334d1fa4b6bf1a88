"""``codeintel tokenize``, ``dfg``, ``token-types`` and ``augment`` against the reliability campaign's cases, one
row each: exit 2, one ``error:`` line, no traceback, nothing new or changed where they write (``refused``)."""

import json
import os
import subprocess
import sys
import time
import warnings

import pytest


@pytest.fixture
def paths(hostile_inputs, live_lock):
    t = hostile_inputs["t"]
    (t / "in.jsonl").write_text(json.dumps({"code": "def f(a, b):\n    return a < b\n"}) + "\n")
    (t / "taken.jsonl").write_text("my earlier results\n")
    live_lock(t / "busy.jsonl", beside=True)
    (t / "dir").mkdir()
    (t / "a.c").write_text("int main() { return 0; }\n")
    return hostile_inputs


SOURCE_CASES = {
    f"{cmd[0]}: {what}": ([*cmd[:1], src, *cmd[1:]], expected)
    for cmd in (["tokenize", "--lang", "c"], ["dfg", "--lang", "python"], ["token-types", "--lang", "python"])
    for what, src, expected in [("a directory", "{t}/dir", "<tmp>/dir is a directory"),
                                ("/dev/null", "/dev/null", "/dev/null is not a regular file"),
                                ("/dev/zero", "/dev/zero", "/dev/zero is not a regular file"),
                                ("a missing file", "{t}/missing.py", "<tmp>/missing.py does not exist")]
}
AUGMENT = ["augment", "--ops", "swap_operands", "--lang", "python", "{t}/in.jsonl"]
AUGMENT_CASES = {
    "augment: OUT with a trailing slash": ([*AUGMENT, "{t}/x/"], "OUT.jsonl {t}/x/ names a directory; name a file"),
    "augment: OUT is a directory": ([*AUGMENT, "{t}/dir"], "names a directory; name a file"),
    "augment: OUT inside a checkpoint": ([*AUGMENT, "{R}/best/a.jsonl"], "is inside <tmp>/R/checkpoints/best-000001"),
    "augment: OUT in a missing directory": ([*AUGMENT, "{t}/no/such/a.jsonl"], "the directory <tmp>/no/such does not"),
    "augment: OUT exists": ([*AUGMENT, "{t}/taken.jsonl"], "already exists; pass --overwrite"),
    "augment: OUT being written by another command": ([*AUGMENT, "{t}/busy.jsonl"],
                                                      "<tmp>/busy.jsonl is being written by another codeintel"),
    "augment: OUT is IN": ([*AUGMENT, "{t}/in.jsonl", "--overwrite"], "OUT.jsonl must differ from IN.jsonl"),
    "augment: k not a number": (["augment", "--ops", "rename_variables:k=abc", "--lang", "python", "{t}/in.jsonl",
                                 "{t}/o.jsonl"], "not a whole number"),
    "augment: k below its range": (["augment", "--ops", "rename_variables:k=-1", "--lang", "python", "{t}/in.jsonl",
                                    "{t}/o.jsonl"], "out of range"),
    "augment: k above its range": (["augment", "--ops", "rename_variables:k=100000000", "--lang", "python",
                                    "{t}/in.jsonl", "{t}/o.jsonl"], "out of range"),
    "augment: a missing IN": (["augment", "--ops", "swap_operands", "{t}/missing.jsonl", "{t}/o.jsonl"],
                              "does not exist"),
}
VALUE_CASES = {
    "tokenize: --seed -1": (["tokenize", "{t}/a.c", "--seed", "-1"], "seed must be in [0, 2^32), got -1"),
    "tokenize: --seed 2^80": (["tokenize", "{t}/a.c", "--seed", str(2**80)], "seed must be in [0, 2^32)"),
    "tokenize: --numbering with a BPE tokenizer": (["tokenize", "{t}/a.c", "--tokenizer", "tiny-codet5", "--numbering",
                                                    "serial"], "--numbering and --seed are Tokompiler's"),
    "augment: --seed -1": ([*AUGMENT, "{t}/o.jsonl", "--seed", "-1"], "--seed must be in [0, 2^32), got -1"),
    "augment: --per-sample 1000000000": ([*AUGMENT, "{t}/o.jsonl", "--per-sample", "1000000000"],
                                         "--per-sample must be in [1, 1000], got 1000000000"),
    "augment: --per-sample 0": ([*AUGMENT, "{t}/o.jsonl", "--per-sample", "0"], "--per-sample must be in [1, 1000]"),
}
CASES = {**SOURCE_CASES, **AUGMENT_CASES, **VALUE_CASES}
if os.path.exists("/proc/self/mem"):
    CASES["token-types: /proc/self/mem"] = (["token-types", "/proc/self/mem", "--lang", "c"], "cannot be read")


@pytest.mark.parametrize("case", list(CASES))
def test_code_tools_refuse(case, paths, refused):
    argv, expected = CASES[case]
    refused(argv, expected, paths)


def test_lone_surrogates_given_to_the_python_api_are_said_not_swallowed():
    """The campaign found them accepted silently by ``dfg``, ``tokenize`` and ``augment_code``: the first two warn
    (and read the surrogate as U+FFFD), augmenting skips the operator and says why."""
    import codeintel

    for fn, args in [(codeintel.dfg, ("x = '\ud800'", "python")), (codeintel.tokenize, ("int x; // \udc00", "c"))]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(*args)
        assert any(issubclass(w.category, UnicodeWarning) and "lone UTF-16 surrogate" in str(w.message)
                   for w in caught), fn
    out = codeintel.augment_code("def f(a, b):\n    return a < b  # \ud800\n", "swap_operands", "python")
    assert out["applied"] == [] and out["skipped"] == {"swap_operands": "not valid UTF-8 (a lone surrogate)"}


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
