"""Adapters from Python and in training: AdapterHub and PEFT on both families, save -> load round trips
identical (single adapters, stacks, run checkpoints), the files readable by the libraries themselves,
format detection from contents, the library facts the design works around, and bad input."""

import json
import shutil

import pytest
import torch

from codeintel.cli import main
from codeintel.errors import CheckpointError, ConfigError, UnknownNameError
from codeintel.peft_adapters.core import detect_format, presets
from codeintel.tasks.models import attach_for_training, load_model, save_model

IDS = torch.tensor([[0, 45, 300, 17, 88, 2, 1], [0, 99, 7, 2, 1, 1, 1]])
MASK = (IDS != 1).long()


def _model(name: str, task: str = "clone-detection"):
    torch.manual_seed(0)  # a tiny preset is random-initialised: the same seed builds the same backbone
    return load_model(name, task)


def _move(loaded) -> None:
    """Trained-looking adapters and head (a fresh LoRA or bottleneck up-projection is zero)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in loaded.model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=g))


def _out(loaded) -> torch.Tensor:
    m = loaded.model.eval()
    with torch.no_grad():
        if loaded.task == "clone-detection":
            return m(IDS.unsqueeze(0)[:, :2], MASK.unsqueeze(0)[:, :2])
        if loaded.task == "code-search":
            return m(IDS, MASK)
        return m(input_ids=IDS, attention_mask=MASK, labels=IDS).logits


def _host_out(host) -> torch.Tensor:
    host.eval()
    with torch.no_grad():
        if getattr(host.config, "is_encoder_decoder", False):
            return host(input_ids=IDS, attention_mask=MASK, decoder_input_ids=IDS[:, :3]).logits
        return host(input_ids=IDS, attention_mask=MASK).last_hidden_state


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("name", ["tiny-codebert", "tiny-codet5"])
@pytest.mark.parametrize("kind", ["pfeiffer", "lora-r8", "stack", "hub+peft"])
def test_save_then_load_into_a_fresh_model_is_identical(tmp_path, name, kind):
    m = _model(name)
    adapters = {"pfeiffer": [("a", "pfeiffer")], "lora-r8": [("a", "lora-r8")],
                "stack": [("a", "ner"), ("b", "houlsby")], "hub+peft": [("a", "pfeiffer"), ("b", "lora-r8")]}[kind]
    for n, p in adapters:
        m.add_adapter(n, p)
    m.set_active([n for n, _ in adapters])
    m.adapter_set().train_only([n for n, _ in adapters])
    m.task_adapter = adapters[-1][0]
    _move(m)
    before = _out(m)
    for n, _ in adapters:
        m.save_adapter(n, tmp_path / n)
    assert not list(tmp_path.rglob("*.bin"))                                   # safetensors only
    again = _model(name)
    for n, _ in adapters:
        again.load_adapter(tmp_path / n)                                        # active once loaded
    assert again.adapters.active == [n for n, _ in adapters]
    assert (before - _out(again)).abs().max().item() == 0                       # head came with the top adapter
    if kind == "stack":
        assert str(again.adapters.host.active_adapters) == "Stack[a, b]"
    again.set_active([])                                                        # off: the bare backbone again
    plain = _model(name)
    plain.model.head.load_state_dict(again.model.head.state_dict())
    assert (_out(again) - _out(plain)).abs().max().item() <= 1e-6  # AdapterHub's layers: same sums, other order


@pytest.mark.parametrize("name,task", [("tiny-codebert", "clone-detection"), ("tiny-codet5", "summarization"),
                                       ("tiny-codebert", "summarization"), ("tiny-codet5", "code-search")])
@pytest.mark.parametrize("adapter", ["lora-r8", "prefix"])
def test_an_adapter_run_checkpoint_reloads_identically_without_the_backbone_weights_of_a_hub_model(
        tmp_path, name, task, adapter):
    m = _model(name, task)
    attach_for_training(m, adapter)
    _move(m)
    before = _out(m)
    save_model(m, tmp_path / "ck")
    files = {p.name for p in (tmp_path / "ck").iterdir()}
    assert {"adapters", "trained.safetensors", "codeintel.json"} <= files
    assert "model.safetensors" not in files                         # the frozen backbone is not copied ...
    assert "base" in files                                          # ... except a random-init preset's
    again = load_model(str(tmp_path / "ck"))
    assert (before - _out(again)).abs().max().item() == 0


def test_peft_itself_loads_a_saved_lora_and_adapterhub_itself_loads_a_saved_bottleneck(tmp_path):
    import adapters
    from peft import PeftModel

    for name in ("tiny-codebert", "tiny-codet5"):
        m = _model(name)
        m.add_adapter("lo", "lora-r8")
        m.adapter_set().train_only(["lo"])
        _move(m)
        mine = _host_out(m.adapters.host)
        m.save_adapter("lo", tmp_path / f"{name}-lo")
        assert detect_format(tmp_path / f"{name}-lo") == "peft"
        fresh = _model(name)
        from codeintel.tasks.models import adapter_host

        peft_model = PeftModel.from_pretrained(adapter_host(fresh.model), str(tmp_path / f"{name}-lo"))
        assert (mine - _host_out(peft_model.base_model.model)).abs().max().item() == 0

        m = _model(name)
        m.add_adapter("bn", "prefix" if name == "tiny-codet5" else "houlsby")
        m.adapter_set().train_only(["bn"])
        _move(m)
        mine = _host_out(m.adapters.host)
        m.save_adapter("bn", tmp_path / f"{name}-bn")
        assert detect_format(tmp_path / f"{name}-bn") == "adapterhub"
        host = adapter_host(_model(name).model)
        adapters.init(host)
        host.load_adapter(str(tmp_path / f"{name}-bn"), use_safetensors=True)
        assert not host.active_adapters                             # AdapterHub: loaded but not active ...
        host.set_active_adapters("bn")                              # ... until asked
        assert (mine - _host_out(host)).abs().max().item() == 0


def test_format_is_read_from_the_contents_not_the_file_name(tmp_path):
    m = _model("tiny-codebert")
    m.add_adapter("lo", "lora-r8")
    m.add_adapter("bn", "pfeiffer")
    m.save_adapter("lo", tmp_path / "looks-like-adapterhub")
    m.save_adapter("bn", tmp_path / "looks-like-peft")
    assert detect_format(tmp_path / "looks-like-adapterhub") == "peft"
    assert detect_format(tmp_path / "looks-like-peft") == "adapterhub"
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "adapter_config.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="neither AdapterHub's"):
        detect_format(tmp_path / "odd")
    (tmp_path / "odd" / "adapter_config.json").write_text('{"peft_ty')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        detect_format(tmp_path / "odd")


def test_pickle_weights_load_only_when_allowed(tmp_path):
    from safetensors.torch import load_file

    m = _model("tiny-codebert")
    m.add_adapter("lo", "lora-r8")
    m.adapter_set().train_only(["lo"])
    _move(m)
    before = _host_out(m.adapters.host)
    d = tmp_path / "lo"
    m.save_adapter("lo", d)
    torch.save(load_file(str(d / "adapter_model.safetensors")), d / "adapter_model.bin")
    (d / "adapter_model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="pickle"):
        _model("tiny-codebert").load_adapter(d)
    again = _model("tiny-codebert")
    again.load_adapter(d, allow_pickle=True)
    assert (before - _host_out(again.adapters.host)).abs().max().item() == 0


# --------------------------------------------------------------------------- library facts designed around

def test_adapterhubs_own_safetensors_writer_fails_on_shared_tensors_ours_does_not(tmp_path):
    m = _model("tiny-codet5", "summarization")
    m.add_adapter("p", "prefix")
    with pytest.raises(RuntimeError, match="share memory"):
        m.adapters.host.save_adapter(str(tmp_path / "theirs"), "p", with_head=False, use_safetensors=True)
    m.save_adapter("p", tmp_path / "ours")
    assert (tmp_path / "ours" / "adapter.safetensors").is_file()


def test_an_encoder_adapter_in_an_encoder_decoder_gets_no_fresh_decoder_adapters(tmp_path):
    """AdapterHub's plain load_adapter of a T5EncoderModel adapter adds untrained ones to every decoder layer."""
    import adapters

    from codeintel.peft_adapters import ner
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    torch.manual_seed(0)
    nm = ner.build(*load_encoder("tiny-codet5"), "tiny-codet5", LABELS)
    (tmp_path / "ner").mkdir()
    ner.save(nm, tmp_path / "ner")
    plain = _model("tiny-codet5", "summarization").model
    adapters.init(plain)
    plain.load_adapter(str(tmp_path / "ner"), use_safetensors=True)
    assert any(k.startswith("decoder.") and ".adapters.ner." in k for k in plain.state_dict())
    ours = _model("tiny-codet5", "summarization")
    ours.load_adapter(tmp_path / "ner")
    assert not any(k.startswith("decoder.") and ".adapters.ner." in k for k in ours.model.state_dict())
    assert ours.adapters.entries["ner"].head is not None                     # the token-type head came along
    nm.encoder.eval()
    with torch.no_grad():                                                     # the same encoder as TTC trained
        assert torch.equal(nm.encoder(input_ids=IDS, attention_mask=MASK).last_hidden_state,
                           ours.model.eval().encoder(input_ids=IDS, attention_mask=MASK).last_hidden_state)


# --------------------------------------------------------------------------- training modes

def test_modes_train_what_they_say(tmp_path):
    from codeintel.peft_adapters import ner
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    torch.manual_seed(0)
    (tmp_path / "ner").mkdir()
    ner.save(ner.build(*load_encoder("tiny-codebert"), "tiny-codebert", LABELS), tmp_path / "ner")

    def trained(mode, task="clone-detection"):
        m = _model("tiny-codebert", task)
        attach_for_training(m, str(tmp_path / "ner"), mode)
        return m, {k for k, p in m.model.named_parameters() if p.requires_grad}

    m, names = trained("frozen")
    assert names and all(k.startswith("head.") for k in names)
    m, names = trained("stack")
    assert m.adapters.active == ["ner", "task"] and str(m.adapters.host.active_adapters) == "Stack[ner, task]"
    assert any(".task." in k for k in names) and not any(".ner." in k for k in names)
    m, names = trained("train")
    assert any(".ner." in k for k in names) and not any(k.startswith("backbone.embeddings") for k in names)
    with pytest.raises(ConfigError, match="nothing would train"):
        trained("frozen", "code-search")
    with pytest.raises(ConfigError, match="can only be trained"):
        attach_for_training(_model("tiny-codebert"), "lora-r8", "stack")


# --------------------------------------------------------------------------- bad input

def test_adapters_that_do_not_fit_are_one_clear_error(tmp_path):
    m = _model("tiny-codet5")
    m.add_adapter("bn", "pfeiffer")
    m.task_adapter = "bn"
    m.save_adapter("bn", tmp_path / "t5")
    with pytest.raises(CheckpointError, match="adapter for a t5 backbone"):
        _model("tiny-codebert").load_adapter(tmp_path / "t5")
    with pytest.raises(CheckpointError, match="carries a 'clone-detection' head"):
        _model("tiny-codet5", "code-search").load_adapter(tmp_path / "t5")
    big = load_model("codet5-small", "clone-detection", pretrained=False,  # offline: its architecture, random
                     tokenizer="tokompiler")
    with pytest.raises(CheckpointError, match="hidden size 128; codet5-small has 512"):
        big.load_adapter(tmp_path / "t5", with_head=False)
    m = _model("tiny-codebert")
    m.add_adapter("bn", "pfeiffer")
    m.save_adapter("bn", tmp_path / "cb")
    with pytest.raises(CheckpointError, match="trained on tiny-codebert; this model is tiny-graphcodebert"):
        _model("tiny-graphcodebert").load_adapter(tmp_path / "cb")     # same family and size, other backbone


def test_damaged_files_and_wrong_heads_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    m = _model("tiny-codebert")
    m.add_adapter("bn", "pfeiffer")
    m.task_adapter = "bn"
    d = tmp_path / "bn"
    m.save_adapter("bn", d)
    head = load_file(str(d / "head.safetensors"))
    bad = dict(head)
    bad["head.4.weight"], bad["head.4.bias"] = torch.zeros(3, 128), torch.zeros(3)   # 3 labels, not 2
    shutil.copytree(d, tmp_path / "bad-head")
    save_file(bad, str(tmp_path / "bad-head" / "head.safetensors"))
    with pytest.raises(CheckpointError, match="head does not fit"):
        _model("tiny-codebert").load_adapter(tmp_path / "bad-head")
    shutil.copytree(d, tmp_path / "cut")
    blob = (tmp_path / "cut" / "adapter.safetensors").read_bytes()
    (tmp_path / "cut" / "adapter.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        _model("tiny-codebert").load_adapter(tmp_path / "cut")
    m.add_adapter("lo", "lora-r8")
    m.save_adapter("lo", tmp_path / "lo")
    cfg = json.loads((tmp_path / "lo" / "adapter_config.json").read_text())
    cfg["target_modules"] = ["q_proj", "v_proj"]
    (tmp_path / "lo" / "adapter_config.json").write_text(json.dumps(cfg))
    fresh = _model("tiny-codebert")
    with pytest.raises(CheckpointError, match="targets modules this roberta backbone does not have.*query"):
        fresh.load_adapter(tmp_path / "lo")
    with pytest.raises(CheckpointError, match="already exists"):
        m.save_adapter("lo", d)                                     # never written over
    with pytest.raises(UnknownNameError, match="Did you mean 'lora-r8'"):
        fresh.add_adapter("x", "lora-r9")
    assert set(presets()) >= {"ner", "pfeiffer", "houlsby", "lora-r8", "prefix"}


def test_train_with_a_bad_adapter_exits_2_and_writes_nothing(tmp_path, capsys):
    for adapter, msg in (("lora-r9", "unknown adapter preset 'lora-r9'"), (str(tmp_path / "nope"), "not an adapter")):
        out = tmp_path / "run"
        assert main(["train", "--task", "clone-detection-stdlib", "--model", "tiny-codebert", "--adapter", adapter,
                     "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and err.count("\n") == 1
        assert not out.exists()
    assert main(["train", "adapter_mode=stack", "--out", str(tmp_path / "r")]) == 2
    assert "adapter_mode needs an adapter" in capsys.readouterr().err
    m = _model("tiny-codet5")
    m.add_adapter("bn", "pfeiffer")
    m.save_adapter("bn", tmp_path / "t5")
    assert main(["train", "--task", "clone-detection-stdlib", "--model", "tiny-codebert", "--adapter",
                 str(tmp_path / "t5"), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "adapter for a t5 backbone" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- end to end

def test_train_with_a_stacked_adapter_then_evaluate_reproduces_the_predictions(tmp_path, capsys):
    from codeintel.peft_adapters import ner
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    torch.manual_seed(0)
    (tmp_path / "ner").mkdir()
    ner.save(ner.build(*load_encoder("tiny-codebert"), "tiny-codebert", LABELS), tmp_path / "ner")
    run = tmp_path / "run"
    assert main(["train", "--task", "clone-detection-stdlib", "--model", "tiny-codebert", "--adapter",
                 str(tmp_path / "ner"), "--adapter-mode", "stack", "--out", str(run), "--no-progress",
                 "train.max_steps=6", "data.max_train_examples=96", "data.max_eval_examples=32"]) == 0
    out = capsys.readouterr().out
    assert "trained parameters" in out and "(stack)" in out
    metrics = json.loads((run / "metrics.json").read_text())
    t = metrics["train"]
    assert 0 < t["trainable_parameters"] < 0.05 * t["total_parameters"] and t["adapter_mode"] == "stack"
    assert not (run / "best" / "model.safetensors").exists()
    assert main(["evaluate", "--model", str(run / "best"), "--out", str(tmp_path / "ev")]) == 0
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert again["scores"] == metrics["test"]
    assert (tmp_path / "ev" / "predictions.jsonl").read_text() == (run / "predictions.jsonl").read_text()


def test_the_readme_example_runs(tmp_path, monkeypatch):
    """The README's Python example, as written, after `codeintel adapters train-ner` made its adapter."""
    import re
    from pathlib import Path

    from codeintel.peft_adapters import ner
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_adapter" in b)
    monkeypatch.chdir(tmp_path)
    Path("runs/ner-tiny-codebert/adapter").mkdir(parents=True)
    torch.manual_seed(0)
    ner.save(ner.build(*load_encoder("tiny-codebert"), "tiny-codebert", LABELS), Path("runs/ner-tiny-codebert/adapter"))
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["model"].adapters.active == ["ner", "task"]
    assert (tmp_path / "out" / "ner-copy" / "head.safetensors").is_file()


def test_a_trained_models_weights_are_never_replaced_by_an_adapters_saved_preset(tmp_path):
    from codeintel.peft_adapters import ner
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    torch.manual_seed(0)
    (tmp_path / "ner").mkdir()
    ner.save(ner.build(*load_encoder("tiny-codebert"), "tiny-codebert", LABELS), tmp_path / "ner")
    fresh = _model("tiny-codebert")
    fresh.load_adapter(tmp_path / "ner")                  # a fresh preset takes the weights the adapter saw
    from safetensors.torch import load_file

    base = load_file(str(tmp_path / "ner" / "backbone.safetensors"))
    key = "embeddings.word_embeddings.weight"
    assert torch.equal(fresh.model.backbone.state_dict()[key], base[key])
    save_model(_model("tiny-codebert"), tmp_path / "trained")           # stands for a fine-tuned checkpoint
    trained = load_model(str(tmp_path / "trained"))
    before = trained.model.backbone.state_dict()[key].clone()
    with pytest.warns(UserWarning, match="keeps its own weights"):
        trained.load_adapter(tmp_path / "ner")
    assert torch.equal(trained.model.backbone.state_dict()[key], before)
