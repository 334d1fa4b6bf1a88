"""``codeintel adapters train-ner`` and ``adapters show`` against the reliability campaign's cases, one row each:
exit 2, one ``error:`` line, no traceback, nothing new or changed where they write (``refused``)."""

import json

import pytest

from codeintel.cli import main

DEEP_JSON = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
LORA = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["query", "value"], "task_type": None}


def _adapter(path, config=LORA, weights=True):
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if weights:
        save_file({"base_model.model.layer.0.query.lora_A.weight": torch.zeros(8, 16)},
                  str(path / "adapter_model.safetensors"))
    return path


@pytest.fixture
def paths(hostile_inputs):
    t = hostile_inputs["t"]
    (t / "deep-card").mkdir()
    (t / "deep-card" / "codeintel.json").write_text(DEEP_JSON)
    _adapter(t / "deep-adapter", DEEP_JSON)
    _adapter(t / "malformed", '{"peft_type": "LORA", "r": 8')
    _adapter(t / "not-an-object", "[1, 2]")
    _adapter(t / "no-weights", weights=False)
    truncated = _adapter(t / "truncated") / "adapter_model.safetensors"
    truncated.write_bytes(truncated.read_bytes()[:40])
    (t / "secret.json").write_text(json.dumps(LORA))
    linked = _adapter(t / "linked-adapter")
    (linked / "adapter_config.json").unlink()
    (linked / "adapter_config.json").symlink_to(t / "secret.json")
    (t / "empty").mkdir()
    _adapter(t / "rank-abc", {**LORA, "r": "abc"})
    _adapter(t / "rank-0", {**LORA, "r": 0})
    _adapter(t / "unknown-method", {"peft_type": "NOPE"})
    _adapter(t / "targets-5", {**LORA, "target_modules": 5})
    (t / "done").mkdir()
    (t / "done" / "ner.json").write_text("{}")
    return hostile_inputs


NER = ["adapters", "train-ner", "--out", "{t}/ner", "train.max_steps=2"]
SHOW = ["adapters", "show"]
CASES = {
    "train-ner: reduction_factor=1000000": ([*NER, "reduction_factor=1000000"],
                                            "reduction_factor=1000000 leaves no bottleneck"),
    "train-ner: reduction_factor=0": ([*NER, "reduction_factor=0"], "reduction_factor"),
    "train-ner: source_len=1": ([*NER, "source_len=1"], "source_len must be 0 (the default) or at least 2"),
    "train-ner: train.max_steps=0": ([*NER, "train.max_steps=0"], "train.max_steps must be positive"),
    "train-ner: train.lr=inf": ([*NER, "train.lr=inf"], "train.lr must be a finite number"),
    "train-ner: a NUL right after a string in --data": ([*NER, "--data", "{t}/nul.jsonl"],
                                                        "<tmp>/nul.jsonl:1: malformed JSON line"),
    "train-ner: a 100k-deep JSON line in --data": ([*NER, "--data", "{t}/deep.jsonl", "--lang", "python"],
                                                   "nested too deeply"),
    "train-ner: a 100k-deep --config": ([*NER, "--config", "{t}/deep.yaml"], "nested too deeply"),
    "train-ner: a 100k-deep card in --model": ([*NER, "--model", "{t}/deep-card"], "nested too deeply"),
    "train-ner: a task checkpoint as the backbone": ([*NER, "--model", "{ck}"],
                                                     "is a checkpoint fine-tuned for 'clone-detection'"),
    "train-ner: --out inside a checkpoint": (["adapters", "train-ner", "--out", "{R}/best/x"],
                                             "is inside <tmp>/R/checkpoints/best-000001"),
    "train-ner: --out two levels inside": (["adapters", "train-ner", "--out", "{R}/best/a/b"],
                                           "is inside <tmp>/R/checkpoints/best-000001"),
    "train-ner: --out in use by another command": (["adapters", "train-ner", "--out", "{t}/busy"],
                                                   "<tmp>/busy is in use by pid"),
    "train-ner: --out holds a finished run": (["adapters", "train-ner", "--out", "{t}/done"],
                                              "<tmp>/done already holds an earlier run; pass --overwrite"),
    "train-ner: --resume with states linked outside the run": (["adapters", "train-ner", "--resume", "{linked}"],
                                                               "is a link (to <tmp>/other/states)"),
    "show: a 100k-deep adapter_config.json": ([*SHOW, "{t}/deep-adapter"], "nested too deeply"),
    "show: a malformed adapter_config.json": ([*SHOW, "{t}/malformed"], "adapter_config.json is not valid JSON"),
    "show: adapter_config.json not an object": ([*SHOW, "{t}/not-an-object"], "adapter_config.json"),
    "show: missing weights": ([*SHOW, "{t}/no-weights"], "holds no adapter weights (adapter_model.safetensors)"),
    "show: truncated weights": ([*SHOW, "{t}/truncated"], "adapter_model.safetensors is damaged"),
    "show: adapter_config.json linked outside": ([*SHOW, "{t}/linked-adapter"], "outside the adapter directory"),
    "show: a LoRA rank that is not a number": ([*SHOW, "{t}/rank-abc"], "r is 'abc'; LoraConfig takes a whole number"),
    "show: a LoRA rank of 0": ([*SHOW, "{t}/rank-0"], "r is 0; the rank must be at least 1"),
    "show: an unknown PEFT method": ([*SHOW, "{t}/unknown-method"], "peft_type 'NOPE' is not a PEFT method"),
    "show: target_modules not names": ([*SHOW, "{t}/targets-5"], "target_modules is 5"),
    "show: a directory that is no adapter": ([*SHOW, "{t}/empty"], "<tmp>/empty"),
    "show: a missing directory": ([*SHOW, "{t}/missing"], "<tmp>/missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_adapter_commands_refuse(case, paths, refused):
    argv, expected = CASES[case]
    err = refused(argv, expected, paths)
    assert "pass --task" not in err                   # train-ner has no --task option


def test_show_takes_a_valid_config_with_a_union_typed_value(tmp_path, capsys):
    adapter = _adapter(tmp_path / "a", {**LORA, "init_lora_weights": "gaussian", "lora_dropout": 0})
    assert main(["adapters", "show", str(adapter)]) == 0
    assert "LORA  r=8" in capsys.readouterr().out


def test_show_says_pickle_only_weights_need_allow_pickle_and_never_reads_them(tmp_path, capsys):
    adapter = _adapter(tmp_path / "a", weights=False)
    (adapter / "adapter_model.bin").write_bytes(b"a pickle that is never read")
    assert main(["adapters", "show", str(adapter)]) == 0
    out = capsys.readouterr().out
    assert ("adapter_model.bin only (a pickle, which can run code when loaded): loaded only with allow_pickle=true"
            in out)
