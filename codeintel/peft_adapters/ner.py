"""NER adapters: a bottleneck adapter (AdapterHub ``SeqBnConfig``) in every layer of a frozen encoder, and
a token-type classification head on its last hidden states.

Both families: RoBERTa (CodeBERT, GraphCodeBERT, tiny-codebert) label their own tokens; T5 (CodeT5,
CodeT5+, tiny-codet5) label the encoder's tokens through a ``T5EncoderModel`` that shares the encoder
weights. Measured facts of adapters 1.3.0 this module is built around (each has a test):

- AdapterHub has no ``tagging`` head for T5, so the head is ours (one linear layer) for both families;
- ``save_adapter(use_safetensors=True)`` with a head on T5 fails on the shared embedding tensors, so the
  adapter is saved without a head and the head goes to ``head.safetensors`` beside it;
- a whole-model ``save_pretrained`` reloads with the adapter re-initialised, and a reloaded model has no
  active adapter: only the adapter is saved, and loading always activates it.

An adapter directory: ``adapter_config.json`` + ``adapter.safetensors`` (AdapterHub's files),
``head.safetensors``, ``codeintel-adapter.json`` (backbone, family, hidden size, labels, reduction factor,
metrics; the file every codeintel adapter directory has, :mod:`codeintel.peft_adapters.core`) and a
``README.md`` card. The frozen backbone is not copied: it is rebuilt from the name it names — except a
random-initialised preset (``tiny-*``), which cannot be rebuilt, so its weights go to
``backbone.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codeintel.backbones.family import family as family_of
from codeintel.errors import CheckpointError
from codeintel.io import parse_json
from codeintel.peft_adapters.core import META

NAME = "ner"


@dataclass
class NerModel:
    """An encoder with the ``ner`` adapter active, and the token-type head."""

    encoder: nn.Module
    head: nn.Linear
    tokenizer: Any
    backbone: str                     # what the encoder was loaded from (registry name, hub id, directory)
    family: str
    labels: tuple[str, ...]
    reduction_factor: int

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, L, H)
        return self.head(hidden)                                                                     # (B, L, C)

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) parameter counts: the adapter and the head against everything."""
        mods = [self.encoder, self.head]
        trainable = sum(p.numel() for m in mods for p in m.parameters() if p.requires_grad)
        return trainable, sum(p.numel() for m in mods for p in m.parameters())


def build(encoder: nn.Module, tok, family: str, name: str, labels: tuple[str, ...],
          reduction_factor: int = 16) -> NerModel:
    """A fresh ``ner`` adapter (trainable) in every layer of ``encoder`` (loaded from ``name``; frozen), and a
    fresh head."""
    import adapters
    from adapters import SeqBnConfig

    from codeintel.errors import ConfigError

    hidden = family_of(family).hidden_size(encoder.config)
    if hidden // reduction_factor < 1:
        raise ConfigError(f"reduction_factor={reduction_factor} leaves no bottleneck in {name}'s {hidden}-wide layers "
                          f"(hidden size // reduction_factor = 0); pass reduction_factor={hidden} or less.")
    adapters.init(encoder)
    encoder.add_adapter(NAME, config=SeqBnConfig(reduction_factor=reduction_factor))
    encoder.train_adapter(NAME)  # freezes everything else and activates the adapter
    return NerModel(encoder, nn.Linear(hidden, len(labels)), tok, name, family, tuple(labels), reduction_factor)


def save(model: NerModel, out: Path, extra: dict[str, Any] | None = None) -> None:
    """Write the adapter directory (see the module docstring); ``out`` must exist and be empty."""
    from safetensors.torch import save_file

    from codeintel.backbones.loading import resolve

    model.encoder.save_adapter(str(out), NAME, with_head=False, use_safetensors=True)
    src = resolve(model.backbone)
    if src.spec is not None and src.spec.is_tiny:  # random init: the backbone cannot be rebuilt from its name
        added = (".adapters.", "prompt_tuning.", "invertible_adapters.", "adapter_fusion", "shared_parameters")
        base = {k: v.detach().clone().contiguous() for k, v in model.encoder.state_dict().items()
                if not any(a in k for a in added)}  # what adapters.init added is not the backbone
        save_file(base, str(out / "backbone.safetensors"))
    save_file({k: v.detach().contiguous() for k, v in model.head.state_dict().items()}, str(out / "head.safetensors"))
    hidden = model.head.in_features
    meta = {"format": "codeintel-adapter", "kind": "ner", "name": NAME, "library": "adapterhub",
            "backbone": model.backbone, "family": model.family, "hidden_size": hidden,
            "head": {"kind": "token-types", "labels": list(model.labels)}, "labels": list(model.labels),
            "reduction_factor": model.reduction_factor, **(extra or {})}
    (out / META).write_text(json.dumps(meta, indent=2) + "\n")


def read_meta(path: str | Path) -> dict[str, Any]:
    """An NER adapter directory's ``codeintel-adapter.json``."""
    try:
        meta = parse_json((Path(path) / META).read_text())
        if meta.get("kind") != "ner":
            raise ValueError
        return meta
    except (OSError, ValueError, AttributeError):
        raise CheckpointError(f"{path} is not a codeintel NER adapter (no readable {META}); train one with "
                              "`codeintel adapters train-ner`.") from None


def attach(path: str | Path, encoder: nn.Module, tok, family: str, backbone: str) -> NerModel:
    """The adapter directory ``path`` on ``encoder`` (loaded from ``backbone``): adapter active, head loaded."""
    import adapters
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    hidden = family_of(family).hidden_size(encoder.config)
    if family != meta["family"] or hidden != meta["hidden_size"]:
        raise CheckpointError(f"{path} was trained on a {meta['family']} backbone with hidden size "
                              f"{meta['hidden_size']}; {backbone} is {family} with {hidden}.")
    if (path / "backbone.safetensors").is_file():  # a random-init preset's weights, saved with the adapter
        try:
            base = load_file(str(path / "backbone.safetensors"))
        except (OSError, SafetensorError) as exc:
            raise CheckpointError(f"{path}/backbone.safetensors is damaged ({str(exc)[:120]}).") from None
        missing, unexpected = encoder.load_state_dict(base, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{path}/backbone.safetensors does not fit {backbone}: "
                                  f"{(missing or unexpected)[:3]}.")
    adapters.init(encoder)
    try:
        encoder.load_adapter(str(path), load_as=NAME, set_active=True, use_safetensors=True)
        state = load_file(str(path / "head.safetensors"))
    except (OSError, SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the adapter or its head is missing or damaged ({str(exc)[:160]}).") from None
    encoder.train_adapter(NAME)  # as after training: the backbone frozen, the adapter trainable and active
    encoder.eval()
    head = nn.Linear(hidden, len(meta["labels"]))
    if set(state) != {"weight", "bias"} or state["weight"].shape != head.weight.shape:
        raise CheckpointError(f"{path}/head.safetensors does not fit {len(meta['labels'])} labels on hidden size "
                              f"{hidden}.")
    head.load_state_dict(state)
    return NerModel(encoder, head, tok, backbone, family, tuple(meta["labels"]), meta["reduction_factor"])
