"""ContraBERT operators: hand-written snippets per operator and language, the cases that must not change, and
semantics checked by running the code (Python always; C and Java where gcc / javac are installed)."""

import copy
import random
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from codeintel.augment import apply_op, compose, operators, parse_ops
from codeintel.errors import ConfigError, UnknownNameError
from codeintel.structure.parsing import count_errors, parse

CASES = runpy.run_path(str(Path(__file__).parent / "data" / "augment_functions.py"))["CASES"]
CODE_OPS = sorted(n for n, op in operators().items() if op.kind == "code")


def run(op, code, lang, seed=0, **params):
    return apply_op(op, code, lang, random.Random(seed), **params)


def call(src, args):
    env: dict = {}
    exec(compile(src, "<augmented>", "exec"), env)
    fn = next(v for k, v in env.items() if callable(v) and not k.startswith("__"))
    return fn(*copy.deepcopy(args))


def test_registry_has_the_ten_operators():
    ops = operators()
    assert set(CODE_OPS) == {"rename_function", "rename_variables", "insert_dead_code", "swap_operands",
                             "exchange_loop", "swap_if_else", "permute_statements"}
    assert {n for n, o in ops.items() if o.kind == "nl"} == {"delete_tokens", "swap_tokens", "duplicate_tokens"}


# --------------------------------------------------------------------------- semantics by execution


def test_the_function_set_itself_is_right():
    for src, cases in CASES:
        for args, expected in cases:
            assert call(src, args) == expected, src.splitlines()[0]


@pytest.mark.parametrize("op", CODE_OPS)
def test_python_outputs_reparse_and_compute_the_same(op):
    applied = 0
    for src, cases in CASES:
        for seed in range(4):
            out = run(op, src, "python", seed, **({"k": 3} if op == "rename_variables" else {}))
            assert count_errors(parse(out.text, "python")) == 0
            if not out.applied:
                assert out.text == src
                continue
            applied += 1
            assert out.text != src
            for args, expected in cases:
                assert call(out.text, args) == expected, f"{op} seed {seed}:\n{out.text}"
    assert applied >= 4  # every operator finds something to do in the set


def test_composition_keeps_semantics_and_reports_what_applied():
    ops = parse_ops("rename_variables:k=8,swap_operands,exchange_loop,swap_if_else,insert_dead_code,"
                    "permute_statements,rename_function")
    for src, cases in CASES:
        out = compose(src, "python", ops, random.Random(7))
        assert set(out.applied) | set(out.skipped) == {name for name, _ in ops}
        for args, expected in cases:
            assert call(out.text, args) == expected


# --------------------------------------------------------------------------- renaming


def new_name(before, after):
    """The single identifier that appears in ``after`` but not in ``before``."""
    fresh = set(re.findall(r"[A-Za-z_]\w*", after)) - set(re.findall(r"[A-Za-z_]\w*", before))
    assert len(fresh) == 1, fresh
    return fresh.pop()


def test_rename_variables_python_respects_scopes_attributes_and_keywords():
    src = ("def f(x, y):\n    def g(x):\n        return x + 1\n    obj.x = x\n    z = y\n"
           "    return g(x=x) + z\n")
    out = run("rename_variables", src, "python", 0, k=8)
    # x is passed as a keyword (x=x): a parameter name callers may use, so it is left alone; y, z and g's x rename
    assert "obj.x = x" in out.text and "g(x=x)" in out.text and "def f(x, " in out.text
    assert "y" not in re.findall(r"\w+", out.text) and "z" not in re.findall(r"\w+", out.text)
    for _ in range(20):
        one = run("rename_variables", "def f(a):\n    b = a\n    return b\n", "python", _)
        assert count_errors(parse(one.text, "python")) == 0 and call(one.text, (3,)) == 3


def test_rename_variables_never_picks_a_name_in_scope():
    # every pool word is already used: the new name must still be fresh
    words = "value item count total result data node index temp buf".split()
    src = "def f(q):\n    " + "\n    ".join(f"{w} = q" for w in words) + "\n    return q\n"
    for seed in range(10):
        out = run("rename_variables", src, "python", seed, k=1)
        assert new_name(src, out.text) not in words


def test_rename_variables_java_keeps_fields_and_methods():
    src = "class A { int n; void set(int n) { this.n = n; n(); } void n() {} }"
    out = run("rename_variables", src, "java", 0)
    name = new_name(src, out.text)
    assert out.text == f"class A {{ int n; void set(int {name}) {{ this.n = {name}; n(); }} void n() {{}} }}"


def test_rename_variables_c_shadowing():
    src = "int g;\nint f(int a) { int g = a; { int a = 2; g += a; } return g; }\nint h() { return g; }\n"
    variables = []
    for seed in range(30):
        out = run("rename_variables", src, "c", seed)
        assert count_errors(parse(out.text, "c")) == 0
        variables.append(out.text)
    # the inner block's `a` is a different variable from the parameter `a`: renaming one keeps the other
    assert any("int f(int a)" in t and "int a = 2" not in t for t in variables)
    assert any("int f(int a)" not in t and "int a = 2" in t for t in variables)
    # the global g is renamed in h() only together with its declaration, never the local g of f
    for t in variables:
        assert ("int g;" in t) == ("return g; }\n" in t.splitlines(keepends=True)[-1])


def test_rename_function_renames_recursive_calls_but_not_other_objects():
    out = run("rename_function", "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n", "python")
    name = new_name("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n", out.text)
    assert out.text.count(name) == 2 and call(out.text, (5,)) == 120
    assert not run("rename_function", "def size(x):\n    return x.size()\n", "python").applied
    java = "class A { int f(int n) { return n > 0 ? f(n - 1) : other.f(0); } }"
    assert not run("rename_function", java, "java").applied
    assert not run("rename_function", "int main() { return 0; }", "c").applied


# --------------------------------------------------------------------------- the other operators


def test_swap_operands_exact_and_refusals():
    assert run("swap_operands", "def f(a, b):\n    return a + 1 <= b\n", "python").text == \
        "def f(a, b):\n    return b >= a + 1\n"
    assert run("swap_operands", "int f(int a, int b) { return a != b; }", "c").text == \
        "int f(int a, int b) { return b != a; }"
    for lang, src in [("python", "def f(a):\n    return g(a) < h(a)\n"),        # evaluation order of calls
                      ("python", "def f(a, b, c):\n    return a < b < c\n"),    # chained
                      ("python", "def f(a, b):\n    return a in b\n"),          # not a mirrored operator
                      ("java", "class A { boolean f(int i) { return i++ < 3; } }"),
                      ("c", "int f(int a, int b, int c) { return a < b < c; }")]:  # (a<b)<c would regroup
        out = run("swap_operands", src, lang)
        if lang == "c":  # only the inner a < b may swap
            assert out.text == "int f(int a, int b, int c) { return b > a < c; }"
        else:
            assert not out.applied and out.text == src


def test_exchange_loop_refuses_continue_and_later_uses():
    cont = ("def f(n):\n    s = 0\n    for i in range(n):\n        if i == 2:\n            continue\n"
            "        s += i\n    return s\n")
    assert run("exchange_loop", cont, "python").skipped == {"exchange_loop": "a continue would skip the increment"}
    later = "def f(n):\n    for i in range(n):\n        pass\n    return i\n"
    assert "used outside" in run("exchange_loop", later, "python").skipped["exchange_loop"]
    c_cont = "void f(int n) { for (int i = 0; i < n; i++) { if (i) continue; g(i); } }"
    assert not run("exchange_loop", c_cont, "c").applied
    # a continue of a nested loop does not block the outer loop
    nested = "void f(int n) { for (int i = 0; i < n; i++) { while (g()) { continue; } } }"
    outer = [run("exchange_loop", nested, "c", seed=s).text for s in range(6)]
    assert any(t.startswith("void f(int n) { { int i = 0;\nwhile (i < n) { while (g()) { continue; }") for t in outer)


def test_exchange_loop_exact_forms():
    c = "void f(int n) { for (int i = 0; i < n; i++) g(i); }"
    assert run("exchange_loop", c, "c").text == \
        "void f(int n) { { int i = 0;\nwhile (i < n) {\n    g(i);\n    i++;\n} } }"
    commented = "void f(int n) {\n    for (; n > 0; n--) {\n        g(n); // last line is a comment\n    }\n}"
    assert run("exchange_loop", commented, "c").text == \
        "void f(int n) {\n    while (n > 0) {\n        g(n); // last line is a comment\n        n--;\n    }\n}"
    w = "void f(int n) { while (n > 0) n--; }"
    assert run("exchange_loop", w, "java").text == "void f(int n) { for (; n > 0; ) n--; }"
    py = "def f(n):\n    s = 0\n    for i in range(1, n, 2):\n        s += i\n    return s\n"
    assert run("exchange_loop", py, "python").text == \
        "def f(n):\n    s = 0\n    i = 1\n    while i < n:\n        s += i\n        i += 2\n    return s\n"
    java_return = "class A { int f(int n) { for (int i = 0; i < n; i++) { return i; } return -1; } }"
    assert not run("exchange_loop", java_return, "java").applied   # the update would be unreachable


def test_swap_if_else_exact_and_elif_left_alone():
    py = "def f(x):\n    if x > 0:\n        return 1\n    else:\n        return 2\n"
    assert run("swap_if_else", py, "python").text == \
        "def f(x):\n    if not (x > 0):\n        return 2\n    else:\n        return 1\n"
    elif_ = ("def f(x):\n    if x:\n        return 1\n    elif x is None:\n        return 2\n    else:\n"
             "        return 3\n")
    assert not run("swap_if_else", elif_, "python").applied
    java = "class A { int f(boolean x) { if (!x) return 1; else return 2; } }"
    assert run("swap_if_else", java, "java").text == "class A { int f(boolean x) { if (x) { return 2; } else " \
                                                      "{ return 1; } } }"


def test_permute_statements_only_independent_ones():
    dep = "def f(a):\n    b = a + 1\n    c = b * 2\n    return c\n"
    assert not run("permute_statements", dep, "python").applied
    anti = "def f(a):\n    b = a + 1\n    a = 5\n    return a + b\n"       # the second writes what the first reads
    assert not run("permute_statements", anti, "python").applied
    calls = "def f(log):\n    log.append(1)\n    log.append(2)\n"
    assert not run("permute_statements", calls, "python").applied
    through = "void f(int *p, int *q) { *p = 1; *q = 2; }"                      # p and q may alias
    assert not run("permute_statements", through, "c").applied
    ok = "int f(int a) { int b = a + 1; int c = a * 2; return b + c; }"
    assert run("permute_statements", ok, "c").text == "int f(int a) { int c = a * 2; int b = a + 1; return b + c; }"


def test_dead_code_never_before_a_docstring():
    src = 'def f():\n    """Doc."""\n    return 1\n'
    for seed in range(10):
        out = run("insert_dead_code", src, "python", seed)
        assert out.text.startswith('def f():\n    """Doc."""\n') and call(out.text, ()) == 1
        assert call(out.text.replace("def f", "def g"), ()) == 1


# --------------------------------------------------------------------------- bad input, NL, composition


def test_unparsable_code_passes_through_and_is_counted():
    broken = "def f(:\n    return ((\n"
    for op in CODE_OPS:
        out = run(op, broken, "python")
        assert out.text == broken and out.skipped == {op: "does not parse"}


def test_unknown_operator_and_parameter():
    with pytest.raises(UnknownNameError, match="rename_variables"):
        parse_ops("rename_variable")
    with pytest.raises(ConfigError, match="k=..."):
        parse_ops("rename_variables:n=3")
    with pytest.raises(ConfigError, match="no operators"):
        parse_ops(" , ")


def test_nl_operators_exact():
    rng = random.Random(0)
    text = "Print with indent"
    dup = run("duplicate_tokens", text, None).text.split()
    assert len(dup) == 4 and [w for i, w in enumerate(dup) if i == 0 or dup[i - 1] != w] == text.split()
    deleted = apply_op("delete_tokens", text, None, rng, k=5).text
    assert len(deleted.split()) == 1 and deleted in text.split()      # never deletes every word
    swapped = apply_op("swap_tokens", text, None, rng).text
    assert sorted(swapped.split()) == sorted(text.split()) and swapped != text
    assert not run("swap_tokens", "same same", None).applied
    dup = run("duplicate_tokens", "a b c", None, seed=1).text.split()
    assert len(dup) == 4 and [w for i, w in enumerate(dup) if i == 0 or dup[i - 1] != w] == ["a", "b", "c"]


def test_same_seed_same_output():
    src = CASES[0][0]
    ops = parse_ops("rename_variables:k=2,insert_dead_code,swap_operands")
    assert compose(src, "python", ops, random.Random(3)).text == compose(src, "python", ops, random.Random(3)).text


# --------------------------------------------------------------------------- compiled languages, where installed

C_PROGRAM = r"""#include <stdio.h>
int g = 3;
int sq(int v) { return v * v; }
int sum(int *a, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) { if (a[i] < 0) { s -= a[i]; } else s += a[i]; }
    return s;
}
int main() {
    int a[5] = {1, -2, 3, -4, 5};
    int b = 2, c = 7;
    int d = b * 4;
    int e = c + 1;
    int i = 0;
    while (i < 5) { b += sq(a[i]); i++; }
    for (int k = 10; k > 0; k -= 3) { if (k == 4) continue; c += k; }
    if (b > c) printf("%d\n", b); else { printf("%d\n", c); }
    printf("%d %d %d %d %d\n", sum(a, 5), g, b, d, e);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_c_variants_compile_and_print_the_same(tmp_path):
    def build_run(src, name):
        (tmp_path / f"{name}.c").write_text(src)
        subprocess.run(["gcc", "-std=c99", "-w", "-o", str(tmp_path / name), str(tmp_path / f"{name}.c")],
                       check=True, capture_output=True)
        return subprocess.run([str(tmp_path / name)], capture_output=True, text=True, check=True).stdout

    expected = build_run(C_PROGRAM, "orig")
    for op in CODE_OPS:
        for seed in range(2):
            out = run(op, C_PROGRAM, "c", seed)
            assert out.applied, (op, out.skipped)
            assert build_run(out.text, f"{op}{seed}") == expected, f"{op}:\n{out.text}"


JAVA_CLASS = """class V {
    int n = 2;
    int twice(int v) { return v * 2; }
    public int run(int[] xs, int m) {
        int s = 0;
        int t = this.n + 1;
        for (int i = 0; i < xs.length; i++) {
            if (xs[i] < m) { s += twice(xs[i]); } else t = t * 2;
        }
        int k = 5;
        while (k > 0) { k--; s += k; }
        return s * 1000 + t;
    }
}
"""


@pytest.mark.skipif(shutil.which("javac") is None or shutil.which("java") is None, reason="javac not installed")
def test_java_variants_compile_and_compute_the_same(tmp_path):
    variants = [JAVA_CLASS]
    for op in CODE_OPS:
        for seed in range(2):
            out = run(op, JAVA_CLASS, "java", seed)
            assert out.applied, (op, out.skipped)
            variants.append(out.text)
    calls = []
    for i, src in enumerate(variants):
        (tmp_path / f"V{i}.java").write_text(src.replace("class V", f"class V{i}", 1))
        calls.append(f"call(new V{i}());")  # by signature: rename_function may rename run itself
    main = ("class Main {\n  static void call(Object o) throws Exception {\n"
            "    for (java.lang.reflect.Method m : o.getClass().getDeclaredMethods())\n"
            "      if (m.getParameterCount() == 2) System.out.println(m.invoke(o, new int[]{1, 5, 2, 8}, 4));\n  }\n"
            "  public static void main(String[] a) throws Exception { " + " ".join(calls) + " }\n}\n")
    (tmp_path / "Main.java").write_text(main)
    subprocess.run(["javac", "-d", str(tmp_path), *map(str, tmp_path.glob("*.java"))], check=True, capture_output=True)
    lines = subprocess.run(["java", "-cp", str(tmp_path), "Main"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(lines) == len(variants) and set(lines) == {lines[0]}, lines


# --------------------------------------------------------------------------- CLI


def test_cli_augment_writes_variants_and_counts(tmp_path, capsys):
    import json

    from codeintel.cli import main

    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "code": CASES[0][0], "docstring": "Sum the items below n"},
            {"id": "b", "code": "def broken(:\n", "docstring": "x"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert main(["augment", "--ops", "rename_variables:k=2,duplicate_tokens", "--lang", "python", str(src), str(out),
                 "--per-sample", "3", "--seed", "5"]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 6 and [g["augment"]["variant"] for g in got] == [0, 1, 2, 0, 1, 2]
    assert got[0]["augment"]["applied"] == ["rename_variables", "duplicate_tokens"]
    assert got[3]["code"] == "def broken(:\n" and got[3]["augment"]["skipped"] == {"rename_variables": "does not parse"}
    err = capsys.readouterr().err
    assert "rename_variables     applied to 3/6" in err and "does not parse: 3" in err
    first = out.read_text()
    assert main(["augment", "--ops", "rename_variables:k=2,duplicate_tokens", "--lang", "python", str(src), str(out),
                 "--per-sample", "3", "--seed", "5", "--overwrite"]) == 0  # the first output is moved aside
    assert out.read_text() == first                                   # reproducible


def test_cli_augment_bad_input(tmp_path, capsys):
    from codeintel.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "no code here"}\n')
    assert main(["augment", "--ops", "swap_operands", "--lang", "python", str(src), str(tmp_path / "o.jsonl")]) == 2
    assert "no code field" in capsys.readouterr().err and not list(tmp_path.glob("*o.jsonl*"))
    assert main(["augment", "--ops", "swap_operand", str(src), str(tmp_path / "o.jsonl")]) == 2
    assert "Did you mean 'swap_operands'" in capsys.readouterr().err
    assert main(["augment", str(src)]) == 2
    assert main(["augment", "--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 10


# --------------------------------------------------------------------------- the embedded clone dataset


def test_stdlib_clone_pairs_are_balanced_semantic_variants():
    from codeintel.data.stdlib_clones import build_pairs

    functions = [{"id": f"fn{i}", "code": src} for i, (src, _) in enumerate(CASES)]
    functions.append({"id": "broken", "code": "def broken(:\n"})
    programs, pairs = build_pairs(functions, "test", seed=0)
    table = {p["idx"]: p["func"] for p in programs}
    assert [y for _, _, y in pairs] == [1, 0] * (len(pairs) // 2) and len(pairs) == 2 * len(CASES)
    assert not any(a == "broken" for a, _, _ in pairs)               # nothing to transform: no pair
    cases = {f"fn{i}": c for i, (_, c) in enumerate(CASES)}
    for a, b, y in pairs:
        assert table[a] != table[b]
        if y == 1:  # the variant computes what the original computes
            for args, expected in cases[a]:
                assert call(table[b], args) == expected
        else:       # the negative is a variant of another function
            assert b.split("+")[0] != a
    assert build_pairs(functions, "test", seed=0) == (programs, pairs)
    assert build_pairs(functions, "test", seed=1) != (programs, pairs)


def test_stdlib_clone_card_is_the_default_data():
    from codeintel.data.loaders import LoadReport
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.clone import CloneDetectionTask

    card = load_task("clone-detection-stdlib")
    task = CloneDetectionTask(card, None, card.source_len)
    pairs = task.load([], False, LoadReport())
    assert all(len(pairs[s]) > 100 for s in ("train", "valid", "test"))
    for split in pairs.values():
        assert sum(y for _, _, y in split) * 2 == len(split)
    train_fns = {a for a, _, _ in pairs["train"]}
    assert not train_fns & {a for a, _, _ in pairs["test"]}


def test_rename_function_c_prototypes_and_java_contracts():
    c = "int sq(int v);\nint main() { return sq(2); }\nint sq(int v) { return v * v; }\n"
    out = run("rename_function", c, "c")
    name = new_name(c, out.text)
    assert out.text.count(name) == 3 and "sq" not in out.text               # prototype, call and definition
    implicit = "int main() { return sq(2); }\nint sq(int v) { return v * v; }\n"
    assert "implicit declaration" in run("rename_function", implicit, "c").skipped["rename_function"]
    anonymous = ("class A { java.util.Comparator<int[]> c = new java.util.Comparator<int[]>() {\n"
                 "  public int compare(int[] a, int[] b) { return a[0] - b[0]; } }; }")
    assert not run("rename_function", anonymous, "java").applied           # implements an interface method
    implements = "class A implements Runnable { public void run() { go(); } void go() {} }"
    assert not run("rename_function", implements, "java").applied
    plain = "class A { int f(int n) { return n > 0 ? f(n - 1) : 0; } }"
    assert run("rename_function", plain, "java").applied


def test_exchange_loop_python_body_may_write_through_subscripts():
    src = "def f(xs):\n    for i in range(len(xs)):\n        xs[i] = xs[i] * 2\n    return xs\n"
    out = run("exchange_loop", src, "python")
    assert "while i < " in out.text and call(out.text, ([1, 2, 3],)) == [2, 4, 6]
    rebinds = "def f(n):\n    s = []\n    for i in range(n):\n        s.append(i)\n        i = 0\n    return s\n"
    assert "assigns i" in run("exchange_loop", rebinds, "python").skipped["exchange_loop"]


def test_walk_is_pre_order_over_the_subtree_only():
    """structure.parsing.walk (a tree cursor) visits exactly what a recursion over node.children visits, in the
    same order, for the whole tree and for a subtree with siblings (it never leaves the subtree)."""
    from codeintel.structure.parsing import parse, walk

    def rec(node):
        yield node
        for c in node.children:
            yield from rec(c)

    tree = parse("class A { int f(int a) { return a + 1; } }\nclass B { void g() { int x = 2; } }\nclass C {", "java")
    for root in (tree.root_node, tree.root_node.children[1], tree.root_node.children[1].children[-1]):
        assert [(n.type, n.start_byte, n.end_byte) for n in walk(root)] == \
            [(n.type, n.start_byte, n.end_byte) for n in rec(root)]
