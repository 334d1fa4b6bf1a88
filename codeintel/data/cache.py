"""Tokenization through ``datasets``, cached on disk: a second run with the same texts, tokenizer and
length reads the Arrow cache instead of tokenizing again."""

from __future__ import annotations

import hashlib
import json

from codeintel.hub import cache_dir

CACHE_VERSION = "1"


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of the tokenizer's vocabulary, merges and processors (not its truncation/padding state)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)
        spec.pop("padding", None)
        text = json.dumps(spec, sort_keys=True)
    else:  # a Python tokenizer (Tokompiler): its vocabulary and its settings (language, numbering, seed)
        settings = {k: v for k, v in getattr(tokenizer, "init_kwargs", {}).items() if isinstance(v, str | int)}
        text = json.dumps([sorted(tokenizer.get_vocab().items()), type(tokenizer).__name__, settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tokenize_cached(texts: list[str], tokenizer, max_len: int, special_tokens: bool = True,
                    append_eos: bool = False):
    """A ``datasets.Dataset`` with an ``input_ids`` column, one row per text, read from cache when possible.

    Args:
        texts: the strings to tokenize.
        max_len: truncation length (special tokens included).
        special_tokens: add the tokenizer's ``<s> … </s>``.
        append_eos: no ``<s>``, but ``</s>`` at the end (decoder targets).
    """
    import datasets

    h = hashlib.sha256()
    for part in (CACHE_VERSION, tokenizer_fingerprint(tokenizer), str(max_len), str(special_tokens), str(append_eos)):
        h.update(part.encode() + b"\0")
    for t in texts:
        h.update(t.encode("utf-8", "replace") + b"\0")
    key = h.hexdigest()[:24]
    path = cache_dir() / "tokenized" / f"{key}.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)
    eos = tokenizer.eos_token_id

    def encode(batch: dict) -> dict:
        if append_eos:
            enc = tokenizer(batch["text"], add_special_tokens=False, truncation=True, max_length=max_len - 1)
            ids = enc["input_ids"]
            return {"input_ids": [x + [eos] for x in ids]}
        enc = tokenizer(batch["text"], add_special_tokens=special_tokens, truncation=True, max_length=max_len)
        return {"input_ids": enc["input_ids"]}

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        ds = datasets.Dataset.from_dict({"text": texts})
        return ds.map(encode, batched=True, remove_columns=["text"], cache_file_name=str(path),
                      load_from_cache_file=True, new_fingerprint=key)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
