"""``codeintel score``: CodeXGLUE's code-generation evaluators on prediction and reference files (one example a
line), as ``calc_code_bleu.py --refs R1 [R2 ...] --hyp H --lang L`` and ``evaluator.py`` take them."""

from __future__ import annotations

import argparse
import math

METRICS = ("codebleu", "bleu", "xmatch")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="CodeBLEU, CodeXGLUE BLEU and exact match of prediction files",
                       description="Score a file of predictions (one example a line) against one or more reference "
                                   "files (line i of each is a reference of prediction i), as CodeXGLUE's "
                                   "code-to-code, refinement and CONCODE evaluators do: exact match of stripped "
                                   "lines, _bleu (corpus BLEU-4, add-one smoothing) and CodeBLEU with its four "
                                   "components. An empty prediction line is a prediction (it scores 0).")
    p.add_argument("--hyp", required=True, metavar="FILE", help="predictions, one a line")
    p.add_argument("--refs", required=True, nargs="+", metavar="FILE", help="reference file(s), one a line")
    p.add_argument("--lang", default="java", help="language of the code for CodeBLEU (default java)")
    p.add_argument("--metrics", default=",".join(METRICS),
                   help=f"comma-separated, of {', '.join(METRICS)} (default all)")
    p.add_argument("--weights", default="0.25,0.25,0.25,0.25", help="CodeBLEU's α,β,γ,δ (default 0.25 each)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    p.set_defaults(run=run)


def read_lines(path: str, what: str) -> list[str]:
    """The lines of a text file (a last line without a newline counts; no line at all is an error)."""
    from pathlib import Path

    from codeintel.data.loaders import check_file
    from codeintel.errors import DataError

    p = Path(path)
    try:
        check_file(p)
    except DataError as exc:
        raise DataError(f"{what}: {exc}") from None
    text = p.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataError(f"{what} {path} is empty: one prediction or reference a line is expected.")
    return [line.rstrip("\r") for line in lines]


def run(args: argparse.Namespace) -> int:
    import json
    import warnings

    from codeintel.errors import ConfigError, DataError
    from codeintel.eval import codebleu as cb
    from codeintel.eval.metrics import codexglue_bleu

    wanted = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in METRICS]
    if unknown or not wanted:
        raise ConfigError(f"--metrics: {', '.join(unknown) or 'none given'}; choose from {', '.join(METRICS)}.")
    try:
        weights = tuple(float(w) for w in args.weights.split(","))
    except ValueError:
        raise ConfigError(f"--weights {args.weights!r}: four numbers separated by commas, e.g. "
                          "0.25,0.25,0.25,0.25.") from None
    if len(weights) != 4:
        raise ConfigError(f"--weights {args.weights!r}: CodeBLEU takes four weights (n-gram, weighted n-gram, "
                          "syntax, data flow).")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"--weights {args.weights!r}: finite numbers >= 0, not all 0 (the paper's default: "
                          "0.25,0.25,0.25,0.25).")
    lang = cb.check_language(args.lang) if "codebleu" in wanted else args.lang
    hyp = read_lines(args.hyp, "--hyp")
    refs = [read_lines(r, "--refs") for r in args.refs]
    for path, lines in zip(args.refs, refs, strict=True):
        if len(lines) != len(hyp):
            raise DataError(f"{args.hyp} has {len(hyp)} lines but {path} has {len(lines)}: line i of every file is "
                            "example i.")
    per_example = [list(r) for r in zip(*refs, strict=True)]
    out: dict[str, float] = {}
    notes: list[str] = []
    if "xmatch" in wanted:           # the evaluators compare with the first reference
        out["xmatch"] = cb.xmatch(hyp, refs[0])
    if "bleu" in wanted:
        out["bleu"] = codexglue_bleu(hyp, per_example)
    if "codebleu" in wanted:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", cb.CodeBLEUWarning)
            parts = cb.codebleu(hyp, per_example, lang, weights)
        notes += [str(w.message) for w in caught if issubclass(w.category, cb.CodeBLEUWarning)]
        out.update({"codebleu": parts["codebleu"], "ngram_match": parts["ngram"],
                    "weighted_ngram_match": parts["weighted_ngram"], "syntax_match": parts["syntax"],
                    "dataflow_match": parts["dataflow"]})
    if args.json:
        print(json.dumps({**out, "examples": len(hyp), "references": len(refs), "lang": lang, "notes": notes}))
    else:
        for k, v in out.items():
            print(f"{k:22s}{v:.4f}")
        for note in notes:
            print(f"warning: {note}")
    return 0
