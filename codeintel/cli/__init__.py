"""The ``codeintel`` command. One subcommand per module: ``register(subparsers)`` + ``run(args) -> int``.

Errors the user can fix (:class:`~codeintel.errors.CodeintelError`) are printed once, without a
traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from codeintel import __version__
from codeintel.errors import CodeintelError

COMMANDS = ("models", "tasks", "train", "evaluate", "data", "tokenize", "dfg", "token-types", "augment", "pretrain",
            "adapters", "probe", "continual", "compare", "report", "score", "predict", "index", "search", "clones",
            "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codeintel",
        description="Fine-tune and evaluate code models (CodeBERT, GraphCodeBERT, CodeT5, CodeT5+) "
                    "with CodeXGLUE-exact metrics.",
    )
    parser.add_argument("--version", action="version", version=f"codeintel {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only warnings and errors (anywhere on the command line; the log lines go through the "
                             "`codeintel` logger at INFO)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also debug lines, and the INFO messages of transformers")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"codeintel.cli.{name.replace('-', '_')}_cmd").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    levels = {"-q", "--quiet", "-v", "--verbose"}   # accepted before or after the command
    args, extra = parser.parse_known_args([a for a in given if a not in levels])
    args.argv = given  # the command as typed (model cards record it)
    _configure_logging(quiet=bool({"-q", "--quiet"} & set(given)), verbose=bool({"-v", "--verbose"} & set(given)),
                       json_out=bool(getattr(args, "json", False)))
    # argparse stops filling positionals at the first option: `augment IN --ops X OUT` leaves OUT over. A
    # command that names its optional path positionals (``fill_positionals``) gets such leftovers in order.
    slots = [name for name in getattr(args, "fill_positionals", ()) if getattr(args, name) is None]
    while extra and slots and not extra[0].startswith("-"):
        setattr(args, slots.pop(0), extra.pop(0))
    if extra and isinstance(getattr(args, "overrides", None), list):  # `--task x key=value`: overrides after options
        args.overrides += [e for e in extra if "=" in e and not e.startswith("-")]
        extra = [e for e in extra if not ("=" in e and not e.startswith("-"))]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "LOCAL_RANK" in os.environ:
        _stop_with_launcher()
    try:
        return int(args.run(args) or 0)
    except CodeintelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `codeintel ... | head`: the reader left; stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _stop_with_launcher() -> None:
    """A rank started by ``torchrun`` stops when its launcher dies (a pre-empted job's SIGKILL reaches only the
    launcher): SIGTERM on the parent's death (Linux ``PR_SET_PDEATHSIG``), and at once if it is already gone. The
    run directory keeps its last complete state for ``--resume``."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):          # not Linux: nothing to arm
        return
    if os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGTERM)


def _configure_logging(quiet: bool, verbose: bool, json_out: bool) -> None:
    """The ``codeintel`` logger for a command: INFO (the default), WARNING with ``--quiet``, DEBUG with
    ``--verbose``; log lines to stderr when stdout is the command's JSON."""
    from codeintel import log

    log.set_verbosity("warning" if quiet else "debug" if verbose else "info")
    log.to_stderr(json_out)
    if verbose:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_info()


def exit_process(code: int) -> None:
    """Exit with ``code``. Under ``torchrun`` (``WORLD_SIZE`` > 1) the interpreter's teardown is skipped once the
    streams are flushed: there a rank can abort ("terminate called without an active exception") while its
    process group's threads are torn down, turning a finished run into a failed launch (seen 1 in 6 runs on a
    loaded 2-core machine, with or without destroying the process group first; 0 in 10 with this)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_process(main())
