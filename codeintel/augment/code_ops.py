"""Semantics-preserving code operators (ContraBERT's program-level augmentations), for Python, Java and C.

Each operator edits byte spans of the tree-sitter tree and is conservative: where the change could alter
what the program computes it raises :class:`~codeintel.augment.core.NotApplicable` instead. The rules,
operator by operator:

- ``rename_function``: a function defined in the snippet (not ``main``, not a dunder), its calls and (C) its
  prototypes. Not applied if the name is also reached as an attribute/method of another object (``o.f()``),
  overloaded (Java), possibly implementing or overriding another (``@Override``, a class that extends or
  implements, an anonymous class), or (C) called before its definition without a prototype.
- ``rename_variables``: ``k`` variables (parameters and locals; C globals too), every resolved occurrence
  (see :mod:`codeintel.augment.scopes`), to names that occur nowhere in the code and are not reserved.
  Python names also passed as keyword arguments, and ``global``/``nonlocal`` names, are left alone.
- ``insert_dead_code``: before a statement of a function body, a statement that cannot run
  (``if False:``) or cannot change state (an unused fresh variable). Never before a docstring or
  ``super(...)``.
- ``swap_operands``: ``a < b`` -> ``b > a`` (``==``/``!=`` keep their operator) when both operands are free of
  calls, assignments and increments (so evaluation order cannot matter) and bind tighter than the comparison.
- ``exchange_loop``: C/Java ``for(init; cond; update) body`` -> ``{init; while (cond) {body update;}}`` and
  ``while (c)`` -> ``for (; c; )``; Python ``for i in range(...)`` -> ``while``. Not applied when a
  ``continue`` belongs to the loop (it would skip the update), when the body assigns the loop variable
  (Python) or the variable is used after the loop, or (Java) when the body cannot complete normally.
- ``swap_if_else``: ``if c: A else: B`` -> ``if not (c): B else: A`` (no ``elif``); braces are added in C/Java.
- ``permute_statements``: swaps two adjacent simple statements with no data flow between them (neither
  writes a name the other reads or writes), no calls, and no writes through ``a[i]``, ``o.f`` or ``*p``.
"""

from __future__ import annotations

import random

from codeintel.augment.core import NotApplicable, operator
from codeintel.augment.scopes import RULES, analyse, field_of, fresh_names, taken_names
from codeintel.structure.parsing import parse, walk

# --------------------------------------------------------------------------- shared helpers


def _text(node) -> str:
    return node.text.decode("utf-8")


def _apply(code: bytes, edits: list[tuple[int, int, str]]) -> str:
    """``code`` with the (non-overlapping) byte spans replaced, in one pass."""
    parts, at = [], 0
    for start, end, new in sorted(edits):
        parts += [code[at:start], new.encode("utf-8")]
        at = end
    parts.append(code[at:])
    return b"".join(parts).decode("utf-8")


def _line_indent(code: bytes, node) -> str | None:
    """The whitespace before ``node`` on its line, or None if other code precedes it there. Scans back only
    over that whitespace (not to the line's start: one long line would make every call cost its length)."""
    p = node.start_byte
    while p > 0 and code[p - 1] in b" \t\r\x0b\x0c":
        p -= 1
    if p == 0 or code[p - 1] == 0x0A:
        return code[p : node.start_byte].decode("utf-8")
    if code[p - 1] < 0x80:
        return None  # code (or an ASCII non-blank) before it on the line
    start = code.rfind(b"\n", 0, node.start_byte) + 1  # non-ASCII: maybe Unicode blanks; decide as str.strip does
    prefix = code[start : node.start_byte].decode("utf-8")
    return prefix if not prefix.strip() else None


FUNCTION_TYPES = {"python": {"function_definition"}, "java": {"method_declaration", "constructor_declaration"},
                  "c": {"function_definition"}}
BLOCK_TYPES = {"python": {"block"}, "java": {"block"}, "c": {"compound_statement"}}
CALLS = {"python": {"call", "await", "yield", "named_expression", "lambda", "assignment", "augmented_assignment",
                    "list_comprehension", "generator_expression", "set_comprehension", "dictionary_comprehension"},
         "java": {"method_invocation", "object_creation_expression", "assignment_expression", "update_expression",
                  "lambda_expression", "array_creation_expression", "switch_expression"},
         "c": {"call_expression", "assignment_expression", "update_expression", "comma_expression"}}
LOOPS = {"python": {"for_statement", "while_statement"},
         "java": {"for_statement", "while_statement", "do_statement", "enhanced_for_statement"},
         "c": {"for_statement", "while_statement", "do_statement"}}


def _has(node, types: set[str]) -> bool:
    return any(n.type in types for n in walk(node))


def _function_name(defn, lang: str):
    if lang == "c":
        d = defn.child_by_field_name("declarator")
        while d is not None and d.type != "function_declarator":
            d = d.child_by_field_name("declarator")
        return d.child_by_field_name("declarator") if d is not None else None
    return defn.child_by_field_name("name")


def _blocks(root, lang: str) -> list[list]:
    """The statements of each block inside a function body (not class bodies, not switch bodies), in source
    order. One top-down pass that carries "inside a function" and the parent's type: tree-sitter finds a
    node's ``parent`` by descending from the root, so climbing parents would cost the nesting depth each."""
    out, blocks, functions = [], BLOCK_TYPES[lang], FUNCTION_TYPES[lang]
    stack = [(root, False, "")]
    while stack:
        node, in_function, parent_type = stack.pop()
        if node.type in blocks and in_function and parent_type not in ("class_definition", "switch_statement"):
            out.append([c for c in node.named_children if "comment" not in c.type and not c.type.startswith("preproc")])
        inner = in_function or node.type in functions
        stack.extend((c, inner, node.type) for c in reversed(node.children))
    return out


def _statements(root, lang: str) -> list:
    """Statements of blocks inside function bodies, in source order (see :func:`_blocks`)."""
    return [stmt for block in _blocks(root, lang) for stmt in block]


# --------------------------------------------------------------------------- renaming


@operator("code", "rename a function defined in the snippet and its calls")
def rename_function(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    tree = parse(data, lang)
    defs: dict[str, list] = {}
    for node in walk(tree.root_node):
        if node.type in FUNCTION_TYPES[lang] - {"constructor_declaration"}:
            name = _function_name(node, lang)
            if name is not None and name.type == "identifier":
                defs.setdefault(_text(name), []).append((node, name))
    attrs = _attribute_uses(tree.root_node, lang)
    names = [n for n, d in defs.items() if len(d) == 1 and n != "main" and not n.startswith("__")
             and n not in attrs and not _overrides(d[0][0])]
    if not names:
        raise NotApplicable("no function that can be renamed")
    name = rng.choice(sorted(names))
    new = fresh_names(1, taken_names(tree, lang), rng)[0]
    spans = {(defs[name][0][1].start_byte, defs[name][0][1].end_byte)}
    if lang == "java":
        spans |= {(n.start_byte, n.end_byte) for n in walk(tree.root_node)
                  if n.type == "identifier" and _text(n) == name and n.parent.type == "method_invocation"
                  and field_of(n) == "name"}
    else:
        variable_spans = {s for v in analyse(tree, lang).values() for s in v.spans}
        rules = RULES[lang]
        same = [n for n in walk(tree.root_node) if n.type == "identifier" and _text(n) == name
                and (n.start_byte, n.end_byte) not in variable_spans]
        uses = {(n.start_byte, n.end_byte) for n in same if (n.parent.type, field_of(n)) not in rules.not_variable}
        prototypes = {(n.start_byte, n.end_byte) for n in same if n.parent.type == "function_declarator"} - spans
        if lang == "c" and not prototypes and any(s < min(spans)[0] for s, _ in uses):
            raise NotApplicable(f"{name} is called before its definition without a prototype (implicit declaration)")
        spans |= uses | prototypes
    return _apply(data, [(s, e, new) for s, e in spans])


def _attribute_uses(root, lang: str) -> set[str]:
    """Names reached through another object (``o.f``, ``other.f()``, ``this::f``): renaming those is unsafe."""
    out = set()
    for n in walk(root):
        if lang == "python" and n.type == "attribute":
            out.add(_text(n.child_by_field_name("attribute")))
        elif lang == "java" and n.type == "method_invocation":
            obj = n.child_by_field_name("object")
            if obj is not None and obj.type != "this":
                out.add(_text(n.child_by_field_name("name")))
        elif lang == "java" and n.type == "method_reference":
            out.update(_text(c) for c in n.named_children if c.type == "identifier")
        elif lang == "c" and n.type == "field_expression":
            out.add(_text(n.child_by_field_name("field")))
    return out


def _overrides(defn) -> bool:
    """Java: the method may implement or override one (``@Override``, or its class extends/implements
    something or is anonymous): renaming it would break that contract."""
    mods = next((c for c in defn.children if c.type == "modifiers"), None)
    if mods is not None and b"@Override" in mods.text:
        return True
    owner = defn.parent.parent if defn.parent is not None else None
    if owner is None or defn.type != "method_declaration":
        return False
    return owner.type != "class_declaration" or any(
        owner.child_by_field_name(f) is not None for f in ("superclass", "interfaces"))


@operator("code", "rename k variables (scope-aware, every occurrence) to unused names", k=1)
def rename_variables(code: str, lang: str, rng: random.Random, k: int = 1) -> str:
    data = code.encode("utf-8")
    tree = parse(data, lang)
    kwargs = {_text(n.child_by_field_name("name")) for n in walk(tree.root_node) if n.type == "keyword_argument"}
    candidates = sorted((v for v in analyse(tree, lang).values() if v.renamable and v.spans and v.name not in kwargs),
                        key=lambda v: v.spans[0])
    if not candidates:
        raise NotApplicable("no variable to rename")
    chosen = rng.sample(candidates, min(k, len(candidates)))
    new_names = fresh_names(len(chosen), taken_names(tree, lang), rng)
    return _apply(data, [(s, e, new) for var, new in zip(chosen, new_names, strict=True) for s, e in var.spans])


# --------------------------------------------------------------------------- dead code


@operator("code", "insert a statement that cannot run or cannot change state")
def insert_dead_code(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    tree = parse(data, lang)
    spots = [s for s in _statements(tree.root_node, lang) if not _is_docstring(s) and
             s.type != "explicit_constructor_invocation" and _line_indent(data, s) is not None]
    if not spots:
        raise NotApplicable("no statement inside a function body")
    spot = rng.choice(spots)
    indent = _line_indent(data, spot)
    name = fresh_names(1, taken_names(tree, lang), rng)[0]
    value = rng.randrange(0, 100)
    if lang == "python":
        inner = "    " if "\t" not in indent else "\t"
        stmt = rng.choice([f"if False:\n{indent}{inner}{name} = {value}", f"{name} = {value}"])
    else:
        false = "false" if lang == "java" else "0"
        stmt = rng.choice([f"if ({false}) {{ int {name} = {value}; }}", f"int {name} = {value};"])
    return _apply(data, [(spot.start_byte, spot.start_byte, f"{stmt}\n{indent}")])


def _is_docstring(stmt) -> bool:
    return (stmt.type == "expression_statement" and stmt.named_child_count == 1
            and stmt.named_children[0].type == "string" and stmt.prev_named_sibling is None)


# --------------------------------------------------------------------------- operand swap

MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
ARITHMETIC = {"+", "-", "*", "/", "%", "//", "**", "@", "<<", ">>"}
LOOSER = {"python": {"not_operator", "boolean_operator", "conditional_expression", "lambda", "comparison_operator"},
          "java": {"ternary_expression", "instanceof_expression", "lambda_expression", "assignment_expression"},
          "c": {"conditional_expression", "assignment_expression", "comma_expression"}}


def _comparison(node, lang: str):
    """(left, operator, right) of a two-operand comparison, else None."""
    if lang == "python":
        if node.type != "comparison_operator" or node.named_child_count != 2:
            return None
        ops = [c for c in node.children if not c.is_named]
        if len(ops) != 1 or _text(ops[0]) not in MIRROR:
            return None
        return node.named_children[0], _text(ops[0]), node.named_children[1]
    if node.type != "binary_expression":
        return None
    op = node.child_by_field_name("operator")
    if op is None or _text(op) not in MIRROR:
        return None
    return node.child_by_field_name("left"), _text(op), node.child_by_field_name("right")


def _safe_operand(node, lang: str) -> bool:
    if node.type in LOOSER[lang]:
        return False
    if node.type in ("binary_expression", "binary_operator"):
        op = node.child_by_field_name("operator")
        if op is None or _text(op) not in ARITHMETIC:
            return False
    return not _has(node, CALLS[lang] | {"interpolation"})


@operator("code", "swap the operands of a comparison (a < b -> b > a)")
def swap_operands(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    found = []
    for node in walk(parse(data, lang).root_node):
        parts = _comparison(node, lang)
        if parts and all(_safe_operand(p, lang) for p in (parts[0], parts[2])):
            found.append((node, parts))
    if not found:
        raise NotApplicable("no comparison with side-effect-free operands")
    node, (left, op, right) = rng.choice(found)
    return _apply(data, [(node.start_byte, node.end_byte, f"{_text(right)} {MIRROR[op]} {_text(left)}")])


# --------------------------------------------------------------------------- loop exchange


def _own_continue(loop, lang: str) -> bool:
    """A ``continue`` that belongs to ``loop`` (not to a nested loop), or any labelled continue."""
    for n in walk(loop.child_by_field_name("body")):
        if n.type in ("continue_statement",) and (n.named_child_count or _nearest_loop(n, lang) == loop.id):
            return True
    return False


def _nearest_loop(node, lang: str) -> int | None:
    n = node.parent
    while n is not None and n.type not in LOOPS[lang]:
        n = n.parent
    return n.id if n is not None else None


def _python_for(loop, data: bytes, rng: random.Random, tree) -> list[tuple[int, int, str]]:
    var, it, body = (loop.child_by_field_name(f) for f in ("left", "right", "body"))
    if var.type != "identifier" or it.type != "call" or _text(it.child_by_field_name("function")) != "range":
        raise NotApplicable("only `for NAME in range(...)` loops have a while form")
    args = [a for a in it.child_by_field_name("arguments").named_children]
    if not 1 <= len(args) <= 3 or any(a.type in ("keyword_argument", "list_splat") for a in args):
        raise NotApplicable("range() arguments not positional")
    step = _text(args[2]).replace(" ", "") if len(args) == 3 else "1"
    if not step.lstrip("-").isdigit() or int(step) == 0:
        raise NotApplicable("range() step is not a non-zero integer literal")
    if any(c.type == "else_clause" for c in loop.children):
        raise NotApplicable("for ... else")
    if _own_continue(loop, "python"):
        raise NotApplicable("a continue would skip the increment")
    name = _text(var)
    variables = analyse(tree, "python")
    if "range" in {v.name for v in variables.values()}:
        raise NotApplicable("range is rebound")
    owner = next((v for v in variables.values() if (var.start_byte, var.end_byte) in v.spans), None)
    if owner is None or any(not loop.start_byte <= s < loop.end_byte for s, _ in owner.spans):
        raise NotApplicable(f"{name} is used outside the loop")
    assigned = _writes(body, "python", strict=False)
    if name in assigned:
        raise NotApplicable(f"the body assigns {name}")
    indent, body_indent = _line_indent(data, loop), _line_indent(data, body)
    if indent is None or body_indent is None or body.start_point.row == loop.start_point.row:
        raise NotApplicable("loop header and body on one line")
    start = _text(args[0]) if len(args) > 1 else "0"
    stop_node = args[1] if len(args) > 1 else args[0]
    stop, pre = _text(stop_node), ""
    if not (stop_node.type == "integer" or (stop_node.type == "identifier" and stop not in assigned)):
        bound = fresh_names(1, taken_names(tree, "python"), rng)[0]  # evaluated once, as range() does
        pre, stop = f"{bound} = {stop}\n{indent}", bound
    up = int(step) > 0
    update = f"{name} += {step}" if up else f"{name} -= {step.lstrip('-')}"
    new = (f"{name} = {start}\n{indent}{pre}while {name} {'<' if up else '>'} {stop}:\n"
           f"{body_indent}{_text(body)}\n{body_indent}{update}")
    return [(loop.start_byte, loop.end_byte, new)]


def _braced_for(loop, data: bytes, lang: str) -> list[tuple[int, int, str]]:
    init = loop.children_by_field_name("init" if lang == "java" else "initializer")
    cond = loop.child_by_field_name("condition")
    updates = loop.children_by_field_name("update")
    body = loop.child_by_field_name("body")
    if _own_continue(loop, lang):
        raise NotApplicable("a continue would skip the update")
    if lang == "java" and updates and not _completes(body):
        raise NotApplicable("the update would be unreachable (Java)")
    indent = _line_indent(data, loop) or ""
    step = "\t" if "\t" in indent else "    "
    inits = " ".join(t if t.endswith(";") else t + ";" for t in map(_text, init))
    cond_text = _text(cond) if cond is not None else ("true" if lang == "java" else "1")
    upd = " ".join(f"{_text(u)};" for u in updates)
    # line breaks around the update: the body may end in a // comment
    if body.type in BLOCK_TYPES[lang]:
        inner = _text(body)[1:-1].rstrip()
    else:
        inner = f"\n{indent}{step}{_text(body)}"
    new_body = "{" + inner + (f"\n{indent}{step}{upd}" if upd else "") + f"\n{indent}}}"
    loop_text = f"while ({cond_text}) {new_body}"
    return [(loop.start_byte, loop.end_byte, f"{{ {inits}\n{indent}{loop_text} }}" if inits else loop_text)]


def _completes(body) -> bool:
    """Conservative: False when the body's last statement cannot complete normally (Java)."""
    last = body.named_children[-1] if body.type == "block" and body.named_children else body
    return last.type not in ("return_statement", "throw_statement", "break_statement", "continue_statement")


@operator("code", "turn a for loop into a while loop (C/Java also while -> for)")
def exchange_loop(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    tree = parse(data, lang)
    loops = [n for n in walk(tree.root_node) if n.type in ("for_statement", "while_statement")]
    if not loops:
        raise NotApplicable("no loop")
    rng.shuffle(loops)
    reasons = []
    for loop in loops:
        try:
            if loop.type == "while_statement":
                if lang == "python":
                    raise NotApplicable("a Python while loop has no for form")
                cond = _text(loop.child_by_field_name("condition"))[1:-1]
                return _apply(data, [(loop.start_byte, loop.child_by_field_name("body").start_byte,
                                      f"for (; {cond}; ) ")])
            edits = _python_for(loop, data, rng, tree) if lang == "python" else _braced_for(loop, data, lang)
            return _apply(data, edits)
        except NotApplicable as exc:
            reasons.append(str(exc))
    raise NotApplicable(reasons[0])


# --------------------------------------------------------------------------- if/else swap


def _reindent(text: str, src: str, dst: str) -> str:
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip():
            if not lines[i].startswith(src):
                raise NotApplicable("branch indentation is irregular")
            lines[i] = dst + lines[i][len(src):]
    return "\n".join(lines)


@operator("code", "swap the branches of an if/else and negate its condition")
def swap_if_else(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    found = []
    for node in walk(parse(data, lang).root_node):
        if node.type != "if_statement" or node.child_by_field_name("alternative") is None:
            continue
        if lang == "python":
            alts = node.children_by_field_name("alternative")
            if len(alts) == 1 and alts[0].type == "else_clause":
                found.append(node)
        else:
            found.append(node)
    if not found:
        raise NotApplicable("no if with an else branch (elif chains are not swapped)")
    node = rng.choice(found)
    cond = node.child_by_field_name("condition")
    if lang == "python":
        then, other = node.child_by_field_name("consequence"), node.child_by_field_name("alternative")
        other = other.child_by_field_name("body")
        ti, oi = _line_indent(data, then), _line_indent(data, other)
        if ti is None or oi is None:
            raise NotApplicable("a branch on the same line as its header")
        neg = _text(cond.child_by_field_name("argument")) if cond.type == "not_operator" else f"not ({_text(cond)})"
        return _apply(data, [(cond.start_byte, cond.end_byte, neg),
                             (then.start_byte, then.end_byte, _reindent(_text(other), oi, ti)),
                             (other.start_byte, other.end_byte, _reindent(_text(then), ti, oi))])
    inner = cond.named_children[0] if cond.type == "parenthesized_expression" else cond
    if inner.type == "unary_expression" and _text(inner.child_by_field_name("operator")) == "!":
        neg = _text(inner.child_by_field_name("argument") or inner.child_by_field_name("operand"))
    else:
        neg = f"!({_text(inner)})"
    then = node.child_by_field_name("consequence")
    other = node.child_by_field_name("alternative")
    if other.type == "else_clause":
        other = other.named_children[-1]
    def braced(n) -> str:
        return _text(n) if n.type in BLOCK_TYPES[lang] else f"{{ {_text(n)} }}"
    return _apply(data, [(node.start_byte, node.end_byte, f"if ({neg}) {braced(other)} else {braced(then)}")])


# --------------------------------------------------------------------------- statement permutation

TARGETS = {"python": {"assignment": "left", "augmented_assignment": "left"},
           "java": {"assignment_expression": "left", "variable_declarator": "name", "update_expression": None},
           "c": {"assignment_expression": "left", "init_declarator": "declarator", "update_expression": "argument"}}
SIMPLE = {"python": {"expression_statement"}, "java": {"expression_statement", "local_variable_declaration"},
          "c": {"expression_statement", "declaration"}}


def _writes(node, lang: str, strict: bool = True) -> set[str]:
    """Names assigned under ``node``. Writes through ``a[i]``, ``o.f``, ``*p`` raise NotApplicable (``strict``)
    or are skipped (they rebind no name)."""
    out = set()
    for n in walk(node):
        if n.type in TARGETS[lang]:
            fld = TARGETS[lang][n.type]
            target = n.child_by_field_name(fld) if fld else n.named_children[0]
            for t in ([target] if target.type != "pattern_list" else target.named_children):
                if t.type != "identifier":
                    if strict:
                        raise NotApplicable("writes through a subscript, field or pointer")
                    continue
                out.add(_text(t))
        elif lang == "c" and n.type == "declaration":
            out.update(_text(d) for d in n.children_by_field_name("declarator") if d.type == "identifier")
    return out


def _reads(node, lang: str) -> set[str]:
    """Identifiers in variable positions under ``node`` (parents and fields tracked on the way down)."""
    rules, out, stack = RULES[lang], set(), [node]
    while stack:
        n = stack.pop()
        for i, c in enumerate(n.children):
            if c.type == "identifier":
                if (n.type, n.field_name_for_child(i) or "") not in rules.not_variable:
                    out.add(_text(c))
            else:
                stack.append(c)
    if node.type == "identifier":
        out.add(_text(node))
    return out


def _independent(a, b, lang: str) -> bool:
    try:
        wa, wb = _writes(a, lang), _writes(b, lang)
    except NotApplicable:
        return False
    ra, rb = _reads(a, lang), _reads(b, lang)  # reads include the written names: a name read-and-written counts
    return not (wa & (rb | wb)) and not (wb & ra)


def _simple(stmt, lang: str) -> bool:
    if stmt.type not in SIMPLE[lang]:
        return False
    calls = CALLS[lang] - set(TARGETS[lang])
    return not _has(stmt, calls) and bool(_writes(stmt, lang, strict=False))  # writes through a[i]: _independent


@operator("code", "swap two adjacent statements with no data flow between them")
def permute_statements(code: str, lang: str, rng: random.Random) -> str:
    data = code.encode("utf-8")
    pairs = [(a, b) for block in _blocks(parse(data, lang).root_node, lang)
             for a, b in zip(block, block[1:], strict=False)
             if _simple(a, lang) and _simple(b, lang) and _independent(a, b, lang)]
    if not pairs:
        raise NotApplicable("no two adjacent independent statements")
    a, b = rng.choice(pairs)
    return _apply(data, [(a.start_byte, a.end_byte, _text(b)), (b.start_byte, b.end_byte, _text(a))])
