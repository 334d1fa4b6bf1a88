"""The CLI as a user drives it: errors without tracebacks, and train -> save -> reload -> evaluate."""

import json
import subprocess
import sys

import pytest

from codeintel.cli import main


def _sum_data(tmp_path, n=120):
    """A small learnable summarization set: getters and setters of named attributes."""
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner", "label", "limit", "width", "depth"]
    rows = []
    for i in range(n):
        w = words[i % len(words)]
        if i % 2:
            code, summary = f"def get_{w}(self):\n    return self._{w}", f"Return the {w}."
            rows.append({"id": f"g{i}", "code": code, "summary": summary})
        else:
            code, summary = f"def set_{w}(self, v):\n    self._{w} = v", f"Set the {w}."
            rows.append({"id": f"s{i}", "code": code, "summary": summary})
    path = tmp_path / "sum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


FAST = ["train.max_steps=12", "train.batch_tokens=2048", "source_len=48", "target_len=12", "train.lr=3e-3",
        "data.max_eval_examples=16"]


def test_help_and_models_do_not_import_heavy_libraries():
    code = ("import sys\nfrom codeintel.cli import build_parser, main\nbuild_parser()\nmain(['models'])\n"
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'evaluate') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "codet5p-110m-embedding" in out.stdout


@pytest.mark.parametrize("argv,expected", [
    (["train", "--model", "codet5-smal"], "Did you mean 'codet5-small'"),
    (["train", "--task", "sumarization"], "Did you mean 'summarization'"),
    (["train", "train.lrr=1"], "Did you mean 'train.lr'"),
    (["train", "train.epochs=abc"], "expected float"),
    (["train", "--model", "tiny-codet5p-embedding"], "no head for 'summarization'"),
    (["evaluate", "--model", "/nonexistent/run"], "not a directory"),
    (["train", "--config", "/nonexistent.yaml"], "does not exist"),
    (["train", "--model", "Salesforce/codet5-small"], "pass `--model DIR`"),
    (["train", "--data", "/nonexistent.jsonl"], "does not exist"),
])
def test_bad_input_exits_2_with_message_and_no_traceback(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_evaluate_on_a_directory_that_is_not_a_checkpoint(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_malformed_data_stops_before_writing(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"code": "x", "summary": "y"}\n{"code": \n')
    out = tmp_path / "run"
    assert main(["train", "--data", str(bad), "--out", str(out), "--no-progress", *FAST]) == 2
    assert "bad.jsonl:2: malformed JSON" in capsys.readouterr().err
    assert not out.exists()


def test_train_reload_evaluate_identical_and_reproducible(tmp_path, capsys):
    data = _sum_data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "smoothed_bleu=" in printed and "most_frequent_summary" in printed
    metrics = json.loads((run / "metrics.json").read_text())
    for f in ("config.yaml", "best/model.safetensors", "best/tokenizer.json", "best/codeintel.json",
              "predictions.jsonl", "test.output", "test.gold", "training.png"):
        assert (run / f).exists(), f
    assert metrics["train"]["steps"] == 12

    # the checkpoint remembers its card, data, lengths and decoding settings
    assert main(["evaluate", "--model", str(run / "best")]) == 0
    again = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert again["scores"] == metrics["test"]
    # CodeXGLUE files are scored identically by the id<TAB>text reader
    from codeintel.eval.bleu import read_id_tab_file, smoothed_bleu

    preds = {k: v[0] for k, v in read_id_tab_file((run / "test.output").read_text().splitlines(True)).items()}
    gold = read_id_tab_file((run / "test.gold").read_text().splitlines(True))
    assert smoothed_bleu(preds, gold) == pytest.approx(metrics["test"]["smoothed_bleu"])

    run2 = tmp_path / "run2"
    assert main(["train", "--data", str(data), "--out", str(run2), "--no-progress", *FAST]) == 0
    metrics2 = json.loads((run2 / "metrics.json").read_text())
    assert metrics2["test"] == metrics["test"] and metrics2["history"] == metrics["history"]


def test_summarization_learns_beyond_the_trivial_baseline(tmp_path):
    """Getters and setters: the model must learn which verb and copy the attribute name."""
    data = _sum_data(tmp_path, 240)
    run = tmp_path / "learn"
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", "train.max_steps=80",
                 "source_len=32", "target_len=8", "train.lr=3e-3", "train.batch_tokens=1024",
                 "data.max_eval_examples=24"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["test"]["exact_match"] >= 90
    assert m["test"]["smoothed_bleu"] > m["baselines"]["most_frequent_summary"]["smoothed_bleu"] + 30


def test_roberta_family_summarization_runs(tmp_path):
    data = _sum_data(tmp_path, 60)
    assert main(["train", "--model", "tiny-codebert", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--no-progress", *FAST[:-1], "train.max_steps=4"]) == 0


def test_clone_detection_on_gcj(shared_data, tmp_path, capsys):
    run = tmp_path / "cd"
    data = [str(shared_data / "clone" / "gcj_programs.jsonl"), str(shared_data / "clone" / "gcj_pairs.txt")]
    argv = ["train", "--model", "tiny-graphcodebert", "--task", "clone-detection", "--data", *data, "--out", str(run),
            "--no-progress", "train.max_steps=10", "source_len=64", "train.batch_tokens=4096"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "f1=" in printed and "threshold=0.5" in printed and "chance_random_at_prior" in printed
    metrics = json.loads((run / "metrics.json").read_text())
    from codeintel.data.loaders import load_clone_detection

    test_pairs = load_clone_detection(data).pairs["test"]
    lines = [line.split("\t") for line in (run / "predictions.txt").read_text().splitlines()]
    assert [(a, b) for a, b, _ in lines] == [(a, b) for a, b, _ in test_pairs]
    assert {lab for _, _, lab in lines} <= {"0", "1"}
    assert main(["evaluate", "--model", str(run / "best"), "--data", *data]) == 0
    again = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert again["scores"] == metrics["test"]


def test_clone_retrieval_on_poj104(shared_data, tmp_path, capsys):
    run = tmp_path / "cr"
    data = str(shared_data / "clone" / "poj104_dev.jsonl")
    argv = ["train", "--model", "tiny-codet5", "--task", "clone-retrieval", "--data", data, "--out", str(run),
            "--no-progress", "train.max_steps=6", "source_len=64"]
    assert main(argv) == 0
    assert "chance_random_ranking" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["baselines"]["chance_random_ranking"]["map_at_r"] < metrics["test"]["map_at_r"] <= 1
    first = json.loads((run / "predictions.jsonl").read_text().splitlines()[0])
    assert len(first["answers"]) == 99  # R = 100 programs per problem - 1


def test_data_stdlib_writes_jsonl(tmp_path, capsys):
    assert main(["data", "stdlib", "--out", str(tmp_path / "std")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "std" / "test.jsonl").read_text().splitlines()]
    assert rows and {"id", "code", "summary", "path"} <= set(rows[0])
    assert "test=" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["probe"], ["continual", "run"], ["adapters", "train-ner"],
                                     ["pretrain", "contrastive"]])
def test_every_recipe_takes_config_and_prints_it_back(command, tmp_path, capsys):
    """--config FILE.yaml and --print-config on every recipe: what it prints, read back, prints the same; key=value
    overrides the file; with --resume, a --config is refused like any other setting."""
    assert main([*command, "--print-config"]) == 0
    first = capsys.readouterr().out
    (tmp_path / "c.yaml").write_text(first)
    assert main([*command, "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    assert capsys.readouterr().out == first
    key = {"probe": "epochs", "continual": "epochs", "adapters": "max_steps", "pretrain": "max_steps"}[command[0]]
    (tmp_path / "d.yaml").write_text(f"train:\n  {key}: 3\n")
    assert main([*command, "--config", str(tmp_path / "d.yaml"), "--print-config", f"train.{key}=4"]) == 0
    import yaml

    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"][key] == 4 and printed["train"]["seed"] == 42           # one seed default everywhere
    assert main([*command, "--resume", str(tmp_path), "--config", str(tmp_path / "d.yaml")]) == 2
    assert "--config" in capsys.readouterr().err


def test_evaluate_prints_the_config_it_would_run_with(tmp_path, capsys):
    """evaluate --print-config: the checkpoint's own settings (task, lengths, decoding) under key=value."""
    import yaml

    data = _sum_data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--no-progress", *FAST, "eval.beam_size=3"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run / "best"), "--print-config", "eval.batch_size=7"]) == 0
    out = capsys.readouterr().out
    cfg = yaml.safe_load(out)
    assert out.startswith("# task card:") and cfg["eval"]["beam_size"] == 3 and cfg["eval"]["batch_size"] == 7
    assert cfg["source_len"] == 48 and cfg["data"]["paths"] == [str(data.resolve())]
    assert not (run / "eval-test").exists()                                   # nothing evaluated, nothing written
