"""``codeintel train`` and ``evaluate`` against bad input (the reliability campaigns' cases, one row each): exit 2,
one ``error:`` line, no traceback, nothing written. Values are refused before any work by the recipe kit's shared
key rules; the other command families have their own files (``test_bad_input_*.py``)."""

import json

import pytest

from codeintel.cli import main

TRAIN_BAD = [
    ("train.grad_accum=0", "train.grad_accum must be >= 1"),
    ("train.precision=fp8", "train.precision must be fp32, bf16 or fp16"),
    ("train.save_every=-1", "train.save_every must be >= 0"),
    ("train.keep_last=0", "train.keep_last must be >= 1"),
    ("report_to=neptune", "report_to must be none, tensorboard, mlflow or wandb"),
    ("eval.batch_size=-1", "eval.batch_size must be >= 1"),
    ("eval.batch_size=0", "eval.batch_size must be >= 1"),
    ("eval.threshold=5", "eval.threshold must be in (0, 1)"),
    ("eval.beam_size=0", "eval.beam_size must be >= 1"),
    ("train.max_steps=-5", "train.max_steps must be >= 0"),
    ("train.grad_clip=-1", "train.grad_clip must be a number >= 0 (0 = no clipping)"),
    ("data.max_train_examples=-1", "data.max_train_examples must be >= 0"),
    ("train.seed=-1", "train.seed must be in [0, 2^32)"),
    ("train.epochs=1e400", "train.epochs must be a finite number"),
    ("train.lr=nan", "train.lr must be a finite number"),
    ("train.threads=-1", "train.threads must be >= 0"),
    ("dfg_length=-1", "dfg_length must be >= 1"),
    ("source_len=100000", "exceeds the 512 positions"),
    ("train.batch_tokens=1", "train.batch_tokens=1 is below one example of source_len"),
    ("train.metric_for_best_model=f1", "train.metric_for_best_model='f1' is not a metric of summarization"),
    ("train.eval_steps=-1", "train.eval_steps must be >= 0"),
    ("data.label_field=x", "data.label_field does not apply to summarization"),
    ("train.epochs=0", "train.epochs or train.max_steps must be positive"),
    ("source_len=1", "source_len must be 0 (the default) or at least 2 tokens"),
    ("target_len=1", "target_len must be 0 (the default) or at least 2 tokens"),
    ("data.max_eval_examples=-1", "data.max_eval_examples must be >= 0"),
]


def _one_error(err: str, expected: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert expected in lines[-1], err


@pytest.mark.parametrize("override,expected", TRAIN_BAD)
def test_train_refuses_bad_values(tmp_path, capsys, override, expected):
    out = tmp_path / "run"
    model = ["--model", "tiny-codebert", "--task", "clone-retrieval"] if "source_len=1000" in override else []
    assert main(["train", *model, "--out", str(out), "--no-progress", override]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert not out.exists()


@pytest.fixture
def paths(hostile_inputs):
    t = hostile_inputs["t"]
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (t / "deep-adapter").mkdir()
    (t / "deep-adapter" / "adapter_config.json").write_text(deep)
    (t / "deep-card.yaml").write_text("name: x\ntype: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (t / "rank-abc").mkdir()
    (t / "rank-abc" / "adapter_config.json").write_text('{"peft_type": "LORA", "r": "abc"}')
    lora = t / "lora" / "adapters" / "task"
    lora.mkdir(parents=True)
    (lora / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (t / "done").mkdir()
    (t / "done" / "metrics.json").write_text("{}")
    return hostile_inputs


CASES = {
    "train: a 100k-deep adapter_config.json in --adapter": (["train", "--adapter", "{t}/deep-adapter", "--out",
                                                              "{t}/run"], "nested too deeply"),
    "train: an adapter config PEFT would choke on": (["train", "--adapter", "{t}/rank-abc", "--out", "{t}/run"],
                                                     "r is 'abc'; LoraConfig takes a whole number"),
    "train: a 100k-deep task card": (["train", "--task", "{t}/deep-card.yaml", "--out", "{t}/run"],
                                     "nested too deeply"),
    "train: --out inside a checkpoint": (["train", "--out", "{R}/best/x"], "is inside <tmp>/R/checkpoints/best-000001"),
    "train: --out two levels inside": (["train", "--out", "{R}/best/a/b"], "is inside <tmp>/R/checkpoints/best-000001"),
    "train: --out in a run's states": (["train", "--out", "{R}/states/x"], "is inside <tmp>/R/states"),
    "train: --out in use by another command": (["train", "--out", "{t}/busy"], "<tmp>/busy is in use by pid"),
    "train: --resume with states linked outside the run": (["train", "--resume", "{linked}"],
                                                           "is a link (to <tmp>/other/states)"),
    "evaluate: --out inside the checkpoint": (["evaluate", "--model", "{ck}", "--out", "{ck}/a"],
                                              "is inside the checkpoint {ck}; evaluations go beside checkpoints"),
    "evaluate: --out two levels inside the checkpoint": (["evaluate", "--model", "{ck}", "--out", "{ck}/a/b"],
                                                         "is inside {ck}, a checkpoint or a run's own directory"),
    "evaluate: --out inside an adapter checkpoint": (
        ["evaluate", "--model", "{ck}", "--out", "{t}/lora/adapters/task/ev"], "is inside <tmp>/lora/adapters/task"),
    "evaluate: --out holds a finished evaluation": (["evaluate", "--model", "{ck}", "--out", "{t}/done"],
                                                    "<tmp>/done already holds an earlier run; pass --overwrite"),
    "evaluate: --out in use by another command": (["evaluate", "--model", "{ck}", "--out", "{t}/busy"],
                                                  "<tmp>/busy is in use by pid"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_train_and_evaluate_refuse(case, paths, refused):
    argv, expected = CASES[case]
    refused(argv, expected, paths)


def test_robustness_ranges_are_checked():
    from codeintel.errors import ConfigError
    from codeintel.recipes.robustness import parse_specs

    assert [v.params["k"] for v in parse_specs(["rename_variables:k=2-4"])] == [2, 3, 4]
    for spec in ("rename_variables:k=4-2", "rename_variables:k=0-3", "rename_variables:k=x"):
        with pytest.raises(ConfigError):
            parse_specs([spec])


@pytest.mark.parametrize("card,expected", [
    ("name: ../../../somewhere/ESCAPED\ntype: summarization\n", "no path separators"),
    ("name: ok\ntype: summarization\ndefaults: {output_dir: /tmp/elsewhere}\n", "may not set output_dir"),
    ("name: ok\ntype: summarization\ndefaults: [1, 2]\n", "defaults must be a mapping"),
    ("name: ok\ntype: summarization\nsource_len: abc\n", "source_len must be a whole number"),
])
def test_task_cards_cannot_choose_where_a_run_writes(tmp_path, capsys, card, expected):
    path = tmp_path / "card.yaml"
    path.write_text(card)
    assert main(["train", "--task", str(path), "--no-progress", "--out", str(tmp_path / "run")]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.yaml"]


GOOD = {"code": "def f(a):\n    return a", "summary": "Return a."}
BAD_ROWS = [
    ({**GOOD, "code": 12345}, "field 'code' is a int (12345); expected a string"),
    ({**GOOD, "code": ["a", "b"]}, "field 'code' is a list"),
    ({**GOOD, "code": None}, "field 'code' is null"),
    ({**GOOD, "summary": 7}, "field 'summary' is a int"),
    ({**GOOD, "id": {"a": 1}}, "'id' is a dict"),
    ({**GOOD, "id": "a\tb"}, "holds a tab or line break"),
    ({**GOOD, "code_tokens": "not a list"}, "'code_tokens' must be a list of strings"),
]


@pytest.mark.parametrize("row,expected", BAD_ROWS)
def test_data_fields_of_the_wrong_type_are_refused_with_file_and_line(tmp_path, capsys, row, expected):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({**GOOD, "id": "ok"}) + "\n" + json.dumps(row) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    _one_error(err, expected)
    assert f"{data}:2:" in err
    assert not out.exists()


@pytest.mark.parametrize("text,expected", [
    ('{"code": "x\\ud800", "summary": "s"}\n', "lone UTF-16 surrogate"),
    ("[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
])
def test_unencodable_and_pathological_json_is_a_clear_error(tmp_path, capsys, text, expected):
    data = tmp_path / "d.jsonl"
    data.write_text(text)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    _one_error(err, expected)
    assert f"{data}:1:" in err


def test_a_directory_or_device_given_as_a_data_file_says_what_it_is(tmp_path, capsys):
    from codeintel.data.loaders import read_jsonl
    from codeintel.errors import DataError

    with pytest.raises(DataError, match="is a directory"):
        read_jsonl(tmp_path)
    with pytest.raises(DataError, match="not a regular file"):
        read_jsonl(__import__("pathlib").Path("/dev/null"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from codeintel.tasks.models import load_model, save_model

    path = tmp_path_factory.mktemp("ck") / "clone"
    save_model(load_model("tiny-codet5", "clone-detection"), path)
    return path


def _damaged(checkpoint, tmp_path, name, content):
    import shutil

    copy = tmp_path / "ck"
    shutil.copytree(checkpoint, copy)
    if content is None:
        (copy / name).unlink()
    else:
        (copy / name).write_bytes(content(copy / name))
    return copy


@pytest.mark.parametrize("name,content,expected", [
    ("model.safetensors", lambda p: p.read_bytes()[:1000], "weights are missing or damaged"),
    ("model.safetensors", lambda p: b"", "weights are missing or damaged"),
    ("model.safetensors", lambda p: __import__("os").urandom(4096), "weights are missing or damaged"),
    ("codeintel.json", lambda p: p.read_bytes()[:20], "is not valid JSON"),
    ("codeintel.json", lambda p: p.read_bytes().replace(b"T5ForConditionalGeneration", b"Evil"), "names family"),
    ("head.safetensors", None, "task head is missing or damaged"),
    ("head.safetensors", lambda p: p.read_bytes()[:50], "task head is missing or damaged"),
    ("tokenizer.json", None, "has no usable tokenizer"),
    ("config.json", lambda p: p.read_bytes()[:30], "config.json is not valid JSON"),
    ("config.json", lambda p: b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "config.json is not valid JSON "
                                                                                  "(nested too deeply)"),
    ("tokenizer_config.json", lambda p: p.read_bytes()[:30], "tokenizer_config.json is not valid JSON"),
    ("tokenizer_config.json", lambda p: b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("codeintel.json", lambda p: b"[" * 100_000 + b"]" * 100_000, "codeintel.json is not valid JSON (nested too "
                                                                  "deeply)"),
])
def test_damaged_checkpoints_are_one_clear_error(checkpoint, tmp_path, capsys, name, content, expected):
    damaged = _damaged(checkpoint, tmp_path, name, content)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["evaluate", "--model", str(damaged), "--out", str(tmp_path / "eval")]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_pickle_weights_load_only_when_allowed(tmp_path):
    """safetensors is the only format read by default; a pytorch_model.bin needs allow_pickle=True."""
    import torch

    from codeintel.errors import CheckpointError
    from codeintel.tasks.models import load_model

    loaded = load_model("tiny-codet5", "summarization")
    path = tmp_path / "plain"
    loaded.model.save_pretrained(str(path), safe_serialization=False)
    loaded.tokenizer.save_pretrained(str(path))
    assert (path / "pytorch_model.bin").is_file() and not list(path.glob("*.safetensors"))
    with pytest.raises(CheckpointError, match="pickle weights only"):
        load_model(str(path), "summarization")
    again = load_model(str(path), "summarization", allow_pickle=True)
    for a, b in zip(loaded.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_missing_local_directory_is_not_mistaken_for_a_hub_id(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ck").mkdir()
    assert main(["evaluate", "--model", "ck/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "ck/nonexistent is not a directory" in err and "huggingface-cli" not in err


def test_augment_never_replaces_an_existing_output(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"code": "def f(a, b):\n    return a < b\n"}) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("my earlier results\n")
    args = ["augment", "--ops", "swap_operands", "--lang", "python", str(src), str(out)]
    assert main(args) == 2
    _one_error(capsys.readouterr().err, "already exists; pass --overwrite")
    assert out.read_text() == "my earlier results\n"
    assert main([*args, "--overwrite"]) == 0
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("out.jsonl.replaced-")]
    assert len(aside) == 1 and aside[0].read_text() == "my earlier results\n"
    assert "b > a" in json.loads(out.read_text())["code"]


def test_lone_surrogates_and_bad_utf8_reach_no_encoder(tmp_path, capsys, monkeypatch):
    import io
    import random

    from codeintel.augment import apply_op
    from codeintel.structure.dfg import extract
    from codeintel.tokenization.tokompiler import tokompile

    code = "def f(a):\n    s = '\ud800'\n    return a\n"
    graph = extract(code, "python")
    assert "'\ufffd'" in graph.tokens and ("a", 10, "comesFrom", ("a",), (3,)) in graph.edges
    assert tokompile(code.replace("def f(a):", "def f(a):\n   "), "python").tokens
    out = apply_op("swap_operands", code, "python", random.Random(0))
    assert out.text == code and out.skipped == {"swap_operands": "not valid UTF-8 (a lone surrogate)"}

    class Stdin:
        buffer = io.BytesIO(b"int f(int x) { return x\xff + 1; }\n")

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["dfg", "-", "--lang", "c"]) == 0
    assert "x@" in capsys.readouterr().out


def _tree(path):
    return sorted((str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*")) if path.exists() else None


def test_data_export_never_writes_into_a_directory_it_did_not_make(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.jsonl").write_text("my own data\n")
    before = _tree(mine)
    assert main(["data", "stdlib", "--out", str(mine)]) == 2
    _one_error(capsys.readouterr().err, "did not write")
    assert main(["data", "stdlib", "--out", str(mine), "--overwrite"]) == 2   # not even with --overwrite
    _one_error(capsys.readouterr().err, "did not write")
    assert _tree(mine) == before
    earlier = tmp_path / "export"
    earlier.mkdir()
    (earlier / "meta.json").write_text(json.dumps({"python": "3.11", "stdlib": "/usr/lib", "sizes": {}}))
    assert main(["data", "stdlib", "--out", str(earlier)]) == 2
    _one_error(capsys.readouterr().err, "pass --overwrite")
    (tmp_path / "file").write_text("x")
    assert main(["data", "stdlib", "--out", str(tmp_path / "file")]) == 2
    _one_error(capsys.readouterr().err, "is a file")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_an_output_directory_that_cannot_be_created_is_a_clear_error(tmp_path, capsys, checkpoint, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    model = ["--model", str(checkpoint)] if command == "evaluate" else [*FAST_LM]
    assert main([command, *model, "--out", str(blocker / "run")]) == 2
    _one_error(capsys.readouterr().err, "a-file")
    assert blocker.read_text() == "not a directory"


FAST_LM = ["--no-progress", "train.max_steps=1", "data.max_train_examples=8", "data.max_eval_examples=4"]


def test_misleading_messages_now_name_the_real_problem(tmp_path, capsys):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"code": f"def f{i}(): return {i}", "summary": f"r {i}"}) + "\n"
                            for i in range(30)))
    # a key without "=" after --data is not a second data file
    assert main(["train", "--data", str(data), "train.max_steps", "--out", str(tmp_path / "r")]) == 2
    _one_error(capsys.readouterr().err, "train.max_steps=...")
    # options between augment's two file arguments
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"code": "def f(a):\n    b = a + 1\n    return b\n"}) + "\n")
    assert main(["augment", str(src), "--ops", "rename_variables", "--lang", "python", str(tmp_path / "o.jsonl")]) == 0
    assert json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])["code"] != "def f(a):\n    b = a + 1\n"
    with pytest.raises(SystemExit) as exc:  # a third positional is still an argparse usage error
        main(["augment", str(src), "--ops", "x", str(tmp_path / "o2.jsonl"), "extra"])
    assert exc.value.code == 2 and "unrecognized arguments: extra" in capsys.readouterr().err


def test_odd_bytes_are_said_not_swallowed(tmp_path, capsys):
    """Bytes that are not UTF-8 in a data file are read as U+FFFD with one warning naming the file and the first
    line (the readers of train, pretrain and data check; the commands' own rows are in their files)."""
    from codeintel.data.loaders import read_code_rows

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"code": "def f():\\n    return 1", "summary": "ok"}\n'
                    b'{"code": "def g(): return \xff\xfe", "summary": "bytes \xed\xa0\x80 raw surrogate"}\n')
    rows = read_code_rows(bad, lang="python")
    assert rows[1]["code"] == "def g(): return \ufffd\ufffd"
    assert f"warning: {bad}: 1 line(s) hold bytes that are not UTF-8 (first: line 2)" in capsys.readouterr().out


def _pickle_with_code(path):
    import pickle

    class Code:
        def __reduce__(self):
            return (print, ("code ran",))
    path.write_bytes(pickle.dumps({"optimizer": Code(), "scheduler": None}))


DAMAGED_STATES = {
    "pickle with code in optimizer.pt": (lambda d: _pickle_with_code(d / "optimizer.pt"), "optimizer.pt is not a "
                                         "state codeintel can read safely"),
    "truncated trainer.json": (lambda d: (d / "trainer.json").write_text((d / "trainer.json").read_text()[:20]),
                               "trainer.json is damaged"),
    "trainer.json with an unknown key": (
        lambda d: (d / "trainer.json").write_text(json.dumps({**json.loads((d / "trainer.json").read_text()),
                                                              "bogus": 1})), "has keys this version does not know"),
    "100k-deep trainer.json": (lambda d: (d / "trainer.json").write_text("[" * 100_000 + "]" * 100_000),
                               "trainer.json is damaged (truncated or edited?): nested too deeply"),
    "truncated state weights": (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors")
                                                                                .read_bytes()[:1000]),
                                "model.safetensors is damaged"),
}


@pytest.fixture(scope="module")
def with_states(tmp_path_factory):
    run = tmp_path_factory.mktemp("states") / "run"
    assert main(["train", "--out", str(run), "train.max_steps=4", "train.save_every=2", "data.max_eval_examples=4",
                 "source_len=32", "target_len=8", "--no-progress"]) == 0
    return run


@pytest.mark.parametrize("case", list(DAMAGED_STATES))
def test_a_damaged_state_on_resume_is_one_error_that_names_it(with_states, tmp_path, capsys, case):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(with_states, run, symlinks=True)
    (run / "metrics.json").unlink()                        # as if killed before the end
    newest = sorted((run / "states").glob("state-*"))[-1]
    damage, expected = DAMAGED_STATES[case]
    damage(newest)
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    out = capsys.readouterr()
    _one_error(out.err, expected)
    assert "code ran" not in out.out + out.err
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before   # nothing written or removed
