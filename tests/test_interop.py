"""Checkpoints that plain transformers can use: AutoModel/AutoTokenizer load them, and generate with the
tokenizer's output as is reproduces codeintel's own test predictions."""

import json

import pytest

from codeintel.cli import main


def _data(tmp_path, n=120):
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner", "label", "limit", "width", "depth"]
    rows = []
    for i in range(n):
        w = words[i % len(words)]
        getter = f"def get_{w}_{i}(self):\n    return self._{w}"
        code = getter if i % 2 else f"def set_{w}_{i}(self, v):\n    self._{w} = v"
        rows.append({"id": f"r{i}", "code": code, "summary": f"{'Return' if i % 2 else 'Set'} the {w}."})
    path = tmp_path / "sum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("model, beams", [("tiny-codet5", 1), ("tiny-codet5", 3), ("tiny-codebert", 1)])
def test_plain_generate_reproduces_codeintel_predictions(tmp_path, model, beams):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from codeintel.data.loaders import load_summarization

    path = _data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--model", model, "--data", str(path), "--out", str(run), "train.max_steps=12",
                 "train.lr=3e-3", "source_len=48", "target_len=12", "data.max_eval_examples=8",
                 f"eval.beam_size={beams}", "eval.no_repeat_ngram_size=2", "--no-progress"]) == 0
    ours = [json.loads(line) for line in (run / "predictions.jsonl").open()]
    rows = load_summarization([str(path)])["test"]
    assert [r["id"] for r in rows] == [p["id"] for p in ours]

    tok = AutoTokenizer.from_pretrained(run / "best")
    hf = AutoModelForSeq2SeqLM.from_pretrained(run / "best")
    assert hf.generation_config.num_beams == beams and hf.generation_config.max_new_tokens == 12
    for row, mine in zip(rows, ours, strict=True):
        enc = tok(row["source"], return_tensors="pt", truncation=True)   # the checkpoint's own settings
        assert set(enc) == {"input_ids", "attention_mask"}
        text = tok.decode(hf.generate(**enc)[0], skip_special_tokens=True)
        assert " ".join(text.split()) == mine["prediction"]


def test_model_card(tmp_path):
    """RUN/best/README.md: Hub model-card metadata that huggingface_hub parses, with the test scores of
    metrics.json, the command and the resolved config."""
    from huggingface_hub import ModelCard

    path = _data(tmp_path)
    run = tmp_path / "run"
    argv = ["train", "--model", "tiny-codet5", "--data", str(path), "--out", str(run), "train.max_steps=2",
            "source_len=48", "target_len=12", "data.max_eval_examples=4", "--no-progress"]
    assert main(argv) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    # the dev curve's baselines are computed on dev (the plot draws them), the scales are stated
    assert set(metrics["dev_baselines"]) == set(metrics["baselines"]) == {"most_frequent_summary"}
    assert metrics["scales"] == {"smoothed_bleu": "0-100", "rouge_l": "0-100", "exact_match": "0-100"}
    card = ModelCard.load(run / "best" / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "summarization"
    assert "base_model" not in card.data.to_dict()       # a random-initialised preset has no base model
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results == {k: round(v, 4) for k, v in metrics["test"].items()}
    assert all(r.dataset_split == "test" for r in card.data.eval_results)
    assert "codeintel " + " ".join(argv) in card.text and "most_frequent_summary" in card.text
    assert json.loads((run / "best" / "codeintel.json").read_text())["command"] == "codeintel " + " ".join(argv)


def test_metric_names_line_up(capsys):
    """Every metric a card names is one name everywhere: computable by compute_metric (or the task's own
    perplexity), with its scale in `codeintel tasks`; P/R/F1 refuse labels other than 0/1."""
    import codeintel
    from codeintel.eval.metrics import METRICS, SCALES

    assert main(["tasks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in listed} >= {"summarization", "clone-detection", "clone-retrieval", "code-search"}
    for task in listed:
        for metric, scale in task["metrics"].items():
            assert scale == SCALES[metric] and (metric in METRICS or metric == "token_ppl")
    assert codeintel.compute_metric("f1", [1, 0, 1], [1, 1, 1]) == pytest.approx(0.8)
    assert codeintel.compute_metric("precision", [1, 0, 1], [1, 1, 1]) == 1.0
    with pytest.raises(ValueError, match="labels \\[2\\]"):
        codeintel.compute_metric("f1", [1, 0], [2, 0])


def test_print_config_resolves_and_round_trips(tmp_path, capsys, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--task", "clone-detection-stdlib", "train.lr=1e-4", "--print-config"]) == 0
    text = capsys.readouterr().out
    cfg = yaml.safe_load(text)
    assert cfg["train"]["lr"] == 1e-4 and cfg["train"]["epochs"] == 1.0   # the override; the card's default
    assert not (tmp_path / "runs").exists()                               # nothing ran
    (tmp_path / "c.yaml").write_text(text)
    assert main(["train", "--task", "clone-detection-stdlib", "--config", "c.yaml", "--print-config"]) == 0
    assert capsys.readouterr().out == text


def test_warmup_schedule_against_transformers_get_scheduler():
    """Why the recipe keeps its own linear schedule: transformers' gives the first step a learning rate of 0."""
    import torch
    from transformers import get_scheduler

    from codeintel.recipes.kit import linear_schedule

    def lrs(make):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched, out = make(opt), []
        for _ in range(10):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    ours = lrs(lambda o: linear_schedule(o, 4, 10))
    hf = lrs(lambda o: get_scheduler("linear", o, num_warmup_steps=4, num_training_steps=10))
    assert hf[0] == 0.0 and ours[0] == 0.25                    # HF's first step does not move the weights
    assert ours[:4] == pytest.approx(hf[1:5]) and ours[4:] == pytest.approx(hf[4:])


def test_progress_off_a_terminal_is_a_few_plain_lines(tmp_path):
    """stderr piped to a file: no carriage-return bar updates, a dozen lines at most, log lines whole."""
    import subprocess
    import sys

    path = _data(tmp_path)
    out = subprocess.run([sys.executable, "-m", "codeintel", "train", "--model", "tiny-codet5", "--data", str(path),
                          "--out", str(tmp_path / "run"), "train.max_steps=40", "source_len=48", "target_len=12",
                          "data.max_eval_examples=4", "train.evals_per_epoch=2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "\r" not in out.stderr
    progress_lines = [line for line in out.stderr.splitlines() if line.startswith("train: ")]
    assert progress_lines[0] == "train: start (40 step)" and progress_lines[-1].startswith("train: done, 40 step")
    assert 3 <= len(progress_lines) <= 12
    assert all(line.startswith(("step ", "data:", "model:", "run directory", "warning", "", "==", "baseline",
                                "trained")) or line.startswith("model ") for line in out.stdout.splitlines())


def test_closed_pipe_is_quiet(tmp_path):
    import subprocess

    src = tmp_path / "f.py"
    src.write_text("".join(f"x{i} = {i}\ny{i} = x{i} + 1\n" for i in range(3000)))
    import shlex
    import sys

    out = subprocess.run(f"{shlex.quote(sys.executable)} -m codeintel dfg {shlex.quote(str(src))} | head -1",
                         shell=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.count("\n") == 1 and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


def test_python_api_uses_the_card_defaults_like_the_cli(tmp_path, capsys):
    """codeintel.train resolves its config as the CLI does: a Python run of a card gets the card's lr and epochs
    (it got the dataclass defaults before); codeintel.evaluate scores the checkpoint like `codeintel evaluate`."""
    import yaml

    import codeintel

    path = _data(tmp_path)
    card = codeintel.load_task("summarization")
    res = codeintel.train(model="tiny-codet5", data=[str(path)], out=tmp_path / "py",
                          overrides={"source_len": 48, "target_len": 12, "train.max_steps": 3,
                                     "data.max_eval_examples": 4})
    saved = yaml.safe_load((tmp_path / "py" / "config.yaml").read_text())
    assert saved["train"]["lr"] == card.defaults["train"]["lr"] != 5e-4
    assert saved["train"]["epochs"] == card.defaults["train"]["epochs"]
    assert main(["train", "--model", "tiny-codet5", "--data", str(path), "--out", str(tmp_path / "cli"),
                 "source_len=48", "target_len=12", "train.max_steps=3", "data.max_eval_examples=4",
                 "--no-progress"]) == 0
    cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert res["test"] == cli["test"]                    # same config, same seed: the same run
    ev = codeintel.evaluate(str(tmp_path / "py" / "best"), data=[str(path)], out=tmp_path / "ev")
    assert ev["scores"] == res["test"]


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "codeintel.train(" in b)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["ev"]["scores"] == scope["res"]["test"]
    assert (tmp_path / "runs" / "py-demo" / "best" / "generation_config.json").is_file()


@pytest.mark.parametrize("model", ["tiny-codet5", "tiny-codebert"])
def test_the_readme_clone_head_example_reproduces_the_run(tmp_path, monkeypatch, model):
    """The documented head layout: load_model + the tokenizer's own output give the run's P(clone) per pair."""
    import re
    from pathlib import Path

    import codeintel

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "p_clone" in b)
    monkeypatch.chdir(tmp_path)
    res = codeintel.train(model=model, task="clone-detection-stdlib", out="runs/clones",
                          overrides={"train.max_steps": 3, "data.max_train_examples": 64, "data.max_eval_examples": 8})
    from codeintel.data.loaders import load_clone_detection
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.common import default_paths

    programs = load_clone_detection(default_paths(load_task("clone-detection-stdlib"), [])).programs
    preds = [json.loads(line) for line in (tmp_path / "runs/clones/predictions.jsonl").read_text().splitlines()]
    assert res["test"] and len(preds) > 100
    for row in preds[:4]:
        scope = {"codeintel": codeintel, "a": programs[row["idx1"]], "b": programs[row["idx2"]]}
        exec(compile(block, "README.md", "exec"), scope)
        assert scope["p_clone"] == pytest.approx(row["prob"], abs=1e-5)


def test_evaluate_modules_take_plain_string_references():
    """As HF's own `bleu`: one reference string per prediction, or a list of references."""
    import evaluate

    from codeintel.eval import metrics
    from codeintel.hub import hub_path

    preds, refs = ["return the sum", "get x"], ["return the sum", "get the x"]
    for name in ("smoothed_bleu", "rouge_l"):
        module = evaluate.load(str(hub_path("eval", name)))
        plain = module.compute(predictions=preds, references=refs)[name]
        listed = module.compute(predictions=preds, references=[[r] for r in refs])[name]
        assert plain == listed == pytest.approx(metrics.compute_metric(name, preds, [[r] for r in refs]))


def test_json_output(tmp_path, capsys):
    """--json: stdout is one JSON document (log lines go to stderr), for models, tasks, train and evaluate."""
    assert main(["models", "--json"]) == 0
    assert "tiny-codet5" in {m["name"] for m in json.loads(capsys.readouterr().out)}
    path = _data(tmp_path)
    assert main(["train", "--model", "tiny-codet5", "--data", str(path), "--out", str(tmp_path / "r"), "--json",
                 "train.max_steps=2", "source_len=48", "target_len=12", "data.max_eval_examples=4",
                 "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert main(["evaluate", "--model", str(tmp_path / "r" / "best"), "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scores"] == result["test"] and "== summarization" in captured.err


def test_help_lists_every_config_key_with_type_and_default(capsys):
    """train --help is generated from the config dataclasses: every key, its type, default and docstring."""
    import dataclasses

    from codeintel.config import RunConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(RunConfig):
        value = getattr(RunConfig(), f.name)
        section = dataclasses.is_dataclass(value)
        keys = [f"{f.name}.{g.name}" for g in dataclasses.fields(value)] if section else [f.name]
        for key in keys:
            assert f"{key} (" in text, key
    assert "data.check_leakage (bool, default True): Warn when test examples" in text
    assert "train.lr (float, default 0.0005): Peak learning rate" in text


def test_python_functions_of_dfg_tokenize_augment_match_the_cli(tmp_path, capsys):
    import codeintel

    src = tmp_path / "f.py"
    code = "def f(a, b):\n    c = a + b\n    return c * a\n"
    src.write_text(code)
    assert main(["dfg", str(src), "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = codeintel.dfg(code, "python")
    assert json.loads(json.dumps({k: api[k] for k in cli})) == cli and api["limited"] == []
    assert main(["tokenize", str(src), "--format", "json", "--numbering", "serial"]) == 0
    assert json.loads(capsys.readouterr().out) == codeintel.tokenize(code, "python", numbering="serial")
    out = codeintel.augment_code(code, "rename_variables:k=1", "python", seed=1)
    assert out["applied"] == ["rename_variables"] and out["text"] != code
    assert codeintel.augment_code("x", "swap_operands", "python")["skipped"]   # nothing to swap: skipped, with a reason


def test_pretraining_checkpoint_card(tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForMaskedLM

    import codeintel

    res = codeintel.pretrain("mlm", model="tiny-codebert", out=tmp_path / "p", train={"max_steps": 2, "batch_size": 2},
                             source_len=64)
    card = ModelCard.load(tmp_path / "p" / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "fill-mask"
    assert f"{res['steps']} steps" in card.text and "mlm" in card.data.tags
    assert AutoModelForMaskedLM.from_pretrained(tmp_path / "p") is not None


def test_every_command_has_a_python_function(tmp_path):
    """The API convention: the commands are functions of `codeintel`, returning what they write."""
    import codeintel

    for name in ("train", "evaluate", "pretrain", "probe", "train_ner", "data_check", "dedup", "augment_file",
                 "train_config", "pretrain_config"):
        assert callable(getattr(codeintel, name)), name
    assert callable(codeintel.continual.run)
    files = []
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):      # f0 and f1 in train; valid and test copy them
        rows = [{"id": f"{split}{i}", "code": f"def f{i % 2}(a):\n    return a + {i % 2} * a - 1\n", "summary": "f"}
                for i in range(n)]
        files.append(tmp_path / f"{split}.jsonl")
        files[-1].write_text("".join(json.dumps(r) + "\n" for r in rows))
    said = []
    report = codeintel.data_check([str(tmp_path)], min_tokens=1, echo=said.append)
    assert report["documents"] == 8 and said                               # the command's lines, to echo
    summary = codeintel.dedup([str(tmp_path)], tmp_path / "dedup", min_tokens=1, echo=said.append)
    assert summary["removed"] == 6 and (tmp_path / "dedup" / "dedup.json").is_file()


def test_the_readme_load_model_and_metric_block_runs(tmp_path, monkeypatch):
    """The README's load_model / compute_metric block, as written (after a run in its default directory)."""
    import re
    from pathlib import Path

    import codeintel

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "compute_metric(" in b)
    monkeypatch.chdir(tmp_path)
    codeintel.train(model="tiny-codet5", task="summarization", echo=lambda *a, **k: None,
                    overrides={"train.max_steps": 1, "data.max_train_examples": 32, "data.max_eval_examples": 4})
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["loaded"].task == "summarization"
    value = codeintel.compute_metric("smoothed_bleu", ["return the value"], ["return the value of x"])
    assert f"{value:.2f}" in block and isinstance(value, float)


def test_the_readme_task_type_example_is_a_valid_task_type():
    """The README's "adding a task type" class, executed against the protocol: its metrics exist, its
    pipeline tag and head are ones the hub knows."""
    import re
    from pathlib import Path

    from codeintel.eval.metrics import METRICS
    from codeintel.tasks.protocol import TaskType

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "class TranslationTask" in b)
    scope = {"TaskType": TaskType}
    exec(compile(block, "README.md", "exec"), scope)
    cls = scope["TranslationTask"]
    assert issubclass(cls, TaskType) and all(m in METRICS for m in cls.metrics)
    assert cls.head in ("backbone", "pair", "single", "embedding") and cls.generates
