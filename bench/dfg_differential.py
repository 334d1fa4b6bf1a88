#!/usr/bin/env python3
"""Data-flow graph invariants over a corpus, per language: counts that a wrong graph moves (run by hand).

For each snippet, :func:`codeintel.structure.dfg.extract`, then per language:

- ``defs from nothing``: definitions (``computedFrom``, or a declarator's ``comesFrom``) with no source;
- ``uses``: ``comesFrom`` edges from the same name, and how many are *backward* (a source after the use):
  legal only inside a loop (the previous iteration), so ``backward outside loops`` must be 0;
- ``self uses``: a use whose source is its own position (only the first pass over a loop can make one);
- ``wrong-name sources``: a use whose source position holds another name (must be 0);
- ``loops`` / ``branches``: loop and if nodes walked (the constructs whose handling the fixes changed).

The reaching-definitions property test (``tests/test_dfg_fidelity.py``) is the exact check; this script is
the quick look at a whole corpus. Default corpus: the shared samples (python_dev, GCJ Java, POJ-104 C).

    python bench/dfg_differential.py [--data FILE.jsonl --lang L]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT = [(SHARED / "summarization" / "python_dev.jsonl", "python"), (SHARED / "clone" / "gcj_programs.jsonl", "java"),
           (SHARED / "clone" / "poj104_dev.jsonl", "c")]


def spans(code: str, lang: str) -> tuple[list[tuple[int, int]], int, int]:
    """Token-position spans of the loops, and the numbers of loops and branches."""
    from codeintel.structure.dfg import RULES, extract
    from codeintel.structure.parsing import parse

    r = RULES[lang]
    loop_types = r.for_statement | r.while_statement | frozenset(r.for_in) | r.do_first_in  # comprehensions too
    toks = extract(code, lang).tokens
    data = (f"<?php {code} ?>" if lang == "php" and not code.lstrip().startswith("<?php") else code).encode()
    root = parse(data, lang).root_node
    leaves, stack = [], [root]
    while stack:
        n = stack.pop()
        if n.type in r.comments:
            continue
        if n.child_count == 0 or n.type in r.strings:
            if n.end_byte > n.start_byte:
                leaves.append(n.start_byte)
            continue
        stack.extend(reversed(n.children))
    assert len(leaves) == len(toks)
    import bisect

    out, loops, branches, stack = [], 0, 0, [root]
    while stack:
        n = stack.pop()
        if n.type in loop_types:
            loops += 1
            out.append((bisect.bisect_left(leaves, n.start_byte), bisect.bisect_left(leaves, n.end_byte)))
        elif n.type in r.if_statement:
            branches += 1
        stack.extend(n.children)
    return out, loops, branches


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--lang")
    args = ap.parse_args()
    from codeintel.structure.dfg import extract

    corpora = [(args.data, args.lang)] if args.data else [(p, lang) for p, lang in DEFAULT if p.is_file()]
    if not corpora:
        sys.exit("error: no corpus: pass --data FILE.jsonl --lang L (the shared samples are not here)")
    print(f"{'lang':<8} {'snippets':>8} {'edges':>8} {'defs from nothing':>17} {'uses':>7} {'backward':>8} "
          f"{'outside loops':>13} {'self uses':>9} {'wrong-name':>10} {'loops':>6} {'branches':>8}")
    for path, lang in corpora:
        c = dict.fromkeys(("snippets", "edges", "nothing", "uses", "back", "outside", "self", "wrong", "loops",
                           "branches"), 0)
        for line in path.read_text().splitlines():
            row = json.loads(line)
            code = row.get("code") or row.get("func") or ""
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                flow = extract(code, lang)
                loops, n_loops, n_branches = spans(code, lang)
            c["snippets"] += 1
            c["loops"] += n_loops
            c["branches"] += n_branches
            for var, pos, kind, names, src in flow.edges:
                c["edges"] += 1
                is_use = kind == "comesFrom" and names == (var,)
                if not src:
                    c["nothing"] += 1
                    continue
                if not is_use:
                    continue
                c["uses"] += 1
                c["wrong"] += any(flow.tokens[p] != var for p in src)
                c["self"] += pos in src
                if any(p > pos for p in src):
                    c["back"] += 1
                    later = [p for p in src if p > pos]  # from later in the same loop: the previous iteration
                    c["outside"] += not any(a <= pos < b and all(p < b for p in later) for a, b in loops)
        print(f"{lang:<8} {c['snippets']:>8} {c['edges']:>8} {c['nothing']:>17} {c['uses']:>7} {c['back']:>8} "
              f"{c['outside']:>13} {c['self']:>9} {c['wrong']:>10} {c['loops']:>6} {c['branches']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
