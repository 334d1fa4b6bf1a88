"""``codeintel augment``: write semantics-preserving variants of a jsonl dataset (ContraBERT operators)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from codeintel.data.loaders import CODE_FIELDS, NL_FIELDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="write augmented variants of a jsonl dataset (code and NL operators)",
                       description="Apply ContraBERT-style operators to every row of IN.jsonl and write OUT.jsonl. "
                                   "Code that does not parse, and operators that cannot apply, leave the row "
                                   "unchanged and are counted.")
    p.add_argument("input", type=Path, nargs="?", help="jsonl with a code field (code/func/original_string)")
    p.add_argument("output", type=Path, nargs="?", help="jsonl to write (a new file; see --overwrite)")
    p.add_argument("--no-progress", action="store_true", help="no progress (off a terminal: plain lines)")
    p.add_argument("--overwrite", action="store_true",
                   help="if OUT.jsonl exists, move it aside to OUT.jsonl.replaced-<time> (nothing is deleted)")
    p.add_argument("--ops", help="OP[:key=value[;key=value]][,OP...], e.g. rename_variables:k=3,swap_tokens")
    p.add_argument("--lang", help="language of the code (python, java, c); default: the row's 'lang'/'language'")
    p.add_argument("--seed", type=int, default=0, help="seed (each row and variant gets its own stream)")
    p.add_argument("--per-sample", type=int, default=1, help="variants written per input row")
    p.add_argument("--code-field", help=f"field holding the code (default: first of {', '.join(CODE_FIELDS)})")
    p.add_argument("--nl-field", help=f"field holding the text for NL operators (default: first of "
                                      f"{', '.join(NL_FIELDS)})")
    p.add_argument("--list", action="store_true", help="list the operators and exit")
    p.set_defaults(run=run, fill_positionals=("input", "output"))  # IN and OUT may have options between them


def list_operators() -> str:
    from codeintel.augment import operators

    lines = []
    for name, op in sorted(operators().items(), key=lambda kv: (kv[1].kind, kv[0])):
        params = " ".join(f"{k}={v}" for k, v in op.params.items())
        where = ", ".join(op.languages) if op.kind == "code" else "text"
        lines.append(f"{name:<20} {op.kind:<5} {where:<18} {op.summary}" + (f"  [{params}]" if params else ""))
    return "\n".join(lines)


def _pick(row: dict, explicit: str | None, names: tuple[str, ...]) -> str | None:
    """The key of the field to transform: ``explicit`` if the row has it, else the first text field of ``names``."""
    if explicit:
        return explicit if explicit in row else None
    return next((n for n in names if isinstance(row.get(n), str)), None)


def run(args: argparse.Namespace) -> int:
    from codeintel.errors import ConfigError, DataError

    if args.list:
        print(list_operators())
        return 0
    if args.input is None or args.output is None or not args.ops:
        raise ConfigError("usage: codeintel augment --ops OP[,OP...] --lang L IN.jsonl OUT.jsonl "
                          "(or --list to see the operators).")
    if args.per_sample < 1:
        raise ConfigError(f"--per-sample must be at least 1, got {args.per_sample}.")
    import random

    from codeintel.augment import compose, get, parse_ops
    from codeintel.data.loaders import read_jsonl
    from codeintel.progress import progress

    ops = parse_ops(args.ops)
    code_ops = [(n, p) for n, p in ops if get(n).kind == "code"]
    nl_ops = [(n, p) for n, p in ops if get(n).kind == "nl"]
    if args.input.resolve() == args.output.resolve():
        raise ConfigError("OUT.jsonl must differ from IN.jsonl.")
    if args.output.is_dir():
        raise ConfigError(f"OUT.jsonl {args.output} is a directory; name a file.")
    if args.output.exists() and not args.overwrite:
        raise ConfigError(f"{args.output} already exists; pass --overwrite to move it aside (nothing is deleted) or "
                          "name another file.")
    rows = read_jsonl(args.input)
    applied, skipped = Counter(), Counter()
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp.touch()
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output}: {exc.strerror}; choose a writable place.") from None
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for i, row in enumerate(progress(rows, desc="augment", unit="row", enabled=not args.no_progress)):
                line = row.pop("__line")
                code_key, nl_key = _pick(row, args.code_field, CODE_FIELDS), _pick(row, args.nl_field, NL_FIELDS)
                if code_ops and code_key is None:
                    raise DataError(f"{args.input}:{line}: no code field (tried {args.code_field or CODE_FIELDS}); "
                                    "pass --code-field NAME.")
                if nl_ops and nl_key is None:
                    raise DataError(f"{args.input}:{line}: no text field (tried {args.nl_field or NL_FIELDS}); "
                                    "pass --nl-field NAME.")
                lang = args.lang or row.get("lang") or row.get("language")
                if code_ops and not lang:
                    raise ConfigError(f"{args.input}:{line}: which language? Pass --lang (python, java or c).")
                for j in range(args.per_sample):
                    rng = random.Random(f"{args.seed}:{i}:{j}")
                    out = dict(row)
                    done, why = [], {}
                    if code_ops:
                        res = compose(row[code_key], lang, code_ops, rng)
                        out[code_key], done, why = res.text, res.applied, dict(res.skipped)
                    if nl_ops:
                        res = compose(row[nl_key], None, nl_ops, rng)
                        out[nl_key] = res.text
                        done, why = done + res.applied, {**why, **res.skipped}
                    applied.update(done)
                    skipped.update(f"{op}: {reason}" for op, reason in why.items())
                    out["augment"] = {"source_line": line, "variant": j, "applied": done, "skipped": why}
                    fh.write(json.dumps(out, ensure_ascii=False) + "\n")
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written file
        raise
    if args.output.exists():  # --overwrite: the earlier file is kept beside the new one
        from codeintel.recipes.rundir import aside_path

        aside = aside_path(args.output)
        args.output.rename(aside)
        print(f"moved the earlier {args.output} to {aside}", file=sys.stderr)
    tmp.replace(args.output)
    total = len(rows) * args.per_sample
    print(f"wrote {total} row(s) to {args.output}", file=sys.stderr)
    for name, _ in ops:
        print(f"  {name:<20} applied to {applied[name]}/{total} ({100 * applied[name] / max(total, 1):.1f} %)",
              file=sys.stderr)
    for reason, n in skipped.most_common():
        print(f"    not applied, {reason}: {n}", file=sys.stderr)
    return 0
