"""API calls of every function, resolved with tree-sitter: ``os.path.join``, ``java.util.Scanner.nextInt``.

A call is kept when its receiver resolves to a module or a class:

* Python: ``import a.b``, ``import a.b as c``, ``from m import f [as g]`` (``g(...)`` is ``m.f``),
  attribute chains of them (``os.path.join``), and locals assigned from a class call (``t = threading.Thread()``
  makes ``t.start()`` ``threading.Thread.start``). A parameter or a local of the same name shadows an import.
* Java: single-type imports, wildcard imports (through :data:`JDK_CLASSES`), ``java.lang`` implicitly, static
  imports (``max(...)`` is ``java.lang.Math.max``; with one static wildcard import, ``import static
  org.junit.Assert.*``, an unqualified call to a method the file does not declare is that class's), fully
  qualified names, the declared types of fields,
  parameters and locals (generics dropped, arrays skipped), ``new X().m()``, and ``System.out``/``err``/``in``.
  Constructors are not API calls (as the paper: ``<init>`` skipped).

Chained calls whose receiver is another call's result (``p.join(x).upper()``) are not resolved: the return
type is unknown. Each call records three offsets into its sample's code: where the method name starts (the
API-call prediction input ends there, after ``receiver.``), where the usage expression starts (``Class.`` /
module included, a variable receiver excluded, as the paper's API usage task) and where its balancing ``)``
ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeintel.structure.parsing import parse, walk

MAX_LINES = 250  # the paper drops methods longer than this

# Wildcard imports resolve through this table of common JDK classes (package -> simple names).
JDK_CLASSES: dict[str, tuple[str, ...]] = {
    "java.lang": ("String", "Math", "Integer", "Long", "Double", "Float", "Short", "Byte", "Character", "Boolean",
                  "StringBuilder", "StringBuffer", "System", "Thread", "Object", "Runtime", "Character"),
    "java.util": ("Scanner", "ArrayList", "List", "HashMap", "Map", "HashSet", "Set", "Arrays", "Collections",
                  "LinkedList", "Queue", "Deque", "ArrayDeque", "PriorityQueue", "TreeMap", "TreeSet", "Iterator",
                  "StringTokenizer", "Random", "Stack", "Vector", "LinkedHashMap", "LinkedHashSet", "BitSet",
                  "Comparator", "Locale", "Collection", "SortedMap", "SortedSet", "NavigableMap", "Objects",
                  "Optional"),
    "java.io": ("BufferedReader", "InputStreamReader", "PrintWriter", "FileReader", "FileWriter", "BufferedWriter",
                "File", "PrintStream", "InputStream", "OutputStream", "OutputStreamWriter", "FileInputStream",
                "FileOutputStream", "StreamTokenizer", "Writer", "Reader", "DataInputStream", "BufferedInputStream",
                "BufferedOutputStream"),
    "java.math": ("BigInteger", "BigDecimal", "MathContext", "RoundingMode"),
    "java.text": ("DecimalFormat", "NumberFormat", "SimpleDateFormat"),
    "java.util.regex": ("Pattern", "Matcher"),
    "java.nio.file": ("Files", "Paths", "Path"),
}
JAVA_STATIC_FIELDS = {"System.out": "java.io.PrintStream", "System.err": "java.io.PrintStream",
                      "System.in": "java.io.InputStream"}


@dataclass
class ApiCall:
    """One resolved call site; offsets are characters into the sample's code."""

    api: str          # owner + "." + method
    owner: str        # the module (Python) or the fully qualified class
    module: str       # the module (Python) or the package (Java)
    method: str
    kind: str         # "static" (module or class receiver), "instance" (typed variable), "bare" (imported name)
    name_start: int
    usage_start: int
    end: int


@dataclass
class Sample:
    """A function (or method) and its resolved API calls."""

    id: str
    code: str
    lang: str
    calls: list[ApiCall] = field(default_factory=list)


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


class _Offsets:
    """Byte offsets of the unit -> character offsets of one sample (the code is UTF-8 bytes in the tree)."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.start = data, start
        self.code = data[start:end].decode("utf-8", "replace")
        self.ascii = self.code.isascii()

    def char(self, byte: int) -> int:
        return byte - self.start if self.ascii else len(self.data[self.start : byte].decode("utf-8", "replace"))


# --------------------------------------------------------------------------- Python

def _python_imports(root) -> dict[str, str]:
    """Top-level (and nested) import bindings: local name -> dotted target."""
    bind: dict[str, str] = {}
    for node in walk(root):
        if node.type == "import_statement":
            for item in node.children_by_field_name("name"):
                if item.type == "aliased_import":
                    bind[_text(item.child_by_field_name("alias"))] = _text(item.child_by_field_name("name"))
                else:
                    head = _text(item).split(".")[0]
                    bind[head] = head
        elif node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            if module is None or module.type != "dotted_name":  # relative imports: unknown package
                continue
            for item in node.children_by_field_name("name"):
                if item.type == "aliased_import":
                    name, alias = _text(item.child_by_field_name("name")), _text(item.child_by_field_name("alias"))
                else:
                    name = alias = _text(item)
                bind[alias] = f"{_text(module)}.{name}"
    return bind


def _dotted(node) -> list[str] | None:
    """``a.b.c`` as its parts, or None when the chain contains anything but names."""
    parts = []
    while node.type == "attribute":
        parts.append(_text(node.child_by_field_name("attribute")))
        node = node.child_by_field_name("object")
    if node.type != "identifier":
        return None
    return [_text(node), *reversed(parts)]


def _python_function_calls(fn, imports: dict[str, str], off: _Offsets) -> list[ApiCall]:
    shadow: set[str] = set()
    params = fn.child_by_field_name("parameters")
    for node in walk(params) if params is not None else ():
        if node.type == "identifier":
            shadow.add(_text(node))
    typed: dict[str, str] = {}
    calls = []
    for node in walk(fn.child_by_field_name("body") or fn):
        if node.type == "assignment":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and left.type == "identifier":
                name = _text(left)
                owner = _resolve_python(right.child_by_field_name("function"), imports, shadow, typed) \
                    if right is not None and right.type == "call" else None
                if owner and owner.rsplit(".", 1)[-1][:1].isupper():
                    typed[name] = owner
                else:
                    shadow.add(name)
                    typed.pop(name, None)
        if node.type != "call":
            continue
        fn_node, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if args is None or args.type != "argument_list":
            continue
        call = _python_call(fn_node, imports, shadow, typed)
        if call is None:
            continue
        owner, method, kind, name_node, usage_node = call
        parts = owner.split(".")  # the module: the owner up to its first class or constant (a capitalised name)
        module = ".".join(parts[: next((i for i, p in enumerate(parts) if i and p[:1].isupper()), len(parts))])
        calls.append(ApiCall(f"{owner}.{method}", owner, module, method, kind, off.char(name_node.start_byte),
                             off.char(usage_node.start_byte), off.char(args.end_byte)))
    return calls


def _resolve_python(fn_node, imports, shadow, typed) -> str | None:
    """The dotted target of a call's function expression (``os.path.join``), or None."""
    if fn_node is None:
        return None
    parts = _dotted(fn_node)
    if parts is None or parts[0] in shadow:
        return None
    if parts[0] in typed:
        return ".".join([typed[parts[0]], *parts[1:]])
    if parts[0] in imports:
        return ".".join([imports[parts[0]], *parts[1:]])
    return None


def _python_call(fn_node, imports, shadow, typed):
    """(owner, method, kind, name node, usage-start node) of a call, or None when it does not resolve."""
    if fn_node.type == "identifier":
        name = _text(fn_node)
        if name in shadow or name not in imports or "." not in imports[name]:
            return None
        owner, method = imports[name].rsplit(".", 1)
        if method[:1].isupper():  # a class call: a constructor, not an API call
            return None
        return owner, method, "bare", fn_node, fn_node
    if fn_node.type != "attribute":
        return None
    obj = fn_node.child_by_field_name("object")
    method_node = fn_node.child_by_field_name("attribute")
    parts = _dotted(obj)
    if parts is None or parts[0] in shadow:
        return None
    if parts[0] in typed and len(parts) == 1:
        return typed[parts[0]], _text(method_node), "instance", method_node, method_node
    if parts[0] not in imports:
        return None
    owner = ".".join([imports[parts[0]], *parts[1:]])
    if _text(method_node)[:1].isupper():
        return None
    return owner, _text(method_node), "static", method_node, obj


# --------------------------------------------------------------------------- Java

def _java_imports(root) -> tuple[dict[str, str], dict[str, str], list[str], list[str]]:
    """(simple class name -> FQN, static member -> FQN class, wildcard packages, classes imported with a static
    wildcard: ``import static org.junit.Assert.*``)."""
    classes = {name: f"java.lang.{name}" for name in JDK_CLASSES["java.lang"]}
    statics, wildcard, static_wildcard = {}, ["java.lang"], []
    for node in root.children:
        if node.type == "class_declaration":
            name = node.child_by_field_name("name")
            if name is not None:
                classes.pop(_text(name), None)  # the file's own class shadows a JDK one of that name
        if node.type != "import_declaration":
            continue
        target = next((c for c in node.children if c.type in ("scoped_identifier", "identifier")), None)
        if target is None:
            continue
        path = _text(target)
        is_static = any(c.type == "static" for c in node.children)
        if any(c.type == "asterisk" for c in node.children):
            if is_static:
                static_wildcard.append(path)
            else:
                wildcard.append(path)
                classes.update({n: f"{path}.{n}" for n in JDK_CLASSES.get(path, ()) if n not in classes})
        elif is_static:
            statics[path.rsplit(".", 1)[-1]] = path.rsplit(".", 1)[0]
        else:
            classes[path.rsplit(".", 1)[-1]] = path
    return classes, statics, wildcard, static_wildcard


def _java_type(node, classes: dict[str, str]) -> str | None:
    if node is None:
        return None
    if node.type == "generic_type":
        node = next((c for c in node.children if c.type in ("type_identifier", "scoped_type_identifier")), None)
        if node is None:
            return None
    if node.type == "type_identifier":
        return classes.get(_text(node))
    if node.type == "scoped_type_identifier":
        return _text(node).replace(" ", "")
    return None


def _java_declared(scope, classes: dict[str, str], into: dict[str, str], stop_at_methods: bool) -> None:
    for node in walk(scope):
        if node.type in ("local_variable_declaration", "field_declaration"):
            if stop_at_methods and node.type == "local_variable_declaration":
                continue
            fqn = _java_type(node.child_by_field_name("type"), classes)
            for decl in node.children_by_field_name("declarator"):
                name = decl.child_by_field_name("name")
                if name is not None:
                    if fqn and decl.child_by_field_name("dimensions") is None:
                        into[_text(name)] = fqn
                    else:
                        into.pop(_text(name), None)
        elif node.type in ("formal_parameter", "catch_formal_parameter", "enhanced_for_statement") and \
                not stop_at_methods:
            name = node.child_by_field_name("name")
            if name is None:
                continue
            fqn = _java_type(node.child_by_field_name("type"), classes)
            if fqn and node.child_by_field_name("dimensions") is None:
                into[_text(name)] = fqn
            else:
                into.pop(_text(name), None)


def _java_receiver(obj, classes, types) -> tuple[str, str] | None:
    """(FQN class, kind) of a method invocation's object, or None."""
    if obj.type == "identifier":
        name = _text(obj)
        if name in types:
            return types[name], "instance"
        if name in classes:
            return classes[name], "static"
        return None
    if obj.type == "field_access":
        text = _text(obj).replace(" ", "")
        if text in JAVA_STATIC_FIELDS:
            return JAVA_STATIC_FIELDS[text], "instance"
        head = text.split(".")[0]
        if head in ("java", "javax") and text.rsplit(".", 1)[-1][:1].isupper():  # java.util.Arrays.sort
            return text, "static"
        return None
    if obj.type == "object_creation_expression":
        fqn = _java_type(obj.child_by_field_name("type"), classes)
        return (fqn, "instance") if fqn else None
    return None


def _java_method_calls(method, classes, statics, fields: dict[str, str], off: _Offsets,
                       wildcard: tuple[str | None, set[str]] = (None, set())) -> list[ApiCall]:
    """``wildcard``: (the class of the file's only static wildcard import, the methods the file declares): an
    unqualified call to any other method is that class's."""
    types = dict(fields)
    _java_declared(method, classes, types, stop_at_methods=False)
    calls = []
    for node in walk(method):
        if node.type != "method_invocation":
            continue
        name_node, args, obj = (node.child_by_field_name(k) for k in ("name", "arguments", "object"))
        if name_node is None or args is None:
            continue
        method_name = _text(name_node)
        if obj is None:
            owner = statics.get(method_name) or (wildcard[0] if method_name not in wildcard[1] else None)
            if owner is None:
                continue
            kind, usage = "bare", name_node
        else:
            resolved = _java_receiver(obj, classes, types)
            if resolved is None:
                continue
            (owner, kind), usage = resolved, (obj if resolved[1] == "static" else name_node)
        package = owner.rsplit(".", 1)[0]
        calls.append(ApiCall(f"{owner}.{method_name}", owner, package, method_name, kind,
                             off.char(name_node.start_byte), off.char(usage.start_byte), off.char(args.end_byte)))
    return calls


# --------------------------------------------------------------------------- units -> samples

FUNCTION_TYPES = {"python": ("function_definition",), "java": ("method_declaration", "constructor_declaration")}


def extract_samples(code: str, lang: str, unit_id: str) -> list[Sample]:
    """Every function of one source unit (a file, or a row of a dataset) with its resolved API calls.

    A unit without any function is one sample itself (its calls resolved against its own imports).
    Functions nested in functions belong to the outer one; methods of classes are samples of their own.
    """
    data = code.encode("utf-8", "replace")
    root = parse(data, lang).root_node
    kinds = FUNCTION_TYPES[lang]
    functions, stack = [], [root]
    while stack:  # outermost functions only
        node = stack.pop()
        if node.type in kinds:
            functions.append(node)
        else:
            stack.extend(reversed(node.children))
    if lang == "python":
        imports = _python_imports(root)
    else:
        classes, statics, _, static_wildcard = _java_imports(root)
        # `import static org.junit.Assert.*` (one such import; with several the owner is unknown): unqualified
        # calls to methods the file does not declare are that class's
        wildcard = (static_wildcard[0], {_text(n.child_by_field_name("name")) for n in walk(root)
                                         if n.type == "method_declaration" and n.child_by_field_name("name")}) \
            if len(static_wildcard) == 1 else (None, set())
        fields: dict[str, str] = {}
        _java_declared(root, classes, fields, stop_at_methods=True)
    out = []
    for fn in functions or [root]:
        if fn.end_point[0] - fn.start_point[0] >= MAX_LINES:
            continue
        off = _Offsets(data, fn.start_byte, fn.end_byte)
        if lang == "python":
            calls = _python_function_calls(fn, imports, off)
        else:
            calls = _java_method_calls(fn, classes, statics, fields, off, wildcard)
        name = fn.child_by_field_name("name") if fn is not root else None
        sid = f"{unit_id}:{_text(name)}@{fn.start_point[0] + 1}" if name is not None else unit_id
        out.append(Sample(sid, off.code, lang, sorted(calls, key=lambda c: c.name_start)))
    return out
