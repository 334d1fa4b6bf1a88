"""The embedded default dataset: (code, summary) pairs from the running interpreter's standard library.

Functions with a docstring are taken from every module of the stdlib (tests, ``idlelib`` and
``site-packages`` excluded); the docstring is removed from the code, its first sentence becomes the
target. Pairs are deduplicated on the code and split 80/10/10 by a hash of the module path, so that
one module never straddles two splits and the split is the same on every run.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from codeintel.errors import DataError
from codeintel.io import atomic_open, write_json

SPLITS = ("train", "valid", "test")
_SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "__pycache__", "turtledemo", "dist-packages"}
_MAX_CODE_CHARS = 3000


def stdlib_dir() -> Path:
    """The directory of the running interpreter's pure-Python standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path | None = None) -> list[Path]:
    """All ``.py`` files of the stdlib, sorted, minus tests and vendored packages."""
    root = root or stdlib_dir()
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(p in _SKIP_DIRS or p.startswith("test_") for p in rel):
            continue
        files.append(path)
    return files


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring's first paragraph, whitespace collapsed."""
    para = inspect.cleandoc(docstring).split("\n\n")[0]
    text = " ".join(para.split())
    match = re.search(r"(?<=[.!?])\s", text)
    return text[: match.start()] if match else text


def _strip_docstring(source_lines: list[str], fn: ast.AST) -> str | None:
    """The function's source with its docstring lines removed; None when nothing else is left."""
    doc = fn.body[0]
    if len(fn.body) == 1 or doc.lineno == fn.lineno:
        return None
    start, end = fn.lineno - 1, fn.end_lineno
    if fn.decorator_list:
        start = fn.decorator_list[0].lineno - 1
    lines = source_lines[start:end]
    d0, d1 = doc.lineno - 1 - start, doc.end_lineno - start
    kept = lines[:d0] + lines[d1:]
    indent = min((len(ln) - len(ln.lstrip()) for ln in kept if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in kept).strip("\n")


def iter_pairs(path: Path, root: Path) -> Iterator[dict]:
    """Yield ``{code, summary, docstring, path, name}`` for each documented function of one file."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    lines = source.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        docstring = ast.get_docstring(node, clean=False)
        if not docstring:
            continue
        summary = first_sentence(docstring)
        n_words = len(summary.split())
        if n_words < 3 or n_words > 40 or not summary.isascii():
            continue
        code = _strip_docstring(lines, node)
        if code is None or len(code) > _MAX_CODE_CHARS:
            continue
        yield {
            "code": code,
            "summary": summary,
            "docstring": inspect.cleandoc(docstring),
            "path": str(path.relative_to(root)),
            "name": node.name,
        }


def split_of(module_path: str) -> str:
    """Deterministic split of a module: 80 % train, 10 % valid, 10 % test."""
    bucket = int(hashlib.sha1(module_path.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 8 else ("valid" if bucket == 8 else "test")


def build_stdlib_dataset(root: Path | None = None) -> dict[str, list[dict]]:
    """Extract, deduplicate and split the stdlib corpus."""
    root = root or stdlib_dir()
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for path in stdlib_files(root):
        for ex in iter_pairs(path, root):
            key = hashlib.sha1(" ".join(ex["code"].split()).encode()).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            ex["id"] = f"stdlib-{len(seen) - 1}"
            splits[split_of(ex["path"])].append(ex)
    if not splits["train"]:
        raise DataError(f"no documented functions found under {root}; is this a full Python installation?")
    return splits


def write_stdlib_dataset(out_dir: Path) -> dict[str, int]:
    """Write ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` and ``meta.json``; return the split sizes."""
    splits = build_stdlib_dataset()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with atomic_open(out_dir / f"{name}.jsonl") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    sizes = {k: len(v) for k, v in splits.items()}
    meta = {"python": sys.version.split()[0], "stdlib": str(stdlib_dir()), "sizes": sizes}
    write_json(out_dir / "meta.json", meta)
    return sizes


def default_stdlib_dir() -> Path:
    """The cached stdlib dataset for this interpreter, written on first use."""
    from codeintel.hub import cache_dir

    out = cache_dir() / "datasets" / f"stdlib-py{sys.version_info.major}.{sys.version_info.minor}"
    if not (out / "meta.json").exists():
        write_stdlib_dataset(out)
    return out
