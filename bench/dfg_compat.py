"""The data-flow engine's GraphCodeBERT setting (``compat=True``, what CodeBLEU uses) against GraphCodeBERT's own
extractor, run on the *same* parse trees, snippet by snippet.

GraphCodeBERT's ``parser/DFG.py`` (the file CodeXGLUE's CodeBLEU evaluator ships; the ``codebleu`` package carries
a copy) is pure Python over tree-sitter's node API, so it runs on the trees of the hub's grammar wheels. That
takes the grammar out of the comparison: what is left is the engine. Point ``--reference`` at a folder holding
``DFG.py`` and ``utils.py``, e.g. the ``codebleu`` package's ``parser`` folder::

    python bench/dfg_compat.py --reference /tmp/cbvenv/lib/python3.11/site-packages/codebleu/parser

Snippets: the Java and C# sides of ``../shared/data/translation`` (the CodeBLEU use case), the Java programs of
``clone/gcj_programs.jsonl`` and the Python functions of ``summarization/python_dev.jsonl``. For each language it
prints the share of snippets whose graph (entries united per (variable, position, kind), isolated entries dropped
as the evaluator does) is identical to the reference's, for ``compat=False`` (the hub's corrected engine) and
``compat=True``, the CodeBLEU data-flow match of consecutive snippet pairs computed from each engine's graphs, and
up to ``--show`` differing snippets. Reference node types renamed since 2020 are given the new names before it runs
(C#'s ``for_each_statement``), so the count measures semantics, not names.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import types
import warnings
from pathlib import Path

from codeintel.eval import codebleu as cb
from codeintel.structure import dfg
from codeintel.structure.parsing import parse

FUNCS = {"java": "DFG_java", "c_sharp": "DFG_csharp", "python": "DFG_python", "javascript": "DFG_javascript",
         "go": "DFG_go", "ruby": "DFG_ruby", "php": "DFG_php"}


def load_reference(folder: Path):
    pkg = types.ModuleType("gcb_parser")
    pkg.__path__ = [str(folder)]
    sys.modules["gcb_parser"] = pkg
    module = importlib.import_module("gcb_parser.DFG")
    utils = importlib.import_module("gcb_parser.utils")
    src = (folder / "DFG.py").read_text().replace('"for_each_statement"', '"foreach_statement"')
    # the 2020 C# grammar's declarator was (name, equals_value_clause); today's is (name, "=", value)
    old = "        if len(root_node.children) == 2:\n            name = root_node.children[0]\n" \
          "            value = root_node.children[1]"
    new = '        if len(root_node.children) == 3 and root_node.children[1].type == "=":\n' \
          "            name = root_node.children[0]\n            value = root_node.children[2]"
    src = src.replace(old, new)
    exec(compile(src.replace("from .utils import", "from gcb_parser.utils import"), str(folder / "DFG.py"), "exec"),
         module.__dict__)
    return module, utils


def reference_edges(ref, utils, code: str, lang: str, strict: bool = False) -> list:
    """GraphCodeBERT's entries for ``code`` as the evaluator reads them (before its per-position merge)."""
    tree = parse(code.encode("utf-8"), lang)
    index = utils.tree_to_token_index(tree.root_node)
    lines = code.split("\n")
    index_to_code = {ix: (i, utils.index_to_code_token(ix, lines)) for i, ix in enumerate(index)}
    try:
        edges, _ = getattr(ref, FUNCS[lang])(tree.root_node, index_to_code, {})
    except Exception:  # noqa: BLE001 - the evaluator's own rule: an extractor error is an empty graph
        if strict:
            raise
        edges = []
    used = {p for e in edges if e[4] for p in (e[1], *e[4])}
    return [e for e in edges if e[1] in used]


def canon(edges) -> frozenset:
    acc: dict = {}
    for name, pos, rel, srcs, spos in edges:
        a = acc.setdefault((name, pos, rel), (set(), set()))
        a[0].update(srcs)
        a[1].update(spos)
    return frozenset((k, frozenset(v[0]), frozenset(v[1])) for k, v in acc.items())


def ours(code: str, lang: str, compat: bool) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dfg.extract(code, lang, compat=compat).edges


def snippets(data: Path, n: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    tr = data / "translation"
    out["java"] = (tr / "train.java-cs.txt.java").read_text().split("\n")[:n]
    out["c_sharp"] = (tr / "train.java-cs.txt.cs").read_text().split("\n")[:n]
    gcj = data / "clone" / "gcj_programs.jsonl"
    if gcj.exists():
        rows = [json.loads(line) for line in gcj.read_text().splitlines()[: n // 4]]
        out["java-gcj"] = [r.get("code") or r.get("func") or "" for r in rows]
    py = data / "summarization" / "python_dev.jsonl"
    if py.exists():
        rows = [json.loads(line) for line in py.read_text().splitlines()[:n]]
        out["python"] = [r.get("code") or " ".join(r.get("code_tokens", [])) for r in rows]
    return {k: [s for s in v if s.strip() and s.isascii()] for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reference", required=True, type=Path, help="a folder with GraphCodeBERT's DFG.py and utils.py")
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--show", type=int, default=0)
    args = p.parse_args()
    ref, utils = load_reference(args.reference)
    for name, codes in snippets(args.data, args.n).items():
        lang = name.split("-")[0]
        want, raised = [], []
        for c in codes:   # where GraphCodeBERT's code raises on today's trees (a string's children, which 2020
            try:          # grammars did not have), the evaluator's graph would be empty: not comparable
                want.append(canon(reference_edges(ref, utils, c, lang, strict=True)))
            except Exception:  # noqa: BLE001
                raised.append(c)
        codes = [c for c in codes if c not in raised]
        row = {}
        for compat in (False, True):
            got = [canon(ours(c, lang, compat)) for c in codes]
            same = [g == w for g, w in zip(got, want, strict=True)]
            row[compat] = f"{sum(same)}/{len(same)} ({sum(same) / len(same):.1%})"
            if compat and args.show:
                differ = [(c, g, w) for c, g, w, s in zip(codes, got, want, same, strict=True) if not s]
                for c, g, w in differ[:args.show]:
                    print("----", lang, "\n", c[:600])
                    print("  only ours:", sorted(g - w, key=lambda e: e[0][1])[:6])
                    print("  only ref: ", sorted(w - g, key=lambda e: e[0][1])[:6])
        print(f"{name:10s} {len(codes):5d} snippets: identical graphs, hub engine {row[False]}, "
              f"compat=True {row[True]} ({len(raised)} more where the reference raised, left out)")
        if lang in ("java", "c_sharp") and name == lang:
            hyp, refs = codes[1::2], codes[0::2][: len(codes[1::2])]
            for compat in (False, True):
                score = match(lambda c, compat=compat, lang=lang: cb.data_flow(c, lang, compat), hyp, refs)
                print(f"{'':10s} CodeBLEU data-flow match of {len(hyp)} pairs, compat={compat}: {score:.4f}")
            score = match(lambda c, lang=lang: cb.reduce_flow(reference_edges(ref, utils, c, lang)), hyp, refs)
            print(f"{'':10s} ... from the reference engine's graphs:            {score:.4f}")


def match(flow, hyp: list[str], refs: list[str]) -> float:
    """CodeBLEU's data-flow match × 100 with ``flow`` (code -> reduced triples) as the engine."""
    matched = total = 0
    for h, r in zip(hyp, refs, strict=True):
        have = flow(cb.strip_comments(h))
        want = flow(cb.strip_comments(r))
        total += len(want)
        for item in want:
            if item in have:
                matched += 1
                have.remove(item)
    return 100 * matched / total if total else 0.0


if __name__ == "__main__":
    main()
