"""The dependency rule, written down as code: each layer imports only itself and the layers below it, and no
module imports itself back through a circle (function-level imports included)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "codeintel"

# Top to bottom. The domain libraries are ordered among themselves too (tokenization trains on the stdlib
# corpus, the embedded clone set is built with augmentation operators, every one of them parses; CodeBLEU in
# eval parses and reads data-flow graphs).
LAYERS = [
    {"cli", "__main__"},
    {"recipes"},
    {"continual"},
    {"tasks"},
    {"execution"},
    {"peft_adapters"},
    {"backbones"},
    {"tokenization"},
    {"data"},
    {"augment"},
    {"eval"},
    {"structure"},
    {"config", "errors", "hub", "io", "log", "registry", "progress", "__init__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The codeintel modules ``path`` imports, anywhere in the file (``from pkg import submodule`` included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("codeintel")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("codeintel"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return {m for m in found if m in known}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports_of(p, set(mods)) - {m} for m, p in mods.items()}


def test_every_module_has_a_layer():
    assert {layer(m) for m in modules()} <= set(RANK), {layer(m) for m in modules()} - set(RANK)


def test_no_module_imports_a_layer_above_its_own():
    upward = [(m, dep) for m, deps in graph().items() for dep in deps if RANK[layer(dep)] < RANK[layer(m)]]
    assert not upward, "\n".join(f"{m} imports {dep} (layer {layer(dep)} is above {layer(m)})" for m, dep in upward)


def test_no_import_circles():
    g = graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    circles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for dep in sorted(g[m]):
            if state.get(dep) == 1:
                circles.append(" -> ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not circles, "\n".join(circles)


def test_the_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a backbone module that imports the task layer is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from codeintel.tasks.heads import wrap\n")
    deps = imports_of(bad, set(modules()))
    assert deps == {"codeintel.tasks.heads"}
    assert RANK[layer("codeintel.tasks.heads")] < RANK[layer("codeintel.backbones.loading")]


def test_registries_resolve_on_first_use_only():
    """Reading the tables (names, cards) imports neither the operators nor the task modules nor torch."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from codeintel.augment import OPERATORS\n"
            "from codeintel.tasks.cards import all_cards\n"
            "from codeintel.tasks.types import TASK_TYPES\n"
            "assert 'rename_variables' in OPERATORS and 'summarization' in TASK_TYPES and all_cards()\n"
            "lazy = ['codeintel.augment.code_ops', 'codeintel.augment.nl_ops', 'codeintel.tasks.summarization',\n"
            "        'torch']\n"
            "print([m for m in lazy if m in sys.modules])\n"
            "OPERATORS['swap_tokens']\n"
            "print('codeintel.augment.nl_ops' in sys.modules, 'codeintel.augment.code_ops' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True False"


def test_unknown_registry_names_suggest_the_closest():
    import pytest

    from codeintel.augment import get
    from codeintel.errors import UnknownNameError
    from codeintel.tasks.types import TASK_TYPES

    with pytest.raises(UnknownNameError, match="Did you mean 'rename_variables'"):
        get("rename_variable")
    with pytest.raises(UnknownNameError, match="Did you mean 'clone-detection'"):
        TASK_TYPES["clone-detect"]
    assert TASK_TYPES.get("nope") is None


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every string constant in code (docstrings left out, and the family keys of a task type's
    ``variants = {family: variant}`` table: which variant each family runs is the task type's to say)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and \
                any(isinstance(t, ast.Name) and t.id == "variants" for t in node.targets):
            docstrings |= {id(k) for k in node.value.keys}
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _named_outside(names: set[str], home: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        for line, value in _string_constants(path):
            if value in names and rel not in home.get(value, set()) and value not in allowed.get(rel, set()):
                found.append(f"codeintel/{rel}:{line}: {value!r}")
    return found


def test_task_type_names_live_in_their_module_and_registry_line():
    """A task type is one module, one registry line and a card: no other code names one (it asks the class:
    codeintel.tasks.protocol). Card names that are also type names are allowed where a card is meant."""
    from codeintel.registry import LazyTable
    from codeintel.tasks.types import TASK_TYPES

    assert isinstance(TASK_TYPES, LazyTable)
    home = {name: {"tasks/types.py", target.split(":")[0].removeprefix("codeintel.").replace(".", "/") + ".py"}
            for name, target in ((n, TASK_TYPES.target(n)) for n in TASK_TYPES)}
    cards = {"config.py": {"summarization"},                          # the default card
             "tasks/cards.py": {"summarization"},                     # the default card of a plain backbone
             "recipes/hygiene.py": {"summarization"},                 # the embedded stdlib set's card
             "backbones/family.py": {"causal-lm"},                    # the backbone variant of that name
             "tasks/execution.py": {"causal-lm"}}                     # ... as the variant a type runs on
    found = _named_outside(set(home), home, cards)
    assert not found, "task types named outside their home module:\n" + "\n".join(found)


def test_the_guards_catch_a_stray_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""clone-detection in a docstring is fine."""\nif card.type == "clone-detection":\n    pass\n')
    assert _string_constants(bad) == [(2, "clone-detection")]


def test_backbone_family_names_live_in_the_backbone_layer():
    """Families are objects (codeintel.backbones.family): outside backbones/ no code compares or maps family
    names; it asks the family object."""
    from codeintel.backbones.family import FAMILIES

    names = set(FAMILIES)
    home = {name: {f"backbones/{m}.py" for m in ("family", "table", "loading", "roberta", "t5", "gpt2",
                                                  "graphcodebert")} for name in names}
    found = _named_outside(names, home, {})
    assert not found, "backbone families named outside backbones/:\n" + "\n".join(found)
