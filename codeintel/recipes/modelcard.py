"""``README.md`` model cards for trained checkpoints, built with ``huggingface_hub``'s ``ModelCard`` /
``ModelCardData`` / ``EvalResult``: metadata (library, pipeline tag, base model, the test metrics as a
``model-index``) and a body with the command, the resolved config, test scores beside the baselines and a
loading section.

The loading section is chosen from what the checkpoint directory holds (:func:`checkpoint_kind`), and each
snippet is runnable as printed (``PATH`` set, the input in ``source``; a test runs every kind's snippet and
compares its output with the run's predictions):

- ``seq2seq``: a full sequence-to-sequence model — ``transformers`` ``AutoModelForSeq2SeqLM`` + ``generate``,
  or ``pipeline(...)`` given the checkpoint's ``GenerationConfig`` (a summarization or text2text pipeline's own
  defaults, 4 beams and 256 new tokens, take precedence over ``generation_config.json`` otherwise; the saved
  config carries no ``task_specific_params``, which would too).
- ``causal``: ``AutoModelForCausalLM``.
- ``lm``: a language model scored by perplexity (its ``Auto`` class by the saved architecture).
- ``sentence-transformers``: a retrieval or code-search encoder without graph input; the checkpoint also gets
  a ``sentence-transformers`` configuration (mean over real tokens, then L2-normalised: the hub's vectors), so
  ``SentenceTransformer(PATH)`` loads it.
- ``peft``: a PEFT adapter over a whole sequence-to-sequence or causal backbone with nothing else trained —
  ``PeftModel`` (``task_type`` set) over the base model: its hub id, or ``PATH/base`` for a random-initialised
  preset (written there as a ``save_pretrained`` directory).
- ``codeintel``: everything else (a clone or defect head no Hugging Face class has, AdapterHub adapters,
  graph-guided input, adapter runs with trained parts outside the adapter): ``codeintel.load_for_inference``.

Nothing here touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from codeintel.eval.metrics import SCALES
from codeintel.io import write_text

PEFT_TASK_WEIGHTS = "adapters/task/adapter_model.safetensors"


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


def _meta(ckpt: Path) -> dict[str, Any]:
    try:
        return json.loads((ckpt / "codeintel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def checkpoint_kind(ckpt: Path, meta: dict[str, Any] | None = None) -> str:
    """How a checkpoint directory loads without codeintel (see the module docstring): ``seq2seq``,
    ``causal``, ``lm``, ``sentence-transformers``, ``peft`` or ``codeintel``."""
    from codeintel.tasks.types import task_type

    meta = _meta(ckpt) if meta is None else meta
    task = meta.get("task")
    if not task:
        return "codeintel"
    kind = task_type(task)
    run = meta.get("adapter_run")
    if run:
        return "peft" if _peft_native(ckpt, meta, kind) else "codeintel"
    if meta.get("has_head") or meta.get("graph"):
        return "codeintel"
    config = _read_json(ckpt / "config.json")
    arch = " ".join(config.get("architectures") or [])
    fam = _family(meta)
    if kind.head == "embedding":
        return "sentence-transformers" if fam is not None and fam.mean_pooled else "codeintel"
    if kind.head == "backbone" and not kind.generates:   # a language model scored by perplexity
        return "lm" if any(a in arch for a in ("ForCausalLM", "LMHead", "ForConditionalGeneration")) else "codeintel"
    if kind.head == "backbone" and kind.generates:
        if "ForCausalLM" in arch or "LMHead" in arch:
            return "causal"
        if "ForConditionalGeneration" in arch or "EncoderDecoder" in arch:
            return "seq2seq"
    return "codeintel"


def _family(meta: dict[str, Any]):
    """The checkpoint's backbone family object (None for an unknown name)."""
    from codeintel.backbones.family import FAMILIES

    name = meta.get("family")
    return FAMILIES[name] if isinstance(name, str) and FAMILIES.get(name) is not None else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _peft_native(ckpt: Path, meta: dict[str, Any], kind) -> bool:
    """A PEFT task adapter over the whole backbone, nothing else trained, a generating backbone-head task."""
    run = meta["adapter_run"]
    fam = _family(meta)
    if run.get("adapters") != ["task"] or run.get("active") != ["task"] or fam is None or not fam.peft_task_type:
        return False
    if not (kind.head == "backbone" and kind.generates and (ckpt / PEFT_TASK_WEIGHTS).is_file()):
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(ckpt / "trained.safetensors"), "pt") as fh:
            return not list(fh.keys())
    except Exception:  # noqa: BLE001 - a missing or damaged file: not loadable without codeintel either
        return False


def loading_lines(ckpt: Path, meta: dict[str, Any], card, base: str | None) -> tuple[str, list[str]]:
    """(the kind, the runnable loading snippet) of the checkpoint ``ckpt`` (``PATH`` in the snippet)."""
    from codeintel.tasks.types import task_type

    kind, task = checkpoint_kind(ckpt, meta), task_type(card.type)
    pipe = task.pipeline_tag
    # code generators decode as written (no clean-up, stripped) and read their input as it is; the others read
    # whitespace-normalised code
    gen = bool(getattr(task, "decode_options", None))
    norm = [] if gen else ["source = ' '.join(source.split())               # codeintel's whitespace normalisation"]
    decode = ("prediction = tok.decode(out[0], skip_special_tokens=True" +
              (", clean_up_tokenization_spaces=False).strip()" if gen else ")"))
    if kind == "seq2seq":
        return kind, [
            "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig, pipeline",
            "tok = AutoTokenizer.from_pretrained(PATH)            # truncates at the run's source length",
            "model = AutoModelForSeq2SeqLM.from_pretrained(PATH)  # generation_config.json: the run's decoding", *norm,
            "out = model.generate(**tok(source, return_tensors='pt', truncation=True))", decode,
            "# or, the same output through a pipeline; pass the run's decoding (a pipeline's own defaults, 4",
            "# beams and 256 new tokens, take precedence over generation_config.json):",
            f"generator = pipeline({pipe!r}, model=PATH)",
            f"same = generator(source, truncation=True, generation_config=GenerationConfig.from_pretrained(PATH))"
            f"[0][{task.pipeline_output!r}]"]
    if kind == "causal":
        return kind, [
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "tok = AutoTokenizer.from_pretrained(PATH)",
            "model = AutoModelForCausalLM.from_pretrained(PATH)  # generation_config.json: the run's decoding",
            "out = model.generate(**tok(source, return_tensors='pt'))",
            "prediction = tok.decode(out[0], skip_special_tokens=True)"]
    if kind == "lm":
        arch = " ".join(_read_json(ckpt / "config.json").get("architectures") or [])
        cls = "AutoModelForSeq2SeqLM" if "ForConditionalGeneration" in arch else "AutoModelForCausalLM"
        return kind, [
            f"from transformers import {cls}, AutoTokenizer",
            "tok = AutoTokenizer.from_pretrained(PATH)",
            f"model = {cls}.from_pretrained(PATH)   # the run's perplexities: codeintel evaluate --model PATH"]
    if kind == "sentence-transformers":
        query = ("# queries (natural language) and code go through the same encoder:\n"
                 "query_vectors = model.encode(['read a file'])\n") if task.index_query == "nl" else ""
        return kind, [
            "from sentence_transformers import SentenceTransformer",
            "model = SentenceTransformer(PATH)   # mean over real tokens, L2-normalised: codeintel's vectors",
            "vectors = model.encode([' '.join(source.split())])   # codeintel's whitespace normalisation first",
            *query.splitlines()]
    if kind == "peft":
        cls = _family(meta).generator_auto_class
        where = repr(base) if base else "PATH + '/base'"
        note = "the base model" if base else "the random-initialised base, saved with the run"
        return kind, [
            f"from transformers import {cls}, AutoTokenizer, GenerationConfig",
            "from peft import PeftModel",
            f"base = {cls}.from_pretrained({where})   # {note}",
            "base.generation_config = GenerationConfig.from_pretrained(PATH)   # the run's decoding",
            "model = PeftModel.from_pretrained(base, PATH + '/adapters/task').eval()",
            "tok = AutoTokenizer.from_pretrained(PATH)            # truncates at the run's source length",
            *norm, "out = model.generate(**tok(source, return_tensors='pt', truncation=True))", decode]
    item = {"pair": "{'code1': source, 'code2': other}", "nl": "{'nl': source}"}.get(
        task.infer_input, "{'code': source}")
    return kind, [
        "import codeintel",
        "model = codeintel.load_for_inference(PATH)   # backbone, adapters and head as trained; the run's lengths",
        f"prediction = model.infer([{item}])[0]   # what `codeintel predict` prints for it"]


def card_metadata(card, result_model: str, checkpoint: Path, metrics: list[dict[str, Any]], split: str,
                  kind: str, meta: dict[str, Any], extra_tags: list[str]):
    """``huggingface_hub.ModelCardData`` of a checkpoint."""
    from huggingface_hub import EvalResult, ModelCardData

    from codeintel.tasks.types import task_type

    base, _ = _base_model(result_model)
    library = {"sentence-transformers": "sentence-transformers", "peft": "peft"}.get(kind, "transformers")
    if kind == "codeintel" and meta.get("adapter_run"):
        library = "peft" if (checkpoint / PEFT_TASK_WEIGHTS).is_file() else "adapter-transformers"
    pipeline_tag = task_type(card.type).pipeline_tag if kind != "codeintel" else None
    task_label = pipeline_tag or card.type
    evals = [EvalResult(task_type=task_label, task_name=card.name, dataset_type=card.name, dataset_name=card.name,
                        dataset_split=split, metric_type=m["type"], metric_name=m["name"], metric_value=m["value"])
             for m in metrics]
    return ModelCardData(library_name=library, pipeline_tag=pipeline_tag, base_model=base,
                         tags=["code", "codeintel", card.type, *extra_tags], model_name=checkpoint.parent.name,
                         eval_results=evals or None)


def model_card(result: dict[str, Any], config: dict[str, Any], card, command: str | None) -> str:
    """The card's text for a ``codeintel train`` result (what ``metrics.json`` holds); the loading section fits
    the files of ``result["checkpoint"]``."""
    from huggingface_hub import ModelCard

    ckpt = Path(result["checkpoint"])
    meta = _meta(ckpt)
    base, origin = _base_model(result["model"])
    data = config.get("data", {}).get("paths") or [card.data or "?"]
    dataset_names = [Path(p).name if Path(p).exists() else str(p) for p in data]
    test = {k: v for k, v in result["test"].items() if k in card.metrics}   # not settings such as the threshold
    metrics = [{"type": k, "name": f"{k} ({SCALES[k]})", "value": round(float(v), 4)} for k, v in test.items()]
    kind, lines = loading_lines(ckpt, meta, card, base)
    data_meta = card_metadata(card, result["model"], ckpt, metrics, "test", kind, meta,
                              ["adapter"] if meta.get("adapter_run") else [])
    rows = ["| | " + " | ".join(test) + " |", "|---|" + "---:|" * len(test),
            "| **this model** | " + " | ".join(f"{v:.4f}" for v in test.values()) + " |"]
    for name, scores in result["baselines"].items():
        rows.append(f"| baseline: {name} | " + " | ".join(
            f"{scores[k]:.4f}" if isinstance(scores.get(k), int | float) else "" for k in test) + " |")
    t = result["train"]
    body = [
        f"# {card.name} — fine-tuned from {result['model']}", "",
        f"A `{card.type}` model trained with codeintel from {origin} on "
        f"{', '.join(f'`{d}`' for d in dataset_names)}: {t['steps']} steps ({t['examples']} training examples), "
        f"the checkpoint with the best dev `{card.select_by}` (step {result['dev_best']['step']}).", "",
        "Licence: not set. A fine-tuned model inherits the terms of its base model and its training data; add "
        "`license:` to the metadata above before publishing.", "",
        "## Test scores", "", *rows, "",
        "Scales: " + ", ".join(f"{k} {SCALES[k]}" for k in test) + ". Smoothed BLEU is CodeXGLUE's Code-Text "
        "evaluator; BLEU, xmatch and CodeBLEU its code-to-code evaluators'; P/R/F1 the BigCloneBench evaluator's; "
        "MAP@R POJ-104's; accuracy Devign's.", "",
        "## How it was made", "", "```bash", command or "(from Python: codeintel.train)", "```", "",
        "Resolved configuration:", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", "",
        "## Loading", "", f"Kind: `{kind}`. `source` is the input ({_input_word(card)}).", "",
        "```python", f"PATH = {str(ckpt)!r}   # or the Hub id after push_to_hub", *lines, "```", ""]
    return str(ModelCard.from_template(data_meta, template_str="---\n{{ card_data }}\n---\n\n{{ body }}",
                                       body="\n".join(body)))


def _input_word(card) -> str:
    from codeintel.tasks.types import task_type

    return {"code": "a function's source code", "nl": "a natural-language description",
            "pair": "a program's source; `other` the program it is compared with"}.get(
        task_type(card.type).infer_input, "the task's input")


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
    from huggingface_hub import ModelCard, ModelCardData

    base, origin = _base_model(config["model"])
    data = ModelCardData(library_name="transformers", pipeline_tag="fill-mask", base_model=base,
                         tags=["code", "codeintel", "pretraining", config["objective"]])
    final = ", ".join(f"{k} {v:.4f}" for k, v in result["final"].items())
    sources = ", ".join(f"`{Path(p).name}`" for p in config.get("data") or []) or "the embedded stdlib functions"
    body = [f"# {config['objective']} continued pre-training of {config['model']}", "",
            f"Continued from {origin} on {sources}: {result['steps']} steps on {result['examples']} examples "
            f"({result['seconds']:.0f} s); final losses (mean of the last 20 steps): {final}. A backbone: fine-tune "
            "it with `codeintel train --model PATH` on any task, or probe it with `codeintel probe --model PATH`.",
            "", "Licence: not set; it follows the base model's and the data's terms.", "",
            "## Configuration", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", "",
            "## Loading", "", "```python", "from transformers import AutoModelForMaskedLM, AutoTokenizer",
            "model, tok = AutoModelForMaskedLM.from_pretrained(PATH), AutoTokenizer.from_pretrained(PATH)",
            "```", ""]
    return str(ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}",
                                       body="\n".join(body)))


def write_sentence_transformers_config(ckpt: Path, source_len: int) -> None:
    """The ``sentence-transformers`` files of a retrieval checkpoint: the transformer (the directory itself),
    mean pooling over real tokens, L2 normalisation — the vectors codeintel ranks by."""
    config = _read_json(ckpt / "config.json")
    width = config.get("d_model") or config.get("hidden_size")
    if not width:
        return
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    write_text(ckpt / "modules.json", json.dumps(modules, indent=2) + "\n")
    write_text(ckpt / "sentence_bert_config.json",
               json.dumps({"max_seq_length": int(source_len), "do_lower_case": False}, indent=2) + "\n")
    write_text(ckpt / "config_sentence_transformers.json",
               json.dumps({"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2)
               + "\n")
    (ckpt / "1_Pooling").mkdir(exist_ok=True)
    write_text(ckpt / "1_Pooling" / "config.json", json.dumps({
        "word_embedding_dimension": int(width), "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True},
        indent=2) + "\n")
    (ckpt / "2_Normalize").mkdir(exist_ok=True)


def write_card(checkpoint: Path, text: str, source_len: int | None = None) -> Path:
    """``README.md`` into the checkpoint directory, atomically; with ``source_len``, a checkpoint of the
    ``sentence-transformers`` kind also gets its configuration."""
    checkpoint = Path(checkpoint)
    if source_len and checkpoint_kind(checkpoint) == "sentence-transformers":
        write_sentence_transformers_config(checkpoint, source_len)
    path = checkpoint / "README.md"
    write_text(path, text)
    return path
