"""Task models: a backbone plus its task head, built, saved and loaded by registry name, hub id or directory.

A codeintel checkpoint is a directory with the backbone's ``save_pretrained`` output (safetensors), the
tokenizer, ``head.safetensors`` for task heads outside the backbone, and ``codeintel.json`` describing the
task. Any plain ``save_pretrained`` directory also loads, as a backbone. Which backbone variant a task runs
on, per family, is the task type's ``variants``; the backbone layer builds that variant and knows no task.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeintel.backbones import loading as backbones
from codeintel.backbones.table import BackboneSpec
from codeintel.errors import CheckpointError, ConfigError, UnknownNameError
from codeintel.io import parse_json
from codeintel.tasks.types import DEFAULT_TYPE, ENCODER_TYPE, TASK_TYPES, task_type

META_FILE = "codeintel.json"
HEAD_FILE = "head.safetensors"
def supported_tasks(spec_or_family: BackboneSpec | str) -> tuple[str, ...]:
    """The task types a backbone (or family) has a head for."""
    family = spec_or_family if isinstance(spec_or_family, str) else spec_or_family.family
    return tuple(t for t in TASK_TYPES if task_type(t).supports(family))


def variant_for(family: str, task: str, name: str | None = None) -> str:
    """The backbone variant ``task`` runs on for ``family``; a clear error where the family has no head for it."""
    by_family = task_type(task).variants  # an unknown type: the registry's did-you-mean error
    if family not in by_family:
        from codeintel.backbones.family import family as family_of

        what = name or f"the {family} family"
        raise ConfigError(f"{what} has no head for {task!r}; it supports {', '.join(supported_tasks(family))}"
                          f"{family_of(family).hint}.")
    return by_family[family]


@dataclass
class Loaded:
    """A task model ready to train or evaluate, and the adapters in it.

    Adapters (AdapterHub or PEFT, see :mod:`codeintel.peft_adapters.core`) go into the pretrained part of the
    model (the RoBERTa encoder, or the whole T5), never into a fresh task head::

        model = codeintel.load_model("tiny-codebert", "clone-detection")
        model.load_adapter("runs/ner-tiny-codebert/adapter")     # active, with its head
        model.add_adapter("task", "lora-r8")
        model.set_active(["ner", "task"])
        model.save_adapter("task", "out/task-adapter")
    """

    model: Any            # torch.nn.Module: an HF seq2seq model, or a codeintel head wrapper
    tokenizer: Any
    task: str
    family: str
    origin: str           # what the user passed
    spec_name: str | None = None
    build: dict[str, Any] = field(default_factory=dict)   # how the backbone was built (pretrained, tokenizer)
    adapters: Any = None  # a codeintel.peft_adapters.core.AdapterSet once an adapter is added
    task_adapter: str | None = None  # the adapter trained for this task: its saved copy carries the task head

    # ---- adapters from Python
    def adapter_set(self):
        """The :class:`~codeintel.peft_adapters.core.AdapterSet` of this model (created on first use)."""
        if self.adapters is None:
            from codeintel.peft_adapters.core import AdapterSet

            self.adapters = AdapterSet(adapter_host(self.model), self.family, self.spec_name or self.origin)
        return self.adapters

    def add_adapter(self, name: str, preset: str, *, set_active: bool = True) -> str:
        """A fresh adapter of a preset (``codeintel adapters presets``: ``pfeiffer``, ``lora-r8``, ...)."""
        self.adapter_set().add(name, preset, set_active=set_active)
        return name

    def load_adapter(self, path: str | Path, name: str | None = None, *, set_active: bool = True,
                     with_head: bool = True, allow_pickle: bool = False) -> str:
        """Load an adapter directory (AdapterHub or PEFT, detected from its files); returns its name.

        It is active unless ``set_active=False``. Its head comes with it: a task head (an adapter saved from a
        model of this task) is loaded into this model's head; a token-type head is kept with the adapter.
        An NER adapter trained on a random-initialised preset brings that preset's weights (without them the
        adapter means nothing). A mismatch (family, hidden size, backbone, head) is a ``CheckpointError``.
        """
        path = Path(path)
        meta = self.adapter_set().check(path)  # family, hidden size and backbone, before any weight changes
        if (path / BASE_FILE).is_file():
            if self.origin == self.spec_name:  # a fresh random-init preset: take the weights the adapter learned on
                _load_base(self.model, path / BASE_FILE, self.spec_name or self.origin)
            else:                               # a trained model's own weights are never replaced
                import warnings

                warnings.warn(f"{path} was trained on {meta.get('backbone')}'s random-init weights (saved beside "
                              f"it); {self.origin} keeps its own weights, which the adapter has not seen.",
                              stacklevel=2)
        head = meta.get("head") or {}
        if with_head and head.get("kind") == "task" and head.get("task") != self.task:
            raise CheckpointError(f"{path} carries a {head.get('task')!r} head; this model is {self.task!r}. Load "
                                  f"it into a {head.get('task')} model, or pass with_head=False.")
        entry = self.adapter_set().load(path, name, set_active=set_active, allow_pickle=allow_pickle)
        if head.get("kind") == "task":
            if with_head:
                _load_task_head(self, path, entry.head or {})
            entry.head = None  # it lives in the model now
        return entry.name

    def set_active(self, names: list[str] | str) -> None:
        """Activate these adapters (AdapterHub ones stacked in this order, bottom first); [] turns all off."""
        self.adapter_set().set_active([names] if isinstance(names, str) else list(names))

    def save_adapter(self, name: str, out: str | Path) -> Path:
        """Write adapter ``name`` and its head to the new directory ``out`` (safetensors; atomic)."""
        aset = self.adapter_set()
        extra = {"backbone": self.spec_name or self.origin}
        kind = peft_task_type(self.family, self.task) if name == self.task_adapter else None
        if name == self.task_adapter and task_head_state(self.model):
            info = {"kind": "task", "task": self.task, "family": self.family}
            return aset.save(name, out, task_head_state(self.model), info, extra, task_type=kind)
        return aset.save(name, out, extra=extra, task_type=kind)

    def set_export_defaults(self, source_len: int, target_len: int = 0, beam_size: int = 1,
                            no_repeat_ngram_size: int = 0) -> None:
        """What plain ``transformers`` needs to use the saved checkpoint as codeintel does: the tokenizer
        truncates at ``source_len`` and returns only ``input_ids`` and ``attention_mask`` (a T5 model's
        ``generate`` refuses ``token_type_ids``), and a generating model's ``generation_config.json`` holds the
        decoding settings (new-token limit, beams, n-gram blocking, greedy)."""
        from codeintel.tasks.heads import backbone_of

        names = ["input_ids", "attention_mask"]
        self.tokenizer.model_max_length = source_len
        self.tokenizer.model_input_names = names
        self.tokenizer.init_kwargs.update(model_max_length=source_len, model_input_names=names)  # what is saved
        model = backbone_of(self.model)
        # a hub config's per-pipeline decoding (T5's "summarization": 4 beams, 200 tokens, a prefix) would
        # override generation_config.json in transformers.pipeline: the run's decoding is the one saved
        model.config.task_specific_params = None
        if target_len and model.can_generate():
            model.generation_config.update(max_new_tokens=target_len, num_beams=beam_size,
                                           early_stopping=beam_size > 1, do_sample=False,
                                           no_repeat_ngram_size=no_repeat_ngram_size)

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) parameters of the task model (backbone, adapters, head)."""
        params = list(self.model.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


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

    The model comes back in eval mode (dropout off), as ``from_pretrained`` models do; training loops switch
    it with ``model.train()``.
    """
    from codeintel.tasks.heads import wrap

    src = backbones.resolve(name_or_dir)
    if src.kind == "dir":
        loaded = _load_dir(Path(src.ref), task, allow_pickle)
        loaded.model.eval()  # as transformers' from_pretrained: dropout off until a loop calls train()
        return loaded
    task = task or DEFAULT_TYPE
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
    model = wrap(backbone, spec.family, task_type(task).head, tok, dropout=dropout).eval()
    return Loaded(model, tok, task, spec.family, name_or_dir, spec.name if src.spec else None,
                  {"pretrained": pretrained, "tokenizer": tokenizer or "",
                   "rebuildable": pretrained and not spec.is_tiny})


def wrong_task(path, saved: str, wanted: str) -> str:
    """The message for a checkpoint fine-tuned on another task than the command needs."""
    return (f"{path} is a checkpoint fine-tuned for {saved!r}, not {wanted!r}: `codeintel train` and `evaluate` "
            f"take it with --task {saved}; a command that needs a {wanted!r} model (probe, adapters train-ner, "
            "continual run, pretrain) takes a backbone: a registry name, a hub id or a `codeintel pretrain` output.")


def read_meta(path: str | Path) -> dict[str, Any]:
    """A checkpoint directory's ``codeintel.json`` ({} for a plain ``save_pretrained`` directory)."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return {}
    try:
        data = parse_json(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        reason = "nested too deeply" if str(exc) == "nested too deeply" else "truncated or edited?"
        raise CheckpointError(f"{meta} is not valid JSON ({reason}); restore it from a copy, or delete it to load "
                              "the directory as a plain backbone.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{meta} must hold a JSON object, not {type(data).__name__}.")
    return data


def _load_dir(path: Path, task: str | None, allow_pickle: bool = False) -> Loaded:
    from safetensors import SafetensorError

    from codeintel.tasks.heads import load_head, wrap

    meta = read_meta(path)
    if "adapter_run" in meta:
        return _load_adapter_run(path, meta, task, allow_pickle)
    if meta.get("task") == "pretraining":  # a backbone from `codeintel pretrain`: good for any task
        task = task or DEFAULT_TYPE
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
            raise ConfigError(wrong_task(path, meta["task"], task))
        task, family, cls_name = meta["task"], meta["family"], meta["backbone_class"]
    else:
        task = task or DEFAULT_TYPE
        family, fixed = backbones.family_of_dir(path)
        cls_name = fixed or backbones.backbone_class(family, variant_for(family, task))
    tokenizer = backbones.load_tokenizer(str(path))
    backbone = backbones.load_backbone(path, cls_name, allow_pickle)
    if cls_name == "RobertaModel" and task_type(task).generates:
        from codeintel.backbones import roberta

        backbone = roberta.build_seq2seq(backbone, backbones.special_ids(tokenizer))
    model = wrap(backbone, family, task_type(task).head, tokenizer, dropout=meta.get("dropout", 0.1))
    if meta.get("has_head"):
        try:
            load_head(model, path / HEAD_FILE)
        except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
            raise CheckpointError(f"{path}/{HEAD_FILE} could not be loaded ({str(exc).splitlines()[0][:160]}); "
                                  "the task head is missing or damaged. Restore it, or re-train.") from None
    return Loaded(model, tokenizer, task, family, str(path), meta.get("spec_name"),
                  {"pretrained": True, "tokenizer": "", "rebuildable": True})


def write_checkpoint(loaded: Loaded, out: Path, extra_meta: dict[str, Any] | None = None) -> None:
    """The checkpoint's files (backbone, tokenizer, head, ``codeintel.json``) into the directory ``out``."""
    from codeintel.tasks.heads import backbone_of, save_head

    if loaded.adapters is not None and loaded.adapters.entries:
        return _write_adapter_run(loaded, out, extra_meta)
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
    from codeintel.backbones.family import family
    from codeintel.tasks.heads import backbone_of

    loaded = load_model(name_or_dir, ENCODER_TYPE)
    encoder = family(loaded.family).token_encoder(backbone_of(loaded.model))
    if encoder is None:
        raise ConfigError(f"{name_or_dir} is a {loaded.family} model; token-level heads take a RoBERTa-family "
                          "(codebert-base, graphcodebert-base, tiny-codebert) or T5 (codet5-small, tiny-codet5) "
                          "backbone.")
    return encoder, loaded.tokenizer, loaded.family


# --------------------------------------------------------------------------- adapters in task models

ADAPTER_MODES = ("frozen", "stack", "train")
TRAINED_FILE = "trained.safetensors"
BASE_FILE = "backbone.safetensors"
BASE_DIR = "base"   # a random-initialised preset's weights, as a save_pretrained directory


def adapter_host(model) -> Any:
    """The pretrained module adapters go into: the RoBERTa encoder of a seq2seq model (its decoder is fresh),
    otherwise the backbone (a RoBERTa encoder, or the whole T5)."""
    from transformers import EncoderDecoderModel

    from codeintel.tasks.heads import backbone_of

    backbone = backbone_of(model)
    return backbone.encoder if isinstance(backbone, EncoderDecoderModel) else backbone


def task_head_state(model) -> dict[str, Any]:
    """The task model's parameters outside the adapter host (the clone head, a RoBERTa seq2seq decoder), by
    the task model's own names; {} where the model is the host (T5 summarization)."""
    host = {id(p) for p in adapter_host(model).parameters()}
    return {k: p for k, p in model.named_parameters() if id(p) not in host}


def _load_base(model, file: Path, name: str) -> None:
    """A random-initialised preset's weights saved beside its adapter, into the task model's host."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        base = load_file(str(file))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{file} is damaged ({str(exc)[:120]}).") from None
    missing, unexpected = adapter_host(model).load_state_dict(base, strict=False)
    if unexpected:
        raise CheckpointError(f"{file} does not fit {name}: it has {unexpected[:3]}.")


def _load_task_head(loaded: Loaded, path: Path, head: dict[str, Any]) -> None:
    mine = dict(loaded.model.named_parameters())
    bad = _misfits(mine, head)
    if bad or set(task_head_state(loaded.model)) - set(head):
        raise CheckpointError(f"{path}: its {loaded.task} head does not fit this model (e.g. {bad[:2]}, "
                              f"expected {sorted(task_head_state(loaded.model))[:2]}); another backbone, hidden "
                              "size or label count?")
    _copy_into(mine, head)


def _misfits(mine: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """Names in ``given`` that ``mine`` lacks or holds with another shape."""
    return [k for k, v in given.items() if k not in mine or mine[k].shape != v.shape]


def _copy_into(mine: dict[str, Any], given: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for k, v in given.items():
            mine[k].copy_(v)


def attach_for_training(loaded: Loaded, adapter: str, mode: str = "", stack_preset: str = "pfeiffer",
                        allow_pickle: bool = False) -> tuple[str, list[str]]:
    """Put ``adapter`` (a directory or a preset name) into ``loaded`` and set what trains; returns the mode
    and the trained adapters.

    A preset is a fresh task adapter (mode ``train``). A directory (an NER adapter) is ``frozen`` (the
    adapter fixed; the task head, a RoBERTa seq2seq decoder, or a T5 decoder for generation, train),
    ``stack`` (a fresh ``stack_preset`` adapter on top trains, ``Stack(ner, task)``, with the head) or
    ``train`` (the adapter trains further, with the head).
    """
    from codeintel.backbones.family import family as family_of
    from codeintel.peft_adapters.core import presets

    is_dir = Path(adapter).is_dir()
    if not is_dir and adapter not in presets():
        if Path(adapter).exists() or "/" in adapter or adapter.startswith("."):
            raise ConfigError(f"--adapter {adapter}: not an adapter directory; pass a directory with "
                              "adapter_config.json or a preset name.")
        from codeintel.peft_adapters.core import preset

        preset(adapter)  # raises the unknown-preset error with the list
    mode = mode or ("frozen" if is_dir else "train")
    if mode not in ADAPTER_MODES:
        raise UnknownNameError("adapter mode", mode, ADAPTER_MODES)
    aset = loaded.adapter_set()
    if not is_dir:
        if mode != "train":
            raise ConfigError(f"--adapter {adapter} is a preset, a fresh adapter: it can only be trained "
                              "(--adapter-mode train); frozen and stack take a trained adapter directory.")
        name, trained = loaded.add_adapter("task", adapter), ["task"]
    else:
        name = loaded.load_adapter(adapter, allow_pickle=allow_pickle)
        trained = [name]
        if mode == "stack":
            trained = [loaded.add_adapter("task", stack_preset)]
            loaded.set_active([name, "task"])
        elif mode == "frozen":
            trained = []
    loaded.task_adapter = trained[0] if trained else None
    aset.train_only(trained)  # the host frozen, the trained adapters not
    for p in task_head_state(loaded.model).values():
        p.requires_grad_(True)  # fresh task parts always train
    generator = family_of(loaded.family).generator_prefixes if task_type(loaded.task).generates else ()
    if mode == "frozen" and generator:
        for k, p in aset.host.named_parameters():  # the generator: decoder layers (not the shared embeddings)
            if k.startswith(generator) and not aset.is_adapter_param(k):
                p.requires_grad_(True)
    if not any(p.requires_grad for p in loaded.model.parameters()):
        raise ConfigError(f"--adapter-mode frozen on {loaded.task}: nothing would train ({loaded.task} has no head "
                          "outside the backbone); use --adapter-mode stack or train.")
    return mode, trained


def _write_adapter_run(loaded: Loaded, out: Path, extra_meta: dict[str, Any] | None) -> None:
    """An adapter run's checkpoint: the adapters (each in its own format, under ``adapters/``), the trained
    parameters outside them (``trained.safetensors``), the tokenizer, and how to rebuild the frozen backbone
    (its name); a random-initialised preset, which cannot be rebuilt, also gets its weights as the
    ``save_pretrained`` directory ``base/`` (which ``PeftModel`` can wrap)."""
    from safetensors.torch import save_file

    from codeintel.peft_adapters.core import _dedup
    from codeintel.tasks.heads import backbone_of

    aset = loaded.adapters
    loaded.tokenizer.save_pretrained(str(out))
    for name in aset.entries:  # each with its head: a user can load any of them into a fresh model
        loaded.save_adapter(name, out / "adapters" / name)
    state = loaded.model.state_dict()
    trained = {k for k, p in loaded.model.named_parameters() if p.requires_grad and not aset.is_adapter_param(k)}
    save_file(_dedup({k: state[k] for k in trained}), str(out / TRAINED_FILE))
    if not loaded.build.get("rebuildable", True):  # a save_pretrained directory: PeftModel can wrap it
        host = adapter_host(loaded.model)
        base = {k.replace(".base_layer.", "."): v for k, v in host.state_dict().items()
                if not aset.is_adapter_param(k)}
        (out / BASE_DIR).mkdir()
        save_file(_dedup(base), str(out / BASE_DIR / "model.safetensors"), metadata={"format": "pt"})
        host.config.save_pretrained(str(out / BASE_DIR))
    generator = backbone_of(loaded.model)
    if generator.can_generate():  # the run's decoding, for plain generate over the base and the adapter
        generator.generation_config.save_pretrained(str(out))
    meta = {"task": loaded.task, "family": loaded.family, "spec_name": loaded.spec_name, "origin": loaded.origin,
            "has_head": False,
            "adapter_run": {"backbone": _rebuildable_name(loaded), **loaded.build,
                            "adapters": list(aset.entries), "active": aset.active,
                            "task_adapter": loaded.task_adapter},
            **(extra_meta or {})}
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def peft_task_type(family_name: str, task: str) -> str | None:
    """PEFT's ``task_type`` for an adapter of ``task`` on a ``family_name`` backbone (None: no PEFT class fits):
    the family's generating class for generating tasks, feature extraction for embedding tasks."""
    from codeintel.backbones.family import FAMILIES

    kind = task_type(task)
    if kind.head == "backbone" and kind.generates:
        fam = FAMILIES.get(family_name)
        return fam.peft_task_type if fam is not None else None
    return "FEATURE_EXTRACTION" if kind.head == "embedding" else None


def _rebuildable_name(loaded: Loaded) -> str:
    """The name the backbone is rebuilt from: the registry name or hub id, or a directory's absolute path."""
    if loaded.spec_name:
        return loaded.spec_name
    return str(Path(loaded.origin).resolve()) if Path(loaded.origin).is_dir() else loaded.origin


def _load_adapter_run(path: Path, meta: dict[str, Any], task: str | None, allow_pickle: bool) -> Loaded:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    run = meta["adapter_run"]
    names = run.get("adapters") if isinstance(run, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) and n and n.replace("_", "").replace("-", "")
                                              .isalnum() for n in names):
        raise CheckpointError(f"{path}/{META_FILE}: adapter_run.adapters must list adapter names (letters, digits, "
                              f"_ and -), got {json.dumps(names)[:80]}; the file was edited or damaged.")
    if task and task != meta["task"]:
        raise ConfigError(wrong_task(path, meta["task"], task))
    backbone = str(run.get("backbone", ""))
    if Path(backbone).is_dir():   # a directory the run started from: said, as data paths a checkpoint names are
        from codeintel.log import say

        say(f"note: {path}/{META_FILE} rebuilds its frozen backbone from the directory {backbone}")
    loaded = load_model(run["backbone"], meta["task"], pretrained=run.get("pretrained", True),
                        tokenizer=run.get("tokenizer") or None, allow_pickle=allow_pickle)
    for base in (path / BASE_DIR / "model.safetensors", path / BASE_FILE):   # BASE_FILE: before 2026-12-06
        if base.is_file():
            _load_base(loaded.model, base, run["backbone"])
            break
    for name in run["adapters"]:
        loaded.load_adapter(path / "adapters" / name, name, set_active=False, allow_pickle=allow_pickle)
    loaded.set_active(run["active"])
    loaded.task_adapter = run.get("task_adapter")
    try:
        trained = load_file(str(path / TRAINED_FILE))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}/{TRAINED_FILE} is missing or damaged ({str(exc)[:120]}); restore it or "
                              "re-train.") from None
    mine = dict(loaded.model.state_dict(keep_vars=True))
    bad = _misfits(mine, trained)
    if bad:
        raise CheckpointError(f"{path}/{TRAINED_FILE} does not fit {run['backbone']}: {bad[:3]}.")
    _copy_into(mine, trained)
    loaded.model.eval()
    loaded.origin = str(path)
    return loaded
