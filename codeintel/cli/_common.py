"""Argument handling shared by the commands."""

from __future__ import annotations

import argparse


def add_run_arguments(p: argparse.ArgumentParser, model_help: str) -> None:
    p.add_argument("--model", help=model_help)
    p.add_argument("--task", help="task card name (summarization, clone-detection, clone-retrieval, ...) "
                   "or the path of a card .yaml")
    p.add_argument("--data", nargs="+", metavar="PATH",
                   help="data file(s) or directory; default: the task card's dataset")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of config keys (see `codeintel train --help`)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides, e.g. train.lr=3e-4")


def reclaim_overrides(args: argparse.Namespace, keep: tuple[str, ...] = ()) -> None:
    """``--data a b key=value``: nargs='+' swallows trailing overrides; give them back to ``args.overrides``
    (``keep``: keys that are data, e.g. ``train=FILE``)."""
    if args.data:
        moved = [d for d in args.data if "=" in d and d.split("=", 1)[0] not in keep]
        args.data = [d for d in args.data if d not in moved] or None
        args.overrides = [*moved, *args.overrides]


def refuse_with_resume(args: argparse.Namespace, options: tuple[str, ...], what: str) -> None:
    """``--resume`` continues a run with its saved settings: any other setting given is an error."""
    from codeintel.errors import ConfigError

    given = [f"--{k}" for k in options if getattr(args, k)]
    given += ["--overwrite"] * args.overwrite + list(args.overrides)
    if given:
        raise ConfigError(f"--resume continues {args.resume} with {what}; drop {' '.join(given)} (start a new run "
                          "to change settings).")


def keys_help(config_name: str) -> str:
    """The ``--help`` epilog of a command configured by ``codeintel.config.<config_name>``: one line per key."""
    from codeintel import config

    return (f"keys (key=value; generated from codeintel.config.{config_name}):\n"
            + "\n".join(config.describe_keys(getattr(config, config_name))))


def read_source(path, lang: str | None) -> tuple[str, str]:
    """A source file's text ('-' reads standard input) and its language (from ``lang`` or the extension)."""
    import sys
    from pathlib import Path

    from codeintel.errors import ConfigError, DataError
    from codeintel.structure.parsing import EXTENSIONS

    path = Path(path)
    if str(path) == "-":
        code = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # as files: bad bytes become U+FFFD
    elif path.is_dir():
        raise DataError(f"{path} is a directory; pass a source file.")
    elif path.exists() and not path.is_file():
        raise DataError(f"{path} is not a regular file (a device or a pipe); pass a source file, or - for standard "
                        "input.")
    elif not path.is_file():
        raise DataError(f"{path} does not exist.")
    else:
        try:
            code = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:   # e.g. /proc/self/mem: a regular file by its type, unreadable as text
            raise DataError(f"{path} cannot be read ({exc.strerror or exc}); pass a source file.") from None
    lang = lang or EXTENSIONS.get(path.suffix.lower(), "")
    if not lang:
        raise ConfigError(f"cannot tell the language of {path}; pass --lang.")
    return code, lang


def add_seeds_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", metavar="1,2,3",
                   help="one run per seed (train.seed) under --out, one after another, and summary.json/.md (mean, "
                        "std, min/max, 95 %% interval per score); the same command again continues")
    p.add_argument("--seed-jobs", type=int, default=1, metavar="N",
                   help="with --seeds: run N seeds at once, each in its own process (the cores shared out; logs in "
                        "OUT/seed-<s>.log)")


def check_seeds(args: argparse.Namespace, overrides) -> None:
    """``--seeds`` sets ``train.seed`` per run: refused beside ``train.seed=...`` (or ``--resume``)."""
    from codeintel.errors import ConfigError

    if getattr(args, "seed_jobs", 1) != 1 and not getattr(args, "seeds", None):
        raise ConfigError("--seed-jobs runs seeds at once; it needs --seeds.")
    if getattr(args, "seeds", None) and ("train.seed" in overrides or getattr(args, "resume", None)):
        raise ConfigError("--seeds sets train.seed for each run and continues by itself; drop "
                          + ("train.seed=..." if "train.seed" in overrides else "--resume") + ".")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """``--config FILE.yaml`` and ``--print-config``, for the commands whose config is one dataclass."""
    p.add_argument("--config", metavar="FILE.yaml",
                   help="YAML file of config keys (listed below); key=value arguments and the flags override it")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config as YAML (reusable with --config) and exit")


def config_overrides(args: argparse.Namespace) -> dict:
    """The ``--config`` file's keys (nested sections as dotted keys), then the ``key=value`` arguments over them."""
    from codeintel.config import load_yaml, parse_overrides

    merged: dict = {}

    def flatten(mapping: dict, prefix: str = "") -> None:
        for k, v in mapping.items():
            if isinstance(v, dict):
                flatten(v, f"{prefix}{k}.")
            else:
                merged[f"{prefix}{k}"] = v

    if getattr(args, "config", None):
        flatten(load_yaml(args.config))
    merged.update(parse_overrides(args.overrides))
    return merged


def print_config(cfg) -> int:
    """Print a resolved config dataclass as YAML (what ``--config`` reads back)."""
    import dataclasses

    import yaml

    print(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False), end="")
    return 0


def recipe_config(args: argparse.Namespace, cls, flags: dict[str, str]):
    """The config of a recipe whose settings are one dataclass ``cls``: with ``--resume RUN`` the run's saved own
    (any other setting refused), else defaults < ``--config`` < ``key=value`` < the ``flags`` given (flag name ->
    config key; list-valued flags become lists)."""
    from codeintel.config import set_key

    if getattr(args, "resume", None):
        from codeintel.recipes.kit import resumed_config

        refuse_with_resume(args, (*flags, "config"), "its own settings")
        return resumed_config(args.resume, cls)
    cfg = cls()
    for key, value in config_overrides(args).items():
        set_key(cfg, key, value)
    for flag, key in flags.items():
        value = getattr(args, flag)
        if value:
            set_key(cfg, key, list(value) if isinstance(value, list | tuple) else [value] if key == "data.paths"
                    else value)
    return cfg
