"""GPT-2 family (CodeGPT-small-java/py, the tiny decoder preset): a plain ``GPT2LMHeadModel``."""

from __future__ import annotations

from typing import Any

from transformers import GPT2Config, GPT2LMHeadModel

from codeintel.backbones.family import VARIANTS, Family


def config_from(fields: dict[str, Any]) -> GPT2Config:
    return GPT2Config(**fields)


def build_lm(config: GPT2Config) -> GPT2LMHeadModel:
    """A random-initialised decoder with its (tied) language-model head."""
    return GPT2LMHeadModel(config)


class GPT2Family(Family):
    """CodeGPT and the tiny decoder: a causal LM only (``codeintel continual run`` trains it)."""

    name = "gpt2"
    variants = VARIANTS[name]
    hidden_key = "n_embd"
    generator_auto_class, peft_task_type = "AutoModelForCausalLM", "CAUSAL_LM"
    hint = " (a decoder: `codeintel continual run` trains it)"

    def max_tokens(self, config: Any) -> int | None:
        return config.n_positions

    def left_padded_positions(self, attention_mask, pad_id: int):
        return (attention_mask.cumsum(1) - 1).clamp(min=0)

    def last_logits(self, model, inputs: dict, keep: int):
        return model(**inputs, logits_to_keep=keep).logits


FAMILY = GPT2Family()
