"""Continual learning over API streams: the stream builder (:mod:`.apis`, :mod:`.streams`), the two API tasks
(:mod:`.tasks`) and the strategies as hooks (:mod:`.strategies`). The loop that runs them is the recipe
:mod:`codeintel.recipes.continual`, re-exported here as ``codeintel.continual.run`` (resolved on first use, like
the top-level ``codeintel.train``; importing this package imports nothing else)::

    import codeintel.continual
    result = codeintel.continual.run(model="tiny-codegpt", strategies=["naive", "replay"], id_epochs=1)
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "run": "codeintel.recipes.continual",
    "load_stream": "codeintel.continual.streams",
    "STRATEGIES": "codeintel.continual.strategies",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'codeintel.continual' has no attribute {name!r}")
