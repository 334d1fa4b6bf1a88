"""Data-flow graph fidelity: each wrong-graph case found on real code as a golden test (edges worked out by
hand), in every language where the construct exists, and a reaching-definitions property test: on
generated straight-line programs with branches, and on every shared python_dev function and GCJ program
made only of the constructs it covers, the sources of every use are exactly the reaching definitions
computed by a small, independent pass."""

import json
import random

import pytest

from codeintel.structure.dfg import extract
from codeintel.structure.parsing import parse


def sources(code: str, lang: str) -> dict[int, set[int]]:
    """Use position -> the positions it comes from: comesFrom edges from the same name (a declarator's edge
    from its value, ``int x = a``, is a definition, not a use)."""
    return {pos: set(src) for var, pos, kind, names, src in extract(code, lang).edges
            if kind == "comesFrom" and src and names == (var,)}


def positions(code: str, lang: str, name: str) -> list[int]:
    toks = extract(code, lang).tokens
    return [i for i, t in enumerate(toks) if t == name]


# --------------------------------------------------------------------------- 1. if chains without else

CHAINS = {  # x defined, then in two branches of a chain without else, then used: (code, code with else)
    "python": ("x = 0\nif a:\n    x = 1\nelif b:\n    x = 2\ng(x)\n",
               "x = 0\nif a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3\ng(x)\n"),
    "java": ("class A { void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } g(x); } }",
             "class A { void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } else { x = 3; } g(x); } }"),
    "c": ("void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } g(x); }",
          "void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } else { x = 3; } g(x); }"),
    "cpp": ("void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } g(x); }",
            "void f() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } else { x = 3; } g(x); }"),
    "javascript": ("function f() { let x = 0; if (a) { x = 1; } else if (b) { x = 2; } g(x); }",
                   "function f() { let x = 0; if (a) { x = 1; } else if (b) { x = 2; } else { x = 3; } g(x); }"),
    "go": ("func f() { x := 0\n if a { x = 1 } else if b { x = 2 }\n g(x) }",
           "func f() { x := 0\n if a { x = 1 } else if b { x = 2 } else { x = 3 }\n g(x) }"),
    "ruby": ("x = 0\nif a\n  x = 1\nelsif b\n  x = 2\nend\ng(x)\n",
             "x = 0\nif a\n  x = 1\nelsif b\n  x = 2\nelse\n  x = 3\nend\ng(x)\n"),
    "php": ("function f() { $x = 0; if ($a) { $x = 1; } elseif ($b) { $x = 2; } g($x); }",
            "function f() { $x = 0; if ($a) { $x = 1; } elseif ($b) { $x = 2; } else { $x = 3; } g($x); }"),
    "c_sharp": ("class A { void F() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } G(x); } }",
                "class A { void F() { int x = 0; if (a) { x = 1; } else if (b) { x = 2; } else { x = 3; } G(x); } }"),
}


@pytest.mark.parametrize("lang", sorted(CHAINS))
def test_an_if_chain_without_else_may_run_no_branch(lang):
    without, with_else = CHAINS[lang]
    x = positions(without, lang, "x")                      # x = 0, x = 1, x = 2, g(x)
    assert sources(without, lang)[x[-1]] == set(x[:3])     # x = 0 reaches the use too: no branch may run
    x = positions(with_else, lang, "x")                    # x = 0, 1, 2, 3, g(x)
    assert sources(with_else, lang)[x[-1]] == set(x[1:4])  # with else one branch runs: x = 0 is overwritten


def test_php_else_if_written_as_two_words_is_a_nested_if():
    code = "function f() { $x = 0; if ($a) { $x = 1; } else if ($b) { $x = 2; } g($x); }"
    x = positions(code, "php", "x")
    assert sources(code, "php")[x[-1]] == set(x[:3])


@pytest.mark.parametrize("lang,code", [
    ("python", "if a > 0:\n    y = 1\nelse:\n    y = a\n"),
    ("java", "class A { void f() { if (a > 0) { y = 1; } else { y = a; } } }"),
    ("go", "func f() { if a > 0 { y = 1 } else { y = a } }"),
    ("ruby", "if a > 0\n  y = 1\nelse\n  y = a\nend\n"),
])
def test_the_condition_runs_before_every_branch(lang, code):
    """A name first seen in the condition is defined there for the else branch too."""
    a = positions(code, lang, "a")
    assert sources(code, lang)[a[1]] == {a[0]}


# --------------------------------------------------------------------------- 2. Ruby elsif

def test_ruby_elsif_branches_are_alternatives():
    code = "x = 0; if a; x = 1 elsif b; x = 2 else x = 3 end; p x"
    # x0 =1 0 2 ;3 if4 a5 ;6 x7 =8 1 9 elsif10 b11 ;12 x13 =14 2 15 else16 x17 =18 3 19 end20 ;21 p22 x23
    assert extract(code, "ruby").tokens[23] == "x"
    assert sources(code, "ruby")[23] == {7, 13, 17}


# --------------------------------------------------------------------------- 3. targets and values

def test_every_target_comes_from_the_whole_right_side_unless_both_are_literal_tuples():
    # y0 =1 [2 a3 for4 a5 ,6 b7 in8 zip9 (10 p11 ,12 q13 )14 ]15
    edges = extract("y = [a for a, b in zip(p, q)]\n", "python").edges
    assert ("a", 5, "computedFrom", ("zip", "p", "q"), (9, 11, 13)) in edges
    assert ("b", 7, "computedFrom", ("zip", "p", "q"), (9, 11, 13)) in edges
    # o0 .1 name2 =3 "n"4
    edges = extract('o.name = "n"\n', "python").edges
    assert ("o", 0, "computedFrom", ('"n"',), (4,)) in edges and ("name", 2, "computedFrom", ('"n"',), (4,)) in edges
    # a0 ,1 b2 =3 c4 ,5 d6 : element-wise; (a, b) = [c, d] too
    edges = extract("a, b = c, d\n", "python").edges
    assert ("a", 0, "computedFrom", ("c",), (4,)) in edges and ("b", 2, "computedFrom", ("d",), (6,)) in edges
    edges = extract("(a, b) = [c, d]\n", "python").edges
    assert ("a", 1, "computedFrom", ("c",), (7,)) in edges and ("b", 3, "computedFrom", ("d",), (9,)) in edges
    # Ruby: a0 ,1 b2 =3 1 4 ,5 2 6 element-wise; c7 ,8 d9 =10 f11 (12 x13 )14 both from f(x)
    edges = extract("a, b = 1, 2\nc, d = f(x)\n", "ruby").edges
    assert ("a", 0, "computedFrom", ("1",), (4,)) in edges and ("b", 2, "computedFrom", ("2",), (6,)) in edges
    assert ("c", 7, "computedFrom", ("f", "x"), (11, 13)) in edges
    assert ("d", 9, "computedFrom", ("f", "x"), (11, 13)) in edges


def test_ruby_operator_assignment_takes_the_whole_right_side_and_its_own_old_value():
    # h0 [1 :k2 ]3 ||=4 log5 .6 m7 (8 :z9 )10
    edges = extract("h[:k] ||= log.m(:z)", "ruby").edges
    assert ("h", 0, "computedFrom", ("log", "m", ":z"), (5, 7, 9)) in edges
    # h0 =1 {2 }3 ;4 h5 [6 :k7 ]8 ||=9 v10 : h keeps what it was (position 0) and takes v
    edges = extract("h = {}; h[:k] ||= v", "ruby").edges
    assert ("h", 5, "computedFrom", ("v", "h"), (0, 10)) in edges


# --------------------------------------------------------------------------- 4. declarations without a value

@pytest.mark.parametrize("lang,code,name", [
    ("go", "func f() { var n int\n g(n) }", "n"),
    ("java", "class A { void f() { int n; g(n); } }", "n"),
    ("c", "void f() { int n; g(n); }", "n"),
    ("c_sharp", "class A { void F() { int n; G(n); } }", "n"),
    ("javascript", "function f() { let n; g(n); }", "n"),
])
def test_a_declaration_without_a_value_defines_from_nothing(lang, code, name):
    n = positions(code, lang, name)
    flow = extract(code, lang)
    assert [e for e in flow.edges if e[1] == n[0]] == [(name, n[0], "comesFrom", (), ())]  # not from `int`
    assert sources(code, lang)[n[1]] == {n[0]}


# --------------------------------------------------------------------------- 5. PHP foreach

def test_php_foreach_defines_its_variable_from_the_iterable_and_walks_the_body_twice():
    code = "foreach ($items as $item) { $s = $s . $item; }"
    # <?php0 foreach1 (2 $3 items4 as5 $6 item7 )8 {9 $10 s11 =12 $13 s14 .15 $16 item17 ;18 }19 ?>20
    edges = extract(code, "php").edges
    assert ("item", 7, "computedFrom", ("items",), (4,)) in edges
    assert ("item", 17, "comesFrom", ("item",), (7,)) in edges
    assert ("s", 14, "comesFrom", ("s",), (11,)) in edges           # the second pass: the previous iteration
    code = "foreach ($m as $k => $v) { $t = $k . $v; }"
    # <?php0 foreach1 (2 $3 m4 as5 $6 k7 =>8 $9 v10 )11 {12 $13 t14 =15 $16 k17 .18 $19 v20
    edges = extract(code, "php").edges
    assert ("k", 7, "computedFrom", ("m",), (4,)) in edges and ("v", 10, "computedFrom", ("m",), (4,)) in edges


# --------------------------------------------------------------------------- 6. loop else

def test_python_loop_else_runs_once_after_the_loop():
    # for0 i1 in2 xs3 :4 pass5 else6 :7 y8 =9 i10 print11 (12 y13 )14
    code = "for i in xs:\n    pass\nelse:\n    y = i\nprint(y)\n"
    edges = extract(code, "python").edges
    assert ("y", 8, "computedFrom", ("i",), (10,)) in edges and ("i", 10, "comesFrom", ("i",), (1,)) in edges
    assert ("y", 13, "comesFrom", ("y",), (8,)) in edges
    # while0 c1 :2 x3 =4 x5 +6 1 7 else8 :9 z10 =11 x12 : z sees the loop's x only, once
    code = "while c:\n    x = x + 1\nelse:\n    z = x\n"
    edges = extract(code, "python").edges
    assert ("z", 10, "computedFrom", ("x",), (12,)) in edges and ("x", 12, "comesFrom", ("x",), (3,)) in edges
    assert len([e for e in edges if e[1] == 10]) == 1


# --------------------------------------------------------------------------- 7. a definition from constants

DEFINE_FROM_CONSTANT = {
    "python": "x = 0\ng(x)\n", "ruby": "x = 0\ng(x)\n", "go": "func f() { x := 0\n g(x) }",
    "java": "class A { void f() { int x = 0; g(x); } }", "c": "void f() { int x = 0; g(x); }",
    "cpp": "void f() { int x = 0; g(x); }", "javascript": "function f() { let x = 0; g(x); }",
    "php": "function f() { $x = 0; g($x); }", "c_sharp": "class A { void F() { int x = 0; G(x); } }",
}


@pytest.mark.parametrize("lang", sorted(DEFINE_FROM_CONSTANT))
def test_a_definition_from_constants_is_a_node_from_its_literals_in_every_language(lang):
    code = DEFINE_FROM_CONSTANT[lang]
    flow = extract(code, lang)
    x, zero = positions(code, lang, "x"), flow.tokens.index("0")
    (edge,) = [e for e in flow.edges if e[1] == x[0]]
    assert edge[3:] == (("0",), (zero,))                     # kept, from the literal (not dropped)
    assert sources(code, lang)[x[1]] == {x[0]}


# --------------------------------------------------------------------------- the property test

class RD:
    """Reaching definitions over a tree-sitter tree, written independently of the extractor, for straight-
    line code with branches: assignments to names, expression statements, if/elif/else, return, calls,
    attributes, operators. Every identifier's first occurrence defines it (GraphCodeBERT's rule); an if's
    condition runs before its branches; a chain without a final else may run no branch."""

    PY_OK = {"module", "function_definition", "parameters", "identifier", "block", "expression_statement",
             "assignment", "if_statement", "elif_clause", "else_clause", "return_statement", "call",
             "argument_list", "attribute", "binary_operator", "comparison_operator", "boolean_operator",
             "not_operator", "unary_operator", "parenthesized_expression", "integer", "float", "true", "false",
             "none", "pass_statement", "subscript", "keyword_argument", "string", "string_start",
             "string_content", "string_end", "escape_sequence", "comment"}
    JAVA_OK = {"program", "class_declaration", "class_body", "method_declaration", "formal_parameters",
               "formal_parameter", "identifier", "type_identifier", "integral_type", "boolean_type",
               "void_type", "floating_point_type", "block", "local_variable_declaration", "variable_declarator",
               "expression_statement", "assignment_expression", "if_statement", "parenthesized_expression",
               "return_statement", "method_invocation", "argument_list", "field_access", "binary_expression",
               "unary_expression", "decimal_integer_literal", "true", "false", "null_literal", "string_literal",
               "string_fragment", "modifiers", "line_comment", "block_comment", "generic_type", "type_arguments",
               "array_type", "dimensions", "character_literal", "decimal_floating_point_literal", "escape_sequence",
               "array_access", "cast_expression", "object_creation_expression", "array_creation_expression",
               "dimensions_expr", "array_initializer", "throws", "scoped_type_identifier", "ternary_expression",
               "this", "hex_integer_literal", "instanceof_expression"}

    def __init__(self, code: str, lang: str) -> None:
        self.lang = lang
        self.data = code.encode()
        self.tree = parse(self.data, lang)
        self.toks = extract(code, lang).tokens
        self.pos: dict[int, int] = {}  # leaf start byte -> token position
        self._number(self.tree.root_node)
        self.uses: dict[int, set[int]] = {}

    def _number(self, root) -> None:
        order, stack = [], [root]
        comments = ("comment", "line_comment", "block_comment")
        while stack:
            n = stack.pop()
            if n.type in comments:
                continue
            if n.child_count == 0 or n.type in ("string", "string_literal"):
                if n.end_byte > n.start_byte:
                    order.append(n)
                continue
            stack.extend(reversed(n.children))
        assert [self.data[n.start_byte:n.end_byte].decode() for n in order] == self.toks
        self.pos = {n.start_byte: i for i, n in enumerate(order)}

    def covered(self) -> bool:
        ok = self.PY_OK if self.lang == "python" else self.JAVA_OK
        stack = [self.tree.root_node]
        while stack:
            n = stack.pop()
            if n.is_named and n.type not in ok or n.has_error:
                return False
            if n.type in ("assignment", "assignment_expression"):
                if n.child_by_field_name("left").type != "identifier" or (
                        n.type == "assignment" and n.child_by_field_name("right") is None):
                    return False
                op = n.child_by_field_name("operator")
                if op is not None and op.type != "=":
                    return False
            stack.extend(n.children)
        return True

    def run(self) -> dict[int, set[int]]:
        self.walk(self.tree.root_node, {})
        return {p: s for p, s in self.uses.items() if s}

    def token(self, n, state: dict) -> None:
        text = self.data[n.start_byte:n.end_byte].decode()
        if n.type == "identifier":
            p = self.pos[n.start_byte]
            if text in state:
                self.uses[p] = set(state[text])
            else:
                state[text] = {p}

    def walk(self, n, state: dict) -> dict:
        t = n.type
        if t in ("comment", "line_comment", "block_comment"):
            return state
        if n.child_count == 0 or t in ("string", "string_literal"):
            self.token(n, state)
            return state
        if t in ("assignment", "assignment_expression", "variable_declarator"):
            name = n.child_by_field_name("left") or n.child_by_field_name("name")
            value = n.child_by_field_name("right") or n.child_by_field_name("value")
            if value is not None:
                state = self.walk(value, state)
            state = dict(state)
            state[self.data[name.start_byte:name.end_byte].decode()] = {self.pos[name.start_byte]}
            return state
        if t == "if_statement":
            return self.branch(n, state)
        for c in n.children:
            state = self.walk(c, state)
        return state

    def branch(self, n, state: dict) -> dict:
        """Condition first; then each branch from the state after it; the union over the paths taken."""
        state = self.walk(n.child_by_field_name("condition"), state)
        body = n.child_by_field_name("consequence")
        paths = [self.walk(body, dict(state))]  # (walks update the state they get: each path its own copy)
        exhaustive = False
        if self.lang == "python":
            for c in n.children:
                if c.type == "elif_clause":
                    after = self.walk(c.child_by_field_name("condition"), dict(state))
                    paths.append(self.walk(c.child_by_field_name("consequence"), after))
                elif c.type == "else_clause":
                    paths.append(self.walk(c.child_by_field_name("body"), dict(state)))
                    exhaustive = True
        else:
            alt = n.child_by_field_name("alternative")
            if alt is not None:
                paths.append(self.walk(alt, dict(state)))
                exhaustive = True
        if not exhaustive:
            paths.append(state)
        names = {k for p in paths for k in p}
        return {k: set().union(*(p[k] for p in paths if k in p)) for k in names}


def _program(rng: random.Random, lang: str, depth: int = 0, n: int = 0) -> list[str]:
    """Random statements over a few names: assignments, calls, nested if / elif / else."""
    names = ["a", "b", "c", "d", "e"]
    out = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        v, w, u = rng.choice(names), rng.choice(names), rng.choice(names)
        if r < 0.45:
            out.append(f"{v} = {w} + {u}" if lang == "python" else f"{v} = {w} + {u};")
        elif r < 0.6:
            out.append(f"g({v})" if lang == "python" else f"g({v});")
        elif depth < 3:
            k = rng.randint(0, 2)
            has_else = rng.random() < 0.5
            if lang == "python":
                out.append(f"if {v} > {w}:")
                out += ["    " + s for s in _program(rng, lang, depth + 1)]
                for _ in range(k):
                    out.append(f"elif {rng.choice(names)}:")
                    out += ["    " + s for s in _program(rng, lang, depth + 1)]
                if has_else:
                    out.append("else:")
                    out += ["    " + s for s in _program(rng, lang, depth + 1)]
            else:
                s = f"if ({v} > {w}) {{ {' '.join(_program(rng, lang, depth + 1))} }}"
                for _ in range(k):
                    s += f" else if ({rng.choice(names)}) {{ {' '.join(_program(rng, lang, depth + 1))} }}"
                if has_else:
                    s += f" else {{ {' '.join(_program(rng, lang, depth + 1))} }}"
                out.append(s)
    return out


@pytest.mark.parametrize("lang", ["python", "java"])
def test_uses_come_from_exactly_the_reaching_definitions_on_generated_programs(lang):
    rng = random.Random(lang)
    for _ in range(1000):
        body = _program(rng, lang)
        if lang == "python":
            code = "def f(a, b):\n" + "".join(f"    {s}\n" for s in body) + "    return a\n"
        else:
            code = "class A { int f(int a, int b) { " + " ".join(body) + " return a; } }"
        rd = RD(code, lang)
        assert rd.covered(), code
        assert sources(code, lang) == rd.run(), code


def test_uses_come_from_exactly_the_reaching_definitions_on_real_code(shared_data):
    checked = {"python": 0, "java": 0}
    rows = [("python", json.loads(line)) for line in
            (shared_data / "summarization" / "python_dev.jsonl").read_text().splitlines()]
    rows += [("java", json.loads(line)) for line in
             (shared_data / "clone" / "gcj_programs.jsonl").read_text().splitlines()]
    units = []  # python_dev rows are functions; each GCJ program's methods, one at a time
    for lang, row in rows:
        code = row.get("code") or row.get("func")
        if lang == "python":
            units.append((lang, code))
            continue
        data = code.encode()
        stack = [parse(data, "java").root_node]
        while stack:
            n = stack.pop()
            if n.type == "method_declaration":
                units.append((lang, "class A { " + data[n.start_byte:n.end_byte].decode() + " }"))
            stack.extend(n.children)
    wrong = []
    for lang, code in units:
        rd = RD(code, lang)
        if not rd.covered():
            continue
        checked[lang] += 1
        if sources(code, lang) != rd.run():
            wrong.append((lang, code[:200]))
    assert wrong == []
    assert checked["python"] >= 300 and checked["java"] >= 30, checked  # measured: 306 functions, 32 methods (loops
    # are outside what the pass covers; most GCJ methods have one)


# --------------------------------------------------------------------------- 8. GraphCodeBERT's own semantics
# compat=True is what CodeBLEU's data-flow match runs: GraphCodeBERT's extractor, whose rules differ from the
# hub's fixes above. Each case below is worked out by hand from that extractor's rules (bench/dfg_compat.py runs
# the extractor itself on the same trees: identical graphs on every shared Java, C# and Python snippet).

def graph(code: str, lang: str, compat: bool) -> dict[tuple[str, int], tuple[str, set[str], set[int]]]:
    return {(v, p): (k, set(n), set(s)) for v, p, k, n, s in extract(code, lang, compat=compat).edges}


def test_compat_c_style_for_walks_the_update_before_the_body_and_again_after_the_declaration():
    code = "class A { void f() { for (int i = 0; i < n; i++) { s = s + i; } } }"
    i = positions(code, "java", "i")          # init, condition, update, body
    s = positions(code, "java", "s")          # target, use
    # hub: the body runs before the update, so the body's i comes from the init (1st pass) and the update (2nd)
    assert graph(code, "java", False)[("i", i[3])][2] == {i[0], i[2]}
    # GraphCodeBERT: the first pass walks init, condition, update, body in source order: only the update
    assert graph(code, "java", True)[("i", i[3])][2] == {i[2]}
    # and the second pass (children after the declaration) gives s its loop-carried source
    assert graph(code, "java", True)[("s", s[1])][2] == {s[0]}
    # an init that is an expression is no local_variable_declaration: no second pass, no loop-carried s
    code2 = "class A { void f() { for (i = 0; i < n; i++) { s = s + i; } } }"
    s2 = positions(code2, "java", "s")
    assert graph(code2, "java", False)[("s", s2[1])][2] == {s2[0]}
    assert graph(code2, "java", True)[("s", s2[1])] == ("comesFrom", set(), set())


def test_compat_if_else_starts_from_before_the_condition_and_keeps_the_incoming_definition():
    code = "class A { int f() { int y = 0; if (a > 0) { y = 1; } else { y = 2; } return y; } }"
    y = positions(code, "java", "y")          # declaration, then, else, return
    # hub: an if with else replaces y on both paths
    assert graph(code, "java", False)[("y", y[3])][2] == {y[1], y[2]}
    # GraphCodeBERT's Java: the `else` keyword is itself an alternative from the incoming states, so they join
    assert graph(code, "java", True)[("y", y[3])][2] == {y[0], y[1], y[2]}
    # Python: with an else clause the incoming states do not join; a name first seen in the condition is not
    # defined for the else clause (it starts from before the condition)
    py = "if flag:\n    x = 1\nelse:\n    x = flag\n"
    flag = positions(py, "python", "flag")
    assert graph(py, "python", False)[("flag", flag[1])][2] == {flag[0]}
    assert graph(py, "python", True)[("flag", flag[1])][2] == set()


def test_compat_python_pairs_children_whenever_their_counts_match():
    code = "o.y = a + b\n"                        # left: o . y   right: a + b   (3 children each)
    p = {t: positions(code, "python", t)[0] for t in ("o", "y", "a", "b")}
    hub, gcb = graph(code, "python", False), graph(code, "python", True)
    assert hub[("o", p["o"])][1:] == ({"a", "b"}, {p["a"], p["b"]})
    assert gcb[("o", p["o"])] == ("computedFrom", {"a"}, {p["a"]})
    assert gcb[("y", p["y"])] == ("computedFrom", {"b"}, {p["b"]})
    # a string is one token with no children (as in the 2020 grammar): `o.y = 'abc'` is not paired
    code = "o.y = 'abc'\n"
    assert graph(code, "python", True)[("y", 2)] == ("computedFrom", {"'abc'"}, {4})


def test_compat_python_for_else_walks_neither_body_nor_else_and_while_else_twice():
    code = "for x in xs:\n    t = x\nelse:\n    t = 0\nprint(t)\n"
    t = positions(code, "python", "t")        # body, else, print
    assert graph(code, "python", False)[("t", t[2])][2] == {t[1]}   # hub: else runs once after the loop
    assert ("t", t[0]) not in graph(code, "python", True)          # GraphCodeBERT: the body is not walked...
    assert ("t", t[1]) not in graph(code, "python", True)          # ... nor the else clause
    code = "while c:\n    t = u\nelse:\n    u = t\n"
    t, u = positions(code, "python", "t"), positions(code, "python", "u")
    # every child twice, the else clause inside the loop: the body's u comes from the else of the first pass
    assert graph(code, "python", True)[("u", u[0])][2] == {u[1]}
    assert graph(code, "python", False)[("u", u[0])][2] == {u[0]}   # hub: the else runs after the loop


def test_compat_java_targets_of_a_value_without_tokens_get_no_entry_but_are_defined():
    code = "class A { void f() { Foo g = this; h(g); } }"
    g = positions(code, "java", "g")
    assert graph(code, "java", False)[("g", g[0])] == ("comesFrom", set(), set())
    assert ("g", g[0]) not in graph(code, "java", True)
    assert graph(code, "java", True)[("g", g[1])][2] == {g[0]}


def test_compat_csharp_increments_are_postfix_unary_expressions_only():
    code = "class A { void F() { ++i; j!.K(); } }"
    i, j = positions(code, "c_sharp", "i"), positions(code, "c_sharp", "j")
    hub, gcb = graph(code, "c_sharp", False), graph(code, "c_sharp", True)
    assert hub[("i", i[0])][0] == "computedFrom" and ("j", j[0]) not in hub
    assert ("i", i[0]) not in gcb                                  # ++i: a plain first use, isolated
    assert gcb[("j", j[0])] == ("computedFrom", {"j"}, {j[0]})     # x! counts as an increment


def test_compat_falls_back_to_the_hub_rules_where_the_evaluator_scores_nothing():
    code = "func f() { x := y; g(x) }"
    assert extract(code, "go", compat=True).edges == extract(code, "go").edges


def test_codebleu_data_flow_uses_the_compat_setting():
    from codeintel.eval.codebleu import data_flow

    code = "o.y = a + b\n"      # names a, b, o, y renamed var_0.. in order of appearance, sources first
    assert data_flow(code, "python") == [("var_1", "computedFrom", ["var_0"]), ("var_3", "computedFrom", ["var_2"]),
                                         ("var_0", "comesFrom", []), ("var_2", "comesFrom", [])]
    assert data_flow(code, "python", compat=False) == [
        ("var_2", "computedFrom", ["var_0", "var_1"]), ("var_3", "computedFrom", ["var_0", "var_1"]),
        ("var_0", "comesFrom", []), ("var_1", "comesFrom", [])]
