"""``codeintel predict``: a trained model on a user's own inputs — a jsonl in the task's format without labels, or
source files and folders whose functions are extracted with tree-sitter — one JSON line per item."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeintel.errors import ConfigError, DataError

TEXT_FIELDS = ("code", "code1", "code2", "nl")


def stderr(*args: Any) -> None:
    """The default ``echo`` of the commands whose stdout is their output (predict, index, search)."""
    print(*args, file=sys.stderr)


@dataclass
class Inference:
    """A checkpoint ready to run on a user's inputs: its resolved config and card, the loaded model on its device
    and the task built with the checkpoint's lengths (what predict, index and serve share)."""

    model: str
    cfg: Any
    card: Any
    loaded: Any
    task: Any

    def infer(self, items: list[dict], batch_size: int = 32, progress: bool = False) -> list[dict]:
        return self.task.infer(self.loaded.model, items, batch_size=batch_size, progress=progress,
                               beam_size=self.cfg.eval.beam_size,
                               no_repeat_ngram_size=self.cfg.eval.no_repeat_ngram_size)


def checkpoint_card(model: str) -> tuple[str, Any, Any]:
    """(the checkpoint ``model`` stands for — ``RUN`` means ``RUN/best`` —, its config, its card), no weights
    loaded."""
    from codeintel.recipes.api import _evaluate_setup, resolve_checkpoint

    model = resolve_checkpoint(model)
    cfg, card, _ = _evaluate_setup(model, None, None, None, {})
    return model, cfg, card


def load_for_inference(model: str, cfg: Any = None, card: Any = None) -> Inference:
    """Load ``model`` (a checkpoint, registry name or hub id) with its saved task, lengths and decoding."""
    from codeintel.config import resolve_device
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import build_task

    if cfg is None:
        model, cfg, card = checkpoint_card(model)
    loaded = load_model(cfg.model, card.type, allow_pickle=cfg.allow_pickle)
    loaded.model.to(resolve_device(cfg.device))
    return Inference(model, cfg, card, loaded, build_task(cfg, card, loaded))


def read_items(inputs: list[str], kind: str, lang: str | None = None, include_generated: bool = False,
               max_bytes: int = 1_000_000, echo: Callable[..., None] = stderr) -> list[dict]:
    """The items a task of input ``kind`` (``code``, ``nl``, ``pair``) predicts on: rows of jsonl files, or the
    functions of source files (``pair``: two source files are one pair)."""
    from codeintel.data.loaders import CODE_FIELDS, NL_FIELDS, first_text, read_jsonl

    if not inputs:
        raise DataError("predict needs INPUT: a jsonl file, or source files and folders.")
    if all(str(i).endswith(".jsonl") for i in inputs):
        items = []
        for name in inputs:
            path = Path(name)
            for row in read_jsonl(path):
                rid = str(row.get("id", row.get("idx", f"{path}:{row['__line']}")))
                if kind == "pair":
                    a, b = first_text(row, ("code1", "func1")), first_text(row, ("code2", "func2"))
                    if a is None or b is None:
                        raise DataError(f"{path}:{row['__line']}: a clone-detection model compares two programs: "
                                        "give each row code1 and code2.")
                    items.append({"id": rid, "code1": a, "code2": b})
                    continue
                text = first_text(row, NL_FIELDS if kind == "nl" else CODE_FIELDS)
                if text is None:
                    want = NL_FIELDS if kind == "nl" else CODE_FIELDS
                    raise DataError(f"{path}:{row['__line']}: no {'description' if kind == 'nl' else 'code'} "
                                    f"field; expected one of {list(want)}.")
                items.append({"id": rid, kind: text})
        return items
    if any(str(i).endswith(".jsonl") for i in inputs):
        raise DataError("give either jsonl files or source files and folders, not both.")
    if kind == "nl":
        raise DataError("a text-to-code model reads descriptions: give a jsonl file with an nl field.")
    if kind == "pair":
        if len(inputs) != 2 or not all(Path(i).is_file() for i in inputs):
            raise DataError("a clone-detection model compares two programs: give two source files, or a jsonl "
                            "with code1 and code2.")
        a, b = (Path(i).read_text(encoding="utf-8", errors="replace") for i in inputs)
        return [{"id": f"{inputs[0]}|{inputs[1]}", "file1": inputs[0], "file2": inputs[1], "code1": a, "code2": b}]
    from codeintel.data.sources import function_items

    items, walk = function_items(inputs, max_bytes, include_generated, lang)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(walk.skipped.items()))
    echo(f"read {len(walk.files)} source file(s), {len(items)} function(s)" + (f"; skipped {skipped}" if skipped
                                                                                else ""))
    if not items:
        raise DataError(f"no functions found in {' '.join(map(str, inputs))} ({len(walk.files)} source file(s) read"
                        + (f"; skipped {skipped}" if skipped else "") + "). Point it at source code, or pass --lang "
                        "for files whose extension names no language.")
    return items


def predict(model: str, inputs: list[str], *, out: str | None = None, fmt: str = "jsonl", batch_size: int = 32,
            lang: str | None = None, include_generated: bool = False, max_bytes: int = 1_000_000,
            overwrite: bool = False, progress: bool = False, echo: Callable[..., None] = stderr) -> list[dict]:
    """Run the model of checkpoint ``model`` (``RUN`` means ``RUN/best``) on ``inputs``; returns one dict per item
    (its id and place, and the model's output: summary, code, probability or embedding) and writes them as JSON
    lines to ``out`` (or stdout when ``out`` is None). ``fmt="npy"``: the embeddings as one (items, dim) array in
    ``out`` (a ``.npy`` file), the item lines on stdout."""
    import numpy as np

    from codeintel.recipes.rundir import output_file

    if fmt not in ("jsonl", "npy"):
        raise ConfigError(f"--format must be jsonl or npy, got {fmt!r}.")
    if fmt == "npy" and (out is None or not str(out).endswith(".npy")):
        raise ConfigError("--format npy writes one array: name the file with --out FILE.npy.")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}.")
    model, cfg, card = checkpoint_card(model)
    from codeintel.tasks.types import task_type

    kind = task_type(card.type).infer_input
    if not kind:
        raise ConfigError(f"{model} is a {card.type} model, which has no predict: predict runs summarization, "
                          "code generation, defect and clone detection, retrieval and code-search models.")
    from contextlib import nullcontext

    claim = output_file(out, overwrite=overwrite, echo=echo) if out is not None else nullcontext(None)
    with claim as target:           # claimed before any work: a clear error, and nothing half-written
        items = read_items(inputs, kind, lang, include_generated, max_bytes, echo)
        outputs = load_for_inference(model, cfg, card).infer(items, batch_size, progress)
        rows = [{**{k: v for k, v in it.items() if k not in TEXT_FIELDS}, **o}
                for it, o in zip(items, outputs, strict=True)]
        if fmt == "npy":
            if "embedding" not in rows[0]:
                raise ConfigError(f"--format npy is for embeddings; a {card.type} model predicts "
                                  f"{', '.join(outputs[0])}.")
            with open(target, "wb") as fh:
                np.save(fh, np.asarray([r.pop("embedding") for r in rows], dtype=np.float32))
            sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))
        elif target is None:
            sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))
        else:
            Path(target).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if out is not None:
        echo(f"wrote {len(rows)} prediction(s) to {out}")
    return rows
