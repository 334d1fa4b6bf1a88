"""``codeintel probe`` against the reliability campaign's cases and its own argument checks, one row each: exit 2,
one ``error:`` line, no traceback, nothing new or changed where it writes (``refused``)."""

import pytest

SMALL = ["data.max_train_examples=60", "data.max_eval_examples=20", "data.max_test_examples=20", "train.epochs=2"]


@pytest.fixture
def paths(hostile_inputs):
    t = hostile_inputs["t"]
    (t / "done").mkdir()
    (t / "done" / "probe.json").write_text("{}")
    return hostile_inputs


PROBE = ["probe", "--out", "{t}/p", *SMALL]
CASES = {
    "--layers 0-1000000000000": ([*PROBE, "--layers", "0-1000000000000"],
                                 "--layers 0-1000000000000: this model has layers 0 (embeddings) to 2"),
    "--layers 7": ([*PROBE, "--layers", "7"], "layer 7 does not exist; this model has layers 0 (embeddings) to 2"),
    "--layers x-y": ([*PROBE, "--layers", "x-y"], "--layers 'x-y'"),
    "--dims at the hidden size": ([*PROBE, "--dims", "128"], "must be below the model's hidden size 128"),
    "--dims 0": ([*PROBE, "--dims", "0"], "positive integers"),
    "--lang cobol": ([*PROBE, "--lang", "cobol"], "unknown language"),
    "--lang java on Python data": ([*PROBE, "--lang", "java"], "no function of the"),
    "orthogonal_weight=nan": ([*PROBE, "orthogonal_weight=nan"], "orthogonal_weight must be a finite number"),
    "orthogonal_weight=-1": ([*PROBE, "orthogonal_weight=-1"], "orthogonal_weight must be >= 0"),
    "source_len=1 (was max_len=1)": ([*PROBE, "source_len=1"], "source_len must be 0 (the default) or at least 2"),
    "source_len=3": ([*PROBE, "source_len=3"], "source_len must be at least 4"),
    "max_length=1, the old key": ([*PROBE, "max_length=1"], "config key 'max_length' is now 'source_len'"),
    "train.epochs=0": ([*PROBE, "train.epochs=0"], "train.epochs must be positive"),
    "train.threads=-1": ([*PROBE, "train.threads=-1"], "train.threads must be >= 0"),
    "a task checkpoint as the model": ([*PROBE, "--model", "{ck}"], "is a checkpoint fine-tuned for "
                                                                    "'clone-detection'"),
    "a 100k-deep --config": ([*PROBE, "--config", "{t}/deep.yaml"], "nested too deeply"),
    "a 100k-deep JSON line in --data": ([*PROBE, "--data", "{t}/deep.jsonl"], "nested too deeply"),
    "a NUL right after a string in --data": ([*PROBE, "--data", "{t}/nul.jsonl"],
                                             "<tmp>/nul.jsonl:1: malformed JSON line"),
    "--out inside a checkpoint": (["probe", "--out", "{R}/best/x"], "is inside <tmp>/R/checkpoints/best-000001"),
    "--out two levels inside": (["probe", "--out", "{R}/best/a/b"], "is inside <tmp>/R/checkpoints/best-000001"),
    "--out in use by another command": (["probe", "--out", "{t}/busy"], "<tmp>/busy is in use by pid"),
    "--out holds a garbage lock": (["probe", "--out", "{t}/garbage"], "<tmp>/garbage/.lock names no process"),
    "--out holds a finished run": (["probe", "--out", "{t}/done"],
                                   "<tmp>/done already holds an earlier run; pass --overwrite"),
    "--resume with states linked outside the run": (["probe", "--resume", "{linked}"],
                                                    "is a link (to <tmp>/other/states)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_probe_refuses(case, paths, refused):
    argv, expected = CASES[case]
    err = refused(argv, expected, paths)
    assert "pid None" not in err and "pass --task" not in err   # probe has no --task option


def test_a_long_function_is_cut_before_its_tree_is_converted(monkeypatch):
    """The campaign's 2.4 MB row ran past 200 s: the terminal count is known after the linear preparation, so a
    function beyond the length limit is set aside before the (costlier) binary tree and tuple are built."""
    from codeintel.structure import ast_probe

    long_line = "x = " + " + ".join(f"a{i}" for i in range(50_000)) + "\n"
    built = []
    real = ast_probe.binarize
    monkeypatch.setattr(ast_probe, "binarize", lambda tree: built.append(tree) or real(tree))
    assert ast_probe.probe_tree(long_line, "python", max_terminals=510) == ast_probe.TOO_LONG
    assert built == []
    assert ast_probe.probe_tree("x = a + b\n", "python", max_terminals=510).tokens == ["x", "=", "a", "+", "b"]
    assert len(built) == 1
