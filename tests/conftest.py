import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("CODEINTEL_CACHE", str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "codeintel"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (a user's fresh clone)")
    return SHARED_DATA


@pytest.fixture
def toy_stream():
    """Builds a small continual-learning stream in a folder (``toy_stream(tmp_path)`` -> its YAML): Python
    functions calling json (domain serial), re (regex) or math (in-distribution)."""
    def build(folder: Path) -> Path:
        import json

        import yaml

        from codeintel.cli import main

        calls = {"json": ["s = json.dumps(a)", "d = json.loads(b)"], "re": ["r = re.compile(a)", "m = re.sub(a, b, s)"],
                 "math": ["v = math.sqrt(a)", "w = math.floor(b)"]}
        units = [f"import {mod}\n\ndef {mod}_{i}(a, b):\n    s = str(a)\n    {lines[i % 2]}\n    {lines[1 - i % 2]}\n"
                 f"    return b\n" for mod, lines in calls.items() for i in range(36)]
        data = folder / "code.jsonl"
        data.write_text("".join(json.dumps({"id": f"u{i}", "code": u}) + "\n" for i, u in enumerate(units)))
        (folder / "def.yaml").write_text(yaml.safe_dump({
            "name": "toy", "lang": "python", "by": "module", "seed": 0, "test_fraction": 0.2,
            "domains": [{"name": "serial", "apis": ["json"]}, {"name": "regex", "apis": ["re"]}]}))
        stream = folder / "toy.yaml"
        assert main(["continual", "build-stream", "--domains", str(folder / "def.yaml"), "--data", str(data),
                     "--out", str(stream), "--no-progress"]) == 0
        return stream
    return build
