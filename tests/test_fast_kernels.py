"""``train.fast_kernels``: cheaper dropout masks (same Bernoulli, another stream) and the LM head on real target
positions only (the same loss and gradients)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from codeintel.recipes.engine import dropout_noise, fast_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.003])
def test_dropout_noise_is_bernoulli_in_every_part_of_each_draw(p):
    """Each 64-bit draw gives four keep decisions (int16 parts; two int32 parts for 0.003, which 2^-16 cannot
    round to within 0.1 %): every part is Bernoulli(1 - p) and independent of its neighbour, and the kept value
    is the inverse of the keep probability actually used (0.1 -> 6553 of 65536 dropped)."""
    torch.manual_seed(0)
    n = 2_000_003                                                    # not a multiple of 4: the last draw is cut
    noise = dropout_noise((n,), p)
    assert noise.dtype == torch.float32 and noise.shape == (n,)
    bits = 32 if p == 0.003 else 16
    q = 1 - round(p * 2**bits) / 2**bits
    assert abs(q - (1 - p)) <= 1e-3 * p
    assert noise.unique().tolist() == pytest.approx([0.0, 1 / q], rel=1e-7)         # inverted dropout's two values
    assert abs(noise.double().mean().item() - 1) < 5 * math.sqrt(p / (1 - p) / n)      # E[noise] = 1
    mask = noise != 0
    per = 64 // bits
    sd = math.sqrt(q * (1 - q) / (n / per))
    for i in range(per):                                             # each part of the 64-bit values
        assert abs(mask[i::per].float().mean().item() - q) < 5 * sd
    pairs = mask[: n - n % 2].view(-1, 2).float()                   # neighbouring parts are independent
    both = (pairs[:, 0] * pairs[:, 1]).mean().item()
    assert abs(both - q**2) < 5 * math.sqrt(q**2 * (1 - q**2) / (n / 2))


def test_dropout_noise_follows_torch_seeding_and_dtype():
    torch.manual_seed(3)
    a = dropout_noise((4, 5, 6), 0.2)
    torch.manual_seed(3)
    b = dropout_noise((4, 5, 6), 0.2)
    c = dropout_noise((4, 5, 6), 0.2)
    assert a.shape == (4, 5, 6) and torch.equal(a, b) and not torch.equal(b, c)
    assert dropout_noise((3, 3), 0.5, torch.bfloat16).dtype == torch.bfloat16


def test_fast_dropout_scales_kept_values_and_their_gradient():
    x = torch.randn(200, 300, requires_grad=True)
    layer = torch.nn.Dropout(0.25)
    with fast_dropout():
        y = layer(x)                                                 # nn.Dropout goes through F.dropout
        z = F.dropout(x, 0.25, training=False)                       # eval: untouched
    kept = y.detach() != 0
    assert torch.equal(z, x)
    assert torch.allclose(y.detach()[kept], x.detach()[kept] / 0.75)
    assert abs(kept.float().mean().item() - 0.75) < 0.01
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.75)


def test_attention_dropout_of_sdpa_is_the_math_path_with_the_fast_noise():
    """SDPA's probability dropout (RoBERTa, GPT-2) is intercepted too; without dropout it is the same attention
    as torch's (additive and boolean masks, causal, explicit scale), with dropout every kept probability is
    scaled by 1 / (1 - p) — compared with the noise drawn from the same seed."""
    from codeintel.recipes.engine import _attention_with_fast_dropout

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 7, 16), torch.randn(2, 4, 9, 16), torch.randn(2, 4, 9, 16)
    additive, boolean = torch.randn(2, 1, 7, 9), torch.rand(2, 1, 7, 9) > 0.3
    boolean[..., 0] = True
    for kwargs in ({"attn_mask": additive}, {"attn_mask": boolean}, {"scale": 0.3}):
        got = _attention_with_fast_dropout(q, k, v, dropout_p=1e-12, **kwargs)     # keeps everything
        assert torch.allclose(got, F.scaled_dot_product_attention(q, k, v, **kwargs), atol=1e-6)
    q9 = torch.randn(2, 4, 9, 16)
    got = _attention_with_fast_dropout(q9, k, v, dropout_p=1e-12, is_causal=True)
    assert torch.allclose(got, F.scaled_dot_product_attention(q9, k, v, is_causal=True), atol=1e-6)
    assert _attention_with_fast_dropout(q, k, v) is None                               # no dropout: torch's own
    torch.manual_seed(5)
    with fast_dropout():
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    torch.manual_seed(5)
    probs = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
    assert torch.allclose(out, (probs * dropout_noise(probs.shape, 0.4)) @ v, atol=1e-6)


@pytest.mark.parametrize("model_name", ["tiny-codet5", "tiny-codebert"])
def test_target_positions_loss_equals_the_models_own_loss(model_name):
    from codeintel.tasks.models import load_model
    from codeintel.tasks.summarization import target_positions_loss

    torch.manual_seed(0)
    model = load_model(model_name, "summarization").model                 # eval mode: no dropout
    labels = torch.tensor([[5, 6, 7, 2, -100, -100], [8, 9, 10, 11, 12, 2], [13, 2, -100, -100, -100, -100]])
    batch = {"input_ids": torch.randint(5, 500, (3, 9)), "attention_mask": torch.ones(3, 9, dtype=torch.long),
             "labels": labels}
    batch["attention_mask"][2, 6:] = 0
    plain = model(**batch).loss
    plain.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    fast = target_positions_loss(model, batch)
    fast.backward()
    assert fast.item() == pytest.approx(plain.item(), rel=1e-6)
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert got.keys() == want.keys()
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-6, rtol=1e-5), name
    assert not model.get_output_embeddings()._forward_pre_hooks                 # the hook is removed


KILL_AT_STEP = """
import os, signal, sys
import torch
calls = [0]
step = torch.optim.AdamW.step
def killing_step(*a, **k):
    calls[0] += 1
    if calls[0] == int(os.environ["KILL_AT_STEP"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return step(*a, **k)
torch.optim.AdamW.step = killing_step
from codeintel.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_training_with_fast_kernels_is_seeded_and_resumes_identically(tmp_path):
    """The masks come from torch's generator: the same seed gives the same run, and a run killed with SIGKILL
    mid-training resumes (RNG states restored) to the identical result."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from codeintel.cli import main

    args = ["train", "--no-progress", "train.fast_kernels=true", "train.max_steps=6", "train.save_every=2",
            "data.max_train_examples=64", "data.max_eval_examples=8", "train.evals_per_epoch=2", "train.threads=1"]
    for run in ("a", "b"):
        assert main([*args, "--out", str(tmp_path / run)]) == 0
    a, b = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("a", "b"))
    assert a["history"] == b["history"] and a["test"] == b["test"]

    script = tmp_path / "kill.py"
    script.write_text(KILL_AT_STEP)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KILL_AT_STEP": "5"}
    proc = subprocess.run([sys.executable, str(script), *args, "--out", str(tmp_path / "k")], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert main(["train", "--resume", str(tmp_path / "k"), "--no-progress"]) == 0
    k = json.loads((tmp_path / "k" / "metrics.json").read_text())
    assert k["history"] == a["history"] and k["test"] == a["test"]


def test_pretraining_with_fast_kernels_is_seeded_and_uses_the_fast_noise(tmp_path):
    import codeintel

    def run(name, fast):
        return codeintel.pretrain("contrastive", out=tmp_path / name, echo=lambda *a, **k: None,
                                  overrides={"train.max_steps": 3, "train.batch_size": 4, "source_len": 64,
                                             "contrastive.queue_size": 8, "contrastive.variants": 1,
                                             "train.fast_kernels": fast})["history"]

    a, b, plain = run("a", True), run("b", True), run("plain", False)
    assert a == b                                   # the same seed, the same run
    assert a[0]["mlm"] != plain[0]["mlm"]           # other dropout noise from the first step (same masking)
