"""GPT-2 family (CodeGPT-small-java/py, the tiny decoder preset): a plain ``GPT2LMHeadModel``."""

from __future__ import annotations

from typing import Any

from transformers import GPT2Config, GPT2LMHeadModel


def config_from(fields: dict[str, Any]) -> GPT2Config:
    return GPT2Config(**fields)


def build_lm(config: GPT2Config) -> GPT2LMHeadModel:
    """A random-initialised decoder with its (tied) language-model head."""
    return GPT2LMHeadModel(config)
