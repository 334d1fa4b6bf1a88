"""Task models: a backbone plus its task head, built, saved and loaded by registry name, hub id or directory.

A codeintel checkpoint is a directory with the backbone's ``save_pretrained`` output (safetensors), the
tokenizer, ``head.safetensors`` for task heads outside the backbone, and ``codeintel.json`` describing the
task. Any plain ``save_pretrained`` directory also loads, as a backbone. Which backbone variant a task runs
on, per family, is :data:`TASK_VARIANTS`; the backbone layer builds that variant and knows no task.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeintel.backbones import loading as backbones
from codeintel.backbones.table import BackboneSpec
from codeintel.errors import CheckpointError, ConfigError, UnknownNameError

META_FILE = "codeintel.json"
HEAD_FILE = "head.safetensors"
ENCODERS = {"roberta": "encoder", "t5": "encoder-decoder", "t5-embedding": "embedding"}
TASK_VARIANTS: dict[str, dict[str, str]] = {  # task type -> family -> the backbone variant its head runs on
    "summarization": {"roberta": "encoder-decoder", "t5": "encoder-decoder"},
    "language-modeling": {"t5": "encoder-decoder"},  # the T5 decoder is the LM (constant encoder input)
    "clone-detection": {"roberta": "encoder", "t5": "encoder-decoder"},  # CodeT5 reads the decoder's last </s>
    "clone-retrieval": ENCODERS,
    "code-search": ENCODERS,
}


def supported_tasks(spec_or_family: BackboneSpec | str) -> tuple[str, ...]:
    """The task types a backbone (or family) has a head for."""
    family = spec_or_family if isinstance(spec_or_family, str) else spec_or_family.family
    return tuple(t for t, by_family in TASK_VARIANTS.items() if family in by_family)


def variant_for(family: str, task: str, name: str | None = None) -> str:
    """The backbone variant ``task`` runs on for ``family``; a clear error where the family has no head for it."""
    if task not in TASK_VARIANTS:
        raise UnknownNameError("task type", task, TASK_VARIANTS)
    by_family = TASK_VARIANTS[task]
    if family not in by_family:
        if name:
            raise ConfigError(f"{name} has no head for {task!r}; it supports {', '.join(supported_tasks(family))}.")
        if family == "t5-embedding":
            raise ConfigError(f"the embedding family only supports clone-retrieval, not {task!r}; "
                              "use a seq2seq backbone such as codet5-small.")
        raise ConfigError(f"{task} needs a T5-family backbone (e.g. tiny-codet5); the {family} family has no head "
                          "for it.")
    return by_family[family]


@dataclass
class Loaded:
    """A task model ready to train or evaluate."""

    model: Any            # torch.nn.Module: an HF seq2seq model, or a codeintel head wrapper
    tokenizer: Any
    task: str
    family: str
    origin: str           # what the user passed
    spec_name: str | None = None


def load_model(name_or_dir: str, task: str | None = None, *, pretrained: bool = True, dropout: float = 0.1,
               tokenizer: str | None = None, allow_pickle: bool = False) -> Loaded:
    """Load a task model from a registry name, a hub id or a local directory.

    Args:
        name_or_dir: ``codet5-small``, ``Salesforce/codet5-small`` or a checkpoint directory.
        task: a task type (``summarization``, ``clone-detection``, ``clone-retrieval``, ``code-search``,
            ``language-modeling``). A codeintel checkpoint knows its task; a mismatch is an error.
        pretrained: for registry entries with published weights, download them (False: random init).
        dropout: dropout of fresh classification heads.
        tokenizer: a tokenizer other than the backbone's (``tokompiler`` or a tokenizer directory); only for
            models built from a config (tiny presets, or ``pretrained=False``), whose vocabulary it then sizes.
        allow_pickle: also load pickle weights (``pytorch_model.bin``); by default only safetensors load.
    """
    from codeintel.tasks.heads import wrap

    src = backbones.resolve(name_or_dir)
    if src.kind == "dir":
        return _load_dir(Path(src.ref), task, allow_pickle)
    task = task or "summarization"
    spec = src.spec or backbones.hub_spec(src.ref)
    variant = variant_for(spec.family, task, spec.name)
    if tokenizer:
        if pretrained and not spec.is_tiny:
            raise ConfigError(f"a tokenizer override needs a model built from its config: {spec.name} has published "
                              "weights for its own vocabulary. Use a tiny preset or pretrained=false.")
        tok = backbones.override_tokenizer(tokenizer)
        spec = backbones.resized(spec, tok)
    else:
        tok = backbones.load_tokenizer(name_or_dir)
    backbone = backbones.build_backbone(spec, variant, tok, pretrained, allow_pickle)
    model = wrap(backbone, spec.family, task, tok, dropout=dropout)
    return Loaded(model, tok, task, spec.family, name_or_dir, spec.name if src.spec else None)


def read_meta(path: str | Path) -> dict[str, Any]:
    """A checkpoint directory's ``codeintel.json`` ({} for a plain ``save_pretrained`` directory)."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CheckpointError(f"{meta} is not valid JSON (truncated or edited?); restore it from a copy, or delete "
                              "it to load the directory as a plain backbone.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{meta} must hold a JSON object, not {type(data).__name__}.")
    return data


def _load_dir(path: Path, task: str | None, allow_pickle: bool = False) -> Loaded:
    from safetensors import SafetensorError

    from codeintel.tasks.heads import load_head, wrap

    meta = read_meta(path)
    if meta.get("task") == "pretraining":  # a backbone from `codeintel pretrain`: good for any task
        task = task or "summarization"
        family = meta["family"]
        cls_name = backbones.backbone_class(family, variant_for(family, task))
    elif meta:
        missing = [k for k in ("task", "family", "backbone_class") if not isinstance(meta.get(k), str)]
        if missing:
            raise CheckpointError(f"{path}/{META_FILE} lacks {', '.join(missing)}; it was not written by codeintel "
                                  "or was edited.")
        known = {c for by_variant in backbones.VARIANTS.values() for c in by_variant.values()}
        if meta["family"] not in backbones.VARIANTS or meta["backbone_class"] not in known:
            raise CheckpointError(f"{path}/{META_FILE} names family {meta['family']!r} / class "
                                  f"{meta['backbone_class']!r}; known: {sorted(backbones.VARIANTS)} / {sorted(known)}.")
        if task and task != meta["task"]:
            raise ConfigError(f"{path} is a {meta['task']!r} checkpoint, not {task!r}; pass --task {meta['task']}.")
        task, family, cls_name = meta["task"], meta["family"], meta["backbone_class"]
    else:
        task = task or "summarization"
        family, fixed = backbones.family_of_dir(path)
        cls_name = fixed or backbones.backbone_class(family, variant_for(family, task))
    tokenizer = backbones.load_tokenizer(str(path))
    backbone = backbones.load_backbone(path, cls_name, allow_pickle)
    if cls_name == "RobertaModel" and task == "summarization":
        from codeintel.backbones import roberta

        backbone = roberta.build_seq2seq(backbone, backbones.special_ids(tokenizer))
    model = wrap(backbone, family, task, tokenizer, dropout=meta.get("dropout", 0.1))
    if meta.get("has_head"):
        try:
            load_head(model, path / HEAD_FILE)
        except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
            raise CheckpointError(f"{path}/{HEAD_FILE} could not be loaded ({str(exc).splitlines()[0][:160]}); "
                                  "the task head is missing or damaged. Restore it, or re-train.") from None
    return Loaded(model, tokenizer, task, family, str(path), meta.get("spec_name"))


def write_checkpoint(loaded: Loaded, out: Path, extra_meta: dict[str, Any] | None = None) -> None:
    """The checkpoint's files (backbone, tokenizer, head, ``codeintel.json``) into the directory ``out``."""
    from codeintel.tasks.heads import backbone_of, save_head

    backbone = backbone_of(loaded.model)
    backbones.save_backbone(backbone, loaded.tokenizer, out)
    has_head = save_head(loaded.model, out / HEAD_FILE)
    meta = {"task": loaded.task, "family": loaded.family, "backbone_class": type(backbone).__name__,
            "spec_name": loaded.spec_name, "origin": loaded.origin, "has_head": has_head, **(extra_meta or {})}
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def save_model(loaded: Loaded, out_dir: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint to the new directory ``out_dir``, atomically (a temporary sibling, then renamed).

    An existing ``out_dir`` is refused: a checkpoint is never replaced in place (run directories keep
    versions and move a link, see :mod:`codeintel.recipes.rundir`).
    """
    out = Path(out_dir)
    if out.exists() or out.is_symlink():
        raise CheckpointError(f"{out} already exists; codeintel writes checkpoints only to new directories. "
                              "Choose another path or move the old one away.")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():  # this process's own leftover from an interrupted save
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        write_checkpoint(loaded, tmp, extra_meta)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_encoder(name_or_dir: str):
    """(encoder, tokenizer, family) of a registry name, hub id or directory, for token-level heads: the
    RoBERTa body, or a ``T5EncoderModel`` holding a T5 model's encoder weights."""
    from transformers import T5EncoderModel

    from codeintel.tasks.heads import backbone_of

    loaded = load_model(name_or_dir, "clone-retrieval")
    if loaded.family not in ("roberta", "t5"):
        raise ConfigError(f"{name_or_dir} is a {loaded.family} model; token-level heads take a RoBERTa-family "
                          "(codebert-base, graphcodebert-base, tiny-codebert) or T5 (codet5-small, tiny-codet5) "
                          "backbone.")
    backbone = backbone_of(loaded.model)
    if loaded.family == "t5" and not isinstance(backbone, T5EncoderModel):
        encoder = T5EncoderModel(backbone.config)
        missing, _ = encoder.load_state_dict(backbone.state_dict(), strict=False)
        if missing:
            raise CheckpointError(f"{name_or_dir}: its encoder lacks {missing[:3]}.")
        backbone = encoder
    return backbone, loaded.tokenizer, loaded.family
