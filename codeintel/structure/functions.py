"""Functions and methods of a source file, found with tree-sitter: what ``codeintel predict`` (and indexing) runs a
model on when given source files instead of a dataset.

:func:`functions` returns, in source order, every function or method definition with a body (nested ones too):
its qualified name (enclosing classes, modules, namespaces and functions joined by ``.``), 1-based first and last
line, and its code. Rules are data per language (:data:`RULES`): the node types that define a function, the
ones whose name qualifies what they contain, and how to find a definition's name. A file with syntax errors
gives the functions that parsed; a JavaScript function without a name takes the name of the variable or
property it is assigned to (``const f = () => ...``), else ``<anonymous>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeintel.structure.parsing import canonical, parse, utf8_safe
from codeintel.structure.parsing import walk as _walk


@dataclass(frozen=True)
class Rules:
    functions: frozenset[str]
    scopes: frozenset[str]            # containers whose name qualifies the functions inside


RULES: dict[str, Rules] = {
    "python": Rules(frozenset({"function_definition"}), frozenset({"class_definition"})),
    "java": Rules(frozenset({"method_declaration", "constructor_declaration"}),
                  frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"})),
    "c_sharp": Rules(frozenset({"method_declaration", "constructor_declaration", "local_function_statement"}),
                     frozenset({"class_declaration", "struct_declaration", "interface_declaration",
                                "record_declaration", "namespace_declaration"})),
    "javascript": Rules(frozenset({"function_declaration", "method_definition", "arrow_function",
                                   "function_expression", "generator_function_declaration"}),
                        frozenset({"class_declaration", "class"})),
    "go": Rules(frozenset({"function_declaration", "method_declaration"}), frozenset()),
    "ruby": Rules(frozenset({"method", "singleton_method"}), frozenset({"class", "module"})),
    "php": Rules(frozenset({"function_definition", "method_declaration"}),
                 frozenset({"class_declaration", "interface_declaration", "trait_declaration"})),
    "c": Rules(frozenset({"function_definition"}), frozenset()),
    "cpp": Rules(frozenset({"function_definition"}),
                 frozenset({"class_specifier", "struct_specifier", "namespace_definition"})),
}
_DECLARATORS = ("function_declarator", "pointer_declarator", "reference_declarator", "parenthesized_declarator")


@dataclass(frozen=True)
class Function:
    name: str                         # qualified: Outer.inner
    start_line: int                   # 1-based, inclusive
    end_line: int
    code: str


def _name(node, data: bytes) -> str:
    """The name a definition node gives itself ('' where it has none)."""
    named = node.child_by_field_name("name")
    if named is not None:
        return data[named.start_byte : named.end_byte].decode("utf-8", "replace")
    decl = node.child_by_field_name("declarator")             # C/C++: int *f(...), A::k(...)
    while decl is not None and decl.type in _DECLARATORS:
        decl = decl.child_by_field_name("declarator")
    if decl is not None:
        return data[decl.start_byte : decl.end_byte].decode("utf-8", "replace").replace("::", ".")
    parent = node.parent                                       # JS: const f = () => ..., {f: function() {}}
    if parent is not None and parent.type in ("variable_declarator", "pair", "assignment_expression"):
        key = parent.child_by_field_name("name") or parent.child_by_field_name("key") or \
            parent.child_by_field_name("left")
        if key is not None:
            return data[key.start_byte : key.end_byte].decode("utf-8", "replace")
    return ""


def functions(code: str, lang: str) -> list[Function]:
    """Every function or method with its qualified name and lines, in source order (iterative: deep nesting is
    fine)."""
    lang = canonical(lang)
    rules = RULES.get(lang)
    if rules is None:
        return []
    data = utf8_safe(code).encode("utf-8")
    root = parse(data, lang).root_node
    out: list[Function] = []
    stack: list[tuple[object, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, scope = stack.pop()
        inner = scope
        if node.type in rules.functions or node.type in rules.scopes:
            name = _name(node, data)
            receiver = node.child_by_field_name("receiver") if lang == "go" else None
            if receiver is not None:                           # Go: func (s *Stack) Push(...) is Stack.Push
                types = [n for n in _walk(receiver) if n.type == "type_identifier"]
                if types:
                    name = f"{data[types[0].start_byte:types[0].end_byte].decode('utf-8', 'replace')}.{name}"
            if node.type in rules.functions:
                out.append(Function(".".join((*scope, name or "<anonymous>")), node.start_point[0] + 1,
                                    node.end_point[0] + 1,
                                    data[node.start_byte : node.end_byte].decode("utf-8", "replace")))
            if name:
                inner = (*scope, name)
        stack.extend((child, inner) for child in reversed(node.children) if child.child_count)
    out.sort(key=lambda f: (f.start_line, -f.end_line))
    return out
