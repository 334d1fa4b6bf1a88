"""The exception hierarchy. The CLI catches :class:`CodeintelError` once and prints it without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CodeintelError(Exception):
    """Base class: a problem the user can fix. The message names the bad value and the fix."""


class ConfigError(CodeintelError):
    """A bad configuration value, override or task card."""


class UnknownNameError(ConfigError):
    """A name (model, task, metric, ...) that is not registered."""

    def __init__(self, kind: str, name: str, allowed: Iterable[str], hint: str = "") -> None:
        allowed = sorted(allowed)
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
        msg = f"unknown {kind} {name!r}."
        if close:
            msg += f" Did you mean {close[0]!r}?"
        msg += f" Allowed: {', '.join(allowed)}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)
        self.name, self.allowed, self.suggestion = name, allowed, close[0] if close else None


class HubError(CodeintelError):
    """A model or tokenizer that cannot be found locally or reached on the hub."""


class DataError(CodeintelError):
    """Malformed, missing or empty data."""


class CheckpointError(CodeintelError):
    """A directory that is not a usable checkpoint."""


class TrainingError(CodeintelError):
    """Training diverged or cannot continue."""
