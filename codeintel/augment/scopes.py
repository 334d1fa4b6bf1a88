"""Which identifiers are the same variable: scope analysis over a tree-sitter tree, per-language rules as data.

A *binding* is an identifier that declares a variable (a parameter, a declarator, an assignment target in
Python); it belongs to a scope (the nearest block in C/Java, the nearest function in Python). Every
identifier in a variable position resolves to the innermost enclosing scope that binds its name. The
rename operators rename a :class:`Variable` at exactly its resolved occurrences, so a name that is
shadowed in an inner scope, a field ``obj.x``, a keyword argument ``f(x=1)`` or a method name keeps its
spelling.
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field

from codeintel.structure.parsing import walk


@dataclass(frozen=True)
class ScopeRules:
    scopes: frozenset[str]                       # node types that open a scope
    function_scoped: bool                         # Python: a binding belongs to the nearest function, not block
    binders: dict[str, str | None]                # node type -> field holding the bound pattern (None: the node)
    patterns: frozenset[str]                      # pattern nodes to descend through when collecting bound names
    pattern_fields: dict[str, str]                # pattern type -> the one field that holds the name (C declarators)
    not_variable: frozenset[tuple[str, str]]      # (parent type, field) where an identifier is not a variable
    hidden_scopes: frozenset[str] = frozenset()   # bindings here are not variables (class bodies, Java fields)
    reserved: frozenset[str] = frozenset()        # keywords and builtins a new name must never be


_C_RESERVED = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "bool true false NULL main printf scanf malloc free "
    # libc names that headers the snippet includes may declare (a new name must not collide with them)
    "index rindex time exp log sqrt pow abs div rand random remove rename read write open close signal select "
    "link sleep exit count stat wait kill send recv bind listen accept socket printf puts gets strlen".split())
_JAVA_RESERVED = frozenset(
    "abstract assert boolean break byte case catch char class const continue default do double else enum extends "
    "final finally float for goto if implements import instanceof int interface long native new package private "
    "protected public return short static strictfp super switch synchronized this throw throws transient try void "
    "volatile while true false null var record yield sealed permits String System Math Object".split())

RULES: dict[str, ScopeRules] = {
    "python": ScopeRules(
        scopes=frozenset({"module", "function_definition", "lambda", "class_definition", "list_comprehension",
                          "set_comprehension", "dictionary_comprehension", "generator_expression"}),
        function_scoped=True,
        binders={"parameters": None, "lambda_parameters": None, "assignment": "left",
                 "augmented_assignment": "left", "for_statement": "left", "for_in_clause": "left",
                 "named_expression": "name", "as_pattern": "alias"},
        patterns=frozenset({"pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern",
                            "dictionary_splat_pattern", "default_parameter", "typed_parameter",
                            "typed_default_parameter", "as_pattern_target", "parenthesized_expression",
                            "expression_list", "tuple", "list"}),
        pattern_fields={"default_parameter": "name", "typed_default_parameter": "name"},
        not_variable=frozenset({("attribute", "attribute"), ("keyword_argument", "name"),
                                ("function_definition", "name"), ("class_definition", "name"),
                                ("dotted_name", ""), ("aliased_import", "alias"), ("type", "")}),
        hidden_scopes=frozenset({"class_definition"}),
        reserved=frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
        | {"self", "cls"}),
    "java": ScopeRules(
        scopes=frozenset({"program", "class_body", "method_declaration", "constructor_declaration", "block",
                          "for_statement", "enhanced_for_statement", "catch_clause", "lambda_expression",
                          "try_with_resources_statement", "switch_block"}),
        function_scoped=False,
        binders={"formal_parameter": "name", "catch_formal_parameter": "name", "variable_declarator": "name",
                 "enhanced_for_statement": "name", "resource": "name", "inferred_parameters": None,
                 "lambda_expression": "parameters", "spread_parameter": None},
        patterns=frozenset({"variable_declarator"}),
        pattern_fields={"variable_declarator": "name"},
        not_variable=frozenset({("method_invocation", "name"), ("field_access", "field"),
                                ("method_declaration", "name"), ("constructor_declaration", "name"),
                                ("class_declaration", "name"), ("labeled_statement", ""), ("break_statement", ""),
                                ("continue_statement", ""), ("method_reference", ""), ("scoped_identifier", ""),
                                ("annotation", "name"), ("marker_annotation", "name")}),
        hidden_scopes=frozenset({"class_body", "program"}),
        reserved=_JAVA_RESERVED),
    "c": ScopeRules(
        scopes=frozenset({"translation_unit", "function_definition", "compound_statement", "for_statement"}),
        function_scoped=False,
        binders={"parameter_declaration": "declarator", "declaration": "declarator"},
        patterns=frozenset({"init_declarator", "pointer_declarator", "array_declarator", "parenthesized_declarator"}),
        pattern_fields={"init_declarator": "declarator", "pointer_declarator": "declarator",
                        "array_declarator": "declarator"},
        not_variable=frozenset({("preproc_def", "name"), ("preproc_function_def", "name"),
                                ("function_declarator", "declarator")}),
        reserved=_C_RESERVED),
}


@dataclass
class Variable:
    """One variable: its name, the scope node that binds it, and the byte spans of every occurrence."""

    name: str
    scope: int                                   # id of the scope node
    spans: list[tuple[int, int]] = field(default_factory=list)
    renamable: bool = True


def field_of(node) -> str:
    """The field name under which ``node`` hangs from its parent ('' if none)."""
    parent = node.parent
    for i, c in enumerate(parent.children):
        if c.id == node.id:
            return parent.field_name_for_child(i) or ""
    return ""


def _bound_identifiers(node, rules: ScopeRules) -> list:
    """Identifiers a pattern declares: descend through patterns only (not ``a[i]``, ``o.x``, ``f(int)``)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.append(n)
        elif n.type in rules.pattern_fields:
            child = n.child_by_field_name(rules.pattern_fields[n.type])
            if child is not None:
                stack.append(child)
        elif n.type in rules.patterns:
            stack.extend(n.named_children)
    return out


def _binder_targets(node, rules: ScopeRules) -> list:
    fld = rules.binders[node.type]
    if fld is None:
        return [n for c in node.named_children for n in _bound_identifiers(c, rules)]
    return [n for c in node.children_by_field_name(fld) for n in _bound_identifiers(c, rules)]


def _index(root, scopes: frozenset[str]) -> tuple[dict[int, object], dict[int, tuple[str, str]]]:
    """One top-down pass: every node's nearest enclosing scope node (by node id; None at the root) and, for
    identifiers, their parent's type and the field they hang from. tree-sitter finds a node's ``parent`` by
    descending from the root, so looking these up instead of climbing keeps the analysis linear in depth. A
    tree cursor walks it: ``field_name`` is the cursor's (``field_name_for_child(i)`` scans the parent's children
    up to i: quadratic under a node with many children, such as a file's top level)."""
    scope_of: dict[int, object] = {root.id: None}
    position: dict[int, tuple[str, str]] = {}
    cursor = root.walk()
    stack = [(root.type, root if root.type in scopes else None)]   # (type, scope of its children) per open node
    while True:
        if not cursor.goto_first_child():
            stack.pop()                                   # the node just visited has no children: done
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return scope_of, position
                stack.pop()                               # its parent is done too
        node = cursor.node
        parent_type, scope = stack[-1]
        scope_of[node.id] = scope
        if node.type == "identifier":
            position[node.id] = (parent_type, cursor.field_name or "")
        stack.append((node.type, node if node.type in scopes else scope))


_PARAMETERS = ("parameters", "lambda_parameters", "formal_parameter", "spread_parameter", "inferred_parameters",
               "lambda_expression")


def _binding_scope(node, target, rules: ScopeRules, scope_of: dict[int, object]):
    """The scope a binding belongs to."""
    def enclosing(n, include_self: bool = False):
        return n if include_self and n.type in rules.scopes else scope_of.get(n.id)

    if node.type in _PARAMETERS or (node.type == "parameter_declaration" and node.parent is not None
                                    and node.parent.type == "parameter_list"):
        if node.type == "parameter_declaration":   # C: only a function definition's parameters are variables
            decl = node.parent.parent
            while decl is not None and decl.type in ("function_declarator", "pointer_declarator",
                                                      "parenthesized_declarator"):
                decl = decl.parent
            return decl if decl is not None and decl.type == "function_definition" else None
        return enclosing(node, include_self=node.type == "lambda_expression")
    scope = enclosing(target)
    if rules.function_scoped and node.type != "for_in_clause":
        while scope is not None and scope.type not in ("function_definition", "lambda", "module", "class_definition"):
            scope = enclosing(scope)
    return scope


def analyse(tree, lang: str) -> dict[tuple[int, str], Variable]:
    """Every variable of the code, keyed by (scope id, name), with its resolved occurrences.

    Time is linear in the tree: scopes come from one top-down pass, and a name's resolution from a scope
    is remembered for every scope it passed through (a deep nest resolves each outer name once per level).
    """
    rules = RULES[lang]
    scope_of, position = _index(tree.root_node, rules.scopes)
    variables: dict[tuple[int, str], Variable] = {}
    excluded: set[str] = set()
    idents = []
    for node in walk(tree.root_node):
        if node.type in rules.binders:
            for target in _binder_targets(node, rules):
                scope = _binding_scope(node, target, rules, scope_of)
                if scope is None:
                    continue
                name = target.text.decode()
                var = variables.setdefault((scope.id, name), Variable(name, scope.id))
                var.renamable = var.renamable and scope.type not in rules.hidden_scopes
        elif node.type in ("global_statement", "nonlocal_statement"):
            excluded.update(c.text.decode() for c in node.named_children)
        elif node.type == "identifier":
            idents.append(node)
    resolved: dict[tuple[int, str, bool], Variable | None] = {}
    for node in idents:
        where = position.get(node.id)  # None: the root itself
        if where is not None and (where in rules.not_variable or (where[0], "") in rules.not_variable):
            continue
        var = _resolve(node.text.decode(), scope_of.get(node.id), rules, variables, scope_of, resolved)
        if var is not None:
            var.spans.append((node.start_byte, node.end_byte))
    for var in variables.values():
        if var.name in excluded or var.name in ("self", "cls", "this", "main"):
            var.renamable = False
    return variables


def _resolve(name: str, scope, rules: ScopeRules, variables: dict, scope_of: dict, memo: dict):
    """The variable ``name`` means in ``scope``: the innermost enclosing scope that binds it (a hidden scope,
    such as a class body, only counts from directly inside it, not from a function within)."""
    direct, visited, var = True, [], None
    while scope is not None:
        key = (scope.id, name, direct)
        if key in memo:
            var = memo[key]
            break
        visited.append(key)
        hidden = scope.type in rules.hidden_scopes and not direct
        var = None if hidden else variables.get((scope.id, name))
        if var is not None:
            break
        direct = direct and scope.type not in ("function_definition", "lambda")
        scope = scope_of.get(scope.id)
    for key in visited:
        memo[key] = var
    return var


def taken_names(tree, lang: str) -> set[str]:
    """Every identifier-like spelling in the code plus the language's reserved words: never a new name."""
    names = {n.text.decode() for n in walk(tree.root_node) if n.child_count == 0 and "identifier" in n.type}
    return names | RULES[lang].reserved


_POOL = ("value item count total result data node index temp buf acc flag elem entry key num size cur prev res "
         "tmp val obj pos step left right out state part piece token unit score level limit offset delta mark "
         "chunk slot cell arg head tail first last base span width depth seed ratio sign bit").split()


def fresh_names(n: int, taken: set[str], rng) -> list[str]:
    """``n`` distinct new names, none of them in ``taken`` (which is updated)."""
    out = []
    pool = [w for w in _POOL if w not in taken]
    rng.shuffle(pool)
    while len(out) < n:
        name = pool.pop() if pool else f"{rng.choice(_POOL)}{rng.randrange(2, 1000)}"
        if name not in taken:
            out.append(name)
            taken.add(name)
    return out
