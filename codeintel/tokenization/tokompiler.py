"""Tokompiler ("Scope is all you need", Kadosh et al. 2023): anonymize identifiers and literals by their
syntactic role, lexicalize from the syntax tree, and map onto a small closed vocabulary.

``tokompile(code, lang)`` is the whole pipeline::

    int main(){ int r[2800+1]; }  ->  int func 252 ( ) { int arr 88 [ num 34 + num 842 ] ; }

and returns the mapping back to the original names. Per-language rules are data (:data:`RULES`); one
iterative walker applies them. Differences from the authors' code, each deliberate:

- leaves outside the closed vocabulary that the paper would turn into ``[UNK]`` (preprocessor text,
  include paths, labels) go to the ``str`` bucket, so nothing is lost and decoding is exact;
- comments are dropped before anonymization (the paper lexicalizes them into mostly ``[UNK]`` words);
- string and character literals are one unit each (the grammar wheels split them into quote/content
  leaves); ``serial`` numbering is 0..N-1 in order of first appearance (the authors shuffle it);
- more than 1,001 distinct names in one bucket raises :class:`TokompilerError` instead of returning
  empty code.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from dataclasses import dataclass, field

from codeintel.errors import CodeintelError
from codeintel.structure.parsing import canonical, count_errors, parse, utf8_safe

BUCKETS = ("arg", "var", "arr", "func", "field", "type", "num", "char", "str")  # the authors' fill order
MAX_ID = 1000


class TokompilerError(CodeintelError):
    """Input Tokompiler cannot represent (e.g. a bucket with more than 1,001 distinct names)."""


@dataclass(frozen=True)
class Rules:
    """How one language's syntax tree maps onto Tokompiler's buckets."""

    context: dict[str, str]                      # node type -> context its descendants inherit
    reset: frozenset[str]                        # node types whose descendants start with no context
    by_type: dict[str, str]                      # leaf/atomic node type -> bucket, whatever the context
    routed: frozenset[str] = frozenset({"identifier"})  # identifier-like types: bucket from the context
    field_context: dict[tuple[str, str], str] = field(default_factory=dict)  # (parent type, field) -> context
    atomic: frozenset[str] = frozenset()         # nodes emitted as one unit (string literals)
    comments: frozenset[str] = frozenset({"comment"})
    directives: frozenset[str] = frozenset()     # node types whose text is split into directive words
    directive_comment: str = ""                  # comments starting with this are directives (Fortran !$omp)
    lowercase: bool = False


_C = Rules(
    context={"array_declarator": "arr", "parameter_list": "args", "parameter_declaration": "args",
             "call_expression": "func", "function_declarator": "func"},
    reset=frozenset({"argument_list", "field_expression", "compound_statement"}),
    by_type={"field_identifier": "field", "type_identifier": "type", "number_literal": "num", "char_literal": "char",
             "string_literal": "str", "system_lib_string": "str", "preproc_arg": "str", "statement_identifier": "str"},
    atomic=frozenset({"string_literal", "char_literal", "system_lib_string"}),
    directives=frozenset({"preproc_arg"}),
)
RULES: dict[str, Rules] = {
    "c": _C,
    "cpp": Rules(
        context=_C.context, reset=_C.reset,
        by_type={**_C.by_type, "namespace_identifier": "type", "raw_string_literal": "str",
                 "user_defined_literal": "num"},
        atomic=_C.atomic | {"raw_string_literal", "user_defined_literal"}, directives=_C.directives),
    "fortran": Rules(
        context={"parameters": "args", "call_expression": "func", "function_statement": "func",
                 "subroutine_statement": "func", "subroutine_call": "func", "sized_declarator": "arr"},
        reset=frozenset({"argument_list", "size"}),
        by_type={"number_literal": "num", "string_literal": "str", "complex_literal": "num",
                 "statement_label": "str", "preproc_arg": "str", "system_lib_string": "str"},
        routed=frozenset({"identifier", "name"}),
        atomic=frozenset({"string_literal", "complex_literal", "system_lib_string"}),
        directives=frozenset({"preproc_arg"}), directive_comment="!$", lowercase=True),
    "python": Rules(
        context={"parameters": "args", "lambda_parameters": "args"},
        reset=frozenset({"argument_list", "block"}),
        by_type={"integer": "num", "float": "num", "string": "str", "concatenated_string": "str"},
        field_context={("function_definition", "name"): "func", ("call", "function"): "func",
                       ("attribute", "attribute"): "field", ("class_definition", "name"): "type"},
        atomic=frozenset({"string", "concatenated_string"})),
    "java": Rules(
        context={"formal_parameters": "args"},
        reset=frozenset({"argument_list", "block"}),
        by_type={"type_identifier": "type", "decimal_integer_literal": "num", "hex_integer_literal": "num",
                 "octal_integer_literal": "num", "binary_integer_literal": "num",
                 "decimal_floating_point_literal": "num", "hex_floating_point_literal": "num",
                 "character_literal": "char", "string_literal": "str", "text_block": "str"},
        field_context={("method_invocation", "name"): "func", ("method_declaration", "name"): "func",
                       ("constructor_declaration", "name"): "func", ("field_access", "field"): "field",
                       ("class_declaration", "name"): "type"},
        atomic=frozenset({"string_literal", "character_literal", "text_block"})),
}
_CONTEXT_BUCKET = {"args": "arg", "func": "func", "arr": "arr", "field": "field", "type": "type", None: "var"}


@dataclass
class Tokompiled:
    """The result of :func:`tokompile`."""

    tokens: list[str]             # lexicalized, anonymized, semantically split tokens
    mapping: dict[str, str]       # new name (``var_12``) -> original text
    replaced_code: str            # the source with every anonymized unit spliced in place
    errors: int = 0               # syntax-error nodes in the parse (the tokens come from what parsed)
    units: list[str] = field(default_factory=list)  # the original token sequence (comments and whitespace aside)


_PIECE = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|!\$\w*|\S")


def _directive_units(text: str, start: int, vocab: frozenset[str] | None) -> list[tuple[int, int, str, str | None]]:
    """Split a directive (``omp parallel for private(i)``, ``!$omp parallel do``) into words: vocabulary
    words stay, other names share the code's ``var`` names, numbers are ``num``, anything else ``str``."""
    units = []
    at, byte_at = 0, start  # character and byte offset, advanced together (no re-encoding of the prefix)
    for m in _PIECE.finditer(text):
        piece = m.group()
        b0 = byte_at + len(text[at : m.start()].encode("utf-8"))
        b1 = b0 + len(piece.encode("utf-8"))
        at, byte_at = m.end(), b1
        if vocab is not None and piece in vocab:
            bucket = None
        elif piece[0].isalpha() or piece[0] == "_":
            bucket = "var"
        elif piece[0].isdigit():
            bucket = "num"
        else:
            bucket = "str" if vocab is not None else None
        units.append((b0, b1, piece, bucket))
    return units


def _units(code: str, lang: str, vocab: frozenset[str] | None):
    """(start, end, text, bucket | None) for every unit of the tree, in source order; and the error count.

    One pre-order pass of a tree cursor (no child lists built, field names read from the cursor). A node's
    children inherit its context (``rules.context``, cleared by ``rules.reset``), or the context of their field
    (``rules.field_context``); leaves, atomic nodes, comments and directives end the descent. Inside a node with
    a syntax error, bytes between its children that no node covers (text error recovery skipped) are kept,
    word by word, in their place."""
    rules = RULES[lang]
    tree = parse(code, lang)
    data = code.encode("utf-8")
    units: list = []
    names: dict[str, set[str]] = {b: set() for b in BUCKETS}  # to stop at once when a bucket cannot fit
    error_spans: list[tuple[int, int]] = []
    by_type, routed, atomic, comments, directives = (rules.by_type, rules.routed, rules.atomic, rules.comments,
                                                     rules.directives)
    context, reset, field_context = rules.context, rules.reset, rules.field_context

    def skipped(a: int, b: int) -> None:  # bytes error recovery skipped, if any are not whitespace
        if a < b and data[a:b].strip():
            units.extend(_directive_units(data[a:b].decode("utf-8", "replace"), a, vocab))

    cursor = tree.walk()
    open_nodes: list[tuple[str, str | None, bool, int]] = []  # (type, children's context, has_error, end byte)
    ctx: str | None = None
    while True:
        node = cursor.node
        kind = node.type
        n_children = node.child_count
        descend = False
        if kind == "ERROR":
            error_spans.append((node.start_byte, node.end_byte))
        if kind in comments:
            if rules.directive_comment and n_children == 0:
                text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
                if text.startswith(rules.directive_comment):
                    units += _directive_units(text, node.start_byte, vocab)
        elif kind in directives:
            units += _directive_units(data[node.start_byte : node.end_byte].decode("utf-8", "replace"),
                                      node.start_byte, vocab)
        elif n_children == 0 or kind in atomic:
            text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
            if text.strip() and not node.is_missing:
                bucket = by_type.get(kind)
                if bucket is None and kind in routed:
                    bucket = _CONTEXT_BUCKET.get(ctx, "var")
                if bucket is None and vocab is not None and text not in vocab:
                    bucket = "str"  # outside the closed vocabulary: keep it recoverable
                units.append((node.start_byte, node.end_byte, text, bucket))
                if bucket is not None and text not in names[bucket]:
                    names[bucket].add(text)
                    _check_limit(names, bucket, node.start_byte, len(data))
        else:
            descend = True
        if descend and cursor.goto_first_child():
            inner = context.get(kind, None if kind in reset else ctx)
            err = node.has_error
            open_nodes.append((kind, inner, err, node.end_byte))
            if err:
                skipped(node.start_byte, cursor.node.start_byte)
            fname = cursor.field_name
            ctx = field_context.get((kind, fname), inner) if fname else inner
            continue
        while open_nodes:  # the next node in pre-order: a sibling here or above
            end = cursor.node.end_byte
            parent, inner, err, parent_end = open_nodes[-1]
            if cursor.goto_next_sibling():
                if err:
                    skipped(end, cursor.node.start_byte)
                fname = cursor.field_name
                ctx = field_context.get((parent, fname), inner) if fname else inner
                break
            cursor.goto_parent()
            open_nodes.pop()
            if err:
                skipped(end, parent_end)
        else:
            break
    return (_rejoin(units, error_spans, vocab) if error_spans else units), count_errors(tree)


_WORDLIKE = re.compile(r"\w+")


def _rejoin(units: list, spans: list[tuple[int, int]], vocab: frozenset[str] | None) -> list:
    """Inside syntax errors, error recovery can cut a word into pieces (``polybench_declare_instruments``
    parsed as skipped text, ``_``, ``in``, ...): adjacent word pieces there (no byte between them) become
    one unit again, bucketed like a directive's word, so no name is lost or split."""
    spans = sorted(spans)
    starts = [a for a, _ in spans]
    reach = list(itertools.accumulate((e for _, e in spans), max))  # furthest end among spans starting so far

    def in_error(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < reach[i]

    out: list = []
    for u in units:
        prev = out[-1] if out else None
        if (prev is not None and prev[1] == u[0] and _WORDLIKE.fullmatch(prev[2]) and _WORDLIKE.fullmatch(u[2])
                and in_error(u[0])):
            text = prev[2] + u[2]
            bucket = _directive_units(text, prev[0], vocab)[0][3] if _WORDLIKE.fullmatch(text) else "str"
            out[-1] = (prev[0], u[1], text, bucket)
        else:
            out.append(u)
    return out


def _check_limit(names: dict[str, set[str]], bucket: str, at: int, size: int) -> None:
    """Stop the walk as soon as a bucket is sure to exceed the id range: ``arg`` and the buckets without
    promotion at MAX_ID + 2 names; ``var``/``func`` (which lose the names that are also arguments, at most
    MAX_ID + 1 of them) at 2 (MAX_ID + 1) + 1."""
    cap = 2 * (MAX_ID + 1) if bucket in ("var", "func") else MAX_ID + 1
    if len(names[bucket]) > cap:
        raise TokompilerError(f"more than {cap} distinct {bucket} names in one input (stopped at byte {at:,} of "
                              f"{size:,}); Tokompiler numbers at most {MAX_ID + 1} per bucket. Split the input "
                              "(e.g. one function per example).")


def _numbers(n: int, numbering: str, rng: random.Random, bucket: str) -> list[int]:
    if n > MAX_ID + 1:
        raise TokompilerError(f"{n} distinct {bucket} names in one input; Tokompiler numbers at most {MAX_ID + 1} "
                              "per bucket. Split the input (e.g. one function per example).")
    return rng.sample(range(MAX_ID + 1), n) if numbering == "random" else list(range(n))


def tokompile(code: str, lang: str, numbering: str = "random", seed: int = 0,
              vocab: frozenset[str] | None = None) -> Tokompiled:
    """Anonymize and lexicalize ``code``.

    Args:
        code: source text; syntax errors are tolerated (the tokens come from what parsed).
        lang: c, cpp, fortran, python or java.
        numbering: ``random`` (the authors' ids drawn from 0..1000, seeded) or ``serial`` (0..N-1).
        seed: seed of the random numbering.
        vocab: the closed vocabulary; unanonymized leaves outside it go to the ``str`` bucket.
    """
    lang = canonical(lang)
    if lang not in RULES:
        raise TokompilerError(f"Tokompiler has no rules for {lang!r}; it supports {', '.join(sorted(RULES))}.")
    if numbering not in ("random", "serial"):
        raise TokompilerError(f"numbering must be 'random' or 'serial', not {numbering!r}.")
    code = utf8_safe(code)  # lone surrogates become U+FFFD instead of an encoding error
    if RULES[lang].lowercase:
        code = code.lower()
    units, errors = _units(code, lang, vocab)
    seen: dict[str, dict[str, None]] = {b: {} for b in BUCKETS}  # ordered sets: first appearance order
    for _, _, text, bucket in units:
        if bucket:
            seen[bucket][text] = None
    args = seen["arg"]
    names = {b: list(seen[b]) for b in BUCKETS}
    for b in ("var", "func"):  # argument promotion (the names are already in "arg")
        names[b] = [t for t in names[b] if t not in args]
    rng = random.Random(seed)
    new_name: dict[str, str] = {}
    for b in BUCKETS:  # a text in two buckets keeps the later bucket's name, as the authors' single dict does
        for text, k in zip(names[b], _numbers(len(names[b]), numbering, rng, b), strict=True):
            new_name[text] = f"{b}_{k}"
    tokens, pieces, last = [], [], 0
    data = code.encode("utf-8")
    for start, end, text, bucket in units:
        if bucket:
            name = new_name[text]
            tokens += name.split("_", 1)
            pieces += [data[last:start].decode("utf-8", "replace"), name]
            last = end
        else:
            tokens.append(text)
    pieces.append(data[last:].decode("utf-8", "replace"))
    mapping = {v: k for k, v in new_name.items()}
    return Tokompiled(tokens, mapping, "".join(pieces), errors, [u[2] for u in units])


def detokompile(tokens: list[str], mapping: dict[str, str]) -> list[str]:
    """Back to the original token sequence: re-join ``prefix number`` pairs and undo the mapping."""
    out, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in BUCKETS and i + 1 < len(tokens) and f"{tok}_{tokens[i + 1]}" in mapping:
            out.append(mapping[f"{tok}_{tokens[i + 1]}"])
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


# --------------------------------------------------------------------------- the closed vocabulary

SPECIAL_TOKENS = ["[PAD]", "[SOS]", "[EOS]", "[UNK]", "[MSK]", "[SEP]", "[CLS]"]
# named leaves whose text is a keyword (the grammars' anonymous tokens are collected automatically)
EXTRA_WORDS = (
    "void int char short long float double signed unsigned bool _Bool size_t ssize_t ptrdiff_t intptr_t uintptr_t "
    "int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t char16_t char32_t wchar_t auto "
    "#pragma #error #warning #line #ident #include #define #if #ifdef #ifndef #else #elif #endif #undef "
    "NULL nullptr true false TRUE FALSE True False None null this super self "
    # OpenMP (C pragmas and Fortran !$omp sentinels)
    "!$omp !$ omp parallel for do private shared firstprivate lastprivate reduction schedule static dynamic "
    "guided runtime nowait ordered collapse critical atomic barrier single master masked sections section task "
    "taskwait taskgroup taskloop taskyield target teams distribute simd map to from tofrom alloc release delete "
    "declare default none num_threads if end flush threadprivate copyin copyprivate depend in out inout update "
    "read write capture seq_cst linear aligned safelen simdlen device is_device_ptr defaultmap scalar proc_bind "
    "close spread data enter exit nogroup untied mergeable final priority grainsize num_tasks thread_limit "
    "num_teams dist_schedule requires loop order concurrent bind allocate nontemporal hint lock unlock omp_lib "
    "omp_get_thread_num omp_get_num_threads omp_set_num_threads omp_get_wtime omp_lock_t omp_init_lock "
    "omp_set_lock omp_unset_lock omp_destroy_lock"
).split()


def build_vocab() -> list[str]:
    """Specials, the integers 0..1000, the bucket words, every keyword/operator token of the five grammars,
    and :data:`EXTRA_WORDS`; deduplicated, in that order."""
    from codeintel.structure.parsing import language

    words = [*SPECIAL_TOKENS, *map(str, range(MAX_ID + 1)), *BUCKETS]
    for lang in sorted(RULES):
        lg = language(lang)
        kinds = sorted(lg.node_kind_for_id(i) for i in range(lg.node_kind_count)
                       if not lg.node_kind_is_named(i) and lg.node_kind_is_visible(i))
        words += [k for k in kinds if k and not any(c.isspace() for c in k)]
    words += EXTRA_WORDS
    return list(dict.fromkeys(words))


def default_vocab_file():
    from codeintel.hub import hub_path

    return hub_path("tokenizers", "tokompiler", "vocab.json")


def main(argv: list[str] | None = None) -> int:
    """Recipe: ``python -m codeintel.tokenization.tokompiler --out tokenizers/tokompiler``."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description="write Tokompiler's closed vocabulary (vocab.json)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    vocab = build_vocab()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(vocab)}, indent=0) + "\n")
    print(f"wrote {args.out / 'vocab.json'} ({len(vocab)} tokens)")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
