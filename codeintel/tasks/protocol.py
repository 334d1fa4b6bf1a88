"""The task protocol: one class per task type holds everything the hub knows about the type.

Class attributes describe the type and are read without building it (``codeintel tasks``, ``codeintel models``,
card validation, model cards; importing a task module imports no torch). An instance, built per run as
``cls(card, tokenizer, source_len, target_len)`` and then :meth:`TaskType.configure`-d from the run's config,
does the work: ``load`` (rows of each split from the official file layouts), ``prepare`` (tokenized
:class:`~codeintel.tasks.common.Prepared`), ``collate``, ``loss``, ``predict``, ``score``, ``baselines`` and
``write_predictions`` (the official evaluator's format).

Outside its module and its line in :data:`codeintel.tasks.types.TASK_TYPES`, no code names a task type: the
recipes, the harness, hygiene, robustness and model cards ask the class. Adding a type::

    # codeintel/tasks/translation.py
    class TranslationTask(TaskType):
        name = "code-translation"
        metrics = ("bleu", "exact_match", "codebleu")
        variants = {"t5": "encoder-decoder", "roberta": "encoder-decoder"}
        head, generates, pipeline_tag = "backbone", True, "text2text-generation"
        data_format = "jsonl: source code + target code"
        def load(self, paths, skip_bad, report): ...
        ...                                   # prepare, collate, loss, predict, score, baselines, write_predictions

    # codeintel/tasks/types.py, one line:    "code-translation": "codeintel.tasks.translation:TranslationTask",
    # tasks/translation/java-cs.yaml:        name, type: code-translation, data, metrics, defaults
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np


class TaskType:
    """The base of every task type: the descriptive attributes with their defaults, and the hooks that most
    types share. Subclasses set ``name``, ``metrics``, ``variants`` and ``data_format`` at least."""

    name: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ()           # what a card may report; the first selects by default
    # (each metric's scale and direction are the metric's own: codeintel.eval.metrics SCALES, LOWER_IS_BETTER)
    variants: ClassVar[dict[str, str]] = {}           # backbone family -> the variant the type's head runs on
    head: ClassVar[str] = "backbone"                  # "backbone" (seq2seq, LM), "pair" (classifier), "embedding"
    data_format: ClassVar[str] = ""                   # what `codeintel tasks` says the files hold
    pipeline_tag: ClassVar[str | None] = None         # the Hugging Face pipeline of its checkpoints
    takes_graph: ClassVar[bool] = False               # takes GraphCodeBERT's data-flow input (graph=true)
    sharded: ClassVar[bool] = True                    # evaluation rows split over processes (one prediction per row)
    generates: ClassVar[bool] = False                 # predicts text: checkpoints carry the target length
    embeds: ClassVar[bool] = False                    # predictions are vectors (robustness adds cosine checks)
    robustness: ClassVar[bool] = False                # `evaluate --robustness` can perturb its code
    cards: ClassVar[bool] = True                      # task cards may name it (`train` runs it)
    trainable: ClassVar[bool] = True                  # `train` runs it (execution tasks are evaluated only)
    default_card: ClassVar[str] = ""                  # the card commands use for data of this format ("" = its name)

    def __init__(self, card, tokenizer, source_len: int, target_len: int = 0) -> None:
        self.card, self.tok = card, tokenizer
        self.source_len, self.target_len = source_len, target_len

    # ---- set-up
    def configure(self, cfg) -> None:
        """Take the run config's settings for this type (a threshold, a perplexity variant); none by default."""

    @classmethod
    def supports(cls, family: str) -> bool:
        return family in cls.variants

    # ---- what other parts of the hub ask
    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        """Whether data files (and the first row of the first jsonl) are in this type's format, for commands that
        tell the format from the files (``codeintel data check``). A type whose format another type's equals
        (code search reads summarization's rows) says no."""
        return False

    def documents(self, splits: dict[str, list], lang: str | None = None) -> list[dict]:
        """Every split's code as documents ``{split, id, code, target, lang, origin}`` in split order (train,
        valid, test; file order within a split), for data hygiene. Default: rows are dicts."""
        return [{"split": split, "id": r["id"], "code": r.get("code") or r.get("source") or "",
                 "target": r.get("target", r.get("nl")), "lang": lang or r.get("lang") or self.card.lang or None,
                 "origin": r.get("__origin")}
                for split in ("train", "valid", "test") for r in splits[split]]

    def pair_data(self):
        """Where rows are pairs over a program table: the loaded data with its files (hygiene checks pairs and
        rewrites pair lists); ``None`` for every other type."""
        return None

    def leakage_programs(self) -> dict[str, str] | None:
        """Programs by id, where rows refer to programs instead of holding code (data hygiene reads them)."""
        return None

    def perturb(self, rows: list, transform: Callable[[list[str]], list[str]], tag: str = "perturbed") -> list:
        """A copy of ``rows`` with every row's code replaced by ``transform(codes)`` (same order), in the
        type's own row format (``tag`` names the transformed copies where rows refer to programs by id).
        Default: rows are dicts with a ``code`` field."""
        new = transform([r["code"] for r in rows])
        return [{**r, "code": c} for r, c in zip(rows, new, strict=True)]

    def per_example(self, predictions, rows: list) -> tuple[list[str], dict] | None:
        """The test examples' ids and, per metric of :meth:`score`, its per-example sufficient statistics
        (:class:`codeintel.eval.resample.Decomposed`), from which the corpus score is recomputed exactly and
        resampled for intervals and significance tests (``codeintel compare``). ``None``: not available."""
        return None

    pipeline_output: ClassVar[str] = ""
    """The key of a ``transformers.pipeline(pipeline_tag)`` result that holds the output (model cards)."""
    columns: ClassVar[dict[str, str]] = {}
    """The column-mapping keys this type reads (``data.code_field`` ...) and the column each fills, e.g.
    ``{"code_field": "code", "nl_field": "summary"}``."""

    @classmethod
    def column_map(cls, data) -> dict[str, str]:
        """``{the user's column: the column this type reads}`` from ``data`` (a ``DataConfig``); a mapping key this
        type does not read is a ConfigError."""
        from codeintel.errors import ConfigError

        keys = ("code_field", "nl_field", "label_field", "id_field")
        given = {k: getattr(data, k, "") for k in keys if getattr(data, k, "")}
        wrong = [k for k in given if k not in cls.columns]
        if wrong:
            reads = ", ".join(f"data.{k}" for k in cls.columns) or "no column mapping (its files are not tables)"
            raise ConfigError(f"data.{wrong[0]} does not apply to {cls.name} tasks; they read {reads}.")
        return {v: cls.columns[k] for k, v in given.items()}

    def index_vectors(self, model, items: list[dict], batch_size: int = 32) -> np.ndarray:
        """The vector an index stores for each function (``items``: ``{"id", "code"}``; a query too): by default the
        embedding :meth:`infer` gives. The index searches by cosine (it normalises them)."""
        return np.asarray([o["embedding"] for o in self.infer(model, items, batch_size)], dtype=np.float32)

    def verify_pairs(self, model, vectors: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray | None:
        """P(clone) of index pairs ``(i, j)`` from the stored vectors, for a type with a pair head (``codeintel
        clones`` then keeps a pair by the head, not by cosine); ``None``: no head."""
        return None

    index_query: ClassVar[str] = ""
    """What a search query of an index built with this type's model is: ``code`` (clone retrieval), ``nl`` (code
    search), or ``""`` (its model embeds nothing to index)."""
    infer_input: ClassVar[str] = ""
    """What ``codeintel predict`` feeds an item of this type: ``code`` (a function), ``nl`` (a description),
    ``pair`` (``code1`` and ``code2``), or ``""`` (the type has no predict)."""

    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False,
              **decoding: Any) -> list[dict]:
        """The model's output for each of a user's own inputs (``codeintel predict``), as JSON-able dicts in item
        order: ``{"summary"}``, ``{"code"}``, ``{"probability"}`` or ``{"embedding"}``. ``decoding``: the
        checkpoint's ``beam_size`` and ``no_repeat_ngram_size``."""
        from codeintel.errors import ConfigError

        raise ConfigError(f"{self.name} models have no predict (it needs a model that summarizes, generates code, "
                          "classifies or embeds).")

    few_distinct: ClassVar[int] = 2
    """A model with at most this many distinct predictions on the test set is flagged (generation: one or two
    strings for every input; a binary classifier: one label)."""

    def distinct_predictions(self, predictions) -> int | None:
        """How many different predictions the model made on the rows (a model that learned nothing makes very
        few, :attr:`few_distinct`); ``None`` where predictions are not discrete (rankings, likelihoods)."""
        return None

    def baseline_predictions(self, splits: dict[str, list], rows: list) -> dict[str, Any]:
        """The trivial baselines of :meth:`baselines` that are concrete predictions, as predictions on ``rows``
        (what :meth:`per_example` scores), to test whether a model is distinguishable from them."""
        return {}
