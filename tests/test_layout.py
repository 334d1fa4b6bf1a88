"""The layout guard: data folders are not packages, and the wheel ships them as package data only."""

import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_FOLDERS = ("tasks", "tokenizers", "eval")


def test_data_folders_are_not_packages():
    for d in (*DATA_FOLDERS, "adapters"):
        assert not (ROOT / d / "__init__.py").exists(), d
    assert not (ROOT / "tests" / "__init__.py").exists()
    assert not (ROOT / "conftest.py").exists()
    assert not list((ROOT / "tokenizers").rglob("*.py"))
    assert not [p for p in ROOT.rglob("*") if p.suffix in (".so", ".dylib", ".dll") and ".venv" not in p.parts]


def test_real_tokenizers_package_is_not_shadowed():
    import tokenizers

    assert "site-packages" in tokenizers.__file__


def test_wheel_ships_only_codeintel_with_hub_data(tmp_path):
    builder = pytest.importorskip("hatchling.builders.wheel")
    wheel = Path(builder.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]).__next__())
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"codeintel"}
    for needed in ("codeintel/_hub/tasks/summarization/stdlib.yaml",
                   "codeintel/_hub/tokenizers/code-bpe-8k/tokenizer.json",
                   "codeintel/_hub/eval/smoothed_bleu/smoothed_bleu.py", "codeintel/cli/__init__.py"):
        assert needed in names, needed


def test_hub_root_finds_data_from_a_checkout_and_from_packaged_layout(tmp_path, monkeypatch):
    from codeintel import hub

    assert (hub.hub_root() / "tasks" / "summarization" / "stdlib.yaml").exists()
    monkeypatch.setenv("CODEINTEL_HUB_ROOT", str(tmp_path))
    assert hub.hub_path("tasks") == tmp_path / "tasks"
