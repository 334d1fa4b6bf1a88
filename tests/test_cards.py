"""Every kind of checkpoint loads exactly as its model card says: the card's loading block is run as printed
(``PATH`` and the input ``source`` given) and its output compared with the run's own predictions."""

import json
import re
from pathlib import Path

import pytest

from codeintel.cli import main


def _summaries(tmp_path, n=96):
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner", "label", "limit", "width", "depth"]
    rows = []
    for i in range(n):
        w = words[i % len(words)]
        code = (f"def get_{w}_{i}(self):\n    return self._{w}" if i % 2
                else f"def set_{w}_{i}(self, v):\n    self._{w} = v")
        rows.append({"id": f"r{i}", "code": code, "summary": f"{'Return' if i % 2 else 'Set'} the {w}."})
    path = tmp_path / "sum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, {r["id"]: r["code"] for r in rows}


def _block(ckpt: Path) -> tuple[str, str, dict]:
    """(kind, the loading block, the card's metadata) of a checkpoint's README.md."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(ckpt / "README.md")
    kind = re.search(r"Kind: `([a-z0-9-]+)`", card.text).group(1)
    block = re.search(r"## Loading.*?```python\n(.*?)```", card.text, re.S).group(1)
    return kind, block, card.data.to_dict()


def _run_block(block: str, **given):
    scope = dict(given)
    exec(compile(block, "README.md", "exec"), scope)
    return scope


def _train(argv):
    assert main([*argv, "--no-progress"]) == 0


def test_seq2seq_card_generate_and_pipeline_reproduce_the_run(tmp_path, monkeypatch):
    """A hub config's task_specific_params (4 beams, 200 tokens, a "summarize: " prefix, as t5-small's) must not
    reach the saved checkpoint: pipeline("summarization") then decodes as the run did."""
    from codeintel.tasks.heads import backbone_of
    from codeintel.tasks.models import load_model

    monkeypatch.chdir(tmp_path)
    data, codes = _summaries(tmp_path)
    m = load_model("tiny-codet5", "summarization")
    base = backbone_of(m.model)
    base.config.task_specific_params = {"summarization": {"num_beams": 4, "max_length": 200, "min_length": 30,
                                                          "prefix": "summarize: ", "early_stopping": True}}
    base.save_pretrained("hubmodel")
    m.tokenizer.save_pretrained("hubmodel")
    _train(["train", "--model", "hubmodel", "--task", "summarization", "--data", str(data), "--out", "run",
            "train.max_steps=12", "train.lr=3e-3", "source_len=48", "target_len=12", "data.max_eval_examples=8",
            "eval.beam_size=2"])
    assert "task_specific_params" not in json.loads(Path("run/best/config.json").read_text()) or \
        json.loads(Path("run/best/config.json").read_text())["task_specific_params"] is None
    kind, block, meta = _block(Path("run/best"))
    assert kind == "seq2seq" and meta["library_name"] == "transformers" and meta["pipeline_tag"] == "summarization"
    preds = [json.loads(line) for line in Path("run/predictions.jsonl").read_text().splitlines()]
    for row in preds[:5]:
        scope = _run_block(block, source=codes[row["id"]])
        assert " ".join(scope["prediction"].split()) == row["prediction"]
        assert " ".join(scope["same"].split()) == row["prediction"]


@pytest.mark.parametrize("model", ["tiny-codebert", "tiny-codet5"])
def test_retrieval_card_sentence_transformers_gives_the_hub_vectors(tmp_path, monkeypatch, model):
    import numpy as np

    import codeintel

    monkeypatch.chdir(tmp_path)
    data, codes = _summaries(tmp_path, 64)
    _train(["train", "--model", model, "--task", "code-search", "--data", str(data), "--out", "run",
            "train.max_steps=4", "source_len=40", "target_len=16", "data.max_eval_examples=8"])
    kind, block, meta = _block(Path("run/best"))
    assert kind == "sentence-transformers" and meta["library_name"] == "sentence-transformers"
    ours = codeintel.load_for_inference("run/best").infer([{"id": k, "code": c} for k, c in list(codes.items())[:6]])
    for (_, code), mine in zip(list(codes.items())[:6], ours, strict=True):
        scope = _run_block(block, source=code)
        np.testing.assert_allclose(scope["vectors"][0], mine["embedding"], atol=2e-5)
        assert abs(float(np.linalg.norm(scope["vectors"][0])) - 1) < 1e-5


def test_clone_card_reproduces_the_run_and_names_no_pipeline(tmp_path, monkeypatch):
    """No pipeline tag: pipeline("text-classification") would load a random head (the head is codeintel's)."""
    from codeintel.data.loaders import load_clone_detection
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.common import default_paths

    monkeypatch.chdir(tmp_path)
    _train(["train", "--model", "tiny-codebert", "--task", "clone-detection-stdlib", "--out", "run",
            "train.max_steps=3", "data.max_train_examples=64", "data.max_eval_examples=8"])
    kind, block, meta = _block(Path("run/best"))
    assert kind == "codeintel" and "pipeline_tag" not in meta
    programs = load_clone_detection(default_paths(load_task("clone-detection-stdlib"), [])).programs
    preds = [json.loads(line) for line in Path("run/predictions.jsonl").read_text().splitlines()]
    for row in preds[:3]:
        scope = _run_block(block, source=programs[row["idx1"]], other=programs[row["idx2"]])
        assert scope["prediction"]["probability"] == pytest.approx(row["prob"], abs=1e-5)


def test_lora_card_on_a_random_preset_loads_with_peft_from_the_saved_base(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data, codes = _summaries(tmp_path)
    _train(["train", "--model", "tiny-codet5", "--task", "summarization", "--adapter", "lora-r8", "--data",
            str(data), "--out", "run", "train.max_steps=12", "train.lr=3e-3", "source_len=48", "target_len=12",
            "data.max_eval_examples=8"])
    kind, block, meta = _block(Path("run/best"))
    assert kind == "peft" and meta["library_name"] == "peft" and "PATH + '/base'" in block
    cfg = json.loads(Path("run/best/adapters/task/adapter_config.json").read_text())
    assert cfg["task_type"] == "SEQ_2_SEQ_LM"
    preds = [json.loads(line) for line in Path("run/predictions.jsonl").read_text().splitlines()]
    for row in preds[:5]:
        scope = _run_block(block, source=codes[row["id"]])
        assert " ".join(scope["prediction"].split()) == row["prediction"]
    capsys.readouterr()
    assert main(["adapters", "show", "run"]) == 0     # a run (or RUN/best): each of its adapters
    shown = capsys.readouterr().out
    assert "adapters task" in shown and "LORA  r=8" in shown and "task_type=SEQ_2_SEQ_LM" in shown


def test_lora_adapter_names_a_loadable_base_so_auto_peft_model_loads_it(tmp_path, monkeypatch):
    """base_model_name_or_path is the base's hub id, or (here) the directory it was trained from; task_type lets
    AutoPeftModelForSeq2SeqLM pick the class."""
    from peft import AutoPeftModelForSeq2SeqLM
    from transformers import AutoTokenizer, GenerationConfig

    from codeintel.tasks.heads import backbone_of
    from codeintel.tasks.models import load_model

    monkeypatch.chdir(tmp_path)
    data, codes = _summaries(tmp_path)
    m = load_model("tiny-codet5", "summarization")
    backbone_of(m.model).save_pretrained("basedir")
    m.tokenizer.save_pretrained("basedir")
    _train(["train", "--model", "basedir", "--task", "summarization", "--adapter", "lora-r8", "--data", str(data),
            "--out", "run", "train.max_steps=12", "train.lr=3e-3", "source_len=48", "target_len=12",
            "data.max_eval_examples=8"])
    cfg = json.loads(Path("run/best/adapters/task/adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(Path("basedir").resolve())
    model = AutoPeftModelForSeq2SeqLM.from_pretrained("run/best/adapters/task").eval()
    model.base_model.model.generation_config = GenerationConfig.from_pretrained("run/best")
    tok = AutoTokenizer.from_pretrained("run/best")
    preds = [json.loads(line) for line in Path("run/predictions.jsonl").read_text().splitlines()]
    for row in preds[:4]:
        enc = tok(" ".join(codes[row["id"]].split()), return_tensors="pt", truncation=True)
        text = tok.decode(model.generate(**enc)[0], skip_special_tokens=True)
        assert " ".join(text.split()) == row["prediction"]


def test_language_model_card_loads_the_model_it_names(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    rows = [{"id": f"f{i}", "language": "c", "code": f"int f{i}(int x) {{ return x + {i}; }}\n" * 3}
            for i in range(30)]
    (tmp_path / "lm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _train(["train", "--model", "tiny-codet5", "--task", "language-modeling", "--data", "lm.jsonl", "--out", "run",
            "train.max_steps=1", "target_len=32"])
    kind, block, meta = _block(Path("run/best"))
    assert kind == "lm" and meta["library_name"] == "transformers"
    scope = _run_block(block)
    from codeintel.tasks.heads import backbone_of
    from codeintel.tasks.models import load_model

    mine = dict(backbone_of(load_model("run/best").model).named_parameters())
    theirs = dict(scope["model"].named_parameters())
    assert theirs.keys() == mine.keys() and all(torch.equal(v, mine[k]) for k, v in theirs.items())
    assert type(scope["model"]).__name__ == "T5ForConditionalGeneration"
