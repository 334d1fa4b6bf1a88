"""Tokompiler as a Hugging Face tokenizer: save/load, batch encoding with padding, truncation and attention
masks, special tokens, decode; plus the mapping that turns decoded tokens back into the original code's.

    tok = TokompilerTokenizer(lang="fortran")
    batch = tok(["subroutine s(a) ...", "..."], padding=True, truncation=True, max_length=256)
    ids, mapping = tok.encode_with_mapping(code)
    tok.decode_to_original(ids, mapping)      # the original token sequence
"""

from __future__ import annotations

import json
import os
import warnings

from transformers import PreTrainedTokenizer

from codeintel.tokenization.tokompiler import (
    SPECIAL_TOKENS,
    Tokompiled,
    default_vocab_file,
    detokompile,
    tokompile,
)


class TokompilerTokenizer(PreTrainedTokenizer):
    """Anonymizing, syntax-aware tokenizer over a closed vocabulary of ~1.5k tokens."""

    vocab_files_names = {"vocab_file": "vocab.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str | None = None, lang: str = "c", numbering: str = "random", seed: int = 0,
                 **kwargs) -> None:
        with open(vocab_file or default_vocab_file(), encoding="utf-8") as fh:
            self.vocab: dict[str, int] = json.load(fh)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self._words = frozenset(self.vocab)
        self.lang, self.numbering, self.seed = lang, numbering, seed
        pad, sos, eos, unk, msk, sep, cls = SPECIAL_TOKENS
        for key, value in dict(pad_token=pad, bos_token=sos, eos_token=eos, unk_token=unk, mask_token=msk,
                               sep_token=sep, cls_token=cls).items():
            kwargs.setdefault(key, value)
        super().__init__(lang=lang, numbering=numbering, seed=seed, **kwargs)

    def for_lang(self, lang: str) -> TokompilerTokenizer:
        """The same tokenizer for another language (vocabulary shared)."""
        import copy

        other = copy.copy(self)
        other.lang = lang
        other.init_kwargs = {**self.init_kwargs, "lang": lang}
        return other

    # ---- the pipeline
    def tokompile(self, code: str) -> Tokompiled:
        """Anonymized tokens, mapping and error count of one source text."""
        return tokompile(code, self.lang, self.numbering, self.seed, self._words)

    def encode_with_mapping(self, code: str, add_special_tokens: bool = True) -> tuple[list[int], dict[str, str]]:
        result = self.tokompile(code)
        ids = self.convert_tokens_to_ids(result.tokens)
        return (self.build_inputs_with_special_tokens(ids) if add_special_tokens else ids), result.mapping

    def decode_to_original(self, ids: list[int], mapping: dict[str, str]) -> list[str]:
        """Decoded tokens with anonymized names and literals mapped back: the original token sequence."""
        tokens = self.convert_ids_to_tokens([i for i in ids if i not in self.all_special_ids])
        return detokompile(tokens, mapping)

    # ---- PreTrainedTokenizer interface
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return {**self.vocab, **self.added_tokens_encoder}

    def tokenize(self, text: str, **kwargs) -> list[str]:
        """Tokompiler's tokens of ``text``. Text holding no added or special token (the usual case: source code)
        goes straight to the pipeline; otherwise the base class splits it around those tokens first."""
        if kwargs or any(t in text for t in self._added_tokens_encoder):
            return super().tokenize(text, **kwargs)
        return self._tokenize(text)

    def convert_tokens_to_ids(self, tokens):
        """Ids of tokens (added tokens first, then the vocabulary, else the unknown token's id) without the base
        class's per-token attribute lookups."""
        if isinstance(tokens, str):
            return super().convert_tokens_to_ids(tokens)
        added, vocab = self._added_tokens_encoder, self.vocab
        unk = vocab[self.unk_token]
        return [added[t] if t in added else vocab.get(t, unk) for t in tokens]

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        result = self.tokompile(text)
        if result.errors:
            warnings.warn(f"Tokompiler ({self.lang}): {result.errors} syntax error node(s); the tokens come from "
                          "what parsed", stacklevel=2)
        return result.tokens

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.vocab[self.unk_token])

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def build_inputs_with_special_tokens(self, ids0: list[int], ids1: list[int] | None = None) -> list[int]:
        out = [self.bos_token_id, *ids0, self.eos_token_id]
        return out if ids1 is None else [*out, *ids1, self.eos_token_id]

    def get_special_tokens_mask(self, ids0, ids1=None, already_has_special_tokens: bool = False) -> list[int]:
        if already_has_special_tokens:
            return super().get_special_tokens_mask(ids0, ids1, already_has_special_tokens=True)
        mask = [1, *([0] * len(ids0)), 1]
        return mask if ids1 is None else [*mask, *([0] * len(ids1)), 1]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (f"{filename_prefix}-" if filename_prefix else "") + "vocab.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.vocab, fh, ensure_ascii=False, indent=0)
        return (path,)
