"""The Python API of the commands, with the CLI's configuration precedence (dataclass defaults < the task
card's defaults < a config file < overrides < the named arguments)::

    import codeintel
    result = codeintel.train(model="tiny-codet5", task="summarization", out="runs/s", train={"max_steps": 50})
    scores = codeintel.evaluate(model="runs/s/best", split="test")["scores"]
    codeintel.pretrain("mlm", model="tiny-codebert", out="runs/p", steps=100)

Overrides are keyword arguments: a section as a mapping (``train={"lr": 3e-4}``) or dotted keys in
``overrides={"train.lr": 3e-4}``. Each function returns what the command prints (and writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _settings(overrides: dict[str, Any] | None, sections: dict[str, Any]) -> dict[str, Any]:
    return {**(overrides or {}), **sections}


def train(model: str | None = None, task: str | None = None, data: list[str] | None = None, *,
          config: str | None = None, out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
          overrides: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    """``codeintel train``: fine-tune, keep the best dev checkpoint, score it on test; returns ``metrics.json``."""
    from codeintel.config import validate
    from codeintel.recipes.train import train as run_train
    from codeintel.tasks.cards import resolve_run_config

    cfg, card = resolve_run_config(task, model, data, config, _settings(overrides, sections))
    if out is not None:
        cfg.output_dir = str(out)
    validate(cfg)
    return run_train(cfg, card, progress=progress, overwrite=overwrite)


def evaluate(model: str, split: str = "test", data: list[str] | None = None, *, task: str | None = None,
             out: str | Path | None = None, robustness: list[str] | None = None, overwrite: bool = False,
             progress: bool = False, overrides: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    """``codeintel evaluate``: score a checkpoint (its saved task, lengths and decoding settings unless
    overridden) on one split; returns ``metrics.json`` (with ``robustness`` when asked)."""
    from codeintel.recipes.evaluate import default_eval_dir, evaluate_checkpoint
    from codeintel.recipes.rundir import fresh
    from codeintel.tasks.cards import resolve_run_config
    from codeintel.tasks.models import read_meta

    checkpoint = read_meta(model) if Path(model).is_dir() else {}
    cfg, _ = resolve_run_config(task, model, data, None, _settings(overrides, sections), checkpoint)
    out_dir = Path(out) if out is not None else fresh(default_eval_dir(model, split))
    return evaluate_checkpoint(cfg, out_dir, split=split, robustness=robustness, overwrite=overwrite,
                               progress=progress, echo=lambda *a, **k: None)


def pretrain(objective: str = "mlm", model: str | None = None, data: list[str] | None = None, *,
             out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
             **settings: Any) -> dict[str, Any]:
    """``codeintel pretrain OBJECTIVE``: continued pre-training (``mlm`` or ``contrastive``); ``settings`` are
    :class:`~codeintel.config.PretrainConfig` fields (``steps=500``)."""
    from codeintel.config import PretrainConfig, set_key
    from codeintel.recipes.pretrain import pretrain as run_pretrain

    cfg = PretrainConfig(objective=objective)
    for key, value in settings.items():
        set_key(cfg, key, value)
    if model:
        cfg.model = model
    if data:
        cfg.data = [str(d) for d in data]
    if out is not None:
        cfg.output_dir = str(out)
    return run_pretrain(cfg, overwrite=overwrite, progress=progress)


def dfg(code: str, lang: str, *, max_bytes: int = 1_000_000, max_loop_depth: int = 8) -> dict[str, Any]:
    """``codeintel dfg``: the data-flow graph (GraphCodeBERT's 5-tuples over the code's leaf tokens) of a source
    string, as ``{tokens, edges, syntax_errors, limited}`` (what ``--format json`` prints, plus the limits hit)."""
    import warnings

    from codeintel.errors import ConfigError
    from codeintel.structure.dfg import Limits, extract

    if max_bytes < 1 or max_loop_depth < 0:
        raise ConfigError("max_bytes must be positive and max_loop_depth at least 0.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the limits hit are returned
        flow = extract(code, lang, Limits(max_bytes, max_loop_depth))
    return {"tokens": flow.tokens, "edges": flow.edges, "syntax_errors": flow.errors, "limited": list(flow.limited)}


def tokenize(code: str, lang: str | None = None, *, tokenizer: str = "tokompiler", numbering: str = "random",
             seed: int = 0) -> dict[str, Any]:
    """``codeintel tokenize``: Tokompiler's tokens and name mapping (``lang`` needed), or another tokenizer's
    tokens (a registry name or directory)."""
    from codeintel.errors import ConfigError

    if tokenizer != "tokompiler":
        from codeintel.backbones.loading import load_tokenizer

        return {"tokens": load_tokenizer(tokenizer).tokenize(code)}
    if not lang:
        raise ConfigError("Tokompiler needs the language: pass lang=c|cpp|fortran|python|java.")
    from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

    tok = TokompilerTokenizer(lang=lang, numbering=numbering, seed=seed)
    result = tok.tokompile(code)
    return {"tokens": result.tokens, "mapping": result.mapping, "syntax_errors": result.errors,
            "unknown_tokens": sum(t not in tok.vocab for t in result.tokens)}


def augment_code(text: str, ops: str, lang: str | None = None, *, seed: int = 0) -> dict[str, Any]:
    """``codeintel augment`` on one sample: ``ops`` as the CLI takes them (``rename_variables:k=2,swap_operands``);
    returns ``{text, applied, skipped}`` (an operator that cannot apply is skipped with its reason). Not named
    ``codeintel.augment``: that is the operators' package."""
    import random

    from codeintel.augment import compose, parse_ops

    out = compose(text, lang, parse_ops(ops), random.Random(seed))
    return {"text": out.text, "applied": out.applied, "skipped": out.skipped}
