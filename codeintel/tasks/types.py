"""The task-type registry: a card's ``type`` names the implementation it runs on, imported on first use.

A task type is a :class:`~codeintel.tasks.protocol.TaskType` subclass (the protocol is documented there).
Adding a type is its module, a line here and a card.
"""

from __future__ import annotations

from codeintel.config import RunConfig
from codeintel.errors import ConfigError
from codeintel.registry import LazyTable

TASK_TYPES = LazyTable("task type", {
    "summarization": "codeintel.tasks.summarization:SummarizationTask",
    "clone-detection": "codeintel.tasks.clone:CloneDetectionTask",
    "clone-retrieval": "codeintel.tasks.clone:CloneRetrievalTask",
    "language-modeling": "codeintel.tasks.lm:LanguageModelingTask",
    "code-search": "codeintel.tasks.search:CodeSearchTask",
    "causal-lm": "codeintel.tasks.lm:CausalLMTask",
    "code-to-code": "codeintel.tasks.generation:CodeToCodeTask",
    "text-to-code": "codeintel.tasks.generation:TextToCodeTask",
    "defect-detection": "codeintel.tasks.defect:DefectDetectionTask",
    "execution": "codeintel.tasks.execution:ExecutionTask",
})
DEFAULT_TYPE = "summarization"      # what a backbone is built for when nothing names a task
ENCODER_TYPE = "clone-retrieval"    # the type whose model is the bare encoder (probe, pretraining, NER heads)
CAUSAL_LM_TYPE = "causal-lm"        # the left-to-right LM of the continual recipe


def task_type(name: str):
    """The task-type class registered as ``name`` (its module imported on first use; no torch)."""
    return TASK_TYPES[name]


def make_task(card, tokenizer, source_len: int, target_len: int):
    """The task implementation a card's ``type`` names."""
    return TASK_TYPES[card.type](card, tokenizer, source_len, target_len)


def lengths_for(cfg: RunConfig, card, loaded) -> tuple[int, int]:
    """Source/target lengths: the config's, else the card's, else the backbone's defaults."""
    from codeintel.backbones.table import BACKBONES

    spec = BACKBONES.get(loaded.spec_name or "")
    src = cfg.source_len or card.source_len or (spec.source_len if spec else 256)
    tgt = cfg.target_len or card.target_len or (spec.target_len if spec else 128)
    limit = max_positions(loaded)
    needed = src + (cfg.dfg_length if cfg.graph else 0)
    if limit is not None and max(needed, tgt) > limit:
        what = f"source_len + dfg_length = {needed}" if cfg.graph else f"source_len {src}"
        raise ConfigError(f"{what} (or target_len {tgt}) exceeds the {limit} positions of {loaded.origin}; "
                          f"set source_len/target_len to at most {limit}.")
    return src, tgt


def max_positions(loaded) -> int | None:
    """Tokens an input may have (absolute positions, less what the family reserves); None for relative
    positions (T5)."""
    from codeintel.backbones.family import family
    from codeintel.tasks.heads import backbone_of

    return family(loaded.family).max_tokens(backbone_of(loaded.model).config)


def refuse_beyond_positions(loaded, length: int, name: str, key: str = "source_len") -> None:
    """One ConfigError when ``length`` tokens exceed the positions of ``loaded`` (``name``: the model as the user
    gave it)."""
    limit = max_positions(loaded)
    if limit is not None and length > limit:
        raise ConfigError(f"{key}={length} is beyond {name}'s {limit} positions; pass {key}={limit} or less.")


def build_task(cfg: RunConfig, card, loaded):
    """The task for ``card`` as ``cfg`` sets it up (lengths, the type's own settings, graph input)."""
    task = make_task(card, loaded.tokenizer, *lengths_for(cfg, card, loaded))
    task.configure(cfg)
    if cfg.graph:
        from codeintel.tasks.encoding import GraphSettings

        graph_types = [name for name in TASK_TYPES if task_type(name).takes_graph]
        from codeintel.backbones.family import family

        if not task.takes_graph or not family(loaded.family).graph_input:
            raise ConfigError(f"graph=true needs a task of type {', '.join(graph_types)} and a RoBERTa-family "
                              "backbone (one that takes GraphCodeBERT's data-flow input, e.g. tiny-graphcodebert); "
                              f"got {card.type!r} on {loaded.origin} ({loaded.family}).")
        lang = cfg.lang or card.lang
        if not lang:
            raise ConfigError(f"graph=true: set lang=... (the language of the programs); card {card.name} names none.")
        task.graph = GraphSettings(lang, cfg.dfg_length)
    return task
