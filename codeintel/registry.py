"""Lazy registries: a name maps to ``"module:object"``, imported on first use.

Open families (task types, augmentation operators, and next adapter presets and continual-learning
strategies) are listed as data in the module that owns the family, so no module imports its siblings to
register them and no import circle can form. Unknown names fail with the allowed set and a did-you-mean.

>>> table = LazyTable("metric", {"mrr": "codeintel.eval.metrics:mrr"})
>>> table["mrr"].__name__
'mrr'
>>> "bleu" in table
False
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from codeintel.errors import UnknownNameError


class LazyTable(Mapping[str, Any]):
    """A read-only mapping ``name -> object`` whose values are imported the first time they are asked for.

    Args:
        kind: what the names are, for error messages (``"task type"``, ``"augmentation"``).
        targets: ``name -> "package.module:attribute"``.
        hint: one sentence appended to the unknown-name error (where to list the names).
    """

    def __init__(self, kind: str, targets: dict[str, str], hint: str = "") -> None:
        for name, target in targets.items():
            if target.count(":") != 1:
                raise ValueError(f"{kind} {name!r}: target {target!r} is not 'module:object'")
        self.kind, self.hint = kind, hint
        self._targets = dict(targets)
        self._resolved: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._resolved:
            if name not in self._targets:
                raise UnknownNameError(self.kind, name, self._targets, hint=self.hint)
            module, _, attr = self._targets[name].partition(":")
            self._resolved[name] = getattr(importlib.import_module(module), attr)
        return self._resolved[name]

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self._targets else default

    def target(self, name: str) -> str:
        """The ``"module:object"`` a name points to, without importing it."""
        if name not in self._targets:
            raise UnknownNameError(self.kind, name, self._targets, hint=self.hint)
        return self._targets[name]
