"""One table of named backbones. ``codeintel models`` prints it; nothing here imports torch.

Each entry carries the published architecture (so every entry can be built offline from its config
with random weights), its hub id, family, tokenizer and default lengths. Which tasks a family serves is the
task layer's knowledge (:func:`codeintel.tasks.models.supported_tasks`), not this table's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codeintel.errors import UnknownNameError

ROBERTA_BASE = dict(
    vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
    pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
)
T5_SPECIALS = dict(pad_token_id=0, eos_token_id=2, decoder_start_token_id=0, feed_forward_proj="relu")
T5_SMALL = dict(vocab_size=32100, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                num_heads=8, **T5_SPECIALS)
T5_BASE = dict(vocab_size=32100, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_decoder_layers=12,
               num_heads=12, **T5_SPECIALS)
# Tiny presets share the shipped 8k BPE, whose specials follow RoBERTa's order (<s>=0, <pad>=1, </s>=2).
TINY_ROBERTA = dict(
    vocab_size=8192, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512,
    max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    layer_norm_eps=1e-5,
)
TINY_T5 = dict(vocab_size=8192, d_model=128, d_kv=32, d_ff=512, num_layers=2, num_decoder_layers=2,
               num_heads=4, pad_token_id=1, eos_token_id=2, decoder_start_token_id=1, feed_forward_proj="relu")

# CodeGPT-small-{java,py}-adaptedGPT2: GPT-2 small with GPT-2's BPE plus <pad>=50257, </s>=50258, <s>=50259.
CODEGPT_SMALL = dict(vocab_size=50260, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                     bos_token_id=50259, eos_token_id=50258, pad_token_id=50257)
TINY_GPT2 = dict(vocab_size=8192, n_positions=1024, n_embd=128, n_layer=2, n_head=4, n_inner=512,
                 bos_token_id=0, eos_token_id=2, pad_token_id=1,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)  # no dropout: a 1.5M CPU preset (and 25 % faster)

SHIPPED_TOKENIZER = "code-bpe-8k"


@dataclass(frozen=True)
class BackboneSpec:
    """A named backbone.

    Attributes:
        name: registry name, e.g. ``codet5-small``.
        family: ``roberta``, ``t5``, ``t5-embedding`` (encoder + projection + L2 norm) or ``gpt2`` (decoder).
        hf_id: hub id of the published checkpoint, or None for a random-initialised preset.
        config: architecture fields of the published config (builds the model offline).
        tokenizer: hub id, or the name of a tokenizer shipped in ``tokenizers/``.
        source_len: default maximum source length in tokens.
        target_len: default maximum target length (sequence-to-sequence tasks).
        params: published parameter count, for the table.
        note: one line for ``codeintel models``.
    """

    name: str
    family: str
    hf_id: str | None
    config: dict[str, Any]
    tokenizer: str
    source_len: int = 256
    target_len: int = 128
    params: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_tiny(self) -> bool:
        return self.hf_id is None


BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        BackboneSpec("codebert-base", "roberta", "microsoft/codebert-base", ROBERTA_BASE,
                     "microsoft/codebert-base", 256, 128, params="125M", note="RoBERTa on CodeSearchNet (MLM+RTD)"),
        BackboneSpec("graphcodebert-base", "roberta", "microsoft/graphcodebert-base", ROBERTA_BASE,
                     "microsoft/graphcodebert-base", 256, 128, params="125M",
                     note="RoBERTa + data-flow pre-training"),
        BackboneSpec("codet5-small", "t5", "Salesforce/codet5-small", T5_SMALL, "Salesforce/codet5-small",
                     256, 128, params="60M", note="T5 encoder-decoder, identifier-aware pre-training"),
        BackboneSpec("codet5-base", "t5", "Salesforce/codet5-base", T5_BASE, "Salesforce/codet5-base",
                     256, 128, params="220M", note="T5 encoder-decoder, identifier-aware pre-training"),
        BackboneSpec("codet5p-220m", "t5", "Salesforce/codet5p-220m", T5_BASE, "Salesforce/codet5p-220m",
                     320, 128, params="220M", note="CodeT5+ 220M, pretrained from scratch"),
        BackboneSpec("codet5p-110m-embedding", "t5-embedding", "Salesforce/codet5p-110m-embedding",
                     dict(T5_BASE, vocab_size=32103), "Salesforce/codet5p-110m-embedding", 360, 0, params="110M",
                     note="CodeT5+ 220M encoder + Linear(768->256) + L2 norm", extra={"embed_dim": 256}),
        BackboneSpec("codegpt-small-java", "gpt2", "microsoft/CodeGPT-small-java-adaptedGPT2", CODEGPT_SMALL,
                     "microsoft/CodeGPT-small-java-adaptedGPT2", 1024, 32, params="124M",
                     note="GPT-2 small adapted to Java (CodeXGLUE code completion)"),
        BackboneSpec("codegpt-small-py", "gpt2", "microsoft/CodeGPT-small-py-adaptedGPT2", CODEGPT_SMALL,
                     "microsoft/CodeGPT-small-py-adaptedGPT2", 1024, 32, params="124M",
                     note="GPT-2 small adapted to Python (CodeXGLUE code completion)"),
        BackboneSpec("tiny-codebert", "roberta", None, TINY_ROBERTA, SHIPPED_TOKENIZER, 256, 32,
                     params="~1.5M", note="2-layer RoBERTa preset, random init (tests, CPU demos)"),
        BackboneSpec("tiny-graphcodebert", "roberta", None, TINY_ROBERTA, SHIPPED_TOKENIZER, 256, 32,
                     params="~1.5M", note="2-layer RoBERTa preset, random init (tests, CPU demos)"),
        BackboneSpec("tiny-codet5", "t5", None, TINY_T5, SHIPPED_TOKENIZER, 256, 32,
                     params="~2.0M", note="2+2-layer T5 preset, random init (tests, CPU demos)"),
        BackboneSpec("tiny-codet5p-embedding", "t5-embedding", None, TINY_T5, SHIPPED_TOKENIZER, 256, 0, params="~1.5M",
                     note="2-layer T5 encoder + projection preset",
                     extra={"embed_dim": 64}),
        BackboneSpec("tiny-codegpt", "gpt2", None, TINY_GPT2, SHIPPED_TOKENIZER, 256, 32, params="~1.5M",
                     note="2-layer GPT-2 decoder preset, random init (tests, CPU demos)"),
    ]
}

FAMILIES = ("roberta", "t5", "t5-embedding", "gpt2")


def get_backbone(name: str) -> BackboneSpec:
    """Look up a registry name; unknown names fail with the allowed set and a suggestion."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise UnknownNameError(
            "model", name, BACKBONES,
            hint="Or pass a hub id (owner/name) or a local directory written by save_pretrained.",
        ) from None


def format_table(columns: dict[str, Callable[[BackboneSpec], str]] | None = None) -> str:
    """The registry as an aligned text table; ``columns`` adds columns (header -> value of an entry)."""
    columns = columns or {}
    rows = [("name", "family", "params", "hub id", "src/tgt", *columns)]
    for s in BACKBONES.values():
        rows.append((s.name, s.family, s.params, s.hf_id or "(offline preset)", f"{s.source_len}/{s.target_len}",
                     *(fn(s) for fn in columns.values())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
