"""The task-type registry: a card's ``type`` names the implementation it runs on, imported on first use.

A task type is a class built as ``cls(card, tokenizer, source_len, target_len)`` with ``load`` (rows of each
split), ``prepare`` (tokenized :class:`~codeintel.tasks.common.Prepared`), ``collate``, ``loss``,
``predict``, ``score``, ``baselines`` and ``write_predictions``. Adding a type is a line here plus its module.
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
})
TYPE_METRICS: dict[str, tuple[str, ...]] = {  # what a card of each type may report; the first selects by default
    "summarization": ("smoothed_bleu", "rouge_l", "exact_match"),
    "clone-detection": ("f1", "precision", "recall"),
    "clone-retrieval": ("map_at_r",),
    "language-modeling": ("normalized_ppl", "token_ppl"),
    "code-search": ("mrr",),
}
LOWER_IS_BETTER = frozenset({"normalized_ppl", "token_ppl"})
GRAPH_TYPES = ("clone-detection", "clone-retrieval", "code-search")


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
    """Tokens an input may have with absolute position embeddings (RoBERTa: 2 positions are reserved);
    None for relative positions (T5)."""
    from codeintel.tasks.heads import backbone_of

    config = backbone_of(loaded.model).config
    if config.model_type == "encoder-decoder":  # RoBERTa + fresh decoder: the encoder's (the decoder's is the same)
        config = config.encoder
    mpe = getattr(config, "max_position_embeddings", None)
    return None if mpe is None or config.model_type == "t5" else mpe - 2


def build_task(cfg: RunConfig, card, loaded):
    """The task for ``card`` as ``cfg`` sets it up (lengths, threshold, perplexity variant, graph input)."""
    task = make_task(card, loaded.tokenizer, *lengths_for(cfg, card, loaded))
    if card.type == "clone-detection":
        task.threshold = cfg.eval.threshold
    if card.type == "language-modeling":
        task.compat = cfg.eval.ppl_compat
    if card.type == "summarization":
        task.target_logits_only = cfg.train.fast_kernels
    if cfg.graph:
        from codeintel.tasks.encoding import GraphSettings

        if card.type not in GRAPH_TYPES or loaded.family != "roberta":
            raise ConfigError("graph=true needs a clone or code-search task and a RoBERTa-family backbone "
                              "(e.g. tiny-graphcodebert); "
                              f"got {card.type!r} with the {loaded.family!r} family.")
        lang = cfg.lang or card.lang
        if not lang:
            raise ConfigError(f"graph=true: set lang=... (the language of the programs); card {card.name} names none.")
        task.graph = GraphSettings(lang, cfg.dfg_length)
    return task
