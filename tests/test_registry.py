"""The backbone table: published architectures, tiny presets, loading and saving."""

import pytest
import torch

from codeintel.backbones import loading
from codeintel.backbones.table import BACKBONES, format_table, get_backbone
from codeintel.errors import CheckpointError, HubError, UnknownNameError
from codeintel.tasks import models

# Published sizes: CodeT5 model card (60M / 220M), RoBERTa-base (125M), CodeT5+ README (220M, 110M), GPT-2 small
# (124M; CodeGPT adds three special tokens to its vocabulary).
PUBLISHED = {
    "codet5-small": 60.5e6, "codet5-base": 222.9e6, "codet5p-220m": 222.9e6,
    "graphcodebert-base": 124.6e6, "codebert-base": 124.6e6, "codet5p-110m-embedding": 109.8e6,
    "codegpt-small-java": 124.4e6, "codegpt-small-py": 124.4e6,
}


@pytest.mark.parametrize("name,expected", sorted(PUBLISHED.items()))
def test_published_parameter_counts(name, expected):
    n = loading.count_parameters(BACKBONES[name])
    assert abs(n - expected) / expected < 0.01, f"{name}: {n / 1e6:.1f}M"


def test_every_entry_has_a_tiny_preset_of_its_family():
    families = {s.family for s in BACKBONES.values()}
    tiny = {s.family for s in BACKBONES.values() if s.is_tiny}
    assert families == tiny


def test_unknown_model_suggests_closest():
    with pytest.raises(UnknownNameError) as err:
        get_backbone("codet5-smal")
    assert "Did you mean 'codet5-small'" in str(err.value)
    assert "tiny-codet5" in str(err.value)


def test_table_lists_every_entry():
    table = format_table()
    for name in BACKBONES:
        assert name in table


TINY_TASKS = [(n, t) for n, s in BACKBONES.items() if s.is_tiny for t in models.supported_tasks(s)]


@pytest.mark.parametrize("name,task", TINY_TASKS)
def test_tiny_presets_build_offline_and_run(name, task):
    torch.manual_seed(0)
    loaded = models.load_model(name, task)
    tok = loaded.tokenizer
    enc = tok(["def f(x):\n    return x + 1", "int g() { return 2; }"], padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.no_grad():
        if task in ("summarization", "language-modeling", "code-to-code", "text-to-code") or (
                task in ("causal-lm", "execution") and loaded.family == "t5"):
            out = loaded.model(input_ids=ids, attention_mask=mask, labels=ids[:, :4].contiguous())
            assert torch.isfinite(out.loss)
        elif task in ("causal-lm", "execution"):
            out = loaded.model(input_ids=ids, attention_mask=mask, labels=ids)
            assert torch.isfinite(out.loss) and out.logits.shape[:2] == ids.shape
        elif task == "clone-detection":
            logits = loaded.model(torch.stack([ids, ids.flip(0)], 1), torch.stack([mask, mask.flip(0)], 1))
            assert logits.shape == (2, 2)
        elif task == "defect-detection":
            assert loaded.model(ids, mask).shape == (2, 2)
        else:
            vec = loaded.model(ids, mask)
            assert torch.allclose(vec.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_codet5p_embedding_is_first_token_projection_normalised():
    loaded = models.load_model("tiny-codet5p-embedding", "clone-retrieval")
    loaded.model.eval()
    enc = loaded.tokenizer(["a = 1", "b = 2 + a"], padding=True, return_tensors="pt")
    backbone = loaded.model.backbone
    with torch.no_grad():
        vec = loaded.model(enc["input_ids"], enc["attention_mask"])
        hidden = backbone.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        manual = torch.nn.functional.normalize(backbone.proj(hidden[:, 0]), dim=-1)
    assert vec.shape == (2, 64)
    assert torch.allclose(vec, manual)


def test_t5_eos_vector_takes_the_last_eos():
    from codeintel.backbones.t5 import eos_decoder_vector

    loaded = models.load_model("tiny-codet5", "clone-detection")
    t5 = loaded.model.backbone.eval()
    ids = torch.tensor([[0, 50, 2, 60, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        vec = eos_decoder_vector(t5, ids, mask, eos_id=2)
        out = t5(input_ids=ids, attention_mask=mask, decoder_input_ids=t5._shift_right(ids), output_hidden_states=True)
    assert torch.allclose(vec[0], out.decoder_hidden_states[-1][0, 4])


@pytest.mark.parametrize("name,task", [("tiny-codet5", "clone-detection"), ("tiny-codebert", "summarization"),
                                       ("tiny-codet5p-embedding", "clone-retrieval"), ("tiny-codegpt", "causal-lm"),
                                       ("tiny-codebert", "causal-lm")])
def test_save_and_reload_is_identical(tmp_path, name, task):
    torch.manual_seed(0)
    loaded = models.load_model(name, task)
    models.save_model(loaded, tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "model.safetensors").exists()
    assert not list(tmp_path.glob(".*tmp"))
    again = models.load_model(str(tmp_path / "ckpt"))
    assert again.task == task
    sd1, sd2 = loaded.model.state_dict(), again.model.state_dict()
    assert sd1.keys() == sd2.keys()
    for k in sd1:
        assert torch.equal(sd1[k], sd2[k]), k


def test_not_a_checkpoint_and_missing_dir(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        models.load_model(str(tmp_path))
    with pytest.raises(CheckpointError, match="not a directory"):
        models.load_model(str(tmp_path / "nope"))


@pytest.mark.parametrize("hub_id", ["Salesforce/codet5-small", "someone/unregistered-model"])
def test_hub_id_offline_gives_one_clear_error(hub_id):
    with pytest.raises(HubError) as err:
        models.load_model(hub_id)
    msg = str(err.value)
    assert hub_id in msg and "--model DIR" in msg and "huggingface-cli download" in msg


def test_task_mismatch_on_checkpoint(tmp_path):
    loaded = models.load_model("tiny-codet5", "summarization")
    models.save_model(loaded, tmp_path / "c")
    from codeintel.errors import ConfigError

    with pytest.raises(ConfigError, match="fine-tuned for 'summarization', not 'clone-detection'") as err:
        models.load_model(str(tmp_path / "c"), "clone-detection")
    assert "--task summarization" in str(err.value) and "takes a backbone" in str(err.value)


def test_plain_save_pretrained_directory_loads_as_backbone(tmp_path):
    loaded = models.load_model("tiny-codet5", "summarization")
    loaded.model.save_pretrained(tmp_path / "plain")
    loaded.tokenizer.save_pretrained(tmp_path / "plain")
    again = models.load_model(str(tmp_path / "plain"), "summarization")
    assert type(again.model).__name__ == "T5ForConditionalGeneration"


def test_codet5p_embedding_checkpoint_layout_loads_without_remote_code(tmp_path):
    """A directory laid out like Salesforce/codet5p-110m-embedding (model_type codet5p_embedding, custom
    auto_map, weights shared/encoder/proj) loads natively into CodeT5pEmbeddingModel."""
    import json

    from safetensors.torch import save_file

    from codeintel.backbones.table import TINY_T5

    src = models.load_model("tiny-codet5p-embedding", "clone-retrieval")
    backbone = src.model.backbone
    state = {k: v.contiguous() for k, v in backbone.state_dict().items() if k != "encoder.embed_tokens.weight"}
    assert {"shared.weight", "proj.weight", "proj.bias"} <= set(state)
    ckpt = tmp_path / "codet5p-110m-embedding"
    ckpt.mkdir()
    save_file(state, str(ckpt / "model.safetensors"), metadata={"format": "pt"})
    config = {**TINY_T5, "model_type": "codet5p_embedding", "embed_dim": 64, "architectures": ["CodeT5pEmbeddingModel"],
              "auto_map": {"AutoConfig": "configuration_codet5p_embedding.CodeT5pEmbeddingConfig",
                           "AutoModel": "modeling_codet5p_embedding.CodeT5pEmbeddingModel"}}
    (ckpt / "config.json").write_text(json.dumps(config))
    src.tokenizer.save_pretrained(ckpt)
    loaded = models.load_model(str(ckpt), "clone-retrieval")
    assert type(loaded.model.backbone).__name__ == "CodeT5pEmbeddingModel"
    for k, v in state.items():
        assert torch.equal(loaded.model.backbone.state_dict()[k], v), k
