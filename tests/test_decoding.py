"""Greedy decoding (codeintel.tasks.decoding): token for token what ``generate`` returns, rows that end early
included, with and without the n-gram rule; configurations it does not cover are left to ``generate``."""

import pytest
import torch

from codeintel.backbones.loading import shipped_tokenizer
from codeintel.tasks.common import pad
from codeintel.tasks.decoding import decode, greedy, search, supported
from codeintel.tasks.models import load_model

SOURCES = ["def add(a, b): return a + b", "class Stack: pass", "x = [i * i for i in range(10) if i % 2]",
           "def read(path):\n    with open(path) as fh:\n        return fh.read()", "pass", "import os, sys"]


def states(model, rows: int = 8, length: int = 9, seed: int = 0, scale: float = 3.0):
    """Random encoder states (an untrained encoder's are nearly alike for every input) and a mask with padding,
    and the model's head changed so that EOS competes with a token it emits mid-sequence in some rows (its
    output row a near copy of that token's): rows end at different steps, some not at all."""
    from transformers.modeling_outputs import BaseModelOutput

    g = torch.Generator().manual_seed(seed)
    width = model.get_encoder().config.hidden_size if hasattr(model.get_encoder().config, "hidden_size") \
        else model.config.d_model
    hidden = torch.randn(rows, length, width, generator=g) * scale
    mask = torch.ones(rows, length, dtype=torch.long)
    mask[rows // 2 :, length // 2 :] = 0
    with torch.no_grad():
        out = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                             max_new_tokens=10, do_sample=False, no_repeat_ngram_size=2)
        eos, pad_id = model.generation_config.eos_token_id, model.generation_config.pad_token_id
        firsts = {}
        for row in out[:, 1:].tolist():
            for k, t in enumerate(row):
                firsts.setdefault(t, []).append(k)
        ok = [t for t, ks in firsts.items() if t not in (eos, pad_id) and 2 <= min(ks) and len(ks) < rows]
        tok = ok[0]
        head = model.get_output_embeddings().weight
        head[eos] = head[tok] * 1.02
    return hidden, mask


@pytest.fixture(scope="module", params=[("tiny-codet5", "summarization"), ("tiny-graphcodebert", "code-to-code")])
def model(request):
    torch.manual_seed(0)
    return load_model(*request.param).model.eval()


@pytest.mark.parametrize("ngram", [0, 2, 3])
def test_greedy_equals_generate_token_for_token(model, ngram):
    from transformers.modeling_outputs import BaseModelOutput

    hidden, mask = states(model)
    with torch.no_grad():
        ref = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                             max_new_tokens=16, do_sample=False, num_beams=1, no_repeat_ngram_size=ngram)
        mine = greedy(model, None, mask, 16, ngram, encoder_hidden=hidden)
    assert mine.shape == ref.shape and torch.equal(mine, ref)
    eos = model.generation_config.eos_token_id
    ended = [int((row == eos).nonzero()[0]) if (row == eos).any() else None for row in ref]
    assert len(set(ended)) >= 2, ended                          # rows leave the batch at different steps


def test_token_ids_in_give_generates_tokens(model):
    tok = shipped_tokenizer("code-bpe-8k")
    ids, mask = pad([tok(s)["input_ids"] for s in SOURCES], tok.pad_token_id)
    with torch.no_grad():
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                             no_repeat_ngram_size=2)
        mine = greedy(model, ids, mask, 12, 2)
    assert torch.equal(mine, ref)


def test_configurations_left_to_generate(model):
    tok = shipped_tokenizer("code-bpe-8k")
    ids, mask = pad([tok(s)["input_ids"] for s in SOURCES], tok.pad_token_id)
    assert supported(model)
    for key, value in (("min_length", 5), ("repetition_penalty", 1.3), ("forced_bos_token_id", 3),
                       ("suppress_tokens", [5])):
        old = getattr(model.generation_config, key)
        setattr(model.generation_config, key, value)
        try:
            assert not supported(model) and greedy(model, ids, mask, 8) is None, key
            with torch.no_grad():                               # search() hands such a configuration to generate
                ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=2,
                                     early_stopping=True, do_sample=False, no_repeat_ngram_size=2)
                assert torch.equal(search(model, ids, mask, 8, 2, 2), ref), key
        finally:
            setattr(model.generation_config, key, old)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_ngram_bans_equal_transformers_rule(n):
    """banned() against transformers' own n-gram tables on random rows over a small vocabulary (many repeats)."""
    from transformers.generation.logits_process import _calc_banned_ngram_tokens

    from codeintel.tasks.decoding import banned

    g = torch.Generator().manual_seed(n)
    for length in (1, n - 1, n, n + 1, 12, 30):
        if length < 1:
            continue
        seqs = torch.randint(0, 5, (16, length), generator=g)
        ref = _calc_banned_ngram_tokens(n, seqs, 16, length)
        rows, tokens = banned(seqs, n)
        mine = [set() for _ in range(16)]
        for r, t in zip(rows.tolist(), tokens.tolist(), strict=True):
            mine[r].add(t)
        assert mine == [set(x) for x in ref], (n, length)


def test_beam_search_with_the_vectorised_rule_equals_generate(model):
    from transformers.modeling_outputs import BaseModelOutput

    from codeintel.tasks.decoding import ngram_kwargs

    hidden, mask = states(model, seed=1)
    favoured = torch.zeros(model.config.get_text_config(decoder=True).vocab_size)
    favoured[[5, 6, 7]] = 4.0                                   # a few tokens raised: repeats to ban
    hook = model.get_output_embeddings().register_forward_hook(lambda mod, args, out: out + favoured)

    def beams(**kw):
        with torch.no_grad():
            return model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                                  max_new_tokens=14, num_beams=4, early_stopping=True, do_sample=False, **kw)

    try:
        plain, changed = beams(**ngram_kwargs(0)), 0
        for n in (1, 2, 3):
            ref = beams(no_repeat_ngram_size=n)
            assert torch.equal(beams(**ngram_kwargs(n)), ref), n
            changed += not torch.equal(plain, ref)
    finally:
        hook.remove()
    assert changed >= 2                                         # the rule changes these outputs


def left_padded(tok, texts):
    ids = [tok(t)["input_ids"] for t in texts]
    longest = max(len(x) for x in ids)
    batch = torch.full((len(ids), longest), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(batch)
    for r, x in enumerate(ids):
        batch[r, longest - len(x):], mask[r, longest - len(x):] = torch.tensor(x), 1
    return batch, mask


@pytest.fixture(scope="module")
def causal():
    torch.manual_seed(0)
    loaded = load_model("tiny-codegpt", "causal-lm")
    return loaded.model.eval(), loaded.tokenizer


def test_causal_greedy_equals_generate_with_stop_strings(causal):
    """A causal LM: left-padded prompts encoded once, rows ending at EOS or at a stop string leave the batch."""
    from transformers.generation.stopping_criteria import StopStringCriteria

    model, tok = causal
    ids, mask = left_padded(tok, SOURCES)
    with torch.no_grad():
        for n in (0, 2):
            ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=20, do_sample=False,
                                 pad_token_id=tok.pad_token_id, no_repeat_ngram_size=n)
            assert torch.equal(decode(model, ids, mask, 20, no_repeat_ngram_size=n, pad_token_id=tok.pad_token_id),
                               ref), n
        text = tok.batch_decode(ref[:, ids.shape[1]:])
        stops = sorted({t[2:4] for t in text if len(t) > 4})[:3]           # pieces some rows produce
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=20, do_sample=False,
                             pad_token_id=tok.pad_token_id, stop_strings=stops, tokenizer=tok)
        mine = decode(model, ids, mask, 20, pad_token_id=tok.pad_token_id, stop=StopStringCriteria(tok, stops))
    assert torch.equal(mine, ref)
    assert (ref[:, -1] == tok.pad_token_id).any()                            # some rows stopped early


def test_seq2seq_sampling_draws_generates_numbers_while_no_row_ends(model):
    """Sampling n per input: the encoder once, its states repeated as generate repeats them; with the same seed
    the same tokens as generate's until a row ends (then the rows left draw alone)."""
    from transformers.modeling_outputs import BaseModelOutput

    hidden, mask = states(model, seed=2)
    eos = model.generation_config.eos_token_id
    never = torch.zeros(model.config.get_text_config(decoder=True).vocab_size)
    never[eos] = -1e9                                           # no row ends: the streams stay aligned
    hook = model.get_output_embeddings().register_forward_hook(lambda mod, args, out: out + never)
    try:
        with torch.no_grad():
            torch.manual_seed(7)
            ref = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                                 max_new_tokens=6, do_sample=True, num_return_sequences=3, temperature=0.7,
                                 top_p=0.9)
            torch.manual_seed(7)
            mine = decode(model, None, mask, 6, n=3, sample=True, temperature=0.7, top_p=0.9, encoder_hidden=hidden)
    finally:
        hook.remove()
    assert not (ref == eos).any()
    assert ref.shape == (3 * len(hidden), 7) and torch.equal(mine, ref)
    assert len({tuple(r) for r in ref[:3].tolist()}) > 1        # the n samples of one input differ


def test_causal_sampling_shares_the_prompt(causal):
    model, tok = causal
    ids, mask = left_padded(tok, SOURCES[:3])
    with torch.no_grad():
        torch.manual_seed(3)
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5, do_sample=True,
                             num_return_sequences=4, pad_token_id=tok.pad_token_id)
        torch.manual_seed(3)
        mine = decode(model, ids, mask, 5, n=4, sample=True, pad_token_id=tok.pad_token_id)
    assert torch.equal(mine[:, : ids.shape[1]], ids.repeat_interleave(4, 0))
    assert not (ref[:, ids.shape[1]:] == tok.eos_token_id).any()
    assert torch.equal(mine, ref)


@pytest.mark.parametrize("beams, ngram, early", [(4, 0, True), (4, 2, True), (10, 2, True), (3, 0, False)])
def test_beam_search_equals_generate_token_for_token(model, beams, ngram, early):
    """Inputs whose search is over leave the batch; the result is generate's, whatever order they finish in. EOS is
    lifted by a few amounts (these untrained models rarely end) until the inputs end at different steps."""
    from transformers.modeling_outputs import BaseModelOutput

    from codeintel.tasks.decoding import beam_search

    hidden, mask = states(model, rows=6, seed=3)
    eos = model.generation_config.eos_token_id
    varied = 0
    for amount in (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5):
        lift = torch.zeros(model.config.get_text_config(decoder=True).vocab_size)
        lift[eos] = amount
        hook = model.get_output_embeddings().register_forward_hook(lambda mod, args, out, lift=lift: out + lift)
        try:
            with torch.no_grad():
                ref = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                                     max_new_tokens=12, num_beams=beams, early_stopping=early, do_sample=False,
                                     no_repeat_ngram_size=ngram)
                mine = beam_search(model, None, mask, 12, beams, ngram, early, encoder_hidden=hidden)
        finally:
            hook.remove()
        assert mine.shape == ref.shape and torch.equal(mine, ref), amount
        ended = {int((row == eos).nonzero()[0]) if (row == eos).any() else None for row in ref}
        varied += len(ended) >= 2                               # inputs finished at different steps
    assert varied
