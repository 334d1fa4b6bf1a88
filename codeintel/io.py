"""Atomic writers: every file a command publishes appears complete or not at all.

Each writer writes a hidden temporary sibling (``.NAME.tmp-<pid>``, in the same directory so the rename
cannot cross file systems) and renames it over ``path`` in one ``os.replace``. A reader, a crash or a
SIGKILL at any instant sees the old file or the new one, never half of one. A failure while writing removes
the temporary file and leaves ``path`` as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path``, on an error it is
    removed. ``mode`` is ``"w"`` or ``"wb"``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def parse_json(text: str) -> Any:
    """``json.loads`` whose every failure is a ``ValueError`` with a short reason (a document nested deeper than
    the parser's recursion limit is "nested too deeply", not a RecursionError traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json(path: str | Path, error: type[Exception] = ValueError) -> Any:
    """A JSON file's document; any problem (missing, unreadable, not UTF-8, malformed, nested too deeply) is one
    ``error`` naming the file and the reason."""
    path = Path(path)
    try:
        return parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise error(f"{path} is not valid JSON ({reason}).") from None


def read_yaml(path: str | Path, error: type[Exception] = ValueError) -> Any:
    """A YAML file's document (``yaml.safe_load``); any problem (missing, unreadable, not UTF-8, invalid YAML,
    nested too deeply) is one ``error`` naming the file and the reason."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise error(f"{path} is not valid YAML (nested too deeply).") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise error(f"{path} is not valid YAML ({reason}).") from None


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as fh:
        fh.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (numpy scalars as floats) to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, default=float) + "\n")


def save_figure(fig, path: str | Path, dpi: int = 120, fmt: str | None = None) -> None:
    """Save a matplotlib figure to ``path`` (format ``fmt``, default from its suffix) atomically, then close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, dpi=dpi, format=fmt or path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
