"""Adapters in a backbone: AdapterHub (``adapters``) and PEFT methods side by side, presets as data, the
format of a directory detected from its contents, heads kept with their adapters.

The unit is an :class:`AdapterSet`: the adapters living in one *host*, the pretrained transformers module
they are inserted into (a ``RobertaModel``, a ``T5ForConditionalGeneration``, a ``T5EncoderModel``). Task
layers decide what the host is and what a head is; this module only knows modules and state dicts.

Files of an adapter directory:

- AdapterHub: ``adapter_config.json`` (its ``config`` block and ``model_class``) and ``adapter.safetensors``
  (written by this module with shared tensors stored once; AdapterHub's own safetensors writer fails on
  the prefix-tuning pool and on T5's shared embeddings). ``AdapterModelMixin.load_adapter`` reads it.
- PEFT: ``adapter_config.json`` (a ``peft_type`` field) and ``adapter_model.safetensors`` with PEFT's key
  names (``base_model.model.…``), so ``peft.PeftModel.from_pretrained(host, dir)`` reads it.
- ``codeintel-adapter.json`` (library, backbone, family, hidden size, head) and ``head.safetensors`` when the
  adapter has a head (the NER adapter's token-type head, or the task head an adapter was trained with).

Both formats name their config ``adapter_config.json``; :func:`detect_format` reads its fields. Weights
are safetensors; pickle files (``*.bin``) load only with ``allow_pickle=True``.

Measured facts of adapters 1.3.0 / peft 0.21 this module is built around (each has a test):
a reloaded AdapterHub model has no active adapter (loading here activates unless asked not to); an
adapter trained on a ``T5EncoderModel`` loaded into an encoder-decoder would get fresh, untrained adapters
in the decoder layers (they are left out here); PEFT's LoRA wraps AdapterHub's own LoRA-ready linear
layers, so a PEFT adapter can sit on top of AdapterHub ones.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codeintel.errors import CheckpointError, ConfigError, UnknownNameError
from codeintel.io import read_json

META = "codeintel-adapter.json"
HEAD = "head.safetensors"
HUB_WEIGHTS, HUB_PICKLE = "adapter.safetensors", "pytorch_adapter.bin"
PEFT_WEIGHTS, PEFT_PICKLE = "adapter_model.safetensors", "adapter_model.bin"
PEFT_PREFIX = "base_model.model."
LIBRARIES = ("adapterhub", "peft")
HUB_METHODS = {"seq_bn": "SeqBnConfig", "double_seq_bn": "DoubleSeqBnConfig", "prefix_tuning": "PrefixTuningConfig",
               "par_bn": "ParBnConfig", "lora": "LoRAConfig", "ia3": "IA3Config", "compacter": "CompacterConfig"}
PEFT_METHODS = {"lora": "LoraConfig", "ia3": "IA3Config", "loha": "LoHaConfig", "lokr": "LoKrConfig"}


# --------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """A named adapter architecture (a YAML file under the hub's ``adapters/`` folder)."""

    name: str
    library: str                 # adapterhub | peft
    method: str                  # a key of HUB_METHODS or PEFT_METHODS
    options: dict[str, Any]
    description: str = ""
    path: str = ""

    def config(self, family: str) -> Any:
        """The library's config object for a backbone of ``family`` (per-family option values resolved)."""
        opts = {k: (v.get(family) if isinstance(v, dict) else v) for k, v in self.options.items()}
        if any(v is None for v in opts.values()):
            missing = [k for k, v in opts.items() if v is None]
            raise ConfigError(f"adapter preset {self.name} ({self.path}) gives no {', '.join(missing)} for the "
                              f"{family} family.")
        if self.library == "peft":
            import peft

            return getattr(peft, PEFT_METHODS[self.method])(**opts)
        import adapters

        return getattr(adapters, HUB_METHODS[self.method])(**opts)


def presets() -> dict[str, Preset]:
    """Every preset under the hub's ``adapters/`` folder, by name."""
    from codeintel.config import load_yaml
    from codeintel.hub import hub_path

    found: dict[str, Preset] = {}
    for path in sorted(hub_path("adapters").glob("*.yaml")):
        raw = load_yaml(path)
        unknown = set(raw) - {"name", "description", "library", "method", "options"}
        if unknown or "name" not in raw:
            raise ConfigError(f"adapter preset {path}: needs name, library, method, options; unknown fields "
                              f"{sorted(unknown)}.")
        library, method = raw.get("library"), raw.get("method")
        methods = HUB_METHODS if library == "adapterhub" else PEFT_METHODS if library == "peft" else None
        if methods is None:
            raise UnknownNameError("adapter library", str(library), LIBRARIES, hint=f"(in {path})")
        if method not in methods:
            raise UnknownNameError(f"{library} method", str(method), methods, hint=f"(in {path})")
        found[str(raw["name"])] = Preset(str(raw["name"]), library, method, dict(raw.get("options") or {}),
                                         str(raw.get("description", "")).strip(), str(path))
    return found


def preset(name: str) -> Preset:
    table = presets()
    if name not in table:
        raise UnknownNameError("adapter preset", name, table,
                               hint="Or pass an adapter directory (`codeintel adapters presets` lists presets).")
    return table[name]


# --------------------------------------------------------------------------- formats

def detect_format(path: str | Path) -> str:
    """``adapterhub`` or ``peft``, from the fields of ``adapter_config.json`` (both formats use the name)."""
    return read_config(path)[0]


def read_config(path: str | Path) -> tuple[str, dict[str, Any]]:
    """(format, parsed ``adapter_config.json``) of an adapter directory; a clear error for anything else."""
    path = Path(path)
    cfg_file = path / "adapter_config.json"
    if not path.is_dir():
        raise CheckpointError(f"{path} is not an adapter directory (it does not exist or is a file); pass a directory "
                              "with adapter_config.json, or a preset name.")
    from codeintel.backbones.loading import guard_directory

    guard_directory(path, "adapter directory")
    if not cfg_file.is_file():
        raise CheckpointError(f"{path} has no adapter_config.json; it is not an AdapterHub or PEFT adapter.")
    cfg = read_json(cfg_file, CheckpointError)
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{cfg_file} must hold a JSON object.")
    if "peft_type" in cfg:
        check_peft_config(cfg_file, cfg)
        return "peft", cfg
    if isinstance(cfg.get("config"), dict) and ("model_class" in cfg or "version" in cfg):
        return "adapterhub", cfg
    raise CheckpointError(f"{cfg_file} is neither AdapterHub's (a 'config' object and 'model_class') nor PEFT's "
                          "(a 'peft_type' field).")


def check_peft_config(cfg_file: Path, cfg: dict[str, Any]) -> None:
    """A PEFT ``adapter_config.json`` whose values PEFT itself would take: a known ``peft_type``, every key whose
    default in PEFT's config class is a number or a flag holding one (PEFT's dataclasses check no types: ``r:
    "abc"`` loads and fails later inside the layers), a rank ``r`` >= 1, ``target_modules`` a name or a list of
    names. One CheckpointError naming the file and the key."""
    import dataclasses
    import math

    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    kinds = {getattr(k, "value", k): cls for k, cls in PEFT_TYPE_TO_CONFIG_MAPPING.items()}
    kind = cfg["peft_type"]
    if kind not in kinds:
        raise CheckpointError(f"{cfg_file}: peft_type {kind!r} is not a PEFT method this peft knows "
                              f"({', '.join(sorted(map(str, kinds)))}).")
    # only the fields declared plainly as int, float or bool (not a union such as init_lora_weights' bool | str)
    plain = {f.name: getattr(f.type, "__name__", f.type) for f in dataclasses.fields(kinds[kind])}
    for key, value in cfg.items():
        if plain.get(key) == "bool":
            ok, what = isinstance(value, bool), "true or false"
        elif plain.get(key) == "int":
            ok, what = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif plain.get(key) == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            what = "a finite number"
        else:
            continue
        if not ok:
            raise CheckpointError(f"{cfg_file}: {key} is {value!r}; {kinds[kind].__name__} takes {what}.")
    if plain.get("r") == "int" and "r" in cfg and cfg["r"] < 1:
        raise CheckpointError(f"{cfg_file}: r is {cfg['r']}; the rank must be at least 1.")
    targets = cfg.get("target_modules")
    if not (targets is None or isinstance(targets, str)
            or isinstance(targets, list) and all(isinstance(t, str) for t in targets)):
        raise CheckpointError(f"{cfg_file}: target_modules is {targets!r}; PEFT takes a module name (or pattern) "
                              "or a list of names.")


def read_meta(path: str | Path) -> dict[str, Any]:
    """A directory's ``codeintel-adapter.json`` ({} for a plain AdapterHub or PEFT directory)."""
    f = Path(path) / META
    if not f.is_file():
        return {}
    meta = read_json(f, CheckpointError)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{f} must hold a JSON object.")
    return meta


def _weights(path: Path, names: tuple[str, str], allow_pickle: bool) -> dict[str, torch.Tensor]:
    """The adapter's tensors: safetensors, or (only with ``allow_pickle``) the pickle file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    safe, pickle = (path / n for n in names)
    try:
        if safe.is_file():
            return load_file(str(safe))
        if pickle.is_file():
            if not allow_pickle:
                raise CheckpointError(f"{path} holds only pickle weights ({pickle.name}), which can run code when "
                                      "loaded; convert them to safetensors, or pass allow_pickle=True if you trust "
                                      "the source.")
            return torch.load(pickle, map_location="cpu", weights_only=True)
    except (OSError, SafetensorError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"{path}: the adapter weights are damaged or truncated "
                              f"({str(exc).splitlines()[0][:120]}); restore them from a copy.") from None
    raise CheckpointError(f"{path} has no adapter weights ({safe.name}).")


def _dedup(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Tensors that share storage stored once (the shortest name kept), contiguous, on the CPU."""
    by_ptr: dict[tuple[int, int, tuple], str] = {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key not in by_ptr or len(k) < len(by_ptr[key]):
            by_ptr[key] = k
    return {k: state[k].detach().cpu().contiguous() for k in sorted(by_ptr.values())}


def hidden_size(module: nn.Module) -> int:
    cfg = module.config
    return getattr(cfg, "d_model", None) or cfg.hidden_size


# --------------------------------------------------------------------------- the set of adapters in a host

@dataclass
class Entry:
    name: str
    library: str
    source: str                                   # a preset name or the directory it was loaded from
    head: dict[str, torch.Tensor] | None = None   # the adapter's own head (e.g. token types), if any
    meta: dict[str, Any] = field(default_factory=dict)   # codeintel-adapter.json of its directory


class AdapterSet:
    """The adapters inserted into ``host`` (a transformers model of ``family``, built from ``backbone``).

    ``enc_layers``: for an encoder-decoder host, its encoder's layer count (AdapterHub numbers the decoder's
    layers after the encoder's; an encoder-only adapter leaves those out).
    """

    def __init__(self, host: nn.Module, family: str, backbone: str) -> None:
        self.host, self.family, self.backbone = host, family, backbone
        self.entries: dict[str, Entry] = {}
        self.active: list[str] = []
        self.encoder_decoder = bool(getattr(host.config, "is_encoder_decoder", False))

    # ---- building
    def _hub_ready(self) -> None:
        import adapters

        from codeintel.log import quiet_adapters_library

        quiet_adapters_library()
        if not hasattr(self.host, "adapters_config"):
            adapters.init(self.host)

    def _check_name(self, name: str) -> None:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"adapter name {name!r}: use letters, digits, '-' or '_'.")
        if name in self.entries:
            raise ConfigError(f"this model already has an adapter named {name!r}; pass another name.")
        if any(name in k.split(".") for k, _ in self.host.named_parameters()):
            raise ConfigError(f"adapter name {name!r} is also a module name inside {self.backbone}; pick another.")

    def add(self, name: str, preset_name: str, *, set_active: bool = True) -> Entry:
        """A fresh adapter of a preset (``pfeiffer``, ``lora-r8``, ...), named ``name``."""
        p = preset(preset_name)
        self._check_name(name)
        config = p.config(self.family)
        if p.library == "adapterhub":
            self._hub_ready()
            self.host.add_adapter(name, config=config)
        else:
            self._peft_inject(config, name)
        entry = self.entries[name] = Entry(name, p.library, preset_name)
        if set_active:
            self.set_active([*self.active, name])
        return entry

    def _peft_inject(self, config: Any, name: str) -> None:
        from peft import inject_adapter_in_model

        if getattr(config, "is_prompt_learning", False):
            raise ConfigError(f"PEFT {config.peft_type} is a prompt-learning method, which needs a PeftModel around "
                              "the whole model; use an injected method (LoRA, IA3) or AdapterHub's prefix preset.")
        try:
            inject_adapter_in_model(config, self.host, adapter_name=name)
        except ValueError as exc:  # NoMatchingPeftModuleError is a ValueError
            mods = sorted({n.rsplit(".", 1)[-1] for n, m in self.host.named_modules() if isinstance(m, nn.Linear)})
            raise CheckpointError(f"the PEFT adapter targets modules this {self.family} backbone does not have "
                                  f"({str(exc).splitlines()[0][:120]}); its linear layers are named "
                                  f"{', '.join(mods)}.") from None

    def load(self, path: str | Path, name: str | None = None, *, set_active: bool = True,
             allow_pickle: bool = False) -> Entry:
        """The adapter directory ``path`` (AdapterHub or PEFT, detected), with its head; active unless asked
        otherwise. Any mismatch with this backbone is a :class:`CheckpointError` naming both sides."""
        path = Path(path)
        fmt, cfg = read_config(path)
        meta = read_meta(path)
        name = name or meta.get("name") or (cfg.get("name") if fmt == "adapterhub" else None) or path.name
        self._check_name(name)
        self._check_fits(path, fmt, cfg, meta)
        head = self._read_head(path, meta)
        if fmt == "adapterhub":
            self._load_hub(path, name, cfg, allow_pickle)
        else:
            self._load_peft(path, name, cfg, allow_pickle)
        entry = self.entries[name] = Entry(name, fmt, str(path), head, meta)
        if set_active:
            self.set_active([*self.active, name])
        else:
            self.set_active(self.active)
        return entry

    def check(self, path: str | Path) -> dict[str, Any]:
        """Refuse (``CheckpointError``) an adapter directory for another family, hidden size or registry
        backbone; returns its ``codeintel-adapter.json``."""
        path = Path(path)
        fmt, cfg = read_config(path)
        meta = read_meta(path)
        self._check_fits(path, fmt, cfg, meta)
        return meta

    def _check_fits(self, path: Path, fmt: str, cfg: dict, meta: dict) -> None:
        """Family and hidden size first (the most telling mismatch), then the backbone's name: an adapter made
        on one registry backbone or hub id does not go into another (directories, which cannot be compared by
        name, are checked by family and hidden size only)."""
        hidden = hidden_size(self.host)
        family = meta.get("family") or cfg.get("model_type")
        their_hidden = meta.get("hidden_size") or cfg.get("hidden_size")
        from codeintel.backbones.family import FAMILIES

        host = FAMILIES[family].adapter_host if family in FAMILIES else family  # a PEFT config's model_type
        if family and host != self.family:
            raise CheckpointError(f"{path} is an adapter for a {family} backbone; this model ({self.backbone}) is "
                                  f"{self.family}. Load it into a {family} model.")
        if their_hidden is not None and (isinstance(their_hidden, bool) or not isinstance(their_hidden, int)):
            raise CheckpointError(f"{path}: hidden_size {json.dumps(their_hidden)[:40]} is not a whole number "
                                  "(adapter_config.json or codeintel-adapter.json edited or damaged?).")
        if their_hidden and int(their_hidden) != hidden:
            raise CheckpointError(f"{path} was trained on hidden size {their_hidden}; {self.backbone} has "
                                  f"{hidden}. Load it into the backbone it was trained on "
                                  f"({meta.get('backbone', '?')}).")
        theirs = meta.get("backbone")
        a, b = _identity(theirs), _identity(self.backbone)
        if a and b and a != b:
            raise CheckpointError(f"{path} was trained on {theirs}; this model is {self.backbone}. Load it into "
                                  f"{theirs} (codeintel.load_model({theirs!r}, ...)).")

    def _read_head(self, path: Path, meta: dict) -> dict[str, torch.Tensor] | None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if not meta.get("head"):
            return None
        try:
            return load_file(str(path / HEAD))
        except (OSError, SafetensorError) as exc:
            raise CheckpointError(f"{path}/{HEAD} is missing or damaged ({str(exc).splitlines()[0][:120]}); the "
                                  "adapter's head is part of it: restore the file.") from None

    def _load_hub(self, path: Path, name: str, cfg: dict, allow_pickle: bool) -> None:
        tensors = _weights(path, (HUB_WEIGHTS, HUB_PICKLE), allow_pickle)
        self._hub_ready()
        leave_out = None
        if self.encoder_decoder and cfg.get("model_class") == "T5EncoderModel":
            n = self.host.config.num_layers  # encoder-only adapter: no fresh adapters in the decoder's layers
            leave_out = list(range(n, n + self.host.config.num_decoder_layers))
        config = dict(cfg["config"])
        if leave_out:
            config["leave_out"] = sorted(set(config.get("leave_out") or []) | set(leave_out))
        import adapters

        try:
            self.host.add_adapter(name, config=adapters.AdapterConfig.load(config))
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{path}/adapter_config.json: AdapterHub cannot build its config ({exc}).") from None
        orig = cfg.get("name") or name
        mine = {k: v for k, v in self.host.state_dict(keep_vars=True).items() if f".{name}." in f".{k}."}
        renamed = {_rename(k, orig, name): v for k, v in tensors.items()}
        self._fill(path, name, mine, renamed)

    def _fill(self, path: Path, name: str, mine: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> None:
        """Copy ``given`` into the host's parameters ``mine``: every one of them must be given, with its shape."""
        shared_ok = {k for k in mine if k not in given and any(mine[k] is mine[g] for g in given if g in mine)}
        missing = sorted(set(mine) - set(given) - shared_ok)
        extra = sorted(set(given) - set(mine))
        if missing or extra:
            what = f"lacks {missing[:2]}" if missing else f"has {extra[:2]}, which this model has no place for"
            self._drop(name)
            raise CheckpointError(f"{path} does not fit {self.backbone}: it {what} ({len(missing)} missing, "
                                  f"{len(extra)} unexpected). Was it trained on another backbone?")
        with torch.no_grad():
            for k, v in given.items():
                if mine[k].shape != v.shape:
                    self._drop(name)
                    raise CheckpointError(f"{path} does not fit {self.backbone}: {k} is {tuple(v.shape)} there, "
                                          f"{tuple(mine[k].shape)} here. Was it trained on another backbone?")
                mine[k].copy_(v)

    def _drop(self, name: str) -> None:
        if hasattr(self.host, "adapters_config") and name in self.host.adapters_config:
            self.host.delete_adapter(name)

    def _load_peft(self, path: Path, name: str, cfg: dict, allow_pickle: bool) -> None:
        from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

        tensors = _weights(path, (PEFT_WEIGHTS, PEFT_PICKLE), allow_pickle)
        cls = PEFT_TYPE_TO_CONFIG_MAPPING.get(cfg.get("peft_type"))
        if cls is None:
            raise CheckpointError(f"{path}: unknown PEFT type {cfg.get('peft_type')!r}.")
        known = set(cls.__dataclass_fields__)
        config = cls(**{k: v for k, v in cfg.items() if k in known})
        self._peft_inject(config, name)
        given = {}
        for k, v in tensors.items():
            k = k.removeprefix(PEFT_PREFIX)
            stem, _, leaf = k.rpartition(".")  # ...query.lora_A.weight -> ...query.lora_A.<name>.weight
            given[f"{stem}.{name}.{leaf}"] = v
        mine = {k: v for k, v in self.host.state_dict(keep_vars=True).items() if f".{name}." in k}
        try:
            self._fill(path, name, mine, given)
        except CheckpointError:
            from peft.tuners.tuners_utils import BaseTunerLayer

            for m in self.host.modules():  # take the injected layers' adapter back out
                if isinstance(m, BaseTunerLayer) and name in m.active_adapters:
                    m.delete_adapter(name)
            raise

    # ---- using
    def set_active(self, names: list[str]) -> None:
        """Make ``names`` (in order: AdapterHub ones stacked bottom to top) the active adapters; [] = none."""
        unknown = [n for n in names if n not in self.entries]
        if unknown:
            raise UnknownNameError("adapter", unknown[0], self.entries, hint="(loaded in this model)")
        hub = [n for n in names if self.entries[n].library == "adapterhub"]
        peft_names = [n for n in names if self.entries[n].library == "peft"]
        if hasattr(self.host, "adapters_config"):
            from adapters import Stack

            self.host.set_active_adapters(None if not hub else hub[0] if len(hub) == 1 else Stack(*hub))
        from peft.tuners.tuners_utils import BaseTunerLayer

        for m in self.host.modules():
            if isinstance(m, BaseTunerLayer):
                if peft_names:
                    m.enable_adapters(True)
                    m.set_adapter(peft_names)
                else:
                    m.enable_adapters(False)
        self.active = list(names)

    def is_adapter_param(self, param_name: str) -> bool:
        """Whether a host parameter belongs to one of the adapters (and not to the pretrained backbone)."""
        return any(f".{n}." in f".{param_name}." for n in self.entries)

    def train_only(self, names: list[str]) -> None:
        """Freeze the whole host, then make the parameters of the adapters ``names`` trainable."""
        for p in self.host.parameters():
            p.requires_grad_(False)
        for k, p in self.host.named_parameters():
            if any(f".{n}." in f".{k}." for n in names):
                p.requires_grad_(True)

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.host.state_dict().items() if f".{name}." in f".{k}."}

    def save(self, name: str, out: str | Path, head: dict[str, torch.Tensor] | None = None,
             head_info: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
             task_type: str | None = None) -> Path:
        """Write adapter ``name`` (in its library's format) and its head to the new directory ``out``,
        atomically; an existing non-empty ``out`` is refused."""
        from safetensors.torch import save_file

        if name not in self.entries:
            raise UnknownNameError("adapter", name, self.entries, hint="(loaded in this model)")
        out = Path(out)
        if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
            raise CheckpointError(f"{out} already exists and is not an empty directory; codeintel saves adapters "
                                  "only to new directories. Choose another path.")
        entry = self.entries[name]
        head = head if head is not None else entry.head
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        try:
            if entry.library == "adapterhub":
                self.host.save_adapter(str(tmp), name, with_head=False, use_safetensors=False)
                (tmp / HUB_PICKLE).unlink()  # our own temporary pickle: the weights go to safetensors instead
                save_file(_dedup(self.adapter_state(name)), str(tmp / HUB_WEIGHTS))
            else:
                self._save_peft(name, tmp, task_type)
            if head is not None:
                save_file({k: v.detach().cpu().contiguous() for k, v in head.items()}, str(tmp / HEAD))
            meta = {**entry.meta, "format": "codeintel-adapter", "name": name, "library": entry.library,
                    "backbone": entry.meta.get("backbone", self.backbone), "family": self.family,
                    "hidden_size": hidden_size(self.host),
                    "head": (head_info or entry.meta.get("head")) if head is not None else None, **(extra or {})}
            (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
            if out.exists():
                out.rmdir()  # empty, checked above
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    def _save_peft(self, name: str, out: Path, task_type: str | None = None) -> None:
        """PEFT's files; ``task_type`` (PEFT's name of the model class, e.g. ``SEQ_2_SEQ_LM``) is written where the
        config has none, so that ``AutoPeftModel*`` can load the adapter."""
        from safetensors.torch import save_file

        entry = self.entries[name]  # the config is not kept on the layers: rebuild it from where it came from
        if Path(entry.source).is_dir():
            cfg = json.loads((Path(entry.source) / "adapter_config.json").read_text(encoding="utf-8"))
            cfg["base_model_name_or_path"] = _hub_base(self.backbone)
            cfg["task_type"] = cfg.get("task_type") or task_type
            (out / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        else:
            config = preset(entry.source).config(self.family)
            config.base_model_name_or_path = _hub_base(self.backbone)
            config.task_type = config.task_type or task_type
            config.save_pretrained(str(out))
        state = {}
        for k, v in self.adapter_state(name).items():
            stem, _, leaf = k.rpartition(".")             # ...lora_A.<name>.weight -> ...lora_A.weight
            state[PEFT_PREFIX + stem.removesuffix(f".{name}") + "." + leaf] = v
        save_file(_dedup(state), str(out / PEFT_WEIGHTS))


def _hub_base(name: str) -> str:
    """What PEFT's ``base_model_name_or_path`` should say: the hub id of a registry name with published weights,
    a directory's absolute path, else the name as given (a hub id, or a random-initialised preset's registry
    name: its weights are saved with the run)."""
    from codeintel.backbones.table import BACKBONES

    spec = BACKBONES.get(name)
    if spec is not None:
        return spec.hf_id or name
    return str(Path(name).resolve()) if Path(name).is_dir() else name


def _identity(name: str | None) -> str | None:
    """The hub id (or registry name) a backbone name stands for; None for a directory or an unknown name."""
    from codeintel.backbones.loading import resolve

    try:
        src = resolve(name) if name else None
    except (CheckpointError, ConfigError):
        return None
    if src is None or src.kind == "dir":
        return None
    return (src.spec.hf_id or src.spec.name) if src.spec else src.ref


def _rename(key: str, old: str, new: str) -> str:
    return key if old == new else key.replace(f".{old}.", f".{new}.")
