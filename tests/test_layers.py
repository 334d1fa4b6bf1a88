"""The dependency rule, written down as code: each layer imports only itself and the layers below it, and no
module imports itself back through a circle (function-level imports included)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "codeintel"

# Top to bottom. The domain libraries are ordered among themselves too (tokenization trains on the stdlib
# corpus, the embedded clone set is built with augmentation operators, every one of them parses).
LAYERS = [
    {"cli", "__main__"},
    {"recipes"},
    {"continual"},
    {"tasks"},
    {"peft_adapters"},
    {"backbones"},
    {"tokenization"},
    {"data"},
    {"augment"},
    {"structure"},
    {"eval"},
    {"config", "errors", "hub", "io", "registry", "progress", "__init__"},
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
