"""``codeintel tokenize``: show how a tokenizer sees a file (Tokompiler: tokens and the name mapping)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenize", help="tokenize a source file and show the tokens (and Tokompiler's mapping)")
    p.add_argument("file", type=Path, help="source file ('-' for standard input)")
    p.add_argument("--tokenizer", default="tokompiler",
                   help="tokompiler (default), a registry model name, or a checkpoint/tokenizer directory")
    p.add_argument("--lang", help="c, cpp, fortran, python or java (default: from the file extension)")
    p.add_argument("--numbering", choices=["random", "serial"], help="Tokompiler name numbering (default random)")
    p.add_argument("--seed", type=int, help="seed of Tokompiler's random numbering (default 0)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.cli._common import read_source
    from codeintel.errors import ConfigError
    from codeintel.recipes.api import tokenize

    if args.tokenizer != "tokompiler":
        if args.numbering or args.seed is not None:
            raise ConfigError(f"--numbering and --seed are Tokompiler's; --tokenizer {args.tokenizer} has no name "
                              "numbering. Drop them, or leave out --tokenizer.")
        code, _ = read_source(args.file, args.lang or "c")
        tokens = tokenize(code, tokenizer=args.tokenizer)["tokens"]
        print(json.dumps({"tokens": tokens}) if args.format == "json" else " ".join(tokens))
        return 0
    code, lang = read_source(args.file, args.lang)
    result = tokenize(code, lang, numbering=args.numbering or "random", seed=0 if args.seed is None else args.seed)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(" ".join(result["tokens"]))
        print(f"\n# {len(result['tokens'])} tokens, {len(result['mapping'])} anonymized names, "
              f"{result['unknown_tokens']} unknown")
        for new, old in sorted(result["mapping"].items(),
                               key=lambda kv: (kv[0].split("_")[0], int(kv[0].split("_")[1]))):
            print(f"{new:>12}  {old}")
    if result["syntax_errors"]:
        print(f"warning: {result['syntax_errors']} syntax error node(s); tokens come from what parsed", file=sys.stderr)
    return 0
