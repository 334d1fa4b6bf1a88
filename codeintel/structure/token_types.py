"""Token types from the syntax tree: one label per code token (tree-sitter leaf), for token-type
classification (the NER adapters' objective), in every language the hub parses.

Labels (:data:`LABELS`): ``variable``, ``function``, ``type``, ``field`` (identifiers, split by where the
grammar puts them: a declared or called function, a type position, a member access), ``keyword`` (a word
the grammar spells out: ``def``, ``return``, ``and``, ``None``), ``operator``, ``punctuation``, ``string``
(a whole literal, quotes included), ``number``, ``comment``, and ``other`` (everything else, and every
token inside an ERROR node: unparsable code is labelled, never dropped).

Rules are data, one :class:`TypeRules` per language: which node types are strings, numbers, comments and
names, and which (parent, field) positions make a name a function, type or field. A call's callee is a
function whether it is a bare name or the member of a member access (``obj.run()``: ``run`` is a function,
``obj.size``: ``size`` is a field). One walk with a tree cursor (linear in the tree).

:func:`align` carries the labels to a tokenizer's sub-tokens through character offsets: every piece of a
token gets its label; special tokens and pieces of whitespace get ``IGNORE`` (-100).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from codeintel.structure.parsing import canonical, parse, utf8_safe

LABELS = ("variable", "function", "type", "field", "keyword", "operator", "punctuation", "string", "number",
          "comment", "other")
LABEL_ID = {name: i for i, name in enumerate(LABELS)}
IGNORE = -100
PUNCTUATION = frozenset("( ) [ ] { } , ; : . :: ... -> => ? $ @ # \\ `".split()) | {'"', "'"}


@dataclass(frozen=True)
class TypeRules:
    strings: frozenset[str]                       # literal nodes labelled whole (not descended into)
    numbers: frozenset[str]
    comments: frozenset[str] = frozenset({"comment"})
    names: frozenset[str] = frozenset({"identifier"})   # leaf types that are names (default label: variable)
    by_type: dict[str, str] = field(default_factory=dict)   # leaf type -> label (type_identifier: type, ...)
    by_position: dict[tuple[str, str], str] = field(default_factory=dict)  # (parent, field) of a name -> label
    calls: frozenset[tuple[str, str]] = frozenset()  # (call node, field) holding the callee
    members: dict[str, str] = field(default_factory=dict)   # member-access node -> field of the member name
    type_nodes: frozenset[str] = frozenset()      # every leaf below these is a type (int, str, List[int])


_C_LIKE = dict(by_type={"type_identifier": "type", "primitive_type": "type", "field_identifier": "field",
                        "namespace_identifier": "type", "statement_identifier": "other"},
               by_position={("function_declarator", "declarator"): "function"},
               calls=frozenset({("call_expression", "function")}), members={"field_expression": "field"},
               type_nodes=frozenset({"sized_type_specifier", "primitive_type"}))

RULES: dict[str, TypeRules] = {
    "python": TypeRules(
        strings=frozenset({"string", "concatenated_string"}), numbers=frozenset({"integer", "float"}),
        by_position={("function_definition", "name"): "function", ("class_definition", "name"): "type",
                     ("attribute", "attribute"): "field"},
        calls=frozenset({("call", "function"), ("decorator", "")}), members={"attribute": "attribute"},
        type_nodes=frozenset({"type"})),
    "java": TypeRules(
        strings=frozenset({"string_literal", "character_literal", "text_block"}),
        numbers=frozenset({"decimal_integer_literal", "hex_integer_literal", "octal_integer_literal",
                           "binary_integer_literal", "decimal_floating_point_literal",
                           "hex_floating_point_literal"}),
        comments=frozenset({"line_comment", "block_comment"}),
        by_type={"type_identifier": "type"},
        by_position={("method_declaration", "name"): "function", ("constructor_declaration", "name"): "function",
                     ("method_invocation", "name"): "function", ("class_declaration", "name"): "type",
                     ("interface_declaration", "name"): "type", ("enum_declaration", "name"): "type",
                     ("field_access", "field"): "field"},
        type_nodes=frozenset({"integral_type", "floating_point_type", "boolean_type", "void_type", "generic_type",
                              "array_type", "scoped_type_identifier"})),
    "javascript": TypeRules(
        strings=frozenset({"string", "template_string", "regex"}), numbers=frozenset({"number"}),
        names=frozenset({"identifier", "shorthand_property_identifier"}),
        by_type={"property_identifier": "field", "private_property_identifier": "field"},
        by_position={("function_declaration", "name"): "function", ("method_definition", "name"): "function",
                     ("generator_function_declaration", "name"): "function", ("class_declaration", "name"): "type",
                     ("class", "name"): "type", ("new_expression", "constructor"): "type"},
        calls=frozenset({("call_expression", "function")}), members={"member_expression": "property"}),
    "go": TypeRules(
        strings=frozenset({"interpreted_string_literal", "raw_string_literal", "rune_literal"}),
        numbers=frozenset({"int_literal", "float_literal", "imaginary_literal"}),
        by_type={"type_identifier": "type", "field_identifier": "field", "package_identifier": "variable",
                 "label_name": "other"},
        by_position={("function_declaration", "name"): "function", ("method_declaration", "name"): "function"},
        calls=frozenset({("call_expression", "function")}), members={"selector_expression": "field"}),
    "ruby": TypeRules(
        strings=frozenset({"string", "simple_symbol", "delimited_symbol", "regex", "heredoc_body", "character"}),
        numbers=frozenset({"integer", "float", "rational", "complex"}),
        names=frozenset({"identifier", "constant", "instance_variable", "class_variable", "global_variable"}),
        by_type={"constant": "type", "instance_variable": "field", "class_variable": "field"},
        by_position={("method", "name"): "function", ("singleton_method", "name"): "function",
                     ("call", "method"): "function"}),
    "php": TypeRules(
        strings=frozenset({"string", "encapsed_string", "heredoc", "nowdoc"}), numbers=frozenset({"integer", "float"}),
        names=frozenset({"name"}),
        by_position={("function_definition", "name"): "function", ("method_declaration", "name"): "function",
                     ("function_call_expression", "function"): "function",
                     ("member_call_expression", "name"): "function", ("scoped_call_expression", "name"): "function",
                     ("member_access_expression", "name"): "field", ("class_declaration", "name"): "type",
                     ("named_type", ""): "type", ("object_creation_expression", ""): "type"},
        type_nodes=frozenset({"primitive_type", "named_type"})),
    "c_sharp": TypeRules(
        strings=frozenset({"string_literal", "verbatim_string_literal", "raw_string_literal", "character_literal",
                           "interpolated_string_expression"}),
        numbers=frozenset({"integer_literal", "real_literal"}),
        by_type={"predefined_type": "type"},
        by_position={("method_declaration", "name"): "function", ("local_function_statement", "name"): "function",
                     ("constructor_declaration", "name"): "function", ("class_declaration", "name"): "type",
                     ("interface_declaration", "name"): "type", ("struct_declaration", "name"): "type",
                     ("member_access_expression", "name"): "field", ("object_creation_expression", "type"): "type",
                     ("variable_declaration", "type"): "type", ("parameter", "type"): "type",
                     ("generic_name", ""): "type"},
        calls=frozenset({("invocation_expression", "function")}), members={"member_access_expression": "name"},
        type_nodes=frozenset({"predefined_type", "array_type", "nullable_type"})),
    "c": TypeRules(strings=frozenset({"string_literal", "char_literal", "system_lib_string"}),
                   numbers=frozenset({"number_literal"}), **_C_LIKE),
    "cpp": TypeRules(strings=frozenset({"string_literal", "char_literal", "raw_string_literal", "system_lib_string"}),
                     numbers=frozenset({"number_literal"}), **_C_LIKE),
}


def _leaf_label(kind: str, text: str, named: bool, parent: str, fld: str, callee: bool, in_type: bool,
                rules: TypeRules) -> str:
    if kind in rules.names or kind in rules.by_type:
        if callee:
            return "function"
        if in_type:
            return "type"
        label = rules.by_position.get((parent, fld)) or rules.by_position.get((parent, ""))
        return label or rules.by_type.get(kind, "variable")
    if in_type:
        return "type"
    if not named:  # a token the grammar spells out
        if text.isidentifier():
            return "keyword"
        return "punctuation" if text in PUNCTUATION else "operator"
    return "keyword" if text.isidentifier() else "other"  # true, None, this, nil, ...; <?php, escapes: other


def token_types(code: str, lang: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, text, label)`` for every code token, in source order; offsets are character offsets
    into ``code``."""
    return list(iter_token_types(code, lang))


def iter_token_types(code: str, lang: str):
    """:func:`token_types` one token at a time, as the syntax tree is walked (``codeintel token-types`` prints a
    10 MB file without holding its tokens)."""
    lang = canonical(lang)
    rules = RULES.get(lang)
    if rules is None:
        from codeintel.errors import ConfigError

        raise ConfigError(f"token types: no rules for {lang!r}; use one of {', '.join(sorted(RULES))}.")
    safe = utf8_safe(code)
    data = safe.encode("utf-8")
    tree = parse(data, lang)
    to_char = _char_offsets(safe, data)
    atomic = rules.strings | rules.comments | rules.numbers
    cursor = tree.walk()
    # the current node's parent: (type, the field whose name is a callee, inside ERROR, inside a type node)
    context: list[tuple[str, str | None, bool, bool]] = [("", None, False, False)]
    while True:
        node = cursor.node
        kind = node.type
        parent, member_field, in_error, in_type = context[-1]
        fld = cursor.field_name or ""
        callee = ((parent, fld) in rules.calls or (parent, "") in rules.calls
                  or (member_field is not None and fld == member_field))
        if node.child_count == 0 or kind in atomic:
            if node.end_byte > node.start_byte and not node.is_missing:
                start, end = to_char(node.start_byte), to_char(node.end_byte)
                text = safe[start:end]
                if text.strip():
                    if in_error or kind == "ERROR":
                        label = "other"
                    elif kind in rules.strings:
                        label = "string"
                    elif kind in rules.comments:
                        label = "comment"
                    elif kind in rules.numbers:
                        label = "number"
                    else:
                        label = _leaf_label(kind, text, node.is_named, parent, fld, callee, in_type, rules)
                    yield start, end, text, label
        elif cursor.goto_first_child():
            context.append((kind, rules.members.get(kind) if callee else None, in_error or kind == "ERROR",
                            in_type or kind in rules.type_nodes))
            continue
        while not cursor.goto_next_sibling():  # up until there is a next sibling
            if not cursor.goto_parent():
                return
            context.pop()


def _char_offsets(text: str, data: bytes):
    """Byte offset -> character offset (identity for ASCII text). A character starts at every byte that is not a
    UTF-8 continuation byte (``10xxxxxx``): their offsets as one int64 array (8 bytes a character, where a list
    of Python ints took ~36), searched by bisection."""
    if len(data) == len(text):
        return lambda b: b
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    starts = np.append(np.flatnonzero((raw & 0xC0) != 0x80), len(data))   # byte offset of each character
    return lambda off: int(np.searchsorted(starts, off, side="left"))


def align(code: str, lang: str, tokenizer, max_length: int | None = None) -> tuple[list[int], list[int]]:
    """Tokenize ``code`` and label every sub-token: ``(input_ids, label_ids)``, with ``IGNORE`` for special
    tokens and whitespace pieces. A piece takes the label of the code token its first character belongs
    to; a piece outside every code token (between them) is ``IGNORE`` if blank, else ``other``."""
    spans = token_types(code, lang)
    starts = [s for s, _, _, _ in spans]
    enc = tokenizer(code, return_offsets_mapping=True, truncation=max_length is not None, max_length=max_length)
    labels = []
    for a, b in enc["offset_mapping"]:
        piece = code[a:b]
        if not piece.strip():  # a special token (empty span) or whitespace
            labels.append(IGNORE)
            continue
        first = a + len(piece) - len(piece.lstrip())  # a byte-level piece may start with a space
        i = bisect.bisect_right(starts, first) - 1
        inside = i >= 0 and spans[i][0] <= first < spans[i][1]
        labels.append(LABEL_ID[spans[i][3]] if inside else LABEL_ID["other"])
    return list(enc["input_ids"]), labels
