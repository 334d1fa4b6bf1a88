"""Greedy decoding (codeintel.tasks.decoding): token for token what ``generate`` returns, rows that end early
included, with and without the n-gram rule; configurations it does not cover are left to ``generate``."""

import pytest
import torch

from codeintel.backbones.loading import shipped_tokenizer
from codeintel.tasks.common import pad
from codeintel.tasks.decoding import greedy, supported
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


def test_the_encoder_runs_once_on_token_ids(model):
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
        finally:
            setattr(model.generation_config, key, old)
    causal = load_model("tiny-codegpt", "causal-lm").model
    assert not supported(causal)


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
