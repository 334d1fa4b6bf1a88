"""``codeintel continual``: API streams (``build-stream``, ``streams``) and continual learning over them (``run``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codeintel.cli._common import add_config_arguments, keys_help


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("continual", help="continual learning over API streams (build-stream, run, streams)")
    csub = p.add_subparsers(dest="continual_command", metavar="{build-stream,run,streams}")
    csub.required = True

    b = csub.add_parser("build-stream", help="group functions into an ordered stream of API domains",
                        description="Extract every function's API calls with tree-sitter, group the samples into "
                                    "domains (the --domains definition, or the --num-domains most called APIs), mark "
                                    "the rest in-distribution, hold out --test-fraction of each API's samples, and "
                                    "write the stream YAML with its counts.")
    b.add_argument("--data", default=None, help="a source folder (your repository: its --lang files, walked as "
                   "`codeintel predict` walks it), a jsonl of code (field code/func/source_code), or stdlib "
                   "(default for python: this interpreter's standard library)")
    b.add_argument("--keep-tests", action="store_true", help="a folder's test files are samples too (default: left "
                   "out)")
    b.add_argument("--keep-own", action="store_true", help="the repository's own packages and test frameworks "
                   "(pytest, unittest, JUnit, ...) may become automatic domains (default: never)")
    b.add_argument("--lang", choices=["python", "java"], help="language of the code (default: the definition's)")
    b.add_argument("--domains", metavar="NAME_OR_YAML", help="a stream definition: a shipped name (stdlib, gcj-java) "
                   "or a YAML with domains: [{name, apis: [...]}]; default: one domain per most-called API")
    b.add_argument("--by", choices=["module", "package", "class"], help="API granularity (default module; or the "
                   "definition's)")
    b.add_argument("--num-domains", type=int, default=5, help="domains chosen automatically (default 5)")
    b.add_argument("--min-samples", type=int, default=20,
                   help="an automatic domain needs at least this many samples (default 20)")
    b.add_argument("--seed", type=int, help="seed of the test hold-out (default 0, or the definition's)")
    b.add_argument("--test-fraction", type=float, help="share of each API's samples held out (default 0.1)")
    b.add_argument("--out", dest="out_raw", required=True, help="the stream YAML to write (a new file)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(run=run_build)

    r = csub.add_parser("run", help="run strategies on a stream and compare forgetting",
                        description="Fine-tune a causal LM on each experience of an API stream in turn, with each "
                                    "--strategy from the same starting weights and seed, score every domain after "
                                    "every experience (the matrix R), and print the comparison table.",
                        epilog=keys_help("ContinualConfig"), formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--model", help="registry name, hub id or directory (default tiny-codegpt)")
    r.add_argument("--stream", help="default (the standard-library stream), a shipped stream, or a stream YAML")
    r.add_argument("--data", help="data for the stream, instead of the stream file's own (data.paths)")
    r.add_argument("--task", choices=["api-call", "api-usage"], help="default api-call")
    r.add_argument("--strategy", action="append", metavar="NAME",
                   help="naive, cumulative, joint, replay, ewc, si, rwalk, agem, lwf (repeat the option; default "
                        "naive)")
    r.add_argument("--out", help="output directory (default runs/continual-<model>-<stream>-<task>); new or empty")
    r.add_argument("--overwrite", action="store_true", help="move an earlier continual output in --out aside")
    r.add_argument("--resume", metavar="RUN",
                   help="continue RUN (started with train.save_every=N) after its newest saved "
                   "state, with its own settings")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--json", action="store_true", help="print continual.json's summary as JSON on stdout (logs on "
                                                       "stderr)")
    add_config_arguments(r)
    r.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.lr=1e-3 ewc.lam=0.5 repeats=3")
    r.set_defaults(run=run_run)

    s = csub.add_parser("streams", help="list the shipped stream definitions")
    s.set_defaults(run=run_streams)


def run_build(args: argparse.Namespace) -> int:
    args.out = Path(args.out_raw)
    from codeintel.config import check_option
    from codeintel.continual import streams as st
    from codeintel.errors import ConfigError
    from codeintel.recipes.rundir import output_file

    out = args.out
    if args.test_fraction is not None and not 0 < args.test_fraction < 1:
        raise ConfigError(f"--test-fraction must be in (0, 1), got {args.test_fraction}.")
    if args.num_domains < 1 or args.min_samples < 1:
        raise ConfigError("--num-domains and --min-samples must be at least 1.")
    if args.domains:
        defn = st.load_definition(args.domains)
        if args.lang and args.lang != defn.lang:
            raise ConfigError(f"--lang {args.lang} but the definition {args.domains} is {defn.lang} code.")
    else:
        if not args.lang:
            raise ConfigError("pass --lang python|java (or --domains with a definition that names it).")
        defn = st.StreamDefinition(out.stem, args.lang, [], args.by or "module")
    defn.by = args.by or defn.by
    defn.seed = args.seed if args.seed is not None else defn.seed
    check_option("--seed", "seed", defn.seed)
    defn.test_fraction = args.test_fraction or defn.test_fraction
    data = args.data or (defn.data_path() if args.domains else "") or ("stdlib" if defn.lang == "python" else "")
    if not data:
        raise ConfigError("pass --data FILE.jsonl (Java code has no embedded default).")
    defn.data, defn.counts = data if data == "stdlib" else str(Path(data).resolve()), {}
    if not args.domains:
        defn.exclude_tests = not args.keep_tests
    with output_file(args.out_raw, what="--out") as tmp:           # a new file only; claimed and locked
        units = st.read_units(data, defn.lang, defn.exclude_tests)
        samples = st.extract_all(units, defn.lang, not args.no_progress)
        if not args.domains:
            defn.excluded_apis = [] if args.keep_own else [*units.own_packages, *st.TEST_FRAMEWORKS[defn.lang]]
            defn.domains = st.auto_domains(samples, defn.by, defn.lang, args.num_domains, args.min_samples,
                                           defn.excluded_apis)
        stream = st.build(defn, samples)
        st.write_definition(defn, stream, tmp)
    counts = stream.counts()
    print(f"{len(samples)} samples ({sum(bool(s.calls) for s in samples)} with resolved API calls) from {data}")
    if units.test_files:
        print(f"left out: {units.test_files} test files (--keep-tests keeps them)")
    if defn.excluded_apis:
        print(f"never automatic domains: {', '.join(defn.excluded_apis)} (the repository's own packages and test "
              "frameworks; --keep-own allows them)")
    width = max(len(n) for n in counts)
    for name, c in counts.items():
        apis = ", ".join(f"{a} {n}" for a, n in list(c.get("apis", {}).items())[:4])
        print(f"  {name.ljust(width)}  {c['train']:6d} train  {c['test']:5d} test" + (f"  ({apis})" if apis else ""))
    if not args.domains:
        print("most called APIs: " + ", ".join(f"{a} {n}" for a, n in st.api_table(samples, defn.by, defn.lang)[:15]))
    print(f"wrote {out}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    import json
    import sys

    from codeintel.cli._common import print_config, recipe_config
    from codeintel.config import ContinualConfig
    from codeintel.log import say as log_say
    from codeintel.recipes.continual import run

    cfg = recipe_config(args, ContinualConfig, {"model": "model", "stream": "stream", "data": "data.paths",
                                                "task": "task", "out": "output_dir", "strategy": "strategies"})
    if args.print_config:
        return print_config(cfg)
    echo = log_say
    result = run(cfg, overwrite=args.overwrite, echo=echo, show_progress=not args.no_progress,
                 resume=bool(args.resume))
    if args.json:
        json.dump({k: result[k] for k in ("model", "task", "metric", "summary", "R_mean", "output_dir")},
                  sys.stdout, indent=2)
        print()
    else:
        print(f"wrote {result['output_dir']}/continual.json, continual.md, heatmap-*.png, domains.png "
              f"({result['seconds']:.0f}s)")
    return 0


def run_streams(args: argparse.Namespace) -> int:
    from codeintel.continual.streams import load_definition, shipped_streams

    for name, path in shipped_streams().items():
        d = load_definition(str(path))
        print(f"{name}  ({d.lang}, by {d.by}, data {d.data or 'not shipped: pass --data'})")
        print("  " + " -> ".join(x.name for x in d.domains))
        if d.description:
            print(f"  {d.description}")
    return 0
