"""``codeintel report RUNS...``: a leaderboard of runs across tasks (markdown, LaTeX or JSON)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="a leaderboard of runs across tasks: mean ± std, significant bests marked",
                       description="One row per model configuration, one column per task and metric (test scores; "
                                   "mean ± std over the seeds of a `train --seeds` directory). The best of a column "
                                   "is bold only where it is significantly better than the second best on the same "
                                   "test examples (paired approximate randomization, p < 0.05).")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories, evaluation directories or multi-seed "
                                                          "directories")
    p.add_argument("--format", default="markdown", help="markdown (default), latex or json")
    p.add_argument("--trials", type=int, default=10_000, help="approximate-randomization trials (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the randomization (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.errors import ConfigError
    from codeintel.recipes.report import FORMATS, render, report

    if args.format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}.")
    if args.trials < 100:
        raise ConfigError(f"--trials must be at least 100, got {args.trials}.")
    print(render(report(args.runs, trials=args.trials, seed=args.seed), args.format), end="")
    return 0
