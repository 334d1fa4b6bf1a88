"""``README.md`` model cards for trained checkpoints, in the Hugging Face format: YAML metadata (base model,
task, datasets, the test metrics as a ``model-index``, library ``codeintel``, licence) and a body with the
command, the resolved config, test scores beside the baselines and a loading snippet. ``push_to_hub``-ready;
nothing here touches the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeintel.eval.metrics import SCALES
from codeintel.io import write_text


def _base_model(model: str) -> tuple[str | None, str]:
    """(hub id of the pretrained weights, or None, and how to say where the weights came from)."""
    from codeintel.backbones.table import BACKBONES

    spec = BACKBONES.get(model)
    if spec is not None:
        if spec.hf_id is None:
            return None, f"the random-initialised preset `{model}` (no pretrained weights)"
        return spec.hf_id, f"`{spec.hf_id}` (registry name `{model}`)"
    if "/" in model and not Path(model).exists():
        return model, f"`{model}`"
    return None, f"the local checkpoint `{model}`"


def model_card(result: dict[str, Any], config: dict[str, Any], card, command: str | None) -> str:
    """The card's text for a ``codeintel train`` result (what ``metrics.json`` holds)."""
    base, origin = _base_model(result["model"])
    data = config.get("data", {}).get("paths") or [card.data or "?"]
    dataset_names = [Path(p).name if Path(p).exists() else str(p) for p in data]
    test = {k: v for k, v in result["test"].items() if k in card.metrics}   # not settings such as the threshold
    metrics = [{"type": k, "name": f"{k} ({SCALES[k]})", "value": round(float(v), 4)}
               for k, v in test.items()]
    from codeintel.tasks.types import task_type

    kind = task_type(card.type)
    meta: dict[str, Any] = {"library_name": "codeintel", "tags": ["code", "codeintel", card.type],
                            "pipeline_tag": kind.pipeline_tag, "license": "other",
                            "datasets": dataset_names}
    if base:
        meta["base_model"] = base
    meta["model-index"] = [{"name": Path(result["checkpoint"]).parent.name, "results": [{
        "task": {"type": kind.pipeline_tag or card.type, "name": card.name},
        "dataset": {"name": ", ".join(dataset_names), "type": card.name, "split": "test"},
        "metrics": metrics}]}]
    rows = ["| | " + " | ".join(test) + " |", "|---|" + "---:|" * len(test),
            "| **this model** | " + " | ".join(f"{v:.4f}" for v in test.values()) + " |"]
    for name, scores in result["baselines"].items():
        rows.append(f"| baseline: {name} | " + " | ".join(
            f"{scores[k]:.4f}" if isinstance(scores.get(k), int | float) else "" for k in test) + " |")
    t = result["train"]
    body = [
        f"# {card.name} — fine-tuned from {result['model']}", "",
        f"A `{card.type}` model trained with [codeintel](https://pypi.org/project/codeintel-hub/) from {origin} "
        f"on {', '.join(f'`{d}`' for d in dataset_names)}: {t['steps']} steps ({t['examples']} training examples), "
        f"the checkpoint with the best dev `{card.select_by}` (step {result['dev_best']['step']}).", "",
        "## Test scores", "", *rows, "",
        "Scales: " + ", ".join(f"{k} {SCALES[k]}" for k in test) + ". Smoothed BLEU is CodeXGLUE's Code-Text "
        "evaluator; BLEU, xmatch and CodeBLEU its code-to-code evaluators'; P/R/F1 the BigCloneBench evaluator's; "
        "MAP@R POJ-104's; accuracy Devign's.", "",
        "## How it was made", "", "```bash", command or "(from Python: codeintel.recipes.train.train)", "```", "",
        "Resolved configuration:", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", "",
        "## Loading", "", "```python", *kind.usage, "```", ""]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n" + "\n".join(body)


def evaluation_entry(result: dict[str, Any], card) -> str:
    """A ``model-index`` entry (Hugging Face model-card metadata) for one ``codeintel evaluate`` result, to paste
    under a card's ``model-index: - results:``."""
    from codeintel.tasks.types import task_type

    kind = task_type(card.type)
    metrics = [{"type": k, "name": f"{k} ({SCALES[k]})", "value": round(float(v), 4)}
               for k, v in result["scores"].items() if k in card.metrics]
    entry = {"task": {"type": kind.pipeline_tag or card.type, "name": card.name},
             "dataset": {"name": card.name, "type": card.name, "split": result["split"]}, "metrics": metrics}
    return yaml.safe_dump([entry], sort_keys=False)


def pretraining_card(result: dict[str, Any], config: dict[str, Any]) -> str:
    """The card of a ``codeintel pretrain`` checkpoint: a backbone for any task, its objective and final losses."""
    base, origin = _base_model(config["model"])
    meta: dict[str, Any] = {"library_name": "codeintel", "tags": ["code", "codeintel", "pretraining",
                                                                  config["objective"]],
                            "pipeline_tag": "fill-mask", "license": "other",
                            "datasets": [Path(p).name for p in config.get("data") or []] or ["stdlib (embedded)"]}
    if base:
        meta["base_model"] = base
    final = ", ".join(f"{k} {v:.4f}" for k, v in result["final"].items())
    body = [f"# {config['objective']} continued pre-training of {config['model']}", "",
            f"Continued from {origin}: {result['steps']} steps on {result['examples']} examples "
            f"({result['seconds']:.0f} s); final losses (mean of the last 20 steps): {final}. A backbone: fine-tune "
            "it with `codeintel train --model PATH` on any task, or probe it with `codeintel probe --model PATH`.",
            "", "## Configuration", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", "",
            "## Loading", "", "```python", "from transformers import AutoModelForMaskedLM, AutoTokenizer",
            "model, tok = AutoModelForMaskedLM.from_pretrained(PATH), AutoTokenizer.from_pretrained(PATH)",
            "```", ""]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n" + "\n".join(body)


def write_card(checkpoint: Path, text: str) -> Path:
    """``README.md`` into the checkpoint directory, atomically."""
    path = Path(checkpoint) / "README.md"
    write_text(path, text)
    return path
