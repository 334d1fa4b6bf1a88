"""CodeBLEU on 1,000 translation pairs: codeintel's implementation against the ``codebleu`` package (an unofficial
reimplementation of CodeXGLUE's ``calc_code_bleu.py``) on the same pairs, interleaved over rounds, with every
component side by side.

The package pins an older tree-sitter (``<0.23``) than the hub's, so it runs in its own environment::

    python3 -m venv /tmp/cbvenv
    /tmp/cbvenv/bin/pip install codebleu==0.7.0 "tree-sitter>=0.22,<0.23" "tree-sitter-java<0.22" \\
        "tree-sitter-c-sharp<0.22"
    python bench/codebleu_speed.py --their-python /tmp/cbvenv/bin/python [--pairs 1000] [--rounds 3]

Hypotheses are the next 1,000 target methods of the training file (unrelated code: every component is far from
0 and 1), references the first 1,000; both languages of ``../shared/data/translation``. Each side's time is the
scoring call alone (measured inside its process; imports and file reading excluded), best of the rounds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THEIRS = """
import json, sys, time
from codebleu import calc_codebleu
hyp = open(sys.argv[1]).read().split("\\n")
ref = open(sys.argv[2]).read().split("\\n")
t = time.perf_counter()
out = calc_codebleu(ref, hyp, sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t, "codebleu": out["codebleu"], "ngram": out["ngram_match_score"],
                  "weighted_ngram": out["weighted_ngram_match_score"], "syntax": out["syntax_match_score"],
                  "dataflow": out["dataflow_match_score"]}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--their-python", required=True, help="a Python with the codebleu package installed")
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "translation"))
    p.add_argument("--pairs", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    from codeintel.eval.codebleu import codebleu

    tmp = Path(tempfile.mkdtemp())
    script = tmp / "theirs.py"
    script.write_text(THEIRS)
    n = args.pairs
    for lang, suffix in (("java", "java"), ("c_sharp", "cs")):
        lines = (Path(args.data) / f"train.java-cs.txt.{suffix}").read_text().split("\n")
        ref, hyp = lines[:n], lines[n : 2 * n]
        (tmp / "ref").write_text("\n".join(ref))
        (tmp / "hyp").write_text("\n".join(hyp))
        ours_t, theirs_t, ours, theirs = [], [], {}, {}
        for _ in range(args.rounds):
            t = time.perf_counter()
            ours = {k: v / 100 for k, v in codebleu(hyp, ref, lang).items()}
            ours_t.append(time.perf_counter() - t)
            res = subprocess.run([args.their_python, str(script), str(tmp / "hyp"), str(tmp / "ref"), lang],
                                 capture_output=True, text=True, check=True)
            theirs = json.loads(res.stdout.strip().splitlines()[-1])
            theirs_t.append(theirs.pop("seconds"))
        a, b = min(ours_t), min(theirs_t)
        print(f"{lang}: {n} pairs  codeintel {a:.2f} s ({n / a:.0f} pairs/s)  codebleu package {b:.2f} s "
              f"({n / b:.0f} pairs/s)  ratio {b / a:.2f}x")
        for k in ("codebleu", "ngram", "weighted_ngram", "syntax", "dataflow"):
            same = "identical" if ours[k] == theirs[k] else f"differs by {ours[k] - theirs[k]:+.6f}"
            print(f"  {k:15s} codeintel {ours[k]:.6f}  package {theirs[k]:.6f}  {same}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
