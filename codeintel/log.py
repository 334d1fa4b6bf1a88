"""codeintel's output through :mod:`logging`: the logger ``codeintel``.

Every recipe's log lines (``echo``) go to :func:`say`, which logs them on the ``codeintel`` logger — lines that
start with ``warning:`` at WARNING, the rest at INFO. The logger has one handler of its own, writing the bare
message to the current ``sys.stdout`` (``sys.stderr`` for commands whose stdout is JSON), and does not
propagate, so a program that configures the root logger does not see each line twice. A caller can

- silence the progress lines: ``codeintel.set_verbosity("warning")`` (the CLI's ``--quiet``), or
  ``logging.getLogger("codeintel").setLevel(logging.WARNING)``;
- route them: ``codeintel.log.route_to_root()`` (drop the handler, propagate to the root logger's handlers),
  or add handlers of its own to ``logging.getLogger("codeintel")``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

LOGGER = logging.getLogger("codeintel")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class ConsoleHandler(logging.Handler):
    """The bare message to the stream current at emit time (so redirections and captures in tests apply).
    A closed pipe raises (the CLI stops quietly on it) instead of logging's own error report."""

    def __init__(self) -> None:
        super().__init__()
        self.to_stderr = False

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if self.to_stderr else sys.stdout
        stream.write(self.format(record) + "\n")
        if getattr(record, "flush", False):
            stream.flush()


HANDLER = ConsoleHandler()
LOGGER.addHandler(HANDLER)
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False


def say(*args: Any, sep: str = " ", flush: bool = False, **_: Any) -> None:
    """``print``'s signature, through the ``codeintel`` logger (``warning:`` lines at WARNING)."""
    message = sep.join(str(a) for a in args)
    level = logging.WARNING if message.startswith("warning:") else logging.INFO
    LOGGER.log(level, message, extra={"flush": flush})


def set_verbosity(level: str | int) -> None:
    """``debug``, ``info`` (the default), ``warning`` or ``error`` (or a :mod:`logging` level)."""
    LOGGER.setLevel(LEVELS[level] if isinstance(level, str) else level)


def to_stderr(on: bool = True) -> None:
    """Log lines to standard error (commands whose standard output is their result, e.g. ``--json``)."""
    HANDLER.to_stderr = on


def route_to_root() -> None:
    """Drop codeintel's own handler and let records propagate to the root logger's handlers."""
    LOGGER.removeHandler(HANDLER)
    LOGGER.propagate = True


class _DropMessages(logging.Filter):
    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(f in str(record.msg) for f in self.fragments)


def quiet_adapters_library() -> None:
    """The adapters library warns "There are adapters available but none are activated for the forward pass" on
    every forward of a sub-model holding adapters it does not activate itself, which codeintel's adapter set does
    during ``--adapter-mode stack`` training (the stacked adapters are applied; the warning repeats on every
    step). That one message of ``adapters.model_mixin`` is dropped; every other message of the library is kept."""
    target = logging.getLogger("adapters.model_mixin")
    if not any(isinstance(f, _DropMessages) for f in target.filters):
        target.addFilter(_DropMessages("There are adapters available but none are activated"))
