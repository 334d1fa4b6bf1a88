"""Find the data folders (``tasks/``, ``tokenizers/``, ``eval/``) from a checkout and from an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def hub_root() -> Path:
    """Return the folder holding ``tasks/``, ``tokenizers/`` and ``eval/``.

    In an installed wheel they are package data under ``codeintel/_hub``; in a checkout (editable
    install or plain ``PYTHONPATH``) they are the repository's top-level folders.
    """
    env = os.environ.get("CODEINTEL_HUB_ROOT")
    if env:
        return Path(env)
    packaged = _PKG / "_hub"
    if (packaged / "tasks").is_dir():
        return packaged
    return _PKG.parent


def hub_path(*parts: str) -> Path:
    """A path inside the hub's data folders, e.g. ``hub_path("tokenizers", "code-bpe-8k")``."""
    return hub_root().joinpath(*parts)


def cache_dir() -> Path:
    """Where codeintel caches tokenized datasets and extracted corpora (``$CODEINTEL_CACHE``)."""
    root = os.environ.get("CODEINTEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "codeintel"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
