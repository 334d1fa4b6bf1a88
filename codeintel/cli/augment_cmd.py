"""``codeintel augment``: write semantics-preserving variants of a jsonl dataset (ContraBERT operators)."""

from __future__ import annotations

import argparse
import sys

from codeintel.data.loaders import CODE_FIELDS, NL_FIELDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="write augmented variants of a jsonl dataset (code and NL operators)",
                       description="Apply ContraBERT-style operators to every row of IN.jsonl and write OUT.jsonl. "
                                   "Code that does not parse, and operators that cannot apply, leave the row "
                                   "unchanged and are counted.")
    p.add_argument("input", nargs="?", help="jsonl with a code field (code/func/original_string)")
    p.add_argument("output", nargs="?", help="jsonl to write (a new file; see --overwrite)")  # as typed: "x/" is a dir
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


def run(args: argparse.Namespace) -> int:
    from codeintel.errors import ConfigError
    from codeintel.recipes.api import augment_file

    if args.list:
        print(list_operators())
        return 0
    if args.input is None or args.output is None or not args.ops:
        raise ConfigError("usage: codeintel augment --ops OP[,OP...] --lang L IN.jsonl OUT.jsonl "
                          "(or --list to see the operators).")
    augment_file(args.input, args.output, args.ops, args.lang, seed=args.seed, per_sample=args.per_sample,
                 code_field=args.code_field, nl_field=args.nl_field, overwrite=args.overwrite,
                 progress=not args.no_progress, echo=lambda line: print(line, file=sys.stderr))
    return 0
