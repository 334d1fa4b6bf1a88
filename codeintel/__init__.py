"""codeintel: one hub for fine-tuning and evaluating code models.

Heavy libraries (torch, transformers, datasets) are imported lazily, so that
``import codeintel`` and ``codeintel --help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_model": "codeintel.tasks.models",
    "load_tokenizer": "codeintel.backbones.loading",
    "BACKBONES": "codeintel.backbones.table",
    "METRICS": "codeintel.eval.metrics",
    "compute_metric": "codeintel.eval.metrics",
    "load_task": "codeintel.tasks.cards",
    "probe": "codeintel.recipes.probe",
    "train": "codeintel.recipes.api",
    "evaluate": "codeintel.recipes.api",
    "pretrain": "codeintel.recipes.api",
    "dfg": "codeintel.recipes.api",
    "tokenize": "codeintel.recipes.api",
    "augment_code": "codeintel.recipes.api",
    "augment_file": "codeintel.recipes.api",
    "train_config": "codeintel.recipes.api",
    "pretrain_config": "codeintel.recipes.api",
    "train_ner": "codeintel.recipes.api",
    "data_check": "codeintel.recipes.api",
    "dedup": "codeintel.recipes.api",
    "compare": "codeintel.recipes.compare",
    "predict": "codeintel.recipes.predict",
    "load_for_inference": "codeintel.recipes.predict",
    "set_verbosity": "codeintel.log",
    "report": "codeintel.recipes.report",
}

_SUBPACKAGES = ("continual", "hub")  # codeintel.continual.run(...), codeintel.hub.hub_path(...)

__all__ = ["__version__", *_LAZY, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _SUBPACKAGES:
        import importlib

        if name in _SUBPACKAGES:
            return importlib.import_module(f"codeintel.{name}")
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'codeintel' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The API functions too (they are loaded on first use), so ``dir(codeintel)`` and completion show them."""
    return sorted({*globals(), *__all__})
