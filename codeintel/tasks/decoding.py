"""Decoding at less cost than ``model.generate``, with the same tokens.

``generate`` keeps every row of a batch in the decoder until the last one ends (rows that emitted EOS go on
being computed and their tokens overwritten with padding), and its ``no_repeat_ngram_size`` rule rebuilds every
row's n-gram table in Python from the whole sequence at every step (for beam search, on batch x beams rows).

- :class:`NoRepeatNGram`: the same rule as transformers' ``NoRepeatNGramLogitsProcessor`` (a token that would
  complete an n-gram already in the row is set to -inf), computed with tensor operations over all rows at once;
  passed to ``generate`` in its place (beam search, sampling).
- :func:`greedy`: for encoder-decoder models, the encoder once, and a row leaves the batch (and the key/value
  cache) the step it emits EOS. The choice at each step is ``generate``'s — the argmax of the last logits in
  float32 (first index on ties) after the n-gram rule — so the output is the same sequence of tokens, padded
  with the pad id after EOS as ``generate`` pads it.

``tests/test_decoding.py`` compares both with ``generate`` token for token (rows ending at different steps,
n = 0, 2, 3; beam search with the rule).

A generation config asking for anything else that changes the choice (minimum length, repetition penalty,
forced or suppressed tokens, ...) is left to ``generate``: :func:`greedy` returns ``None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# generation-config fields that add a logits processor changing a greedy choice (when set to these "off" values
# they add none); any other value: generate decides
_OFF = {"min_length": (0, None), "min_new_tokens": (None, 0), "repetition_penalty": (None, 1.0),
        "encoder_repetition_penalty": (None, 1.0), "encoder_no_repeat_ngram_size": (None, 0),
        "bad_words_ids": (None,), "forced_bos_token_id": (None,), "forced_eos_token_id": (None,),
        "suppress_tokens": (None,), "begin_suppress_tokens": (None,), "sequence_bias": (None,),
        "exponential_decay_length_penalty": (None,), "forced_decoder_ids": (None,), "guidance_scale": (None, 1.0),
        "watermarking_config": (None,), "max_time": (None,), "stop_strings": (None,), "constraints": (None,),
        "force_words_ids": (None,), "low_memory": (None, False), "prompt_lookup_num_tokens": (None,),
        "assistant_model": (None,)}


def supported(model) -> bool:
    """Whether :func:`greedy` decodes ``model`` exactly as ``generate`` would: an encoder-decoder model whose
    generation config adds no logits processor beyond the n-gram rule."""
    gc = getattr(model, "generation_config", None)
    if gc is None or not getattr(model.config, "is_encoder_decoder", False):
        return False
    return all(getattr(gc, k, None) in off for k, off in _OFF.items())


def banned(seqs: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, tokens): for each row of ``seqs`` (R, L), the tokens that would repeat one of its n-grams — those
    that followed an earlier occurrence of the row's last n - 1 tokens (transformers' rule: none while
    L + 1 < n)."""
    import torch

    r, length = seqs.shape
    windows = length - n + 1
    if n <= 0 or windows <= 0:
        empty = torch.zeros(0, dtype=torch.long, device=seqs.device)
        return empty, empty
    match = torch.ones(r, windows, dtype=torch.bool, device=seqs.device)
    for k in range(n - 1):                              # window j's first n - 1 tokens = the last n - 1 tokens
        match &= seqs[:, k : k + windows] == seqs[:, length - n + 1 + k : length - n + 2 + k]
    rows, j = match.nonzero(as_tuple=True)
    return rows, seqs[:, n - 1 : n - 1 + windows][rows, j]


def no_repeat_ngram(n: int):
    """A ``LogitsProcessor`` equal to ``NoRepeatNGramLogitsProcessor(n)``, vectorised (see :func:`banned`)."""
    from transformers import LogitsProcessor

    class NoRepeatNGram(LogitsProcessor):
        def __call__(self, input_ids, scores):
            rows, tokens = banned(input_ids, n)
            if rows.numel():
                scores = scores.clone()
                scores[rows, tokens] = -float("inf")
            return scores

    return NoRepeatNGram()


def ngram_kwargs(no_repeat_ngram_size: int) -> dict:
    """``generate`` arguments for the n-gram rule (0: none, whatever the model's generation config says): the
    vectorised processor in place of the built-in one."""
    from transformers import LogitsProcessorList

    if not no_repeat_ngram_size:
        return {"no_repeat_ngram_size": 0}
    return {"no_repeat_ngram_size": 0, "logits_processor": LogitsProcessorList([no_repeat_ngram(no_repeat_ngram_size)])}


def _eos_ids(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    eos = model.config.eos_token_id if eos is None else eos
    return [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))


def greedy(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, max_new_tokens: int,
           no_repeat_ngram_size: int = 0, encoder_hidden: torch.Tensor | None = None) -> torch.Tensor | None:
    """(B, 1 + T) token ids: the decoder start token, then each row's greedy tokens up to and including EOS,
    padded; T the longest row's count (at most ``max_new_tokens``). ``encoder_hidden`` (B, L, H) skips the
    encoder (a graph-guided input encodes itself); ``attention_mask`` is the (B, L) mask the decoder attends
    with. ``None`` when the model is not :func:`supported` (then call ``generate``)."""
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    if not supported(model):
        return None
    gc = model.generation_config
    start = gc.decoder_start_token_id if gc.decoder_start_token_id is not None else model.config.decoder_start_token_id
    pad = gc.pad_token_id if gc.pad_token_id is not None else model.config.pad_token_id
    if start is None or pad is None:
        return None
    eos = torch.tensor(_eos_ids(model), device=attention_mask.device)
    if encoder_hidden is None:
        encoder_hidden = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask,
                                             return_dict=True).last_hidden_state
    b = encoder_hidden.shape[0]
    out = torch.full((b, max_new_tokens + 1), pad, dtype=torch.long, device=attention_mask.device)
    out[:, 0] = start
    rows = torch.arange(b, device=out.device)             # the output row of each row still decoding
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    last = out[:, :1]
    hidden, mask = encoder_hidden, attention_mask
    steps = 0
    for t in range(max_new_tokens):
        logits = model(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=last,
                       past_key_values=cache, use_cache=True, return_dict=True).logits[:, -1, :].float()
        if no_repeat_ngram_size:
            r, tokens = banned(out[rows, : t + 1], no_repeat_ngram_size)
            logits[r, tokens] = -float("inf")
        nxt = logits.argmax(-1)
        out[rows, t + 1] = nxt
        steps = t + 1
        done = torch.isin(nxt, eos) if eos.numel() else torch.zeros_like(nxt, dtype=torch.bool)
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            rows, hidden, mask, nxt = rows[keep], hidden[keep], mask[keep], nxt[keep]
            cache.reorder_cache(keep)
        last = nxt[:, None]
    return out[:, : steps + 1]
