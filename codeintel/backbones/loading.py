"""Find, build, load and save backbones and tokenizers: by registry name, hub id or local directory.

This layer knows no task. A family offers *variants* (:data:`VARIANTS`): ``encoder`` (RoBERTa),
``encoder-decoder`` (T5; RoBERTa with a fresh decoder, as CodeXGLUE's CodeBERT summarizer),
``embedding`` (the CodeT5+ encoder with its projection) and ``causal-lm`` (GPT-2; RoBERTa as a left-to-right
decoder, ``RobertaForCausalLM`` with ``is_decoder=True``); the task layer (:mod:`codeintel.tasks.models`)
asks for the variant its head runs on. Any plain ``save_pretrained`` directory of these model types loads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeintel.backbones.family import VARIANTS
from codeintel.backbones.table import BACKBONES, BackboneSpec, get_backbone
from codeintel.errors import CheckpointError, ConfigError, HubError
from codeintel.hub import hub_path
from codeintel.io import parse_json

MODEL_TYPE_FAMILY = {"roberta": "roberta", "t5": "t5", "codet5p_embedding": "t5-embedding",
                     "encoder-decoder": "roberta", "gpt2": "gpt2"}


@dataclass
class Source:
    """Where a model comes from: a registry spec, a hub id or a local directory."""

    kind: str  # "spec" | "hub" | "dir"
    ref: str
    spec: BackboneSpec | None = None


def guard_directory(path: str | Path, what: str = "checkpoint") -> None:
    """Refuse a checkpoint (or adapter) directory that would make codeintel read outside it: a symbolic link
    inside it whose target lies outside the directory (a ``tokenizer.json`` linked to ``/etc/passwd``) is a
    CheckpointError naming the link, raised before any of its files is opened. A ``config.json`` that names
    remote code (``auto_map``) is said in a warning: codeintel never runs it (``trust_remote_code`` stays off),
    the built-in class loads the weights. The directory itself may be a link (a run's ``best``), and a Hugging
    Face cache snapshot's links into its repository's ``blobs/`` are inside the download."""
    root = os.path.realpath(path)
    # a Hugging Face cache snapshot (models--owner--name/snapshots/<rev>/) links its files into the repository's
    # own blobs/ folder: inside the download, so allowed
    parent = os.path.dirname(root)
    blobs = os.path.join(os.path.dirname(parent), "blobs") if os.path.basename(parent) == "snapshots" else None
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            entry = os.path.join(dirpath, name)
            if not os.path.islink(entry):
                continue
            target = os.path.realpath(entry)
            if blobs and os.path.commonpath([blobs, target]) == blobs:
                continue
            if os.path.commonpath([root, target]) != root:
                raise CheckpointError(f"{Path(path) / os.path.relpath(entry, root)} is a symbolic link to {target}, "
                                      f"outside the {what}; codeintel reads only files inside a {what}. Replace "
                                      "the link with the file itself.")
    parsed: dict[str, Any] = {}
    for name in sorted(os.listdir(root)):
        # the JSON files Python's parser reads (configs, cards, vocabularies; tokenizer.json is read by the Rust
        # tokenizers library, which reports its own errors): a damaged one is a traceback, a RecursionError or
        # (generation_config.json) silently ignored in transformers
        file = os.path.join(root, name)
        if name.endswith(".json") and name != "tokenizer.json" and os.path.isfile(file) \
                and os.path.getsize(file) < 50_000_000:
            try:
                parsed[name] = parse_json(Path(file).read_text(encoding="utf-8", errors="replace"))
            except ValueError as exc:
                raise CheckpointError(f"{Path(path) / name} is not valid JSON ({str(exc).splitlines()[0][:120]}); "
                                      f"restore it from a copy of the {what}.") from None
    config = parsed.get("config.json")
    if isinstance(config, dict):
        auto_map = config.get("auto_map")
        if auto_map:
            from codeintel.log import say

            say(f"warning: {Path(path) / 'config.json'} names remote code (auto_map: "
                f"{json.dumps(auto_map)[:120]}); codeintel does not run it (trust_remote_code is off): the weights "
                "load into the built-in class of the model type")


def resolve(name_or_dir: str) -> Source:
    """Classify ``name_or_dir``; fail clearly on a missing directory or an unknown name (a directory is first
    checked by :func:`guard_directory`)."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        guard_directory(path)
        if not (path / "config.json").exists() and not (path / "codeintel.json").exists():  # (an adapter run has no
            # config.json of its own: codeintel.json names the backbone it rebuilds)
            raise CheckpointError(
                f"{path} is not a checkpoint: it has no config.json. Pass a directory written by "
                "`codeintel train` or by save_pretrained(), a registry name (`codeintel models`) or a hub id."
            )
        return Source("dir", str(path))
    if name_or_dir in BACKBONES:
        return Source("spec", name_or_dir, spec=BACKBONES[name_or_dir])
    looks_like_path = (name_or_dir.startswith((".", "/", "~")) or name_or_dir.count("/") > 1
                       or Path(name_or_dir.split("/")[0]).is_dir())  # `runs/missing`: a local path, not owner/name
    if path.exists() or looks_like_path:
        raise CheckpointError(f"{name_or_dir} is not a directory. Pass a checkpoint directory, a registry name "
                              "(`codeintel models`) or a hub id such as Salesforce/codet5-small.")
    if name_or_dir.count("/") == 1:
        spec = next((s for s in BACKBONES.values() if s.hf_id == name_or_dir), None)
        return Source("hub", name_or_dir, spec=spec)
    return Source("spec", name_or_dir, spec=get_backbone(name_or_dir))  # unknown: fails with suggestions


def hub_call(fn, repo_id: str, *args, **kwargs):
    """Call a ``from_pretrained``-style function; turn every unreachable-hub failure into one HubError."""
    try:
        return fn(repo_id, *args, **kwargs)
    except (OSError, ValueError) as exc:  # transformers raises OSError/EnvironmentError for missing repos
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        reason = str(exc).strip().splitlines()[0][:200]
        if kwargs.get("use_safetensors") and "safetensors" in str(exc).lower():
            raise HubError(f"{repo_id} has no safetensors weights: {reason}\ncodeintel loads safetensors by default "
                           "(a pickle file can run code when loaded); if you trust the repository, pass "
                           "allow_pickle=true.") from None
        raise HubError(
            f"could not load {repo_id!r} from the hub{' (HF_HUB_OFFLINE=1)' if offline else ''} or the local "
            f"cache: {reason}\nOn a machine with network, run `huggingface-cli download {repo_id} --local-dir DIR`, "
            "copy DIR here and pass `--model DIR` (any save_pretrained directory works). "
            "For an offline demo use a tiny preset, e.g. `--model tiny-codet5`."
        ) from None


# --------------------------------------------------------------------------- tokenizers

def shipped_tokenizer(name: str):
    """A tokenizer shipped in the hub's ``tokenizers/`` folder, as a ``PreTrainedTokenizerFast``."""
    from transformers import PreTrainedTokenizerFast

    path = hub_path("tokenizers", name, "tokenizer.json")
    if not path.exists():
        raise ConfigError(f"shipped tokenizer {name!r} not found at {path}; reinstall codeintel-hub.")
    return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   cls_token="<s>", sep_token="</s>",
                                   unk_token="<unk>", mask_token="<mask>", model_max_length=512)


def load_tokenizer(name_or_dir: str):
    """The tokenizer of a registry name, hub id or checkpoint directory."""
    is_tokenizer_dir = (Path(name_or_dir) / "tokenizer_config.json").is_file()  # a tokenizer alone, no model
    if is_tokenizer_dir:
        guard_directory(name_or_dir)
    src = Source("dir", name_or_dir) if is_tokenizer_dir else resolve(name_or_dir)
    if src.kind == "dir":
        from transformers import AutoTokenizer

        config = Path(src.ref) / "tokenizer_config.json"
        if config.is_file() and json.loads(config.read_text()).get("tokenizer_class") == "TokompilerTokenizer":
            from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

            return TokompilerTokenizer.from_pretrained(src.ref)
        try:
            return AutoTokenizer.from_pretrained(src.ref)
        # no tokenizer.json: the slow-tokenizer path fails with ImportError (no protobuf) or, with protobuf
        # installed, AttributeError/TypeError deep inside transformers' converter
        # a damaged tokenizer.json: the tokenizers library raises a bare Exception ("expected value at line 1")
        except Exception as exc:  # noqa: BLE001 - any failure to build a local tokenizer is a damaged checkpoint
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise CheckpointError(f"{src.ref} has no usable tokenizer ({type(exc).__name__}: {reason}); the "
                                  "tokenizer files are missing or damaged (truncated copy?). Restore them, or save "
                                  "one with tokenizer.save_pretrained(DIR).") from None
    if src.spec is not None and src.spec.is_tiny:
        return shipped_tokenizer(src.spec.tokenizer)
    from transformers import AutoTokenizer

    return hub_call(AutoTokenizer.from_pretrained, src.spec.tokenizer if src.spec else src.ref)


def special_ids(tokenizer) -> dict[str, int]:
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id}
    if ids["pad"] is None:  # GPT-2's own tokenizer has no padding token; its end-of-text pads (masked anyway)
        ids["pad"] = ids["eos"]
    if ids["bos"] is None:  # T5-style tokenizers have no <s>; decoding starts from <pad>
        ids["bos"] = ids["pad"]
    return ids


# --------------------------------------------------------------------------- backbones

def backbone_class(family: str, variant: str) -> str:
    """The transformers class of ``family``'s ``variant``; a family without it is a ConfigError."""
    if family not in VARIANTS:
        raise ConfigError(f"unknown family {family!r}; known: {', '.join(VARIANTS)}.")
    if variant not in VARIANTS[family]:
        raise ConfigError(f"the {family} family has no {variant} variant; it offers {', '.join(VARIANTS[family])}.")
    return VARIANTS[family][variant]


def model_classes() -> dict[str, Any]:
    """Class name -> class, for every variant of every family (imports transformers)."""
    from transformers import (
        EncoderDecoderModel,
        GPT2LMHeadModel,
        RobertaForCausalLM,
        RobertaModel,
        T5ForConditionalGeneration,
    )

    from codeintel.backbones.t5 import CodeT5pEmbeddingModel

    return {"T5ForConditionalGeneration": T5ForConditionalGeneration, "RobertaModel": RobertaModel,
            "EncoderDecoderModel": EncoderDecoderModel, "CodeT5pEmbeddingModel": CodeT5pEmbeddingModel,
            "RobertaForCausalLM": RobertaForCausalLM, "GPT2LMHeadModel": GPT2LMHeadModel}


def config_for(spec: BackboneSpec):
    """The transformers config of a registry entry (no download)."""
    from codeintel.backbones import gpt2, roberta, t5

    if spec.family == "roberta":
        return roberta.config_from(spec.config)
    if spec.family == "gpt2":
        return gpt2.config_from(spec.config)
    if spec.family == "t5":
        return t5.config_from(spec.config)
    return t5.embedding_config_from(spec.config, spec.extra.get("embed_dim", t5.EMBED_DIM))


def build_backbone(spec: BackboneSpec, variant: str, tokenizer, pretrained: bool, allow_pickle: bool = False):
    """``spec``'s ``variant``: random-initialised from the spec's config, or the published weights
    (safetensors only unless ``allow_pickle``; see :func:`weights_kwargs`)."""
    from codeintel.backbones import roberta, t5

    cls_name = backbone_class(spec.family, variant)
    if cls_name == "RobertaForCausalLM":  # the encoder's weights (and MLM head, where published) as a decoder
        from transformers import RobertaForCausalLM

        if pretrained and not spec.is_tiny:
            return hub_call(RobertaForCausalLM.from_pretrained, spec.hf_id, is_decoder=True,
                            **weights_kwargs(allow_pickle))
        config = config_for(spec)
        config.is_decoder = True
        return RobertaForCausalLM(config)
    if spec.family == "roberta":
        if pretrained and not spec.is_tiny:
            from transformers import RobertaModel

            encoder = hub_call(RobertaModel.from_pretrained, spec.hf_id, **weights_kwargs(allow_pickle))
        else:
            encoder = roberta.build_encoder(config_for(spec))
        return roberta.build_seq2seq(encoder, special_ids(tokenizer)) if cls_name == "EncoderDecoderModel" else encoder
    cls = model_classes()[cls_name]
    if pretrained and not spec.is_tiny:
        if cls_name == "CodeT5pEmbeddingModel":
            from huggingface_hub import hf_hub_download

            cfg_file = hub_call(hf_hub_download, spec.hf_id, "config.json")
            config = t5.embedding_config_from(json.loads(Path(cfg_file).read_text()), t5.EMBED_DIM)
            return hub_call(cls.from_pretrained, spec.hf_id, config=config, **weights_kwargs(allow_pickle))
        return hub_call(cls.from_pretrained, spec.hf_id, **weights_kwargs(allow_pickle))
    return cls(config_for(spec))


def count_parameters(spec: BackboneSpec) -> int:
    """Parameters of a registry entry's published architecture, built on the meta device (no memory, no
    download). Tied weights count once, as in the published figures."""
    import torch

    cls_name = next(iter(VARIANTS[spec.family].values()))  # the published architecture
    with torch.device("meta"):
        model = model_classes()[cls_name](config_for(spec))
    return sum(p.numel() for p in model.parameters())


def hub_spec(repo_id: str) -> BackboneSpec:
    """An ad-hoc table entry for a hub id that is not in the registry, its family read from config.json."""
    from huggingface_hub import hf_hub_download

    config = json.loads(Path(hub_call(hf_hub_download, repo_id, "config.json")).read_text())
    family = MODEL_TYPE_FAMILY.get(config.get("model_type"))
    if family is None or config.get("model_type") == "encoder-decoder":
        raise ConfigError(f"{repo_id} is a {config.get('model_type')!r} model; codeintel loads the model types "
                          f"{sorted(k for k in MODEL_TYPE_FAMILY if k != 'encoder-decoder')}.")
    return BackboneSpec(repo_id, family, repo_id, config, repo_id)


def family_of_dir(path: Path) -> tuple[str, str | None]:
    """(family, class name if fixed by the checkpoint) of a plain ``save_pretrained`` directory."""
    mt = json.loads((path / "config.json").read_text()).get("model_type")
    if mt not in MODEL_TYPE_FAMILY:
        raise CheckpointError(f"{path} holds a {mt!r} model; supported: {sorted(MODEL_TYPE_FAMILY)}.")
    return MODEL_TYPE_FAMILY[mt], "EncoderDecoderModel" if mt == "encoder-decoder" else None


def weights_kwargs(allow_pickle: bool) -> dict[str, Any]:
    """``from_pretrained`` arguments for the weight formats codeintel reads: safetensors only by default (a
    pickle file can run code when loaded); ``allow_pickle=True`` also accepts ``pytorch_model.bin``."""
    return {} if allow_pickle else {"use_safetensors": True}


def load_backbone(path: str | Path, cls_name: str, allow_pickle: bool = False):
    """A backbone of class ``cls_name`` from a ``save_pretrained`` directory (unused weights stay quiet).

    Only safetensors weights load unless ``allow_pickle``; a directory with pickle weights only is a clear error.
    """
    from safetensors import SafetensorError

    path = Path(path)
    if not allow_pickle and not any(path.glob("*.safetensors")) and any(path.glob("*.bin")):
        raise CheckpointError(f"{path} holds pickle weights only ({', '.join(p.name for p in path.glob('*.bin'))}); "
                              "codeintel loads safetensors by default, because loading a pickle can run code. If you "
                              "trust the file, pass allow_pickle=true (or convert it with save_pretrained).")
    cls = model_classes()[cls_name]
    kwargs = weights_kwargs(allow_pickle)
    if cls_name == "CodeT5pEmbeddingModel":
        from codeintel.backbones.t5 import EMBED_DIM, embedding_config_from

        kwargs["config"] = embedding_config_from(json.loads((path / "config.json").read_text()), EMBED_DIM)
    if cls_name == "RobertaForCausalLM":
        kwargs["is_decoder"] = True
    try:
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # e.g. a pre-training checkpoint's MLM head, unused by an encoder
        try:
            return cls.from_pretrained(str(path), **kwargs)
        finally:
            hf_logging.set_verbosity(level)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"{path} could not be loaded as {cls_name}: {reason}. The weights are missing or "
                              "damaged (truncated copy?); restore them or re-train.") from None


def save_backbone(backbone, tokenizer, out: Path) -> None:
    """``save_pretrained`` (safetensors) of the backbone and its tokenizer into ``out``."""
    backbone.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))


def override_tokenizer(name: str):
    """``tokompiler`` or ``tokompiler:LANG`` (default c; language-modeling data sets it per file), or a directory."""
    if name.split(":")[0] == "tokompiler":
        from codeintel.structure.parsing import canonical
        from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

        return TokompilerTokenizer(lang=canonical(name.split(":", 1)[1]) if ":" in name else "c")
    return load_tokenizer(name)


def resized(spec: BackboneSpec, tok) -> BackboneSpec:
    """The spec with its vocabulary and special ids taken from ``tok``."""
    import dataclasses

    ids = special_ids(tok)
    fields = {"vocab_size": len(tok), "pad_token_id": ids["pad"], "eos_token_id": ids["eos"]}
    if spec.family in ("roberta", "gpt2"):
        fields["bos_token_id"] = ids["bos"]
    else:
        fields["decoder_start_token_id"] = ids["pad"]
    return dataclasses.replace(spec, config={**spec.config, **fields})
