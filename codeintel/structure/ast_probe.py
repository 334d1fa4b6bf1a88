"""Syntax trees as AST-Probe tuples (d, c, u), and back (Hernández López et al., "AST-Probe", ASE 2022).

A function's tree-sitter tree is first *prepared*: comment nodes are dropped (and Python docstrings: a string
statement, implicitly concatenated ones such as ``"a" "b"`` included, first in a module, class or function
body), every string literal becomes one terminal, zero-width nodes are dropped. The terminals, in order, are
the leaves 0..n. Then:

1. **Binarisation.** A chain of non-terminals with one non-terminal child each becomes one node whose label is
   the chain's labels joined by ``<sep>``; a non-terminal whose only child is a terminal is replaced by that
   terminal, which carries the non-terminal's (possibly joined) label as its *unary* label; a node with k > 2
   children keeps its first child on the left and puts the others under a right-branching spine of ``<empty>``
   nodes (the last ``<empty>`` holds the last two children).
2. **Tuple.** With leaf height 0 and node height = 1 + the higher child's, an in-order walk gives, between
   leaves i-1 and i, d_i = the height of their lowest common ancestor and c_i = its label (n values each), and
   u_j = leaf j's unary label or ``<empty>`` (n + 1 values).
3. **Decoding** splits the leaves at the first argmax of d, recursively; on a true tuple the root's height is
   strictly larger than any height below it, so decoding is exact.
4. **Constituents** (label, first leaf, last leaf) of a binary tree: ``<empty>`` nodes are left out (their
   children belong to the n-ary node above; a predicted ``<empty>`` root stays, as ``bad_root``: see
   :func:`decode`), joined labels are expanded into one constituent each, and unary labels become
   constituents spanning their leaf. These are exactly the non-terminals of the prepared tree,
   which :func:`tree_constituents` lists directly; precision, recall and F1 compare multisets of them.

Everything is iterative: deep or long trees cannot hit Python's recursion limit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from codeintel.structure.parsing import COMMENT_TYPES, STRING_TYPES, canonical, parse, utf8_safe

EMPTY = "<empty>"
SEP = "<sep>"
# Node types that hold a docstring when they are the first statement of a body, per language (data, not code)
DOCSTRING_BODIES = {"python": ("module", "block")}
DOCSTRING_STATEMENT = {"python": ("expression_statement", ("string", "concatenated_string"))}  # "a" "b" too
BAD_ROOT = "bad_root"  # a decoded tree whose root is labelled <empty> keeps it under this name (see decode)


@dataclass
class ProbeTree:
    """A prepared function: its terminals, its tuple and its constituents."""

    tokens: list[str]
    d: list[int]
    c: list[str]
    u: list[str]
    constituents: list[tuple[str, int, int]]


# --------------------------------------------------------------------------- preparing the tree

def prepare(code: str, lang: str) -> tuple[list, list[str]] | None:
    """(prepared tree, terminal texts), or None when the code has ERROR or missing nodes.

    The tree is nested lists: a non-terminal is ``[type, children]``, a terminal is its leaf index (int).
    """
    lang = canonical(lang)
    data = utf8_safe(code).encode("utf-8")
    root = parse(data, lang).root_node
    if root.has_error:
        return None
    strings = set(STRING_TYPES)
    doc_bodies, doc_stmt = DOCSTRING_BODIES.get(lang, ()), DOCSTRING_STATEMENT.get(lang)
    top: list = [root.type, []]
    stack = [(root, top)]
    while stack:  # terminals are their text for now (str), numbered below
        node, out = stack.pop()
        kids = [k for k in node.children if k.type not in COMMENT_TYPES and k.end_byte > k.start_byte]
        if doc_stmt and node.type in doc_bodies and kids and _is_docstring(kids[0], doc_stmt):
            kids = kids[1:]
        for k in kids:
            if not k.children or k.type in strings:
                out[1].append(data[k.start_byte:k.end_byte].decode("utf-8", "replace"))
            else:
                sub: list = [k.type, []]
                out[1].append(sub)
                stack.append((k, sub))
    return _number(_prune(top))


def _is_docstring(node, stmt: tuple[str, tuple[str, ...]]) -> bool:
    return node.type == stmt[0] and node.named_child_count == 1 and node.named_children[0].type in stmt[1]


def _prune(tree: list) -> list:
    """Drop non-terminals left without children (a body that held only comments)."""
    stack = [(tree, False)]
    while stack:
        node, done = stack.pop()
        if done:
            node[1] = [k for k in node[1] if isinstance(k, str) or k[1]]
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in node[1] if not isinstance(k, str))
    return tree


def _number(tree: list) -> tuple[list, list[str]]:
    """Terminals replaced by their index, left to right; returns (tree, their texts)."""
    tokens: list[str] = []
    stack: list = [(tree, 0)]
    while stack:
        node, i = stack.pop()
        if i == len(node[1]):
            continue
        stack.append((node, i + 1))
        k = node[1][i]
        if isinstance(k, str):
            node[1][i] = len(tokens)
            tokens.append(k)
        else:
            stack.append((k, 0))
    return tree, tokens


def tree_constituents(tree: list) -> list[tuple[str, int, int]]:
    """(type, first leaf, last leaf) of every non-terminal of a prepared tree."""
    out: list[tuple[str, int, int]] = []
    span: dict[int, tuple[int, int]] = {}
    stack = [(tree, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            stack.extend((k, False) for k in node[1] if not isinstance(k, int))
            continue
        lo = min(k if isinstance(k, int) else span[id(k)][0] for k in node[1])
        hi = max(k if isinstance(k, int) else span[id(k)][1] for k in node[1])
        span[id(node)] = (lo, hi)
        out.append((node[0], lo, hi))
    return out


# --------------------------------------------------------------------------- binary tree and tuple

def binarize(tree: list):
    """The binary tree of a prepared tree: a leaf is ``(index, unary_label_or_None)``, a node is
    ``[label, left, right]``."""
    def collapse(node: list) -> tuple[str, list]:
        label, kids = node[0], node[1]
        while len(kids) == 1 and not isinstance(kids[0], int):
            label, kids = label + SEP + kids[0][0], kids[0][1]
        return label, kids

    def child(k, stack: list):
        if isinstance(k, int):
            return (k, None)
        label, kids = collapse(k) if k[0] != EMPTY else (EMPTY, k[1])
        if len(kids) == 1:
            return (kids[0], label)                  # a unary chain over one terminal
        node = [label, None, None]
        stack.append((node, kids))
        return node

    stack: list = []
    root = child(tree, stack)
    while stack:
        node, kids = stack.pop()
        if len(kids) > 2:                            # first child left, the others under an <empty> spine
            kids = [kids[0], [EMPTY, kids[1:]]]
        node[1], node[2] = child(kids[0], stack), child(kids[1], stack)
    return root


def to_tuple(btree) -> tuple[list[int], list[str], list[str]]:
    """(d, c, u) of a binary tree, by an in-order walk."""
    height: dict[int, int] = {}
    stack = [(btree, False)]
    while stack:                                   # heights, children first
        node, done = stack.pop()
        if isinstance(node, tuple):
            continue
        if done:
            height[id(node)] = 1 + max(height.get(id(node[1]), 0), height.get(id(node[2]), 0))
        else:
            stack += [(node, True), (node[1], False), (node[2], False)]
    d, c, u = [], [], []
    stack = [(btree, False)]
    while stack:                                   # in order: left, node, right
        node, visited = stack.pop()
        if isinstance(node, tuple):
            u.append(node[1] or EMPTY)
        elif visited:
            d.append(height[id(node)])
            c.append(node[0])
        else:
            stack += [(node[2], False), (node, True), (node[1], False)]
    return d, c, u


def decode(d, c, u) -> list[tuple[str, int, int]]:
    """Constituents of the tree a tuple describes (possibly predicted): split at the first argmax of d.

    ``<empty>`` nodes are no constituents, except a predicted root labelled ``<empty>``: the AST-Probe authors'
    decoder cannot dissolve a root and keeps it as ``bad_root`` over every leaf, a constituent no true tree has
    (it lowers precision), and so does this one."""
    d = np.asarray(d, dtype=np.float64)
    out: list[tuple[str, int, int]] = []
    for j, lab in enumerate(u):
        if lab != EMPTY:
            out += [(part, j, j) for part in lab.split(SEP)]
    stack = [(0, len(d))]                          # a node over leaves lo..hi spans d[lo:hi]
    while stack:
        lo, hi = stack.pop()
        if hi <= lo:
            continue
        i = lo + int(np.argmax(d[lo:hi]))
        if c[i] != EMPTY:
            out += [(part, lo, hi) for part in c[i].split(SEP)]
        elif lo == 0 and hi == len(d):
            out.append((BAD_ROOT, lo, hi))
        stack += [(lo, i), (i + 1, hi)]
    return out


TOO_LONG = "too long"


def probe_tree(code: str, lang: str, max_terminals: int | None = None) -> ProbeTree | str | None:
    """The prepared function as a :class:`ProbeTree`; None if it has syntax errors or fewer than 2 terminals;
    :data:`TOO_LONG` if it has more than ``max_terminals`` terminals (found after the linear preparation, before
    the binary tree and the tuple are built)."""
    prepared = prepare(code, lang)
    if prepared is None:
        return None
    tree, tokens = prepared
    if len(tokens) < 2:
        return None
    if max_terminals is not None and len(tokens) > max_terminals:
        return TOO_LONG
    btree = binarize(tree)
    if isinstance(btree, tuple):  # the whole function is one unary chain over one terminal
        return None
    d, c, u = to_tuple(btree)
    return ProbeTree(tokens, d, c, u, tree_constituents(tree))


def prf(true: list[tuple[str, int, int]], pred: list[tuple[str, int, int]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of predicted constituents against true ones (multisets)."""
    hits = sum((Counter(true) & Counter(pred)).values())
    p = hits / len(pred) if pred else 0.0
    r = hits / len(true) if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
