"""NER adapters: save -> load round trips identical on both families, the AdapterHub facts the design works
around, a short real TTC training beating the majority baseline, and bad adapter directories."""

import json

import pytest
import torch

from codeintel.cli import main
from codeintel.errors import CheckpointError
from codeintel.peft_adapters import ner
from codeintel.recipes.ner import load_ner
from codeintel.structure.token_types import LABELS
from codeintel.tasks.models import load_encoder


def _trained_looking(name: str) -> ner.NerModel:
    torch.manual_seed(0)
    model = ner.build(*load_encoder(name), name, LABELS, reduction_factor=8)
    with torch.no_grad():  # a fresh adapter's up-projection is zero: move every trainable weight
        for m in (model.encoder, model.head):
            for p in m.parameters():
                if p.requires_grad:
                    p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", ["tiny-codebert", "tiny-codet5"])
def test_save_and_load_give_identical_outputs(tmp_path, name):
    model = _trained_looking(name)
    ids = torch.tensor([[0, 45, 300, 17, 2, 1], [0, 99, 2, 1, 1, 1]])
    mask = (ids != 1).long()
    model.encoder.eval()
    with torch.no_grad():
        before = model.logits(ids, mask)
    out = tmp_path / "adapter"
    out.mkdir()
    ner.save(model, out)
    assert not list(out.glob("*.bin"))                                 # safetensors only
    again = load_ner(out)
    assert "ner" in str(again.encoder.active_adapters)                 # active after loading, without being asked
    again.encoder.eval()
    with torch.no_grad():
        after = again.logits(ids, mask)
    assert (before - after).abs().max().item() == 0
    trainable, total = again.parameter_counts()
    assert 0 < trainable < total


def test_adapterhub_has_no_tagging_head_for_t5():
    from adapters import T5AdapterModel
    from transformers import T5Config

    model = T5AdapterModel(T5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2))
    with pytest.raises(ValueError, match="tagging"):
        model.add_tagging_head("ner", num_labels=3)


def test_a_whole_model_save_of_an_adapter_model_loses_the_adapter(tmp_path):
    import adapters
    from transformers import RobertaModel

    model = _trained_looking("tiny-codebert").encoder
    key = next(k for k in model.state_dict() if "adapters.ner" in k and k.endswith("weight"))
    model.save_pretrained(tmp_path / "whole")
    reloaded = RobertaModel.from_pretrained(tmp_path / "whole")
    adapters.init(reloaded)
    assert not reloaded.active_adapters                               # loaded, but no adapter is active
    assert key not in reloaded.state_dict() or not torch.equal(reloaded.state_dict()[key], model.state_dict()[key])


def test_train_ner_beats_the_majority_baseline_and_writes_a_card(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["adapters", "train-ner", "--out", str(out), "--no-progress", "train.max_steps=40",
                 "train.eval_every=20",
                 "data.max_train_examples=300", "data.max_eval_examples=60", "train.lr=3e-3"]) == 0
    result = json.loads((out / "ner.json").read_text())
    base = result["majority_baseline"]
    assert result["held_out"]["accuracy"] > base["accuracy"] + 0.1
    assert result["held_out"]["macro_f1"] > base["macro_f1"] + 0.05
    card = (out / "adapter" / "README.md").read_text()
    assert f"{result['held_out']['accuracy']:.4f}" in card and "tiny-codebert" in card and "macro-F1" in card
    assert result["trainable_parameters"] < 0.01 * result["total_parameters"]
    assert "held-out: accuracy" in capsys.readouterr().out
    # per-program statistics give the held-out scores back exactly, and `compare` pairs a run with itself
    from codeintel.eval import resample

    got = resample.load(out / "per_example.json")
    assert len(got["ids"]) == result["examples"]["held_out"] and "per_example" not in result
    for m in ("accuracy", "macro_f1"):
        assert got["metrics"][m].value() == pytest.approx(result["held_out"][m], abs=1e-12)
    assert main(["compare", str(out), str(out), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["metric"] for r in rows} == {"accuracy", "macro_f1"} and all(r["diff"] == 0 for r in rows)


def test_an_embedding_model_is_refused_before_any_work(tmp_path, capsys):
    assert main(["adapters", "train-ner", "--model", "tiny-codet5p-embedding", "--out", str(tmp_path / "r")]) == 2
    assert "token-level heads take a RoBERTa-family" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_reduction_factor_beyond_the_hidden_size_is_refused(tmp_path, capsys):
    out = tmp_path / "rf"
    assert main(["adapters", "train-ner", "--out", str(out), "--no-progress", "reduction_factor=1000000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "pass reduction_factor=128 or less" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_adapter_directories_are_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a codeintel NER adapter"):
        load_ner(tmp_path)
    model = _trained_looking("tiny-codebert")
    out = tmp_path / "adapter"
    out.mkdir()
    ner.save(model, out)
    with pytest.raises(CheckpointError, match="roberta backbone with hidden size"):
        load_ner(out, backbone="tiny-codet5")
    (out / "head.safetensors").write_bytes(b"truncated")
    with pytest.raises(CheckpointError, match="missing or damaged"):
        load_ner(out)
