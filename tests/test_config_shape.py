"""One config shape for every recipe: the same key names and defaults, one rule per key wherever it appears, and
the keys of earlier versions refused with their new name (saved runs under them still resume)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from codeintel import config as C
from codeintel.cli import main
from codeintel.errors import ConfigError


def _validators():
    from codeintel.recipes import ner, pretrain, probe

    return {C.RunConfig: C.validate, C.PretrainConfig: pretrain.validate, C.NerConfig: ner.validate,
            C.ProbeConfig: probe.validate, C.ContinualConfig: C.validate_continual}


def _leaves(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f.name, value


# a value each rule refuses
BAD = {"lr": -1.0, "weight_decay": -0.5, "grad_clip": -1.0, "grouping": "sorted", "sample_seed": -1,
       "warmup_ratio": 1.0, "precision": "fp8", "epochs": -1,
       "max_steps": -1, "patience": -1, "eval_every": 0, "evals_per_epoch": 0, "grad_accum": 0, "save_every": -1,
       "keep_last": 0, "batch_size": -1, "batch_tokens": 0, "max_batch_size": 0, "source_len": 1, "target_len": 1,
       "max_train_examples": -1, "max_eval_examples": -1, "max_test_examples": -1, "id_max_examples": -1,
       "threads": -1, "seed": 2**32, "beam_size": 0, "n_samples": 0, "temperature": -0.1, "top_p": 1.5,
       "max_new_tokens": -1, "no_repeat_ngram_size": -1, "workers": 0, "timeout": 0.0, "memory_mb": 10,
       "pass_k": "1,0", "eval_steps": -1, "logging_steps": -1}


def test_every_rule_has_a_refused_value():
    assert set(BAD) == set(C.KEY_RULES)


@pytest.mark.parametrize("cls", [C.RunConfig, C.PretrainConfig, C.NerConfig, C.ProbeConfig, C.ContinualConfig],
                         ids=lambda c: c.__name__)
def test_every_key_of_every_recipe_is_checked_by_its_rule(cls):
    """Each key with a rule, in every recipe's config, is refused with its dotted name when it breaks the rule;
    every float key refuses nan and inf; the defaults pass."""
    validate = _validators()[cls]
    validate(cls())
    checked = 0
    for key, leaf, value in _leaves(cls()):
        bad = [BAD[leaf]] if leaf in BAD else []
        if isinstance(value, float):
            bad += [float("nan"), float("inf")]
        for b in bad:
            cfg = cls()
            C.set_key(cfg, key, b)
            with pytest.raises(ConfigError, match=rf"^{key.replace('.', r'[.]')} must be "):
                validate(cfg)
            checked += 1
    assert checked >= 8


def test_the_shared_keys_have_one_name_and_one_seed_default():
    """train.seed is 42, and the step, length and example-cap keys carry the same names, in every recipe."""
    for cls in (C.RunConfig, C.PretrainConfig, C.NerConfig, C.ProbeConfig, C.ContinualConfig):
        keys = {k: v for k, _, v in _leaves(cls())}
        assert keys["train.seed"] == 42, cls.__name__
        assert "train.max_steps" in keys or "train.epochs" in keys
        assert "source_len" in keys
        assert not {"seed", "lr", "steps", "max_len", "max_length", "block_size", "max_epochs"} & set(keys)


OLD = [(["probe"], "max_train=5", "data.max_train_examples"), (["probe"], "max_length=64", "source_len"),
       (["continual", "run"], "block_size=64", "source_len"), (["continual", "run"], "seed=1", "train.seed"),
       (["continual", "run"], "num_samples=2", "eval.n_samples"),
       (["adapters", "train-ner"], "steps=10", "train.max_steps"),
       (["adapters", "train-ner"], "eval_examples=10", "data.max_eval_examples"),
       (["pretrain", "mlm"], "steps=10", "train.max_steps")]


@pytest.mark.parametrize("command, old, new", OLD)
def test_an_old_key_fails_with_one_line_naming_the_new_one(command, old, new, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*command, "--out", str(out), old]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: config key '{old.split('=')[0]}' is now '{new}'") and err.count("\n") == 1
    (tmp_path / "c.yaml").write_text(f"{old.replace('=', ': ')}\n")                   # in a --config file too
    assert main([*command, "--out", str(out), "--config", str(tmp_path / "c.yaml")]) == 2
    assert f"is now '{new}'" in capsys.readouterr().err
    assert not out.exists()


def test_a_state_saved_under_the_old_names_resumes_with_the_same_settings():
    """A NER and a continual run's config as earlier versions saved it (flat keys, data a list or a path) reads
    back as the config with the new keys."""
    old_ner = {"model": "tiny-codebert", "data": ["a.jsonl"], "steps": 12, "max_len": 64, "eval_examples": 8,
               "seed": 7, "lr": 0.003, "save_every": 4}
    cfg = C.from_saved(C.NerConfig, old_ner)
    want = C.NerConfig()
    want.data.paths, want.data.max_eval_examples, want.source_len = ["a.jsonl"], 8, 64
    want.train.max_steps, want.train.seed, want.train.lr, want.train.save_every = 12, 7, 0.003, 4
    assert cfg == want
    cont = C.from_saved(C.ContinualConfig, {"data": "s.jsonl", "block_size": 64, "max_epochs": 3,
                                            "eval_max_examples": 9, "decoding": "greedy", "ewc": {"lam": 0.5}})
    assert (cont.data.paths, cont.source_len, cont.train.epochs, cont.data.max_test_examples, cont.eval.decoding,
            cont.ewc.lam) == (["s.jsonl"], 64, 3, 9, "greedy", 0.5)
    assert C.from_saved(C.ContinualConfig, json.loads(json.dumps(dataclasses.asdict(cont)))) == cont
