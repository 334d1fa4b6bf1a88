"""Backbone families as objects: what the rest of the hub asks of a family, answered in one place per family.

Each ``backbones/<family>.py`` defines one :class:`Family` subclass instance (``FAMILY``); :data:`FAMILIES`
finds it by the name a :class:`~codeintel.backbones.table.BackboneSpec` or a checkpoint records. Outside
``backbones/``, no code compares family names: it calls ``family(loaded.family).hidden_size(config)``,
``.pair_vector(...)``, ``.token_encoder(...)`` and so on. Importing this module imports no torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from codeintel.errors import ConfigError
from codeintel.registry import LazyTable

FAMILIES = LazyTable("backbone family", {
    "roberta": "codeintel.backbones.roberta:FAMILY",
    "t5": "codeintel.backbones.t5:FAMILY",
    "t5-embedding": "codeintel.backbones.t5:EMBEDDING_FAMILY",
    "gpt2": "codeintel.backbones.gpt2:FAMILY",
})


# family -> variant -> transformers class; the first variant is the published architecture. Here (not in the
# family modules, which import torch) so that naming a class needs no torch; each family object reads its row.
VARIANTS: dict[str, dict[str, str]] = {
    "roberta": {"encoder": "RobertaModel", "encoder-decoder": "EncoderDecoderModel", "causal-lm": "RobertaForCausalLM"},
    "t5": {"encoder-decoder": "T5ForConditionalGeneration"},
    "t5-embedding": {"embedding": "CodeT5pEmbeddingModel"},
    "gpt2": {"causal-lm": "GPT2LMHeadModel"},
}


def family(name: str) -> Family:
    """The family object registered as ``name`` (a clear error with the known names otherwise)."""
    return FAMILIES[name]


class Family:
    """The defaults; each family overrides what differs.

    Attributes:
        name: the registry name (``roberta``, ``t5``, ``t5-embedding``, ``gpt2``).
        variants: variant -> transformers class name (``encoder``, ``encoder-decoder``, ``causal-lm``, ...):
            the family's row of :data:`VARIANTS`.
        hidden_key: the config attribute holding the hidden size.
        reserved_positions: positions an absolute-position model reserves (RoBERTa: 2); ``None`` for relative
            positions (T5: no length limit).
        encoder: has an encoder whose layers can be read (the probe, token-level heads).
        graph_input: takes GraphCodeBERT's data-flow input (graph-guided attention).
        seq2seq: an encoder-decoder (a decoder continues what its encoder read).
        generator_prefixes: parameter-name prefixes of the text generator (trained in ``adapter_mode=frozen``).
        hint: what to say when it lacks the head a task needs.
        adapter_host: the family whose models its adapters fit (the embedding model's encoder is T5's).
        generator_auto_class: the ``transformers`` Auto class that loads its generating model alone (model
            cards), ``""`` where the generator is built by codeintel (RoBERTa's encoder-decoder).
        peft_task_type: PEFT's ``task_type`` of an adapter over that whole generating model (None: none).
        mean_pooled: its retrieval vector is the mean of the last layer over real tokens, L2-normalised — what a
            ``sentence-transformers`` mean-pooling + normalise configuration computes.
    """

    name: ClassVar[str] = ""
    variants: ClassVar[dict[str, str]] = {}
    hidden_key: ClassVar[str] = "hidden_size"
    reserved_positions: ClassVar[int | None] = None
    encoder: ClassVar[bool] = False
    graph_input: ClassVar[bool] = False
    seq2seq: ClassVar[bool] = False
    generator_prefixes: ClassVar[tuple[str, ...]] = ()
    hint: ClassVar[str] = ""
    generator_auto_class: ClassVar[str] = ""
    peft_task_type: ClassVar[str | None] = None
    mean_pooled: ClassVar[bool] = False

    @property
    def adapter_host(self) -> str:
        return self.name

    def hidden_size(self, config: Any) -> int:
        return getattr(config, self.hidden_key)

    def max_tokens(self, config: Any) -> int | None:
        """Tokens one input may have (``None``: no limit from the positions)."""
        if self.reserved_positions is None:
            return None
        limit = getattr(config, "max_position_embeddings", None)
        return None if limit is None else limit - self.reserved_positions

    # ---- what task heads read (the backbones the task layer built)
    def pair_head(self, hidden: int, dropout: float, inputs: int = 2):
        raise ConfigError(f"the {self.name} family has no pair-classification head.")

    def pair_vector(self, backbone, input_ids, attention_mask, eos_id: int):
        """(B, H): the vector of one program that the pair head reads."""
        raise ConfigError(f"the {self.name} family has no pair-classification head.")

    def sequence_vector(self, backbone, input_ids, attention_mask):
        """(B, D) unit vectors: the retrieval representation."""
        raise ConfigError(f"the {self.name} family gives no retrieval vectors.")

    def token_encoder(self, backbone):
        """The encoder whose last layer token-level heads (NER adapters) read; ``None`` where there is none."""
        return None

    # ---- decoders (codeintel continual run)
    def left_padded_positions(self, attention_mask, pad_id: int):
        """Position ids of left-padded rows (B, L), numbered as the model numbers an unpadded row."""
        raise ConfigError(f"the {self.name} family is not a left-to-right decoder.")

    def last_logits(self, model, inputs: dict, keep: int):
        """LM logits (B, keep, V) of the last ``keep`` positions only (the rest is never scored)."""
        raise ConfigError(f"the {self.name} family is not a left-to-right decoder.")

    # ---- continued pre-training (codeintel pretrain)
    def masked_lm_model(self, backbone, weight_files: list | None = None):
        """The model that learns to restore masked tokens, around ``backbone`` (its weights shared);
        ``weight_files``: safetensors files of the checkpoint, for an MLM head saved by an earlier run."""
        raise ConfigError(f"the {self.name} family cannot be pre-trained here (no masked-LM objective): pre-training "
                          "takes RoBERTa-family backbones (codebert-base, graphcodebert-base, tiny-codebert, ...) or "
                          "T5 encoder-decoders (codet5-small, tiny-codet5, ...).")

    def mlm_encoder(self, mlm):
        """The encoder inside :meth:`masked_lm_model`'s model whose vectors the contrastive term trains."""
        raise NotImplementedError

    def masked_lm_loss(self, mlm, ids, mask, labels, original, pad_id: int):
        """(loss, last encoder layer (B, L, H)) on masked ``ids``; ``labels`` hold the masked positions' tokens,
        ``original`` the unmasked input."""
        raise NotImplementedError

    def hidden_states(self, backbone, random_layers: bool = False, seed: int = 0):
        """A callable ``(ids, mask) -> tuple of hidden states`` (embeddings first) of the encoder, or of its
        twin with the same embeddings and random layers (the probe's baseline)."""
        raise ConfigError(f"the {self.name} family has no encoder whose layers can be probed.")
