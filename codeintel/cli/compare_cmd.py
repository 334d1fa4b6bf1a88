"""``codeintel compare RUN_A RUN_B [...]``: score differences with paired-bootstrap intervals and p-values."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="is B better than A on the same test set? intervals and p-values",
                       description="For every metric two runs share: A's and B's score, the difference B − A with "
                                   "its paired-bootstrap interval (test examples resampled, the corpus metric "
                                   "recomputed) and the p-value of paired approximate randomization. Runs are run "
                                   "directories, evaluation directories or per_example.json files scored on the "
                                   "same test examples; with more runs, each is compared with the first.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="RUN/, RUN/eval-test/ or a per_example.json")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    p.add_argument("--trials", type=int, default=10_000, help="approximate-randomization trials (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--format", default="table", help="table (default), markdown, latex or json")
    p.add_argument("--plot", metavar="FILE.png", help="also draw each difference with its interval (a new file)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codeintel.errors import ConfigError
    from codeintel.recipes.compare import FORMATS, compare, plot, render
    from codeintel.recipes.rundir import output_file

    if args.format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}.")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--plot {args.plot}: name a .png, .pdf or .svg file.")
    if args.plot:
        with output_file(args.plot, what="--plot") as tmp:    # claimed before the work, published at the end
            result = compare(args.runs, resamples=args.resamples, trials=args.trials, seed=args.seed,
                             confidence=args.confidence)
            plot(result, tmp, fmt=Path(args.plot).suffix.lower().lstrip("."))
    else:
        result = compare(args.runs, resamples=args.resamples, trials=args.trials, seed=args.seed,
                         confidence=args.confidence)
    print(render(result, args.format), end="")
    return 0
