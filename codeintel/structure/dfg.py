"""Data-flow graphs with GraphCodeBERT's semantics, one iterative walker, per-language rules as data.

An edge says where a variable's value comes from. :func:`extract` returns GraphCodeBERT's 5-tuples
``(variable, token position, "comesFrom" | "computedFrom", source names, source positions)`` over the
code's leaf tokens (string literals are one token, comments are not tokens). Source names and positions
are tuples (GraphCodeBERT's lists; ``list(...)`` them where a list is needed).

Rules (GraphCodeBERT's ``DFG_*`` extractors, reimplemented): a use comes from the variable's last definition(s); an
identifier's first occurrence defines it; declarations with a value and assignments are ``computedFrom`` their
right-hand side (element-wise for tuple assignment where the language has it); increments depend on themselves;
if/else branches start from the incoming states and are merged by union; loop bodies are processed twice
(loop-carried dependencies); comprehension clauses go first; finally variables in no edge are dropped.

How it runs (a guide for readers):

1. :func:`_index` walks the tree once with a cursor and records, per node id, its *tokens* (leaves whose
   text is not their type: names, literals; strings whole), its *children that can matter* (no keywords,
   punctuation or comments), which tokens are identifiers, and which nodes have a rule (*special*).
2. :class:`_Walker` holds one handler per rule (declaration, assignment, increment, if, for-in, loop).
   A handler is a generator: it yields ``(child, states)`` for each child it wants walked, receives that
   child's ``(edges, states)``, and returns its own ``(edges, states)``. *States* map a name to the token
   positions of its last definition(s); they are copied before they change (they are shared otherwise).
3. :func:`_run` drives the handlers with an explicit stack, so deep code cannot reach Python's recursion
   limit. A node without a rule only threads the states through its subtree, so that subtree is flattened
   once into its *actions* (tokens and nodes with a rule, in order) and walked by a :class:`_Sequence`
   frame; tokens are answered inline there, which is where the time goes.
4. :func:`merge` unites entries for the same (variable, position, kind); :func:`extract` drops variables in
   no edge.

Differences from GraphCodeBERT's extractor, each a fix:

- entries with the same (variable, position, kind) are always merged (sources united); GraphCodeBERT
  merges them only inside loops and emits one entry per (left, right) pair in Java-style assignments;
- code with syntax errors yields the graph of what parsed (ERROR nodes are walked like any other), never [];
- C-style ``for`` loops run their update after the body (GraphCodeBERT visits the children in source
  order, so a use in the body appeared to come from the update of the same iteration);
- Go's ``:=`` is an assignment (``computedFrom``), C#'s declarators find their initializer;
- only ``++``/``--`` are increments (C#'s unary ``-a``, ``!a`` and ``x!`` share the node types but change nothing);
- C and C++ are supported (GraphCodeBERT has no rules for them);
- Python's loop ``else`` clause is walked, once, after the loop (GraphCodeBERT never walks it).

Behaviour decided here, the same in every language (each with a golden test in ``tests/test_dfg_fidelity.py``,
and checked against an independent reaching-definitions pass on generated and real code):

- an ``if`` chain without a final ``else`` may run no branch: the incoming definitions reach past it too
  (Python ``elif`` and PHP ``elseif`` are flat siblings; Ruby's ``elsif`` and everyone's ``else if`` nest);
- the condition runs before every branch: a name first seen there is defined for the ``else`` as well;
- targets pair with values element-wise only when both sides are literal lists/tuples of the same length
  (``a, b = c, d``); otherwise every target comes from every name on the right (``a, b = zip(p, q)``,
  ``o.name = "n"``);
- a declaration without a value defines its variable from nothing (``var n int``, ``int n;``): only C#'s
  declarators look for an initializer child, since its grammar gives the value no field;
- a definition from constants only (``int x = 0;``, ``x := 1``, ``x = 0``) is a node from its literal tokens
  in every language, kept like any other definition (later uses come from it);
- Ruby's operator assignments (``h[:k] ||= v``, ``s += x``) also carry the target's previous value, since
  they read it; other languages' compound assignments stay as GraphCodeBERT has them (from the right side);
- PHP's ``foreach ($xs as $x)`` / ``($m as $k => $v)`` defines its variables from the iterable and walks the
  body twice, like every loop.

Kept as GraphCodeBERT has it, knowingly: after a loop the states are those of its second pass, so a
definition from before the loop that the body overwrites does not reach past it (``x = 0; while c: x = 1;
print(x)`` gives ``print(x)`` only ``x = 1``), although the body may run zero times. Changing it would add
sources to most loops' graphs, which pretrained GraphCodeBERT never saw; the reaching-definitions test covers
straight-line code with branches, not loops.

``extract(..., compat=True)`` undoes these fixes and decisions where GraphCodeBERT's extractor decides otherwise
(:data:`COMPAT_RULES`: Java, C# and Python, the languages CodeXGLUE's CodeBLEU evaluator scores): CodeBLEU's
data-flow match is a metric whose point is comparability, so it runs that setting.

PHP snippets without ``<?php`` are wrapped in ``<?php … ?>`` before parsing, as GraphCodeBERT does, so the
token positions count ``<?php`` as token 0.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from operator import itemgetter

from codeintel.structure.parsing import canonical, count_errors, parse, utf8_safe

COMES, COMPUTED = "comesFrom", "computedFrom"
Edge = tuple[str, int, str, tuple[str, ...], tuple[int, ...]]
class States:
    """Name -> positions of its last definitions: one mutable map with an undo journal.

    Definitions change it in place (no copy per definition: that made extraction quadratic in the number
    of distinct names). A branch of an ``if`` is walked from a :meth:`mark`; :meth:`changes_since` reads its
    changes back and :meth:`rollback` undoes them. The journal keeps names first defined since a mark apart
    from names overwritten (with their old value), so an ``if`` without ``else`` merges in time proportional
    to the names it overwrote, not to everything defined inside it (:meth:`merge_optional`).
    """

    __slots__ = ("_d", "_new", "_over", "_born")

    def __init__(self) -> None:
        self._d: dict[str, tuple[int, ...]] = {}
        self._new: list[str] = []                              # names defined for the first time, in order
        self._over: list[tuple[str, tuple[int, ...]]] = []     # (name, value before) of each overwrite
        self._born: dict[str, int] = {}                        # name -> its index in _new

    def get(self, name: str) -> tuple[int, ...] | None:
        return self._d.get(name)

    def set(self, name: str, positions: tuple[int, ...]) -> None:
        d = self._d
        old = d.get(name)
        if old is None:
            self._born[name] = len(self._new)
            self._new.append(name)
        else:
            self._over.append((name, old))
        d[name] = positions

    def mark(self) -> tuple[int, int]:
        return len(self._new), len(self._over)

    def changes_since(self, mark: tuple[int, int]) -> dict[str, tuple[int, ...]]:
        """The current value of every name set since ``mark``."""
        d = self._d
        out = {name: d[name] for name in self._new[mark[0]:]}
        out.update((name, d[name]) for name, _ in self._over[mark[1]:])
        return out

    def rollback(self, mark: tuple[int, int]) -> None:
        """Undo every change since ``mark``."""
        d, over, new, born = self._d, self._over, self._new, self._born
        while len(over) > mark[1]:
            name, old = over.pop()
            d[name] = old
        while len(new) > mark[0]:
            name = new.pop()
            del d[name]
            del born[name]

    def merge_optional(self, mark: tuple[int, int]) -> None:
        """After a branch that may not run (an ``if`` without ``else``), walked from ``mark``: each name it
        overwrote gets the union of its old and new positions. Names it defined first stay as they are."""
        d, over, born = self._d, self._over, self._born
        first_old: dict[str, tuple[int, ...]] = {}
        for name, old in over[mark[1]:]:
            if name not in first_old and born.get(name, -1) < mark[0]:  # existed before the branch
                first_old[name] = old
        for name, old in first_old.items():
            new = d[name]
            if new is not old:
                self.set(name, tuple(sorted(set(old) | set(new))))
        # keep one journal entry per name (its oldest value): undoing them all has the same effect
        seen: dict[str, tuple[int, ...]] = {}
        for name, old in over[mark[1]:]:
            seen.setdefault(name, old)
        del over[mark[1]:]
        over.extend(seen.items())


@dataclass(frozen=True)
class DFGRules:
    assignment: frozenset[str] = frozenset()
    declaration: frozenset[str] = frozenset()         # "def_statement": name (+ value)
    name_field: str = "name"
    value_field: str = "value"
    increment: frozenset[str] = frozenset()
    if_statement: frozenset[str] = frozenset()
    else_types: frozenset[str] = frozenset()          # branch children processed from the incoming states
    elif_types: frozenset[str] = frozenset()          # ... of them, flat `elif`s: a chain of them is not exhaustive
    initializer_fallback: bool = False                # C#: a declarator's last named child is its initializer
    tuple_types: frozenset[str] = frozenset()         # literal lists/tuples: paired element-wise when counts match
    reads_target: frozenset[str] = frozenset()        # assignments whose target's old value flows on (Ruby `||=`)
    loop_else_field: str = ""                         # Python: a loop's `else` runs once, after the loop
    for_statement: frozenset[str] = frozenset()       # C-style: second pass skips the init child
    for_init_fields: tuple[str, ...] = ("init", "initializer")
    for_update_fields: tuple[str, ...] = ("update", "increment")  # run after the body, as execution does
    for_in: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (target, iterable): field names,
    # or "#k" for the k-th named child (PHP's foreach has no fields)
    while_statement: frozenset[str] = frozenset()
    do_first: frozenset[str] = frozenset()          # children visited first ...
    do_first_in: frozenset[str] = frozenset()       # ... inside these parents (comprehensions)
    tuple_assignment: bool = False                    # Python/Ruby: pair left and right element-wise
    strings: frozenset[str] = frozenset({"string"})   # one token each
    identifier: frozenset[str] = frozenset({"identifier"})
    comments: frozenset[str] = frozenset({"comment"})
    # ---- GraphCodeBERT's own semantics (``compat=True``, see COMPAT_RULES); unused otherwise
    compat: bool = False
    pairwise: frozenset[str] = frozenset()          # handlers whose targets get one entry per source token: none
    # when the source has no token ("declaration", "assignment", "for_in")
    if_clauses: frozenset[str] = frozenset()        # Python: exactly these children are alternatives
    for_second_pass_after: str = ""                 # C-style for: the second pass walks the children after the
    # first child of this type (none if there is none)
    pair_by_children: bool = False                  # Python: pair left and right children when their counts match


RULES: dict[str, DFGRules] = {
    "python": DFGRules(
        assignment=frozenset({"assignment", "augmented_assignment", "for_in_clause"}),
        declaration=frozenset({"default_parameter"}), if_statement=frozenset({"if_statement"}),
        else_types=frozenset({"elif_clause", "else_clause"}), elif_types=frozenset({"elif_clause"}),
        for_in={"for_statement": ("left", "right")},
        while_statement=frozenset({"while_statement"}), do_first=frozenset({"for_in_clause"}),
        do_first_in=frozenset({"list_comprehension", "set_comprehension", "dictionary_comprehension",
                               "generator_expression"}),
        tuple_assignment=True, loop_else_field="alternative",
        tuple_types=frozenset({"pattern_list", "tuple_pattern", "list_pattern", "expression_list", "tuple",
                               "list"})),
    "java": DFGRules(
        assignment=frozenset({"assignment_expression"}), declaration=frozenset({"variable_declarator"}),
        increment=frozenset({"update_expression"}), if_statement=frozenset({"if_statement"}),
        for_statement=frozenset({"for_statement"}), for_in={"enhanced_for_statement": ("name", "value")},
        while_statement=frozenset({"while_statement"}), strings=frozenset({"string_literal"}),
        comments=frozenset({"line_comment", "block_comment"})),
    "c": DFGRules(
        assignment=frozenset({"assignment_expression"}), declaration=frozenset({"init_declarator"}),
        name_field="declarator", increment=frozenset({"update_expression"}),
        if_statement=frozenset({"if_statement"}), else_types=frozenset({"else_clause"}),
        for_statement=frozenset({"for_statement"}), while_statement=frozenset({"while_statement", "do_statement"}),
        strings=frozenset({"string_literal", "char_literal"})),
    "javascript": DFGRules(
        assignment=frozenset({"assignment_expression", "augmented_assignment_expression"}),
        declaration=frozenset({"variable_declarator"}), increment=frozenset({"update_expression"}),
        if_statement=frozenset({"if_statement"}), else_types=frozenset({"else_clause"}),
        for_statement=frozenset({"for_statement"}), for_in={"for_in_statement": ("left", "right")},
        while_statement=frozenset({"while_statement"}), strings=frozenset({"string", "template_string"})),
    "go": DFGRules(
        assignment=frozenset({"assignment_statement", "short_var_declaration"}),
        declaration=frozenset({"var_spec"}), increment=frozenset({"inc_statement", "dec_statement"}),
        if_statement=frozenset({"if_statement"}), for_statement=frozenset({"for_statement"}),
        strings=frozenset({"interpreted_string_literal", "raw_string_literal"})),
    "ruby": DFGRules(
        assignment=frozenset({"assignment", "operator_assignment"}), declaration=frozenset({"keyword_parameter"}),
        if_statement=frozenset({"if", "unless", "elsif"}), else_types=frozenset({"elsif", "else"}),
        for_in={"for": ("pattern", "value")}, while_statement=frozenset({"while", "until", "while_modifier"}),
        tuple_assignment=True, tuple_types=frozenset({"left_assignment_list", "right_assignment_list", "array"}),
        reads_target=frozenset({"operator_assignment"})),
    "php": DFGRules(
        assignment=frozenset({"assignment_expression", "augmented_assignment_expression"}),
        declaration=frozenset({"simple_parameter"}), value_field="default_value",
        increment=frozenset({"update_expression"}), if_statement=frozenset({"if_statement"}),
        else_types=frozenset({"else_clause", "else_if_clause"}), elif_types=frozenset({"else_if_clause"}),
        for_statement=frozenset({"for_statement"}), for_in={"foreach_statement": ("#1", "#0")},
        while_statement=frozenset({"while_statement"}), strings=frozenset({"string", "encapsed_string"})),
    "c_sharp": DFGRules(
        assignment=frozenset({"assignment_expression"}), declaration=frozenset({"variable_declarator"}),
        increment=frozenset({"postfix_unary_expression", "prefix_unary_expression"}),
        if_statement=frozenset({"if_statement"}), for_statement=frozenset({"for_statement"}),
        for_in={"foreach_statement": ("left", "right")}, while_statement=frozenset({"while_statement"}),
        strings=frozenset({"string_literal", "verbatim_string_literal"}), initializer_fallback=True),
}
RULES["cpp"] = DFGRules(**{**RULES["c"].__dict__, "for_in": {"for_range_loop": ("declarator", "right")},
                           "strings": frozenset({"string_literal", "char_literal", "raw_string_literal"})})

_GCB = {"strings": frozenset({"string_literal", "string", "character_literal"}), "comments": frozenset({"comment"}),
        "compat": True, "loop_else_field": ""}
COMPAT_RULES: dict[str, DFGRules] = {
    "python": replace(RULES["python"], **_GCB, if_clauses=frozenset({"elif_clause", "else_clause"}),
                      pairwise=frozenset({"declaration"}), pair_by_children=True),
    "java": replace(RULES["java"], **_GCB, if_statement=frozenset({"if_statement", "else"}),
                    pairwise=frozenset({"declaration", "assignment", "for_in"}),
                    for_second_pass_after="local_variable_declaration"),
    "c_sharp": replace(RULES["c_sharp"], **_GCB, if_statement=frozenset({"if_statement", "else"}),
                       increment=frozenset({"postfix_unary_expression"}),
                       pairwise=frozenset({"declaration", "assignment", "for_in"}),
                       for_second_pass_after="local_variable_declaration"),
}
"""GraphCodeBERT's extractor (``parser/DFG.py``, the one CodeXGLUE's CodeBLEU evaluator runs) for the languages
that evaluator scores, as its code behaves on today's trees; what :func:`extract` uses with ``compat=True``. What
it undoes, each checked against that code run on the same trees (``bench/dfg_compat.py``):

- ``if``: the children after the first ``else`` keyword (Java, C#), or the ``elif``/``else`` clauses (Python), are
  walked from the states *before* the condition; the union of the branches includes the incoming states whenever
  no ``else`` appears in a child's type (Python), and always in Java and C# (the ``else`` keyword itself is walked
  as an alternative that changes nothing);
- C-style ``for``: a first pass over the children in source order (init, condition, update, body), a second over
  the children after the ``local_variable_declaration`` (so a loop whose init is an expression, ``for (i = 0; …)``,
  is walked once);
- ``while``: every child twice, Python's ``else`` clause inside the loop; Python's ``for``: the body walked only
  when it is the last child (a loop with ``else`` walks neither), the ``else`` clause never;
- Python pairs an assignment's left and right children when their counts match, whatever they are (``x.y = a + b``
  gives ``x`` from ``a`` and ``y`` from ``b``); ``x: int`` (no value) defines nothing;
- Java and C# emit one entry per (target, source token): a target whose value has no token gets no entry (its
  later uses still point at it); Python does so for default parameters;
- C#'s increments are every postfix unary expression (``x!`` included) and no prefix one (``++i`` is a plain use);
- strings are one token only for ``string_literal``/``string``/``character_literal`` nodes, and such a node has
  no children when Python pairs children (2020 grammars gave strings none; today's GraphCodeBERT code raises
  there); zero-width MISSING nodes are tokens (a missing ``;`` takes a position and is a source of what covers it).

C#'s declarator: its first child is the name and its value is the initializer, as the 2020 grammar's two children
(name, ``= value``) gave it; today's three children (name, ``=``, value) would fail GraphCodeBERT's two-children
test and lose every initializer, so the value is read from there. Where GraphCodeBERT's code raises, the evaluator
scores the snippet's data flow as empty; here the graph of what was walked is kept.

Measured (``bench/dfg_compat.py``, GraphCodeBERT's code run on the same trees): identical graphs on all 2,998 Java
and 2,998 C# lines of ``../shared/data/translation``, 743 GCJ Java programs and 1,985 Python functions (15 more
where that code raises on today's string nodes); the hub's own rules give identical graphs on 82 %, 82 %, 0.4 % and
89 % of them.
"""


@dataclass
class DataFlow:
    """The graph of one snippet."""

    tokens: list[str]                # code tokens (leaves; strings whole; no comments)
    edges: list[Edge]                # GraphCodeBERT 5-tuples (sources as tuples), by position, isolated dropped
    errors: int = 0                  # syntax-error nodes in the parse
    limited: list[str] = field(default_factory=list)  # the limits this input hit (empty: none)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one extraction may cost; hitting one gives a :class:`DFGLimitWarning` and a note in
    ``DataFlow.limited``, never an error."""

    max_bytes: int = 1_000_000
    """Longer code: the graph of its first ``max_bytes`` (cut after a whole line, or at a token boundary when
    that would keep less than half: one very long line)."""
    max_loop_depth: int = 8
    """Loops nested deeper are walked once instead of twice (each level doubles the work)."""


class DFGLimitWarning(UserWarning):
    """An input hit one of the :class:`Limits`; the graph covers less than the whole input."""


class _Walker:
    def __init__(self, rules: DFGRules, tokens: dict[int, tuple[int, str]], children: dict[int, list],
                 identifiers: set[int]) -> None:
        self.rules, self.tokens, self.children = rules, tokens, children  # node id -> children that can matter
        self.identifiers = identifiers                       # ids of identifier tokens (they define names)
        self._variables: dict[int, list[tuple[int, str]]] = {}  # loops ask for the same nodes twice
        self.max_loop_depth, self.loop_depth, self.deepest = 8, 0, 0
        self._plans: dict[int, object] = {}  # per-node work a second loop pass reuses
        self._sources: dict[int, tuple[tuple[str, ...], tuple[int, ...]]] = {}  # right-hand sides, likewise

    def variables(self, node) -> list[tuple[int, str]]:
        """Tokens under ``node`` (leaves whose text differs from their type: not keywords/punctuation)."""
        cached = self._variables.get(node.id)
        if cached is not None:
            return cached
        tokens, children = self.tokens, self.children
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            nid = n.id
            entry = tokens.get(nid)
            if entry is not None:
                out.append(entry)
            else:
                stack.extend(reversed(children.get(nid, ())))
        self._variables[node.id] = out
        return out

    # ---- handlers: generators that yield (child, states) to visit and return (edges, states)
    def leaf(self, node, states: States) -> tuple[list[Edge], States]:
        """A token: a use comes from the last definition; an identifier's first use defines it. Keywords,
        punctuation and comments are not in ``tokens`` and produce nothing. (``_run`` inlines this.)"""
        entry = self.tokens.get(node.id)
        if entry is None:
            return [], states
        idx, code = entry
        prev = states.get(code)
        if prev is not None:
            return [(code, idx, COMES, (code,), prev)], states
        if node.id in self.identifiers:
            states.set(code, (idx,))
        return [(code, idx, COMES, (), ())], states

    def handlers(self) -> dict[str, object]:
        """Node type -> handler. Handlers change the one :class:`States` in place (branches undo theirs)."""
        r = self.rules
        table: dict[str, object] = {}
        branches, loop = (self.branches_gcb, self.loop_gcb) if r.compat else (self.branches, self.loop)
        for types, fn in [(r.declaration, self.declaration), (r.assignment, self.assignment),
                          (r.increment, self.increment), (r.if_statement, branches),
                          (frozenset(r.for_in), self.for_in), (r.for_statement | r.while_statement, loop)]:
            for t in types:
                table.setdefault(t, fn)
        return table

    def enter_loop(self) -> int:
        """Passes over a loop: two (loop-carried dependencies), one below ``max_loop_depth`` nested loops."""
        self.loop_depth += 1
        self.deepest = max(self.deepest, self.loop_depth)
        return 2 if self.loop_depth <= self.max_loop_depth else 1

    def increment(self, node, states: States) -> Generator:
        if not self.rules.compat and not any(c.type in ("++", "--") for c in node.children):  # C#'s -a, !a, x!
            edges: list[Edge] = []
            for child in self.children.get(node.id, ()):
                out, states = yield child, states
                edges += out
            return edges, states
        names = self.variables(node)
        sources = _names(names), tuple(i2 for i2, _ in names)
        edges = [(c, i, COMPUTED, *sources) for i, c in names]
        for i, c in names:
            states.set(c, (i,))
        return edges, states
        yield  # a generator like the other handlers  # noqa: B901

    def declaration(self, node, states: States) -> Generator:
        name, value = node.child_by_field_name(self.rules.name_field), node.child_by_field_name(self.rules.value_field)
        if self.rules.compat and self.rules.initializer_fallback and node.child_count:
            # GraphCodeBERT's C#: the first child is the name; the value is the 2020 grammar's second child
            # (``= value``), today's third after a "="; a declarator of another shape has no value
            kids = node.children
            name = kids[0]
            value = kids[2] if len(kids) == 3 and kids[1].type == "=" else None
        elif (value is None and self.rules.initializer_fallback and node.named_child_count >= 2
                and node.named_children[-1] != name):
            value = node.named_children[-1]  # C#: `x = a` is (identifier, initializer) without a value field
        if name is None:
            return [], states
        if value is None:
            edges: list[Edge] = []
            self.define(name, None, COMES, edges, states)
            return edges, states
        edges, states = yield value, states
        self.define(name, value, COMES, edges, states, "declaration" in self.rules.pairwise)
        return edges, states

    def define(self, target, source, kind: str, edges: list[Edge], states: States, pairwise: bool = False) -> None:
        """Every token of ``target`` gets an edge from the tokens of ``source`` and becomes a definition
        (``pairwise``, GraphCodeBERT's Java form: no edge at all when ``source`` has no token)."""
        if source is None:
            names, positions = (), ()
        else:
            sid = source.id
            cached = self._sources.get(sid)
            if cached is None:
                sources = self.variables(source)
                cached = self._sources[sid] = (_names(sources), tuple(i for i, _ in sources))
            names, positions = cached
        if pairwise and not positions:
            for i, c in self.variables(target):
                states.set(c, (i,))
            return
        for i, c in self.variables(target):
            edges.append((c, i, kind, names, positions))
            states.set(c, (i,))

    def pairs(self, left, right) -> list[tuple]:
        """(left node, right node) pairs: element-wise only where both sides are literal lists/tuples of the
        same length (``a, b = x, y``); otherwise every target comes from every name on the right (``a, b =
        zip(p, q)``, ``o.name = "n"``)."""
        if self.rules.pair_by_children and left is not None and right is not None:  # GraphCodeBERT's Python
            strings = self.rules.strings     # one token: no children (as in the 2020 grammar, whose strings had
            ls = [c for c in left.children if c.type != ","] if left.type not in strings else []    # none)
            rs = [c for c in right.children if c.type != ","] if right.type not in strings else []
            if len(ls) != len(rs) or not ls:
                return [(left, right)]
            return list(zip(ls, rs, strict=True))
        types = self.rules.tuple_types
        if (self.rules.tuple_assignment and left is not None and right is not None and left.type in types
                and right.type in types):
            ls, rs = left.named_children, right.named_children
            if len(ls) == len(rs) and ls:
                return list(zip(ls, rs, strict=True))
        return [(left, right)]

    def assign(self, pairs: list[tuple], states: States, pairwise: bool = False) -> tuple[list[Edge], States]:
        edges: list[Edge] = []
        for left, right in pairs:
            self.define(left, right, COMPUTED, edges, states, pairwise)
        return edges, states

    def assignment(self, node, states: States) -> Generator:
        if node.type == "for_in_clause":
            left, right = node.child_by_field_name("left"), node.children[-1]
        else:
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return [], states
        pairs = [(left, right)] if node.type == "for_in_clause" else self.pairs(left, right)
        edges: list[Edge] = []
        for _, r in pairs:
            out, states = yield r, states
            edges += out
        if node.type in self.rules.reads_target:  # `h[:k] ||= v`: the target's old value flows on, as a use
            before = {c: states.get(c) for _, c in self.variables(left)}
            out, states = self.assign(pairs, states)
            return edges + [(c, i, k, *self._with_old(names, pos, before.get(c), c))
                            for c, i, k, names, pos in out], states
        out, states = self.assign(pairs, states, "assignment" in self.rules.pairwise)
        return edges + out, states

    @staticmethod
    def _with_old(names: tuple, positions: tuple, old: tuple | None, name: str) -> tuple[tuple, tuple]:
        if not old:
            return names, positions
        return (names if name in names else (*names, name)), tuple(sorted(set(positions) | set(old)))

    def _branch_plan(self, node) -> list[tuple]:
        """(child, is an alternative branch, can produce edges) for an if statement's children, once per node."""
        plan = self._plans.get(node.id)
        if plan is None:
            plan, after_else = [], False
            for i, child in enumerate(node.children):
                fname = node.field_name_for_child(i)
                alternative = child.is_named and (child.type in self.rules.else_types or fname == "alternative"
                                                  or after_else)  # (not Ruby's keyword `elsif` itself)
                after_else = after_else or child.type == "else"
                plan.append((child, alternative, child.id in self.tokens or child.id in self.children,
                             fname in ("condition", "initializer") and not alternative))
            self._plans[node.id] = plan
        return plan

    def branches(self, node, states: States) -> Generator:
        """Condition and consequence in order; each alternative from the incoming states; then the union.

        Only the names a branch changed are merged (an unchanged name keeps its incoming value)."""
        edges: list[Edge] = []
        base = None  # taken after the condition: it runs whichever branch follows
        alternatives: list[dict] = []
        has_else = False
        for child, alternative, matters, condition in self._branch_plan(node):
            if base is None and not condition and (matters or alternative):
                base = states.mark()
            if alternative:
                has_else = has_else or child.type not in self.rules.elif_types  # a flat elif ends nothing
                if matters:
                    out, changes = yield from self._alternative(child, states, base)
                    edges += out
                    alternatives.append(changes)
                else:
                    alternatives.append({})
            elif matters:
                out, states = yield child, states
                edges += out
        if base is None:
            base = states.mark()
        if not has_else and not alternatives:  # the consequence may not run: overwritten names keep their
            states.merge_optional(base)          # incoming positions too
            return edges, states
        paths = [*alternatives, states.changes_since(base)]
        if not has_else:
            paths.append({})                     # an elif chain without else: no branch may run
        states.rollback(base)
        self._unite(paths, states)
        return edges, states

    @staticmethod
    def _alternative(child, states: States, base: tuple[int, int]) -> Generator:
        """Walk ``child`` as an alternative branch, from the states at ``base``; then put back the changes the
        other path made since ``base``. Returns (its edges, its changes)."""
        main = states.changes_since(base)           # set aside the other path's changes
        states.rollback(base)
        out, states = yield child, states
        changes = states.changes_since(base)
        states.rollback(base)
        for name, positions in main.items():        # and put them back
            states.set(name, positions)
        return out, changes

    def branches_gcb(self, node, states: States) -> Generator:
        """GraphCodeBERT's ``if`` (``compat=True``): children in order from the current states until the first
        alternative (a child whose type is an ``if``/``else`` type; Python: each ``elif``/``else`` clause), each
        alternative from the states *before* the statement; the union of every path, the incoming states
        included unless a child's type says ``else`` (Python) — in Java and C# the ``else`` keyword is itself an
        alternative that changes nothing, so there they are always included."""
        r = self.rules
        base = states.mark()
        edges: list[Edge] = []
        alternatives: list[dict] = []
        flag, tag = False, "else" in node.type
        for child in node.children:
            tag = tag or "else" in child.type
            alternative = child.type in r.if_clauses if r.if_clauses else (flag or child.type in r.if_statement)
            flag = alternative
            if not alternative:
                out, states = yield child, states
                edges += out
                continue
            out, changes = yield from self._alternative(child, states, base)
            edges += out
            alternatives.append(changes)
        paths = [*alternatives, states.changes_since(base)]
        if not tag:
            paths.append({})
        states.rollback(base)
        self._unite(paths, states)
        return edges, states

    def loop_gcb(self, node, states: States) -> Generator:
        """GraphCodeBERT's loops (``compat=True``): a ``while`` walks every child twice; a C-style ``for`` walks
        every child in source order, then again the children after its first ``for_second_pass_after`` child."""
        plan = self._plans.get(node.id)
        if plan is None:
            children = list(node.children)
            if node.type in self.rules.while_statement:
                second = children
            else:
                mark = self.rules.for_second_pass_after
                at = next((k for k, c in enumerate(children) if c.type == mark), None)
                second = [] if at is None else children[at + 1:]
            plan = self._plans[node.id] = (children, second)
        edges: list[Edge] = []
        for rep in range(self.enter_loop()):
            for child in plan[rep]:
                out, states = yield child, states
                edges += out
        self.loop_depth -= 1
        return (edges if self.loop_depth else list(dict.fromkeys(edges))), states

    @staticmethod
    def _unite(paths: list[dict], states: States) -> None:
        """Each name any path changed gets the union of its value on every path (the incoming value where a
        path left it alone); ``states`` holds the incoming values."""
        changed = dict.fromkeys(name for path in paths for name in path)
        for name in changed:
            incoming = states.get(name)
            values = [v for path in paths if (v := path.get(name, incoming)) is not None]
            first = values[0]
            if all(v is first for v in values):
                states.set(name, first)
            else:
                states.set(name, tuple(sorted(set().union(*values))))

    def _loop_else(self, node):
        """A loop's ``else`` clause (Python), which runs once after the loop; None elsewhere."""
        f = self.rules.loop_else_field
        return node.child_by_field_name(f) if f else None

    def for_in(self, node, states: States) -> Generator:
        plan = self._plans.get(node.id)
        if plan is None:
            target_field, iter_field = self.rules.for_in[node.type]
            left, right = _child(node, target_field), _child(node, iter_field)
            body = node.child_by_field_name("body") or node.children[-1]
            if body is right or (self.rules.pair_by_children and node.children[-1].type != "block"):
                body = None   # (GraphCodeBERT's Python walks the body only when it is the last child)
            plan = self._plans[node.id] = (self.pairs(left, right), body, self._loop_else(node))
        pairs, body, after = plan
        pairwise = "for_in" in self.rules.pairwise
        edges: list[Edge] = []
        for _ in range(self.enter_loop()):
            for _, r in pairs:
                out, states = yield r, states
                edges += out
            out, states = self.assign(pairs, states, pairwise)
            edges += out
            if body is not None:
                out, states = yield body, states
                edges += out
        self.loop_depth -= 1
        if after is not None:
            out, states = yield after, states
            edges += out
        # the passes repeat edges: the outermost loop drops the exact repeats (merge unites the rest)
        return (edges if self.loop_depth else list(dict.fromkeys(edges))), states

    def _loop_plan(self, node) -> tuple[list, set[int]]:
        """A C-style loop's children in execution order (updates after the body) and the init's ids."""
        plan = self._plans.get(node.id)
        if plan is None:
            holders = [node, *(c for c in node.children if c.type == "for_clause")]  # Go: inside a for_clause
            init = [h.child_by_field_name(f) for h in holders for f in self.rules.for_init_fields]
            skip = {n.id for n in init if n is not None}
            parts = [g for c in node.children for g in (c.children if c.type == "for_clause" else [c])]
            updates = {n.id for h in holders for f in self.rules.for_update_fields
                       if (n := h.child_by_field_name(f)) is not None}
            parts = [p for p in parts if p.id not in updates] + [p for p in parts if p.id in updates]
            after = self._loop_else(node)
            parts = [p for p in parts if (p.id in self.tokens or p.id in self.children)
                     and (after is None or p.id != after.id)]
            plan = self._plans[node.id] = (parts, skip, after)
        return plan

    def loop(self, node, states: States) -> Generator:
        parts, skip, after = self._loop_plan(node)
        edges: list[Edge] = []
        for rep in range(self.enter_loop()):
            for child in parts:
                if rep == 1 and child.id in skip:
                    continue
                out, states = yield child, states
                edges += out
        self.loop_depth -= 1
        if after is not None:
            out, states = yield after, states
            edges += out
        # the passes repeat edges: the outermost loop drops the exact repeats (merge unites the rest)
        return (edges if self.loop_depth else list(dict.fromkeys(edges))), states


def _child(node, spec: str):
    """The child a rule names: a field, or ``#k`` for the k-th named child."""
    if spec.startswith("#"):
        k = int(spec[1:])
        return node.named_children[k] if node.named_child_count > k else None
    return node.child_by_field_name(spec)


def _names(sources: list[tuple[int, str]]) -> tuple[str, ...]:
    """Source names, each once, in order of appearance."""
    return tuple(dict.fromkeys(c for _, c in sources)) if len(sources) > 1 else tuple(c for _, c in sources)


def merge(edges: list[Edge]) -> list[Edge]:
    """One entry per (variable, position, kind), source names and positions united; sorted by position.

    As in GraphCodeBERT, a ``comesFrom`` entry lists a name once even when it comes from several positions
    (a variable defined in both branches of an if), so names and positions are two sets, not pairs; names are
    listed once each, in order of appearance (GraphCodeBERT repeats them in ``computedFrom`` entries).
    """
    acc: dict[tuple[str, int, str], Edge] = {}
    for edge in dict.fromkeys(edges):                # exact repeats (loop passes) first, at C speed
        key = edge[:3]
        prev = acc.get(key)
        if prev is None:
            acc[key] = edge
        else:                                        # rare: the same token reached with other sources
            names = prev[3] + tuple(n for n in dict.fromkeys(edge[3]) if n not in prev[3])
            acc[key] = (*key, names, tuple(sorted(set(prev[4]) | set(edge[4]))))
    # names are listed once at creation (_names) and positions are sorted and unique (token order). Edges stay
    # tuples: the garbage collector stops tracking tuples of strings and ints, which keeps a corpus of graphs cheap
    return sorted(acc.values(), key=itemgetter(1, 2))


class _Sequence:
    """A driver frame for a node without a rule: its remaining actions, and the edges and states so far."""

    __slots__ = ("actions", "edges", "states")

    def __init__(self, actions, states: States) -> None:
        self.actions, self.edges, self.states = actions, [], states


def _run(walker: _Walker, root, special: dict[int, str], ordered: dict[int, list]) -> list[Edge]:
    """Drive the handlers with an explicit stack (no recursion); see the module guide.

    Nodes without a rule just thread the states through their children, so a subtree of them is its
    *actions* in order: its tokens (``(position, text, defines a name?)``) and its nodes with a rule (ids in
    ``special``), found once per node (:func:`actions_of`, cached: loops visit twice). A frame is a handler
    (a generator) or a :class:`_Sequence`; tokens are answered inline (this loop is where the time goes).
    """
    tokens, children, identifiers = walker.tokens, walker.children, walker.identifiers
    handlers = walker.handlers()
    flat: dict[int, list] = {}

    def actions_of(nid: int) -> list:
        actions = flat.get(nid)
        if actions is None:
            actions = []
            todo = list(reversed(ordered.get(nid) or children[nid]))
            while todo:
                c = todo.pop()
                cid = c.id
                entry = tokens.get(cid)
                if entry is not None:                  # a token: (position, text, defines a name?)
                    actions.append((*entry, cid in identifiers))
                elif cid in special:
                    actions.append(c)
                else:
                    sub = ordered.get(cid) or children.get(cid)
                    if sub:
                        todo.extend(reversed(sub))
            flat[nid] = actions
        return actions

    stack: list = []                                   # frames: handler generators and _Sequence records

    def push(node, states: States):
        """Start ``node``: a token is answered at once (its reply), anything else becomes a frame (None)."""
        nid = node.id
        if nid in tokens or nid not in children:
            return walker.leaf(node, states)
        stack.append(handlers[special[nid]](node, states) if nid in special else
                     _Sequence(iter(actions_of(nid)), states))
        return None

    reply = push(root, States())                             # (edges, states) of the frame that finished last
    while stack:
        frame = stack[-1]
        if frame.__class__ is not _Sequence:           # a handler: send it the last child's result
            try:
                child, st = frame.send(reply)
            except StopIteration as done:
                stack.pop()
                reply = done.value
                continue
            reply = push(child, st)
            continue
        edges, states = frame.edges, frame.states
        if reply is not None:                          # a handler below just finished: fold it in
            edges += reply[0]
            states = reply[1]
            reply = None
        pushed = False
        add = edges.append
        for action in frame.actions:
            if action.__class__ is not tuple:          # a node with a rule: its handler runs next
                stack.append(handlers[special[action.id]](action, states))
                pushed = True
                break
            idx, code, defines = action                # a token (walker.leaf, inlined)
            prev = states.get(code)
            if prev is not None:
                add((code, idx, COMES, (code,), prev))
            else:
                if defines:
                    states.set(code, (idx,))
                add((code, idx, COMES, (), ()))
        frame.states = states
        if not pushed:
            stack.pop()
            reply = (edges, states)
    return reply[0]


_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def cut_point(data: bytes, max_bytes: int) -> int:
    """Where to cut ``data`` to at most ``max_bytes``: after the last whole line, unless that keeps less than
    half (one very long line); then after the last ASCII byte that is not part of a word (a token boundary:
    never inside a name or a UTF-8 character), looked for in the last 64 KB; failing that, at a character
    boundary."""
    if len(data) <= max_bytes:
        return len(data)
    line = data.rfind(b"\n", 0, max_bytes + 1)
    if line >= max_bytes // 2:
        return line
    for p in range(max_bytes, max(0, max_bytes - 65536), -1):
        if data[p - 1] < 0x80 and data[p - 1] not in _WORD:
            return p
    p = max_bytes
    while p > 0 and data[p] >> 6 == 0b10:  # a UTF-8 continuation byte: step back to the character's start
        p -= 1
    return p


def extract(code: str, lang: str, limits: Limits = Limits(), compat: bool = False) -> DataFlow:
    """The data-flow graph of ``code`` in ``lang`` (syntax errors tolerated: the graph of what parsed).

    Inputs beyond ``limits`` are bounded (see :class:`Limits`) with a :class:`DFGLimitWarning`. ``compat=True``
    follows GraphCodeBERT's extractor instead of the hub's fixes (:data:`COMPAT_RULES`: Java, C#, Python, the
    languages CodeXGLUE's CodeBLEU evaluator scores; other languages have no such setting and keep the hub's rules).
    """
    lang = canonical(lang)
    rules = COMPAT_RULES.get(lang, RULES[lang]) if compat else RULES[lang]
    code = utf8_safe(code)  # a lone surrogate becomes U+FFFD (one token), not an encoding error
    if lang == "php" and not code.lstrip().startswith("<?php"):
        code = f"<?php {code} ?>"  # as GraphCodeBERT: PHP functions are parsed inside a PHP block
    data = code.encode("utf-8")
    limited = []
    if len(data) > limits.max_bytes:
        data = data[: cut_point(data, limits.max_bytes)]
        limited.append(f"input of {len(code.encode('utf-8')):,} bytes cut to its first {len(data):,} "
                       f"(max_bytes={limits.max_bytes:,})")
    tree = parse(data, lang)
    walker = None
    collecting = gc.isenabled()
    gc.disable()  # thousands of short-lived acyclic tuples: refcounting frees them; cyclic GC passes cost ~15 %
    try:
        index = _index(tree, data, rules)
        walker = _Walker(rules, index.tokens, index.children, index.identifiers)
        walker.max_loop_depth = limits.max_loop_depth
        edges = merge(_run(walker, tree.root_node, index.special, index.ordered))
    finally:
        if collecting:
            gc.enable()
    if walker.deepest > limits.max_loop_depth:
        limited.append(f"loops nested {walker.deepest} deep: those below {limits.max_loop_depth} were walked once "
                       f"(max_loop_depth={limits.max_loop_depth})")
    for note in limited:
        warnings.warn(f"data-flow graph ({lang}): {note}", DFGLimitWarning, stacklevel=2)
    used = {p for e in edges if e[4] for p in (e[1], *e[4])}  # in an edge, as target or as source
    errors = count_errors(tree) if tree.root_node.has_error else 0
    return DataFlow(index.order, [e for e in edges if e[1] in used], errors, limited)


@dataclass
class _Index:
    tokens: dict[int, tuple[int, str]]      # node id -> (position, text), for leaves whose text is not their type
    children: dict[int, list]               # node id -> children that can matter (no keywords, punctuation, comments)
    identifiers: set[int]                   # ids of identifier tokens
    special: dict[int, str]                 # nodes with a rule: id -> type
    ordered: dict[int, list]                # comprehensions: their children, clauses first
    order: list[str]                        # every token's text, in source order


def _index(tree, data: bytes, rules: DFGRules) -> _Index:
    """One pass over the tree with a cursor (no child lists are built for leaves)."""
    tokens: dict[int, tuple[int, str]] = {}
    children: dict[int, list] = {}
    identifiers: set[int] = set()
    special: dict[int, str] = {}             # nodes with a rule: id -> type
    clause_first: list[int] = []             # comprehensions: their clauses are visited first
    special_types, comments, strings, idents = _special_types(rules), rules.comments, rules.strings, rules.identifier
    order: list[str] = []
    keep = order.append
    cursor = tree.walk()
    parents: list[list] = []                 # the kept-children lists of the current node's ancestors
    while True:
        n = cursor.node
        t = n.type
        if t not in comments:
            if n.child_count == 0 or t in strings:
                start, end = n.start_byte, n.end_byte
                if end > start or rules.compat:  # missing nodes are empty (GraphCodeBERT counts them)
                    text = data[start:end].decode("utf-8", "replace")
                    if text != t:            # a token; only named ones are walked (leaves like `this` add nothing)
                        nid = n.id
                        tokens[nid] = (len(order), text)
                        if t in idents:
                            identifiers.add(nid)
                        if parents and (n.is_named or rules.compat):  # GraphCodeBERT: MISSING `;` too
                            parents[-1].append(n)
                    keep(text)
            else:
                nid = n.id
                if parents:
                    parents[-1].append(n)
                if t in special_types:
                    special[nid] = t
                elif t in rules.do_first_in:
                    clause_first.append(nid)
                parents.append(children.setdefault(nid, []))
                cursor.goto_first_child()
                continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                break
            parents.pop()
        else:
            continue
        break
    ordered = {nid: [c for c in children[nid] if c.type in rules.do_first] +
               [c for c in children[nid] if c.type not in rules.do_first] for nid in clause_first}
    return _Index(tokens, children, identifiers, special, ordered, order)


def _special_types(rules: DFGRules) -> frozenset[str]:
    return (rules.declaration | rules.assignment | rules.increment | rules.if_statement | rules.for_statement
            | rules.while_statement | frozenset(rules.for_in))
