"""Data-flow graphs: golden edges worked out by hand, robustness, and the CLI."""

import json

import pytest

from codeintel.structure.dfg import RULES, extract


def edges(code, lang):
    flow = extract(code, lang)
    return {(v, p, k, tuple(src)) for v, p, k, _, src in flow.edges}, flow.tokens


def test_python_assignment_chain():
    # x0 = 1(2) ; y3 = x5 + 2(7) ; x8 = y10
    got, toks = edges("x = 1\ny = x + 2\nx = y\n", "python")
    assert toks == ["x", "=", "1", "y", "=", "x", "+", "2", "x", "=", "y"]
    assert got == {("x", 0, "computedFrom", (2,)), ("1", 2, "comesFrom", ()), ("y", 3, "computedFrom", (5, 7)),
                   ("x", 5, "comesFrom", (0,)), ("2", 7, "comesFrom", ()), ("x", 8, "computedFrom", (10,)),
                   ("y", 10, "comesFrom", (3,))}


def test_python_tuple_assignment_is_element_wise():
    got, _ = edges("a, b = b, a\n", "python")  # a0 , b2 = b4 , a6
    assert got == {("a", 0, "computedFrom", (4,)), ("b", 2, "computedFrom", (6,)), ("b", 4, "comesFrom", ()),
                   ("a", 6, "comesFrom", ())}


def test_python_branches_merge_and_loops_carry():
    got, _ = edges("if c:\n    x = 1\nelse:\n    x = 2\ny = x\n", "python")
    assert ("x", 13, "comesFrom", (3, 8)) in got  # from both branches
    got, _ = edges("for i in range(n):\n    s = s + i\n", "python")
    assert ("s", 10, "comesFrom", (8,)) in got  # loop-carried: the second pass sees s@8
    assert ("i", 1, "computedFrom", (3, 5)) in got and ("i", 12, "comesFrom", (1,)) in got


def test_nested_ifs_without_else_keep_every_definition_that_may_reach():
    # x0 =1 1(2) if3 a4 :5 x6 =7 2(8) if9 b10 :11 x12 =13 3(14) if15 c16 :17 z18 =19 x20 y21 =22 x23 z24
    got, toks = edges("x = 1\nif a:\n    x = 2\n    if b:\n        x = 3\n        if c:\n            z = x\n"
                      "y = x\nz\n", "python")
    assert toks[20] == toks[23] == "x" and toks[24] == "z"
    assert ("x", 20, "comesFrom", (12,)) in got           # inside the innermost if: only the definition above
    assert ("x", 23, "comesFrom", (0, 6, 12)) in got      # after: any of the three may have run last
    assert ("z", 24, "comesFrom", (18,)) in got           # a name first defined inside an if reaches past it
    # with an else: the else branch starts from the incoming definitions, and both reach the end
    got, _ = edges("x = 1\nif a:\n    x = 2\n    if b:\n        x = 3\nelse:\n    y = x\nw = x\n", "python")
    assert ("x", 19, "comesFrom", (0,)) in got            # y16 =17 x... the else sees only x = 1
    assert ("x", 22, "comesFrom", (0, 6, 12)) in got      # after: x = 1 (else), x = 2 (not b) or x = 3


def test_python_comprehension_clause_first_and_shadowing_in_nested_function():
    got, _ = edges("ys = [v * 2 for v in xs if v]\n", "python")
    assert ("v", 3, "comesFrom", (7,)) in got and ("v", 7, "computedFrom", (9,)) in got
    # the inner x@8 is a new definition; the outer return x@14 comes from the outer x@0
    got, toks = edges("x = 0\ndef g():\n    x = 1\n    return x\nreturn x\n", "python")
    assert toks[14] == "x" and ("x", 14, "comesFrom", (8,)) in got  # GraphCodeBERT has no scopes: last def wins


def test_c_declarations_if_else_for_increment():
    code = ("int f(int a){ int x = a, y; if (a > 0) x = 1; else { y = x; } "
            "for (int i = 0; i < a; i++) x += i; return x; }")
    got, toks = edges(code, "c")
    assert toks[8] == "x" and toks[28] == "x" and toks[42] == "i" and toks[50] == "x"
    assert {("x", 8, "comesFrom", (10,)), ("a", 10, "comesFrom", (4,)), ("y", 26, "computedFrom", (28,)),
            ("x", 28, "comesFrom", (8,)), ("i", 38, "comesFrom", (34, 42)), ("i", 42, "computedFrom", (42,)),
            ("x", 45, "computedFrom", (47,)), ("i", 47, "comesFrom", (34, 42)), ("x", 50, "comesFrom", (45,))} <= got
    assert not any(p == 12 for _, p, _, _ in got)  # y@12 takes part in no edge: dropped


def test_java_enhanced_for_and_compound_assignment():
    got, toks = edges("class A { int f(int a) { int s = 0; for (int v : xs) s += v; return s; } }", "java")
    assert toks[18] == "v" and toks[20] == "xs"
    assert {("s", 11, "comesFrom", (13,)), ("v", 18, "computedFrom", (20,)), ("s", 22, "computedFrom", (24,)),
            ("v", 24, "comesFrom", (18,)), ("s", 27, "comesFrom", (22,))} <= got


@pytest.mark.parametrize("lang,code,expected", [
    # tokens: function0 f1 (2 a3 )4 {5 let6 x7 =8 a9 ;10 x11 +=12 1 13 ;14 if15 (16 x17 )18 {19 a20 =21 x22 ;23 }24
    #         return25 a26 ;27 }28
    ("javascript", "function f(a) { let x = a; x += 1; if (x) { a = x; } return a; }",
     {("x", 7, "comesFrom", (9,)), ("x", 17, "comesFrom", (11,)), ("a", 20, "computedFrom", (22,)),
      ("a", 26, "comesFrom", (3, 20))}),  # no else: the incoming a@3 survives the if
    # func0 f1 (2 a3 int4 )5 int6 {7 x8 :=9 a10 for11 i12 :=13 0 14 ;15 i16 <17 a18 ;19 i20 ++21 {22 x23 =24 x25 +26
    # i27 }28 return29 x30 }31
    ("go", "func f(a int) int { x := a\n for i := 0; i < a; i++ { x = x + i }\n return x }",
     {("x", 8, "computedFrom", (10,)), ("i", 16, "comesFrom", (12, 20)), ("i", 27, "comesFrom", (12, 20)),
      ("x", 25, "comesFrom", (8, 23)), ("x", 30, "comesFrom", (23,))}),
    # def0 f1 (2 a3 )4 x5 =6 a7 a8 ,9 b10 =11 x12 ,13 1 14 b15 end16
    ("ruby", "def f(a)\n  x = a\n  a, b = x, 1\n  b\nend\n",
     {("x", 5, "computedFrom", (7,)), ("a", 8, "computedFrom", (12,)), ("b", 10, "computedFrom", (14,)),
      ("b", 15, "comesFrom", (10,))}),
    # <?php0 function1 f2 (3 $4 a5 )6 {7 $8 x9 =10 $11 a12 ;13 $14 x15 +=16 1 17 ;18 return19 $20 x21 ;22 }23 ?>24
    ("php", "function f($a) { $x = $a; $x += 1; return $x; }",
     {("x", 9, "computedFrom", (12,)), ("a", 12, "comesFrom", (5,)), ("x", 21, "comesFrom", (15,))}),
    # class0 A1 {2 int3 F4 (5 int6 a7 )8 {9 int10 x11 =12 a13 ;14 foreach15 (16 var17 v18 in19 xs20 )21 {22 x23 =24
    # x25 +26 v27 ;28 }29 return30 x31
    ("c_sharp", "class A { int F(int a) { int x = a; foreach (var v in xs) { x = x + v; } return x; } }",
     {("x", 11, "comesFrom", (13,)), ("v", 18, "computedFrom", (20,)), ("x", 25, "comesFrom", (11, 23)),
      ("x", 31, "comesFrom", (23,))}),
    # ... for15.. (18 int19 e20 :21 v22 )23 s24 +=25 e26 ;27 return28 s29
    ("cpp", "int f(std::vector<int> v) { int s = 0; for (int e : v) s += e; return s; }",
     {("e", 20, "computedFrom", (22,)), ("s", 24, "computedFrom", (26,)), ("e", 26, "comesFrom", (20,)),
      ("s", 29, "comesFrom", (24,))}),
    # branches: both arms define the variable, so the use after the if comes from both (the incoming one dies)
    # function0 f1 (2 a3 )4 {5 let6 x7 ;8 if9 (10 a11 )12 {13 x14 =15 1 16 ;17 }18 else19 {20 x21 =22 a23 ;24 }25
    # return26 x27
    ("javascript", "function f(a) { let x; if (a) { x = 1; } else { x = a; } return x; }",
     {("a", 11, "comesFrom", (3,)), ("x", 14, "computedFrom", (16,)), ("x", 21, "computedFrom", (23,)),
      ("a", 23, "comesFrom", (3,)), ("x", 27, "comesFrom", (14, 21))}),
    # func0 f1 (2 a3 int4 )5 int6 {7 if8 a9 >10 0 11 {12 a13 =14 -15 a16 }17 else18 {19 a20 =21 a22 *23 2 24 }25
    # return26 a27
    ("go", "func f(a int) int { if a > 0 { a = -a } else { a = a * 2 }\n return a }",
     {("a", 9, "comesFrom", (3,)), ("a", 13, "computedFrom", (16,)), ("a", 16, "comesFrom", (3,)),
      ("a", 20, "computedFrom", (22, 24)), ("a", 22, "comesFrom", (3,)), ("a", 27, "comesFrom", (13, 20))}),
    # def0 f1 (2 a3 )4 if5 a6 >7 0 8 b9 =10 a11 else12 b13 =14 0 15 end16 b17 end18
    ("ruby", "def f(a)\n  if a > 0\n    b = a\n  else\n    b = 0\n  end\n  b\nend\n",
     {("b", 9, "computedFrom", (11,)), ("a", 11, "comesFrom", (3,)), ("b", 13, "computedFrom", (15,)),
      ("b", 17, "comesFrom", (9, 13))}),
    # <?php0 function1 f2 (3 $4 a5 )6 {7 if8 (9 $10 a11 )12 {13 $14 b15 =16 $17 a18 ;19 }20 else21 {22 $23 b24 =25
    # 2 26 ;27 }28 return29 $30 b31
    ("php", "function f($a) { if ($a) { $b = $a; } else { $b = 2; } return $b; }",
     {("a", 11, "comesFrom", (5,)), ("b", 15, "computedFrom", (18,)), ("b", 24, "computedFrom", (26,)),
      ("b", 31, "comesFrom", (15, 24))}),
    # class0 A1 {2 int3 F4 (5 int6 a7 )8 {9 int10 b11 ;12 if13 (14 a15 >16 0 17 )18 b19 =20 a21 ;22 else23 b24 =25
    # -26 a27 ;28 return29 b30 -- the unary minus is no increment: a27 comes from the parameter
    ("c_sharp", "class A { int F(int a) { int b; if (a > 0) b = a; else b = -a; return b; } }",
     {("b", 19, "computedFrom", (21,)), ("b", 24, "computedFrom", (27,)), ("a", 27, "comesFrom", (7,)),
      ("b", 30, "comesFrom", (19, 24))}),
    # loops twice: a uses in the loop also come from the a-- of the previous iteration
    # int0 f1 (2 int3 a4 )5 {6 int7 s8 =9 0 10 ;11 while12 (13 a14 >15 0 16 )17 {18 s19 =20 s21 +22 a23 ;24 a25 --26
    # ;27 }28 return29 s30
    ("cpp", "int f(int a) { int s = 0; while (a > 0) { s = s + a; a--; } return s; }",
     {("s", 8, "comesFrom", (10,)), ("a", 14, "comesFrom", (4, 25)), ("s", 19, "computedFrom", (21, 23)),
      ("s", 21, "comesFrom", (8, 19)), ("a", 23, "comesFrom", (4, 25)), ("a", 25, "computedFrom", (25,)),
      ("s", 30, "comesFrom", (19,))}),
])
def test_golden_other_languages(lang, code, expected):
    got, _ = edges(code, lang)
    assert expected <= got


def test_strings_are_one_token_and_comments_no_token():
    flow = extract('s = "a b c"  # note\nt = s\n', "python")
    assert flow.tokens == ["s", "=", '"a b c"', "t", "=", "s"]


@pytest.mark.parametrize("lang", sorted(RULES))
def test_syntax_errors_and_deep_nesting_never_raise(lang):
    broken = "x = = ( y + ;\n{ if (\n"
    flow = extract(broken, lang)
    assert flow.errors > 0
    deep = "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n" if lang == "python" else \
        "int f() { int x = " + "(" * 3000 + "1" + ")" * 3000 + "; }"
    extract(deep, lang if lang in ("python", "c", "cpp", "java", "c_sharp") else "python")  # no RecursionError


def test_every_shared_function_extracts(shared_data):
    rows = [json.loads(x) for x in (shared_data / "summarization" / "python_dev.jsonl").read_text().splitlines()]
    flows = [extract(r["code"], "python") for r in rows[:300]]
    assert sum(bool(f.edges) for f in flows) >= 290
    progs = [json.loads(x) for x in (shared_data / "clone" / "gcj_programs.jsonl").read_text().splitlines()[:100]]
    assert all(extract(p["func"], "java").edges for p in progs)


def test_cli_formats(tmp_path, capsys):
    from codeintel.cli import main

    f = tmp_path / "f.py"
    f.write_text("def f(a):\n    x = a\n    return x\n")
    assert main(["dfg", str(f)]) == 0
    # def0 f1 (2 a3 )4 :5 x6 =7 a8 return9 x10
    assert "x@6     computedFrom  a@8" in capsys.readouterr().out
    assert main(["dfg", str(f), "--format", "dot"]) == 0
    assert "n8 -> n6" in capsys.readouterr().out  # a@8 feeds x@6
    assert main(["dfg", str(f), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"][6] == "x"


SEEDS = {
    "python": "def f(a, b=1):\n    for i in range(a):\n        b += i if i else -i\n    return [x for x in b]\n",
    "java": "class A { int f(int a) { int s = 0; for (int i = 0; i < a; i++) { s += i; } return s; } }",
    "c": "int f(int a) { int s = 0; while (a--) { s += a; } return s; }",
    "cpp": "int f(std::vector<int> v) { int s = 0; for (auto e : v) s += e; return s; }",
    "javascript": "function f(a) { let s = 0; for (let i = 0; i < a; i++) s += i; return s; }",
    "go": "func f(a int) int { s := 0\n for i := 0; i < a; i++ { s += i }\n return s }",
    "ruby": "def f(a)\n  s = 0\n  a.each do |x|\n    s += x\n  end\n  s\nend\n",
    "php": "function f($a) { $s = 0; foreach ($a as $x) { $s += $x; } return $s; }",
    "c_sharp": "class A { int F(int a) { int s = 0; for (int i = 0; i < a; i++) s += i; return s; } }",
}


@pytest.mark.parametrize("lang", sorted(SEEDS))
def test_fuzz_mutated_code_never_raises_and_edges_are_consistent(lang):
    """Seeded mutation fuzzing: delete, duplicate or insert characters; the graph must stay well formed."""
    import random

    assert set(SEEDS) == set(RULES)
    rng = random.Random(lang)
    alphabet = "(){}[];:=+-*/<>!&|,.\"'\n\t abcxyz019_$#@\\"
    for _ in range(150):
        code = list(SEEDS[lang])
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(code) + 1)
            op = rng.random()
            if op < 0.4 and code:
                del code[min(i, len(code) - 1)]
            elif op < 0.7 and code:
                code.insert(i, code[min(i, len(code) - 1)])
            else:
                code.insert(i, rng.choice(alphabet))
        flow = extract("".join(code), lang)
        for var, pos, kind, names, sources in flow.edges:
            assert flow.tokens[pos] == var and kind in ("comesFrom", "computedFrom")
            assert all(0 <= p < len(flow.tokens) for p in sources)
            assert {flow.tokens[p] for p in sources} <= set(names) | {var}


def test_limits_bound_deep_loops_and_large_inputs(capsys):
    import time
    import warnings

    from codeintel.structure.dfg import DFGLimitWarning, Limits

    depth = 24  # walked twice per level this would be 2**24 passes over the innermost body
    code = "".join("    " * d + f"for i{d} in range(n):\n" for d in range(depth)) + "    " * depth + "s = s + i0\n"
    t = time.perf_counter()
    with pytest.warns(DFGLimitWarning, match="nested 24 deep"):
        flow = extract(code, "python")
    assert time.perf_counter() - t < 5 and flow.limited
    # within the limit a loop gets both passes; beyond it one, and the loop-carried edge is lost (as documented)
    small = extract("for i in range(n):\n    s = s + i\n", "python", Limits(max_loop_depth=0))
    full = extract("for i in range(n):\n    s = s + i\n", "python")
    # for0 i1 in2 range3 (4 n5 )6 :7 s8 =9 s10 +11 i12: with two passes s10 comes from s8 (the previous
    # iteration); with one it cannot
    assert ("s", 10, "comesFrom", ("s",), (8,)) in full.edges
    assert ("s", 10, "comesFrom", (), ()) in small.edges
    big = "x = 1\n" * 1000
    with pytest.warns(DFGLimitWarning, match="cut to its first"):
        cut = extract(big, "python", Limits(max_bytes=60))
    assert len(cut.tokens) == 30 and cut.limited                        # ten whole lines of three tokens
    line = "a = 1\n" + "b = a + 1; " * 200                               # then one 2,200-byte line
    with pytest.warns(DFGLimitWarning, match="cut to its first 1,000 "):
        cut = extract(line, "python", Limits(max_bytes=1_000))
    # not 6 bytes (the whole lines): a cut at a token boundary keeps 1,000 bytes and splits no token
    assert set(cut.tokens) == {"a", "b", "=", "+", "1", ";"} and len(cut.tokens) > 400  # whole tokens only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not extract(big, "python").limited                      # under the defaults: no warning


def test_cli_limits_and_graphviz(tmp_path, capsys):
    import shutil
    import subprocess

    from codeintel.cli import main

    f = tmp_path / "deep.py"
    f.write_text("for a in x:\n    for b in y:\n        for c in z:\n            s = s + a\n")
    assert main(["dfg", str(f), "--max-loop-depth", "2"]) == 0
    assert "warning: loops nested 3 deep" in capsys.readouterr().err
    assert main(["dfg", str(f), "--max-bytes", "0"]) == 2
    capsys.readouterr()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    assert main(["dfg", str(f), "--format", "dot"]) == 0
    svg = subprocess.run(["dot", "-Tsvg"], input=capsys.readouterr().out, capture_output=True, text=True, check=True)
    assert "<svg" in svg.stdout and "s @" in svg.stdout
