"""Decoding at less cost than ``model.generate``, with the same tokens.

``generate`` keeps every row of a batch in the decoder until the last one ends (rows that emitted EOS go on
being computed and their tokens overwritten with padding), and its ``no_repeat_ngram_size`` rule rebuilds every
row's n-gram table in Python from the whole sequence at every step (for beam search, on batch x beams rows).

- :func:`no_repeat_ngram`: the same rule as transformers' ``NoRepeatNGramLogitsProcessor`` (a token that would
  complete an n-gram already in the row is set to -inf), computed with tensor operations over all rows at once;
  used by the functions below, and passed to ``generate`` in its place (:func:`ngram_kwargs`).
- :func:`decode` (:func:`greedy`): greedy or sampled tokens of encoder-decoder and causal models; the prompt is
  encoded once for its n samples, and a row leaves the batch (and the key/value cache) the step it emits EOS or
  hits a stop string. The greedy choice at each step is ``generate``'s — the argmax of the last logits in float32
  (first index on ties) after the n-gram rule — so the output is the same sequence of tokens, padded with the pad
  id after EOS as ``generate`` pads it; sampling draws from the same distribution.
- :func:`beam_search`: ``generate``'s beam-search steps, called as they are, on the inputs whose search is still
  open; an input whose hypotheses are final leaves the batch.
- :func:`search`: greedy or beam search by ``beam_size``, falling back to ``generate`` — what the tasks call.

``tests/test_decoding.py`` compares them with ``generate`` token for token (rows and inputs ending at different
steps, n = 0, 1, 2, 3, beams 3 to 10, with and without early stopping, causal models with stop strings, sampling
with the same seed until the first row ends).

A generation config asking for anything else that changes the choice (minimum length, repetition penalty,
forced or suppressed tokens, ...) is left to ``generate``: the functions return ``None``.
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
    """Whether :func:`decode` decodes ``model`` as ``generate`` would: a model that generates, whose generation
    config adds no logits processor beyond the n-gram rule and the sampling warpers (temperature, top-k, top-p)."""
    gc = getattr(model, "generation_config", None)
    if gc is None or not (getattr(model.config, "is_encoder_decoder", False) or model.can_generate()):
        return False
    return all(getattr(gc, k, None) in off for k, off in _OFF.items()) and not (
        getattr(gc, "min_p", None) or getattr(gc, "typical_p", 1.0) not in (None, 1.0)
        or getattr(gc, "epsilon_cutoff", 0.0) or getattr(gc, "eta_cutoff", 0.0))


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


def _special_ids(model, pad_token_id: int | None = None) -> tuple[int | None, int | None, list[int]]:
    """(decoder start, pad, EOS ids) as ``generate`` resolves them: the generation config's, else the model
    config's (``pad_token_id`` given: that pad)."""
    gc, mc = model.generation_config, model.config

    def pick(name: str):
        value = getattr(gc, name, None)
        return getattr(mc, name, None) if value is None else value

    eos = pick("eos_token_id")
    pad = pick("pad_token_id") if pad_token_id is None else pad_token_id
    return pick("decoder_start_token_id"), pad, [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))


def _encoded(model, input_ids, attention_mask, encoder_hidden):
    """The encoder's last states: ``encoder_hidden`` where given (a graph-guided input encodes itself)."""
    if encoder_hidden is not None:
        return encoder_hidden
    return model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state


def _processors(model, no_repeat_ngram_size: int, sample: bool, temperature: float, top_p: float):
    """``generate``'s processors for these settings, in its order: the n-gram rule, then (sampling) temperature,
    top-k (the generation config's, 50 by default) and top-p."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    out = LogitsProcessorList([no_repeat_ngram(no_repeat_ngram_size)] if no_repeat_ngram_size else [])
    if sample:
        top_k = model.generation_config.top_k
        if temperature is not None and temperature != 1.0:
            out.append(TemperatureLogitsWarper(temperature))
        if top_k is not None and top_k != 0:
            out.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p is not None and top_p < 1.0:
            out.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    return out


def decode(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, max_new_tokens: int, *,
           n: int = 1, sample: bool = False, temperature: float = 1.0, top_p: float = 1.0,
           no_repeat_ngram_size: int = 0, encoder_hidden: torch.Tensor | None = None, stop=None,
           pad_token_id: int | None = None) -> torch.Tensor | None:
    """Greedy or sampled tokens, laid out as ``generate(num_return_sequences=n)`` returns them: (B n, S + T), the
    n rows of input b at b n .. b n + n - 1; S is 1 (the decoder start token) for an encoder-decoder model and the
    (left-padded) prompt for a causal LM; after a row's EOS (or ``stop``, a stopping criterion such as
    ``StopStringCriteria``, true for the row) come pad ids; T is the longest row's new tokens. The prompt is
    encoded once for its n rows (an encoder-decoder's encoder, a causal LM's prompt, whose key/value cache is
    then repeated), and a finished row leaves the batch. ``encoder_hidden`` (B, L, H) stands for the encoder's
    output (``attention_mask`` is then what the decoder attends to). Greedy: ``generate``'s tokens exactly;
    sampling: its distribution (a row that finishes draws no more numbers, so the random stream differs from
    ``generate``'s after the first row ends). ``None`` when the model is not :func:`supported`."""
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    if not supported(model):
        return None
    start, pad, eos_ids = _special_ids(model, pad_token_id)
    seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    if pad is None or (seq2seq and start is None):
        return None
    device = attention_mask.device
    eos = torch.tensor(eos_ids, dtype=torch.long, device=device)
    warp = _processors(model, no_repeat_ngram_size, sample, temperature, top_p)
    mask = attention_mask
    if seq2seq:
        hidden = _encoded(model, input_ids, mask, encoder_hidden).repeat_interleave(n, 0)
        mask = mask.repeat_interleave(n, 0)
        out = torch.full((hidden.shape[0], 1 + max_new_tokens), pad, dtype=torch.long, device=device)
        out[:, 0] = start
        cache, s, logits, positions = EncoderDecoderCache(DynamicCache(), DynamicCache()), 1, None, None
    else:                                                   # the prompt once; its cache repeated for the n rows
        positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
        cache = DynamicCache()
        logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, return_dict=True).logits[:, -1, :].float()
        if n > 1:
            cache.batch_repeat_interleave(n)
            logits, mask, positions = (x.repeat_interleave(n, 0) for x in (logits, mask, positions))
        prompt = input_ids.repeat_interleave(n, 0)
        s = prompt.shape[1]
        out = torch.cat([prompt, torch.full((prompt.shape[0], max_new_tokens), pad, dtype=torch.long,
                                            device=device)], dim=1)
        positions = positions[:, -1:]
    rows = torch.arange(out.shape[0], device=device)       # the output row of each row still decoding
    last, steps = out[:, :1], 0
    for t in range(max_new_tokens):
        if seq2seq:
            logits = model(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=last,
                           past_key_values=cache, use_cache=True, return_dict=True).logits[:, -1, :].float()
        elif t:
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
            positions = positions + 1
            logits = model(input_ids=last, attention_mask=mask, position_ids=positions, past_key_values=cache,
                           use_cache=True, return_dict=True).logits[:, -1, :].float()
        scores = warp(out[rows, : s + t], logits) if warp else logits
        nxt = torch.multinomial(torch.softmax(scores, dim=-1), 1).squeeze(1) if sample else scores.argmax(-1)
        out[rows, s + t] = nxt
        steps = t + 1
        done = torch.isin(nxt, eos)                          # no EOS id: none done
        if stop is not None:
            done |= stop(out[rows, : s + t + 1], scores).to(device)
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            rows, nxt, mask = rows[keep], nxt[keep], mask[keep]
            if seq2seq:
                hidden = hidden[keep]
            else:
                positions = positions[keep]
            cache.reorder_cache(keep)
        last = nxt[:, None]
    return out[:, : s + steps]


def greedy(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, max_new_tokens: int,
           no_repeat_ngram_size: int = 0, encoder_hidden: torch.Tensor | None = None) -> torch.Tensor | None:
    """Greedy tokens of an encoder-decoder model (``generate(num_beams=1, do_sample=False)``'s): (B, 1 + T), the
    decoder start token, then each row's tokens up to and including EOS, padded. See :func:`decode`."""
    return decode(model, input_ids, attention_mask, max_new_tokens, no_repeat_ngram_size=no_repeat_ngram_size,
                  encoder_hidden=encoder_hidden)


def beam_search(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, max_new_tokens: int,
                num_beams: int, no_repeat_ngram_size: int = 0, early_stopping: bool = True,
                encoder_hidden: torch.Tensor | None = None) -> torch.Tensor | None:
    """Beam search of an encoder-decoder model with ``generate``'s result, token for token: (B, 1 + T).

    Each step is ``generate``'s own (its top-k continuation, running-beam and finished-beam updates and early-stop
    heuristic, called as they are; the length penalty from the generation config), on the inputs whose search is
    still open: an input whose ``num_beams`` hypotheses are all finished (``early_stopping``), or that can no longer
    improve them, is frozen in ``generate`` (every later candidate scores below them), so here its beams leave the
    batch and the key/value cache. ``None`` where :func:`supported` says no or ``generate``'s internals are not
    the ones this was written against (then call ``generate``)."""
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    needed = ("_get_top_k_continuations", "_get_running_beams_for_next_iteration", "_update_finished_beams",
              "_check_early_stop_heuristic", "_flatten_beam_dim", "_unflatten_beam_dim")
    if (not supported(model) or not getattr(model.config, "is_encoder_decoder", False)
            or not all(hasattr(model, f) for f in needed) or early_stopping not in (True, False)):
        return None
    start, pad, eos_ids = _special_ids(model)
    if start is None or pad is None:
        return None
    device, k = attention_mask.device, num_beams
    eos = torch.tensor(eos_ids, dtype=torch.long, device=device)
    length_penalty = model.generation_config.length_penalty
    length_penalty = 1.0 if length_penalty is None else length_penalty
    encoder_hidden = _encoded(model, input_ids, attention_mask, encoder_hidden)
    b = encoder_hidden.shape[0]
    hidden, mask = encoder_hidden.repeat_interleave(k, 0), attention_mask.repeat_interleave(k, 0)
    prompt_len, max_length = 1, 1 + max_new_tokens
    vocab = model.config.get_text_config().vocab_size
    to_keep = max(2, 1 + len(eos_ids)) * k
    top_mask = torch.cat([torch.ones(k, dtype=torch.bool), torch.zeros(to_keep - k, dtype=torch.bool)]).to(device)
    fill = pad if pad else (eos_ids[0] if eos_ids else -1)          # generate's `pad or eos[0]`
    running = torch.full((b, k, max_length), fill, dtype=torch.long, device=device)
    running[:, :, 0] = start
    sequences = running.clone()
    running_scores = torch.zeros((b, k), device=device)
    running_scores[:, 1:] = -1e9
    scores = torch.full((b, k), -1e9, device=device)
    finished = torch.zeros((b, k), dtype=torch.bool, device=device)
    open_ = torch.ones((b, 1), dtype=torch.bool, device=device)   # generate's is_early_stop_heuristic_unsatisfied
    running_idx = torch.full((b, k, max_length - prompt_len), -1, dtype=torch.int32, device=device)
    indices = running_idx.clone()
    warp = _processors(model, no_repeat_ngram_size, False, 1.0, 1.0)
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    live = torch.arange(b, device=device)                           # the inputs still searched
    cur = prompt_len
    while True:
        n = len(live)
        flat = model._flatten_beam_dim(running[live, :, :cur])
        logits = model(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=flat[:, -1:],
                       past_key_values=cache, use_cache=True, return_dict=True).logits[:, -1, :].float()
        log_probs = torch.nn.functional.log_softmax(logits, dim=-1)
        if warp:
            log_probs = warp(flat, log_probs)
        log_probs = model._unflatten_beam_dim(log_probs, n, k) + running_scores[live][:, :, None]
        log_probs = log_probs.reshape(n, k * vocab)
        top_lp, top_seq, top_idx = model._get_top_k_continuations(
            accumulated_log_probs=log_probs, running_sequences=running[live], running_beam_indices=running_idx[live],
            cur_len=cur, decoder_prompt_len=prompt_len, do_sample=False, beams_to_keep=to_keep, num_beams=k,
            vocab_size=vocab, batch_size=n)
        hits = torch.isin(top_seq[:, :, cur], eos) | (cur + 1 >= max_length)    # generate's EOS and length rules
        r_seq, r_scores, r_idx = model._get_running_beams_for_next_iteration(
            topk_log_probs=top_lp, topk_running_sequences=top_seq, topk_running_beam_indices=top_idx,
            next_token_hits_stopping_criteria=hits, num_beams=k)
        s_seq, s_scores, s_idx, s_fin = model._update_finished_beams(
            sequences=sequences[live], topk_running_sequences=top_seq, beam_scores=scores[live],
            topk_log_probs=top_lp, beam_indices=indices[live], topk_running_beam_indices=top_idx,
            is_early_stop_heuristic_unsatisfied=open_[live], is_sent_finished=finished[live],
            next_token_hits_stopping_criteria=hits, top_num_beam_mask=top_mask, num_beams=k, cur_len=cur,
            decoder_prompt_len=prompt_len, length_penalty=length_penalty, early_stopping=early_stopping)
        running[live], running_scores[live], running_idx[live] = r_seq, r_scores, r_idx
        sequences[live], scores[live], indices[live], finished[live] = s_seq, s_scores, s_idx, s_fin
        cache.reorder_cache(model._flatten_beam_dim(r_idx[..., cur - prompt_len]).long())
        cur += 1
        open_[live] = model._check_early_stop_heuristic(
            is_early_stop_heuristic_unsatisfied=open_[live], running_beam_scores=r_scores, beam_scores=s_scores,
            is_sent_finished=s_fin, cur_len=cur, max_length=max_length, decoder_prompt_len=prompt_len,
            early_stopping=early_stopping, length_penalty=length_penalty)
        if bool(hits.all()):                                        # the length limit: every continuation ends
            break
        frozen = ~open_[live].squeeze(1) | (finished[live].all(-1) & (early_stopping is True))
        if bool(frozen.all()):
            break
        if bool(frozen.any()):
            keep = (~frozen).nonzero().squeeze(1)
            rows = (keep[:, None] * k + torch.arange(k, device=device)).flatten()
            live, hidden, mask = live[keep], hidden[rows], mask[rows]
            cache.reorder_cache(rows)
    sequences, indices = sequences[:, 0], indices[:, 0]                # generate's num_return_sequences = 1
    longest = int(((indices + 1).bool()).sum(dim=1).max())
    return sequences[:, : prompt_len + longest]


def search(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, max_new_tokens: int,
           beam_size: int = 1, no_repeat_ngram_size: int = 0,
           encoder_hidden: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy (``beam_size`` 1) or beam-search tokens of an encoder-decoder model, ``generate``'s token for token:
    :func:`greedy` or :func:`beam_search`, else ``generate`` itself (a configuration they leave to it) with the
    vectorised n-gram rule. ``encoder_hidden`` stands for the encoder's output, as in :func:`decode`."""
    if beam_size == 1:
        out = greedy(model, input_ids, attention_mask, max_new_tokens, no_repeat_ngram_size, encoder_hidden)
    else:
        out = beam_search(model, input_ids, attention_mask, max_new_tokens, beam_size, no_repeat_ngram_size,
                          encoder_hidden=encoder_hidden)
    if out is not None:
        return out
    if encoder_hidden is not None:
        from transformers.modeling_outputs import BaseModelOutput

        inputs = {"encoder_outputs": BaseModelOutput(last_hidden_state=encoder_hidden)}
    else:
        inputs = {"input_ids": input_ids}
    return model.generate(**inputs, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                          num_beams=beam_size, early_stopping=beam_size > 1, do_sample=False,
                          **ngram_kwargs(no_repeat_ngram_size))
