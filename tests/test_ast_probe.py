"""AST-Probe's tree <-> (d, c, u) conversion: hand-worked trees, and exactness on real code."""

import json

import pytest

from codeintel.structure.ast_probe import EMPTY, decode, prf, probe_tree

E = EMPTY


def test_chain_merge_and_nary_node():
    # module -> expression_statement -> assignment (one child each: merged); assignment has 3 children: the first
    # on the left, the other two under one <empty> node
    t = probe_tree("x = 1\n", "python")
    assert t.tokens == ["x", "=", "1"]
    assert t.d == [2, 1]
    assert t.c == ["module<sep>expression_statement<sep>assignment", E]
    assert t.u == [E, E, E]
    assert sorted(t.constituents) == [("assignment", 0, 2), ("expression_statement", 0, 2), ("module", 0, 2)]


def test_unary_terminal_and_right_branching_spine():
    # def f(): pass -- function_definition has 5 children (def, f, parameters, :, block): spine E1 > E2 > E3;
    # block -> pass_statement -> "pass" is a chain over one terminal: the leaf carries "block<sep>pass_statement"
    t = probe_tree("def f():\n    pass\n", "python")
    assert t.tokens == ["def", "f", "(", ")", ":", "pass"]
    assert t.d == [4, 3, 1, 2, 1]
    assert t.c == ["module<sep>function_definition", E, "parameters", E, E]
    assert t.u == [E, E, E, E, E, "block<sep>pass_statement"]
    assert sorted(t.constituents) == [("block", 5, 5), ("function_definition", 0, 5), ("module", 0, 5),
                                      ("parameters", 2, 3), ("pass_statement", 5, 5)]
    assert sorted(decode(t.d, t.c, t.u)) == sorted(t.constituents)


def test_comments_docstrings_and_strings():
    code = 'def f(a):\n    """Doc."""\n    # note\n    return "x y" + a  # tail\n'
    t = probe_tree(code, "python")
    assert t.tokens == ["def", "f", "(", "a", ")", ":", "return", '"x y"', "+", "a"]  # one terminal per string
    # an implicitly concatenated docstring is a docstring to Python: dropped as a whole
    assert probe_tree('def f(a):\n    "Doc" " more"\n    return a\n', "python").tokens == \
        ["def", "f", "(", "a", ")", ":", "return", "a"]
    assert probe_tree("def f(:\n", "python") is None                                 # ERROR node: refused
    assert probe_tree("x\n", "python") is None                                       # one terminal: nothing to probe
    # more terminals than a limit: refused before the binary tree is built (each terminal is >= 1 sub-token)
    from codeintel.structure.ast_probe import TOO_LONG

    assert probe_tree("x = 1\n", "python", max_terminals=2) == TOO_LONG               # x, =, 1: 3 terminals
    assert probe_tree("x = 1\n", "python", max_terminals=3).tokens == ["x", "=", "1"]
    assert probe_tree("x = 1 + 2\n", "python", max_terminals=4) == TOO_LONG           # 5 terminals
    assert probe_tree("x = 1 + 2\n", "python", max_terminals=5).tokens == ["x", "=", "1", "+", "2"]


def test_decoding_a_predicted_tuple_and_scoring():
    t = probe_tree("x = 1\n", "python")
    # a wrong split: the first pair joined lowest -> (x =) grouped under <empty>, then the root
    pred = decode([1, 2], [E, "module<sep>expression_statement<sep>assignment"], [E, E, E])
    assert sorted(pred) == sorted(t.constituents)   # the labelled spans are the same: <empty> is not one
    pred = decode([1, 2], ["assignment", "module"], [E, E, E])
    assert sorted(pred) == [("assignment", 0, 1), ("module", 0, 2)]
    p, r, f1 = prf(t.constituents, pred)
    assert (p, r) == (0.5, 1 / 3) and f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    # a predicted root labelled <empty> cannot be dissolved: it stays as bad_root (the authors' decoder), a
    # constituent no true tree has; its left part (leaves 0..1) carries the joined label
    pred = decode([1, 2], ["module<sep>expression_statement<sep>assignment", E], [E, E, E])
    assert sorted(pred) == [("assignment", 0, 1), ("bad_root", 0, 2), ("expression_statement", 0, 1),
                            ("module", 0, 1)]
    pred = decode([1, 2], ["assignment", E], [E, E, E])
    assert sorted(pred) == [("assignment", 0, 1), ("bad_root", 0, 2)] and prf(t.constituents, pred)[0] == 0.0


def _roundtrip_all(codes, lang):
    checked = 0
    for code in codes:
        t = probe_tree(code, lang)
        if t is None:
            continue
        assert len(t.d) == len(t.c) == len(t.tokens) - 1 and len(t.u) == len(t.tokens)
        assert prf(t.constituents, decode(t.d, t.c, t.u)) == (1.0, 1.0, 1.0), code[:200]
        checked += 1
    return checked


def test_exact_on_the_stdlib_corpus():
    from codeintel.data.stdlib import default_stdlib_dir

    codes = [json.loads(line)["code"] for s in ("train", "valid", "test")
             for line in (default_stdlib_dir() / f"{s}.jsonl").open()]
    assert _roundtrip_all(codes, "python") > 0.95 * len(codes)


def test_exact_on_shared_python_and_java(shared_data):
    py = [json.loads(line)["code"] for line in (shared_data / "summarization" / "python_dev.jsonl").open()]
    assert _roundtrip_all(py, "python") > 1800          # 53 are Python 2 only
    java = [json.loads(line)["func"] for line in (shared_data / "clone" / "gcj_programs.jsonl").open()]
    assert _roundtrip_all(java, "java") > 1500
