"""An embedded clone-detection dataset: the stdlib corpus's functions paired with transformed variants.

Positives: a function and a variant from the ContraBERT code operators (renamed variables and function,
dead code, swapped operands, exchanged loops, swapped branches, permuted statements; each tried with
probability 1/2, at least one applied). Negatives: the function and a *variant* of another function of the
same split, so "was transformed" carries no signal. Splits follow the stdlib corpus (by module), so no
function crosses splits. Built once per interpreter into the cache, in the BigCloneBench layout
(``data.jsonl`` + ``train.txt``/``valid.txt``/``test.txt``) that ``--data DIR`` also reads.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

OPS = ("rename_variables:k=3,rename_function,insert_dead_code,swap_operands,exchange_loop,swap_if_else,"
       "permute_statements")
VERSION = 1


def variant(code: str, rng: random.Random, ops: list) -> tuple[str, list[str]]:
    """A transformed copy (each operator with probability 1/2; if none applied, all of them in turn)."""
    from codeintel.augment import compose

    out = compose(code, "python", [o for o in ops if rng.random() < 0.5], rng)
    if out.text == code:
        out = compose(code, "python", ops, rng)
    return out.text, out.applied


def build_pairs(functions: list[dict], split: str, seed: int = 0) -> tuple[list[dict], list[tuple[str, str, int]]]:
    """Programs (``idx``, ``func``) and balanced pairs for one split."""
    from codeintel.augment import parse_ops

    ops = parse_ops(OPS)
    programs, pairs = [], []
    for i, fn in enumerate(functions):
        rng = random.Random(f"{seed}:{split}:{i}")
        pos, _ = variant(fn["code"], rng, ops)
        if pos == fn["code"]:
            continue  # nothing applies (does not parse, or nothing to change): no positive to make
        j = rng.randrange(len(functions) - 1)
        other = functions[j + (j >= i)]
        neg, _ = variant(other["code"], rng, ops)
        base = fn["id"]
        programs += [{"idx": base, "func": fn["code"]}, {"idx": f"{base}+v", "func": pos},
                     {"idx": f"{other['id']}+n{i}", "func": neg}]
        pairs += [(base, f"{base}+v", 1), (base, f"{other['id']}+n{i}", 0)]
    return programs, pairs


def default_stdlib_clones_dir() -> Path:
    """The cached dataset for this interpreter's stdlib corpus, written on first use (about a minute)."""
    from codeintel.data.stdlib import default_stdlib_dir
    from codeintel.hub import cache_dir

    out = cache_dir() / "datasets" / f"stdlib-clones-v{VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
    if (out / "meta.json").exists():
        return out
    src = default_stdlib_dir()
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    programs, sizes = [], {}
    for split in ("train", "valid", "test"):
        functions = [json.loads(line) for line in (src / f"{split}.jsonl").open(encoding="utf-8")]
        progs, pairs = build_pairs(functions, split)
        programs += progs
        sizes[split] = len(pairs)
        (tmp / f"{split}.txt").write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in pairs))
    seen, lines = set(), []
    for p in programs:
        if p["idx"] not in seen:
            seen.add(p["idx"])
            lines.append(json.dumps(p, ensure_ascii=False) + "\n")
    (tmp / "data.jsonl").write_text("".join(lines), encoding="utf-8")
    (tmp / "meta.json").write_text(json.dumps({"pairs": sizes, "operators": OPS, "version": VERSION}, indent=2))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out
