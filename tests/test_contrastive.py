"""Contrastive pre-training (MoCo parts, masking, the CLI and its checkpoint) and the robustness evaluation."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from codeintel.cli import main
from codeintel.errors import ConfigError, UnknownNameError
from codeintel.recipes.robustness import embedding_protocol, parse_specs

CASES = runpy.run_path(str(Path(__file__).parent / "data" / "augment_functions.py"))["CASES"]


@pytest.fixture(scope="module")
def tok():
    from codeintel.backbones.loading import load_tokenizer

    return load_tokenizer("tiny-codebert")


def test_masking_never_touches_special_tokens_and_labels_only_targets(tok):
    from codeintel.recipes.pretrain import mask_tokens

    enc = tok(["def f(a, b):\n    return a + b"] * 64, return_tensors="pt", return_special_tokens_mask=True)
    special = enc["special_tokens_mask"].bool()
    ids, labels = mask_tokens(enc["input_ids"], special, tok, 0.15, torch.Generator().manual_seed(0))
    target = labels.ne(-100)
    assert not (target & special).any()
    assert torch.equal(ids[~target], enc["input_ids"][~target])          # only targets may change
    assert torch.equal(labels[target], enc["input_ids"][target])         # labels are the original tokens
    share = target.sum().item() / (~special).sum().item()
    assert 0.10 < share < 0.20
    masked = (ids[target] == tok.mask_token_id).float().mean().item()
    assert 0.7 < masked < 0.9


def test_momentum_update_and_queue_are_exact():
    from transformers import RobertaConfig, RobertaForMaskedLM

    from codeintel.config import ContrastiveConfig
    from codeintel.recipes.pretrain import ContrastiveModel, PretrainConfig

    mlm = RobertaForMaskedLM(RobertaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16, max_position_embeddings=40))
    model = ContrastiveModel(mlm, PretrainConfig(contrastive=ContrastiveConfig(queue_size=4, proj_dim=4)))
    key_before = [p.clone() for p in model.key_encoder.parameters()]
    with torch.no_grad():
        for p in mlm.roberta.parameters():
            p.add_(1.0)
    model.momentum_update(0.9)
    for pk, before, pq in zip(model.key_encoder.parameters(), key_before, mlm.roberta.parameters(), strict=True):
        assert torch.allclose(pk, 0.9 * before + 0.1 * pq, atol=1e-6)
    assert not any(p.requires_grad for p in model.key_encoder.parameters())
    keys = torch.eye(4)[:3]
    model.enqueue(keys)
    model.enqueue(keys[:2] * 2)                                           # wraps around: slots 3 and 0
    assert int(model.queue_ptr) == 1
    assert torch.equal(model.queue[3], keys[0] * 2) and torch.equal(model.queue[0], keys[1] * 2)
    assert torch.equal(model.queue[1:3], keys[1:3])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrain") / "functions.jsonl"
    path.write_text("".join(json.dumps({"code": src, "docstring": f"function number {i}"}) + "\n"
                            for i, (src, _) in enumerate(CASES)))
    return path


def test_pretrain_contrastive_writes_a_backbone_every_task_loads(corpus, tmp_path, capsys):
    from codeintel.tasks.heads import backbone_of
    from codeintel.tasks.models import load_model

    out = tmp_path / "ckpt"
    assert main(["pretrain", "contrastive", "--data", str(corpus), "--lang", "python", "--out", str(out),
                 "train.max_steps=4", "train.batch_size=4", "contrastive.queue_size=8", "source_len=96",
                 "contrastive.variants=1"]) == 0
    log = json.loads((out / "pretrain.json").read_text())
    assert len(log["history"]) == 4 and {"mlm", "infonce", "key_top1"} <= set(log["history"][0])
    assert sum(log["operators_applied"].values()) > 0
    assert (out / "pretraining.png").stat().st_size > 0
    start = backbone_of(load_model("tiny-codebert", "clone-retrieval").model).state_dict()
    for task in ("clone-retrieval", "clone-detection", "code-search"):
        loaded = load_model(str(out), task)
        state = backbone_of(loaded.model).state_dict()
        name = "encoder.layer.0.attention.self.query.weight"
        assert not torch.equal(state[name], start[name])                  # the pre-trained weights, not a fresh init
    first = load_model(str(out), "clone-retrieval")
    again = load_model(str(out), "clone-retrieval")
    emb = [m.model(torch.tensor([[0, 100, 200, 2]]), torch.ones(1, 4, dtype=torch.long)) for m in (first, again)]
    assert torch.equal(emb[0], emb[1])
    assert "wrote" in capsys.readouterr().out


def test_pretrain_mlm_only_and_same_seed_same_weights(corpus, tmp_path):
    from safetensors.torch import load_file

    for run in ("a", "b"):
        assert main(["pretrain", "mlm", "--data", str(corpus), "--lang", "python", "--out", str(tmp_path / run),
                     "train.max_steps=2", "train.batch_size=4", "source_len=64"]) == 0
    a, b = (load_file(str(tmp_path / r / "model.safetensors")) for r in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "infonce" not in json.loads((tmp_path / "a" / "pretrain.json").read_text())["history"][0]


def test_pretrain_bad_input(corpus, tmp_path, capsys):
    base = ["--data", str(corpus), "--lang", "python", "--out", str(tmp_path / "x")]
    assert main(["pretrain", "contrastive", *base, "contrastive.queue_size=2", "train.batch_size=4"]) == 2
    assert "queue_size" in capsys.readouterr().err
    assert main(["pretrain", "contrastive", *base, "contrastive.pooling=max"]) == 2
    assert main(["pretrain", "mlm", *base, "train.max_stepz=3"]) == 2
    assert "Did you mean 'train.max_steps'" in capsys.readouterr().err
    assert main(["pretrain", "mlm", *base, "steps=3"]) == 2                     # the old flat key: its new name
    assert "'steps' is now 'train.max_steps'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- robustness


def test_parse_specs_ranges_and_errors():
    assert [v.label for v in parse_specs(["rename_variables:k=1-3", "swap_operands"])] == \
        ["rename_variables k=1", "rename_variables k=2", "rename_variables k=3", "swap_operands"]
    with pytest.raises(ConfigError, match="range"):
        parse_specs(["rename_variables:n=1-3"])
    with pytest.raises(ConfigError, match="natural language"):
        parse_specs(["swap_tokens"])
    with pytest.raises(UnknownNameError):
        parse_specs(["rename_vars:k=1"])


def test_embedding_protocol_by_hand():
    clean = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    variant = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])                  # program 1 moved onto program 0
    got = embedding_protocol(clean, variant, labels=["a", "b", "a"])
    s = 1 / np.sqrt(2)
    cos = np.array([1.0, 0.0, 1.0])
    assert got["cosine"] == pytest.approx(cos.mean())
    # each variant's mean cosine to the other two originals: v0 -> (0 + s)/2, v1 -> (1 + s)/2, v2 -> (s + s)/2
    others = np.array([(0 + s) / 2, (1 + s) / 2, s])
    assert got["cosine_margin"] == pytest.approx((cos - others).mean())
    assert got["own_original_top1"] == pytest.approx(2 / 3)                # variant 1's nearest is original 0
    # clean nearest neighbours: 0 -> 2 (a, right), 1 -> 2 (a vs b, wrong), 2 -> 0 or 1 (tie: argmax picks 0, right)
    assert got["n_correct"] == 2 and got["cosine_on_correct"] == pytest.approx(1.0)


def c_programs(path: Path) -> Path:
    rows = []
    for label in range(4):
        for i in range(3):
            body = f"int f{label}(int n) {{ int s = {i}; for (int k = 0; k < n; k++) {{ s += k * {label + 1}; }} " \
                   f"if (s > {i}) return s; else return -s; }}"
            rows.append({"index": f"{label}-{i}", "label": str(label), "code": body})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_evaluate_with_robustness_writes_curve(tmp_path, capsys):
    data = c_programs(tmp_path / "progs.jsonl")
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "tiny-codebert", "--task", "clone-retrieval", "--data", str(data),
                 "--split", "all", "--out", str(out), "--robustness", "rename_variables:k=1-2",
                 "--robustness", "swap_if_else"]) == 0
    rob = json.loads((out / "robustness.json").read_text())
    assert [(v["op"], v["params"]) for v in rob["variants"]] == [("rename_variables", {"k": 1}),
                                                                 ("rename_variables", {"k": 2}), ("swap_if_else", {})]
    assert all(v["applied"] == 12 and v["n"] == 12 for v in rob["variants"])
    assert set(rob["variants"][0]) >= {"cosine", "cosine_margin", "own_original_top1", "scores"}
    assert (out / "robustness.png").stat().st_size > 0
    assert "rename_variables k=2; applied to 12/12" in capsys.readouterr().out


def test_robustness_refuses_tasks_it_cannot_perturb(tmp_path, capsys):
    assert main(["evaluate", "--model", "tiny-codet5", "--task", "language-modeling", "--robustness",
                 "swap_operands", "--out", str(tmp_path / "e")]) == 2
    assert "--robustness works on" in capsys.readouterr().err


def test_perturb_summarization_rows_reparses_raw_code_and_renormalises():
    from codeintel.recipes.robustness import perturb
    from codeintel.tasks.summarization import SummarizationTask

    task = SummarizationTask(None, None, 0, 0)
    rows = [{"id": str(i), "code": src, "source": " ".join(src.split()), "target": "t"}
            for i, (src, _) in enumerate(CASES[:5])]
    variant = parse_specs(["rename_variables:k=2"])[0]
    new, stats = perturb(task, rows, "python", variant, seed=0)
    assert stats == {"applied": 5, "unparsable": 0, "n": 5}
    for old, row in zip(rows, new, strict=True):
        assert row["code"] != old["code"] and row["source"] == " ".join(row["code"].split())
        assert row["target"] == old["target"]
    with pytest.raises(ConfigError, match="raw code"):
        perturb(task, [{"id": "x", "source": "a b", "target": "t"}], "python", variant, 0)


def test_pretrain_t5_encoder_and_refuse_embedding_models(corpus, tmp_path, capsys):
    from codeintel.tasks.models import load_model

    out = tmp_path / "t5"
    assert main(["pretrain", "contrastive", "--model", "tiny-codet5", "--data", str(corpus), "--lang", "python",
                 "--out", str(out), "train.max_steps=3", "train.batch_size=4", "contrastive.queue_size=8",
                 "source_len=64", "contrastive.variants=1"]) == 0
    history = json.loads((out / "pretrain.json").read_text())["history"]
    assert all(np.isfinite(h["mlm"]) and np.isfinite(h["infonce"]) for h in history)
    assert load_model(str(out), "summarization").family == "t5"
    assert load_model(str(out), "clone-retrieval").family == "t5"
    assert main(["pretrain", "mlm", "--model", "tiny-codet5p-embedding", "--data", str(corpus), "--lang", "python",
                 "--out", str(tmp_path / "e"), "train.max_steps=1"]) == 2
    assert "without a decoder" in capsys.readouterr().err


def test_robustness_on_clone_detection_pairs(tmp_path):
    data = c_programs(tmp_path / "progs.jsonl")
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    pairs = [f"{a['index']}\t{b['index']}\t{int(a['label'] == b['label'])}\n" for a in rows for b in rows
             if a["index"] < b["index"]]
    (tmp_path / "pairs.txt").write_text("".join(pairs))
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "tiny-codebert", "--task", "clone-detection", "--data", str(data),
                 str(tmp_path / "pairs.txt"), "--split", "all", "lang=c", "--out", str(out),
                 "--robustness", "swap_operands", "--robustness", "rename_variables:k=1"]) == 0
    rob = json.loads((out / "robustness.json").read_text())
    assert [v["applied"] for v in rob["variants"]] == [12, 12]
    assert set(rob["variants"][0]["scores"]) >= {"f1", "precision", "recall"}


def test_pretrain_configs_saved_with_the_old_flat_keys_are_translated():
    """States written before pretrain took train's dotted keys resume with the same settings."""
    import dataclasses

    from codeintel.recipes.pretrain import config_from_dict

    old = {"model": "tiny-codebert", "objective": "mlm", "steps": 7, "batch_size": 3, "lr": 0.01, "max_len": 64,
           "queue_size": 8, "mlm_probability": 0.2, "contrastive_weight": 0.5, "save_every": 2}
    cfg = config_from_dict(old)
    assert (cfg.train.max_steps, cfg.train.batch_size, cfg.train.lr, cfg.source_len) == (7, 3, 0.01, 64)
    assert (cfg.contrastive.queue_size, cfg.mlm.probability, cfg.contrastive.weight, cfg.train.save_every) == \
        (8, 0.2, 0.5, 2)
    assert config_from_dict(dataclasses.asdict(cfg)) == cfg                # the new form round-trips
