"""Wrong values are refused before any work: exit 2, one ``error:`` line, no traceback, nothing written."""

import json

import pytest

from codeintel.cli import main

TRAIN_BAD = [
    ("eval.batch_size=-1", "eval.batch_size must be >= 1"),
    ("eval.batch_size=0", "eval.batch_size must be >= 1"),
    ("eval.threshold=5", "eval.threshold must be in (0, 1)"),
    ("eval.beam_size=0", "eval.beam_size must be >= 1"),
    ("train.max_steps=-5", "train.max_steps must be >= 0"),
    ("train.grad_clip=-1", "train.grad_clip must be a positive number"),
    ("data.max_train_examples=-1", "data.max_train_examples must be >= 0"),
    ("train.seed=-1", "train.seed must be in [0, 2^32)"),
    ("train.epochs=1e400", "train.epochs must be a finite number"),
    ("train.lr=nan", "train.lr must be a positive number"),
    ("train.threads=-1", "train.threads must be >= 0"),
    ("dfg_length=-1", "dfg_length must be >= 1"),
    ("source_len=100000", "exceeds the 512 positions"),
]


def _one_error(err: str, expected: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert expected in lines[-1], err


@pytest.mark.parametrize("override,expected", TRAIN_BAD)
def test_train_refuses_bad_values(tmp_path, capsys, override, expected):
    out = tmp_path / "run"
    model = ["--model", "tiny-codebert", "--task", "clone-retrieval"] if "source_len" in override else []
    assert main(["train", *model, "--out", str(out), "--no-progress", override]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert not out.exists()


@pytest.mark.parametrize("override,expected", [
    ("op_probability=5", "op_probability"), ("lr=nan", "lr must be a positive number"),
    ("proj_dim=-1", "proj_dim must be >= 0"), ("ops=rename_variables:k=abc", "not a whole number"),
    ("ops=rename_variables:k=-1", "out of range"), ("ops=rename_variables:k=100000000", "out of range"),
])
def test_pretrain_refuses_bad_values(tmp_path, capsys, override, expected):
    out = tmp_path / "pt"
    assert main(["pretrain", "contrastive", "--out", str(out), override]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert not out.exists()


@pytest.mark.parametrize("ops,expected", [
    ("rename_variables:k=abc", "not a whole number"), ("rename_variables:k=-1", "out of range"),
    ("rename_variables:k=100000000", "out of range"),
])
def test_augment_refuses_bad_parameters(tmp_path, capsys, ops, expected):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"code": "def f(a):\n    return a\n"}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["augment", "--ops", ops, "--lang", "python", str(src), str(out)]) == 2
    _one_error(capsys.readouterr().err, expected)
    assert not out.exists()


def test_robustness_ranges_are_checked(capsys):
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
