"""The two API tasks of the continual-learning stream, and the tensors the loop trains on.

* **api-call**: the input is the sample's code up to the call's method name (``source_code[:offset]`` as the
  paper: after ``receiver.``, or before the name of a bare call to an imported function, ``join(...)`` after
  ``from os.path import join`` or JUnit's statically imported ``assertEquals(...)``), the output the method name.
  Decoding samples ``num_samples`` (10) continuations and reports pass@1/5/10 as the paper (the name equals
  the first, one of the first 5, one of the 10 samples); ``decoding=beam`` ranks ``num_samples`` beams instead
  (exact@1/5/10, deterministic). The name is the identifier the model writes before any other character, over
  up to ``max_new_tokens`` tokens, so names of several sub-tokens can be predicted (the authors generate one
  token, so only single-token names can ever match).
* **api-usage**: the output is the whole call expression: ``Class.`` / the module included, a variable
  receiver excluded, up to the balancing ``)``; decoding as the paper (≤ 30 new tokens, T = 0.2, top-p 0.95,
  no top-k), cut at balanced parentheses or a stop string, surplus ``)`` stripped, newlines collapsed;
  scored by exact match and CodeXGLUE's ``_bleu`` as the authors' evaluator calls it: corpus BLEU-4 over
  whitespace tokens with add-one smoothing on every order (``smooth=True``), × 100 rounded to 2 decimals.
  Targets of more than ``max_new_tokens`` tokens are left out. Horizontal whitespace that ends the context is
  moved to the start of the target, so a byte-level BPE sees `` os`` as one token, as in training.

Training items: causal-LM blocks of the code (decoders: samples joined with ``</s>`` and cut into blocks of
``block_size``; T5: each window split at a seeded point, the encoder reads the left part and the decoder
continues it); validation items put the loss on the target tokens only (the paper's API-token loss).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from codeintel.backbones.family import family as family_of
from codeintel.continual.apis import Sample
from codeintel.continual.streams import target_calls
from codeintel.eval.bleu import corpus_bleu

TASKS = ("api-call", "api-usage")
STOPS = ("\n//", "\n@", "\nif", ");", ") {", "\n{", ")\n", ").")
Data = dict[str, torch.Tensor]  # rows of fixed-length tensors: input_ids, attention_mask, labels


@dataclass
class Example:
    context: str
    target: str       # what is scored: the method name, or the call expression
    api: str
    sample: str
    follow: str = ""  # trained after the target, so a model learns where it ends: "(" after a method name

    @property
    def trained(self) -> str:
        return self.target + self.follow


def examples(samples: list[Sample], apis: list[str] | None, task: str) -> list[Example]:
    """The call sites of ``apis`` (all resolved calls when None: in-distribution data) as task examples."""
    out = []
    for s in samples:
        calls = target_calls(s, apis) if apis is not None else s.calls
        for c in calls:
            if task == "api-call":   # a bare call (`join(...)` from `from os.path import join`) too: its input
                out.append(Example(s.code[: c.name_start], c.method, c.api, s.id, "("))   # ends before the name
            else:
                ctx = s.code[: c.usage_start]
                stripped = ctx.rstrip(" \t")
                out.append(Example(stripped, s.code[len(stripped) : c.end], c.api, s.id))
    return out


def collapse(text: str) -> str:
    """Newlines (and the indentation around them) become one space; ends stripped."""
    return re.sub(r"\s*\n\s*", " ", text).strip()


def cut_usage(text: str) -> str:
    """A generated call expression, cut as the paper: at balanced parentheses or a stop string, after the last
    ``)``, without surplus closing parentheses, newlines collapsed."""
    depth, end = 0, len(text)
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth <= 0:
                end = i + 1
                break
    text = text[:end]
    for stop in STOPS:
        at = text.find(stop)
        if at >= 0:
            text = text[: at + (1 if stop[0] == ")" else 0)]
    if ")" in text:
        text = text[: text.rindex(")") + 1]
    while text.count(")") > text.count("(") and text.endswith(")"):
        text = text[:-1]
    return collapse(text)


def leading_name(text: str) -> str:
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text)
    return m.group(0) if m else ""


# --------------------------------------------------------------------------- tensors

class Encoder:
    """Tokenizes samples and examples for one model family (decoders, or T5 as a prefix LM)."""

    def __init__(self, tokenizer, family: str, block_size: int, target_len: int = 64) -> None:
        self.tok, self.family, self.block_size, self.target_len = tokenizer, family, block_size, target_len
        self.kind = family_of(family)
        self.seq2seq = self.kind.seq2seq
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos = tokenizer.eos_token_id

    def ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False, verbose=False)["input_ids"]

    def lm_items(self, samples: list[Sample], seed: int) -> Data:
        """Training items of a set of samples: blocks of its code."""
        stream: list[int] = []
        for s in samples:
            stream += self.ids(s.code) + [self.eos]
        n = self.block_size
        blocks = [stream[i : i + n] for i in range(0, len(stream), n)]
        blocks = [b for b in blocks if len(b) >= 8]
        if not self.seq2seq:
            return self._stack([(b, [1] * len(b), b) for b in blocks], n, n)
        rng = np.random.default_rng(seed)
        rows = []
        for b in blocks:
            cut = int(rng.integers(1, len(b) - 1))
            rows.append((b[:cut] + [self.eos], [1] * (cut + 1), b[cut : cut + self.target_len]))
        return self._stack(rows, n + 1, self.target_len)

    def target_items(self, exs: list[Example]) -> Data:
        """Items whose loss falls on the target's tokens only (validation; training with ``objective=api``).

        Decoders: left-padded, so every target ends the row and only the last ``max targets + 1`` positions go
        through the LM head (:meth:`forward`); ``n_target`` holds each row's target length.
        """
        rows, n_target = [], []
        for ex in exs:
            tgt = self.ids(ex.trained)[: self.target_len]
            if not tgt:
                continue
            if self.seq2seq:
                ctx = self.ids(ex.context)[-(self.block_size - 1) :] + [self.eos]
                rows.append((ctx, [1] * len(ctx), tgt))
            else:
                ctx = self.ids(ex.context)[-(self.block_size - len(tgt)) :]
                rows.append((ctx + tgt, [1] * (len(ctx) + len(tgt)), [-100] * len(ctx) + tgt))
            n_target.append(len(tgt))
        if not rows:
            return {}
        width = max(len(r[0]) for r in rows)
        if self.seq2seq:
            data = self._stack(rows, width, max(len(r[2]) for r in rows))
        else:
            flipped = [(x[::-1], m[::-1], y[::-1]) for x, m, y in rows]  # right-pad reversed rows, flip back
            data = {k: v.flip(1) for k, v in self._stack(flipped, width, width).items()}
            data["position_ids"] = self.kind.left_padded_positions(data["attention_mask"], self.pad)
        data["n_target"] = torch.tensor(n_target)
        return data

    def forward(self, model, batch: Data) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean loss, logits of the predicting positions, mask of the positions that count) of a batch on the
        model's device: LM blocks, target items, or T5 pairs alike."""
        batch = dict(batch)
        n_target = batch.pop("n_target", None)
        labels = batch["labels"]
        if self.seq2seq:
            out = model(**batch)
            return out.loss, out.logits, labels != -100
        if n_target is None:  # LM blocks: position t predicts token t + 1
            out = model(**batch)
            return out.loss, out.logits[:, :-1], labels[:, 1:] != -100
        keep = int(n_target.max()) + 1  # the targets and the position before them
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = self.kind.last_logits(model, inputs, keep)
        pred, tgt = logits[:, :-1], labels[:, -(keep - 1) :]
        loss = torch.nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), tgt.reshape(-1), ignore_index=-100)
        return loss, pred, tgt != -100

    def _stack(self, rows, width: int, label_width: int) -> Data:
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), label_width), -100, dtype=torch.long)
        for i, (x, m, y) in enumerate(rows):
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(m)] = torch.tensor(m)
            labels[i, : len(y)] = torch.tensor(y)
        if not self.seq2seq:
            labels[mask == 0] = -100
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def take(data: Data, idx) -> Data:
    return {k: v[idx] for k, v in data.items()}


def concat(parts: list[Data]) -> Data:
    """Rows of several item sets, padded to the widest: decoder target items (they carry ``position_ids``) on the
    left, everything else on the right; new padding is masked and unlabelled."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    left = "position_ids" in parts[0]
    out = {}
    for k in parts[0]:
        if parts[0][k].dim() == 1:
            out[k] = torch.cat([p[k] for p in parts])
            continue
        width = max(p[k].shape[1] for p in parts)
        fill = -100 if k == "labels" else 0
        out[k] = torch.cat([torch.nn.functional.pad(p[k], (width - p[k].shape[1], 0) if left else
                                                    (0, width - p[k].shape[1]), value=fill) for p in parts])
    return out


def rows(data: Data) -> int:
    return len(data["input_ids"]) if data else 0


@torch.no_grad()
def target_loss(enc: Encoder, model, data: Data, batch_size: int, device) -> float:
    """Mean cross-entropy over the positions that count (the targets of target items) of ``data``."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, rows(data), batch_size):
        loss, _, mask = enc.forward(model, {k: v[start : start + batch_size].to(device) for k, v in data.items()})
        n = int(mask.sum())
        if n:
            total += float(loss) * n
            count += n
    return total / max(count, 1)


# --------------------------------------------------------------------------- prediction and scores

@torch.no_grad()
def predict(model, enc: Encoder, exs: list[Example], task: str, *, decoding: str, num_samples: int,
            max_new_tokens: int, temperature: float, top_p: float, batch_size: int, seed: int,
            device) -> list[list[str]]:
    """Per example, the ranked candidate outputs (``num_samples`` of them; beams deduplicated)."""
    model.eval()
    torch.manual_seed(seed)
    order = sorted(range(len(exs)), key=lambda i: len(exs[i].context))
    out: list[list[str]] = [[] for _ in exs]
    budget = enc.block_size - max_new_tokens
    encoded = {i: enc.ids(exs[i].context)[-budget:] if not enc.seq2seq else
               enc.ids(exs[i].context)[-(enc.block_size - 1):] + [enc.eos] for i in order}
    order.sort(key=lambda i: len(encoded[i]))
    if decoding == "greedy":
        num_samples = 1
    kwargs = dict(max_new_tokens=max_new_tokens, num_return_sequences=num_samples, pad_token_id=enc.pad)
    if decoding == "greedy":
        kwargs.update(do_sample=False, num_beams=1)
    elif decoding == "beam":
        kwargs.update(do_sample=False, num_beams=num_samples, **({"early_stopping": True} if num_samples > 1 else {}))
    else:
        # api-usage: the authors' top_k=0 (nucleus only); api-call: HF's default top_k=50, which they leave on
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0 if task == "api-usage" else 50)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if enc.seq2seq:
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), enc.pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, i in enumerate(idx):
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[r, : len(encoded[i])] = 1
        else:  # decoders: no padding at all (contexts of a batch cut on the left to the shortest one)
            width = min(len(encoded[i]) for i in idx)
            ids = torch.tensor([encoded[i][len(encoded[i]) - width :] for i in idx])
            mask = torch.ones_like(ids)
        if decoding in ("sample", "greedy") and not enc.seq2seq:
            new = sample_decoder(model, ids.to(device), num_samples, max_new_tokens,
                                 0.0 if decoding == "greedy" else temperature, top_p)
        else:
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
            new = gen if enc.seq2seq else gen[:, width:]
        texts = enc.tok.batch_decode(new, skip_special_tokens=True)
        for r, i in enumerate(idx):
            cands = texts[r * num_samples : (r + 1) * num_samples]
            cands = [leading_name(c) for c in cands] if task == "api-call" else [cut_usage(c) for c in cands]
            if decoding == "beam":
                cands = list(dict.fromkeys(cands))
            out[i] = cands
    return out


def sample_decoder(model, ids: torch.Tensor, n: int, max_new_tokens: int, temperature: float,
                   top_p: float) -> torch.Tensor:
    """``n`` sampled continuations per row of an unpadded (B, L) batch: (B * n, max_new_tokens), rows of one
    input adjacent. The context is encoded once and its key/value cache repeated ``n`` times (``generate``
    would encode each of the ``n`` copies: ``n`` times the work)."""
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    past.batch_repeat_interleave(n)
    logits = out.logits[:, -1].repeat_interleave(n, dim=0)                       # (B * n, V)
    tokens = []
    for step in range(max_new_tokens):
        nxt = sample_token(logits, temperature, top_p)                          # (B * n,)
        tokens.append(nxt)
        if step + 1 < max_new_tokens:
            out = model(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[:, -1]
    return torch.stack(tokens, dim=1)


def sample_token(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """One token per row from softmax(logits / T), restricted to the smallest set of probability >= top_p; the
    arg-max at T = 0."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / max(temperature, 1e-6), dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        outside = sorted_p.cumsum(-1) - sorted_p > top_p                        # (the top token always stays)
        sorted_p = sorted_p.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    return torch.multinomial(probs, 1).squeeze(-1)


def score(task: str, exs: list[Example], preds: list[list[str]], decoding: str, num_samples: int = 10
          ) -> dict[str, float]:
    """api-call: pass@k (sampling) or exact@k (beam) for k = 1, 5, 10 (those up to ``num_samples``), × 100;
    api-usage: exact match and CodeXGLUE's smoothed ``_bleu`` of the first candidate, × 100."""
    if not exs:
        return {}
    if task == "api-call":
        return {name: 100.0 * float(np.mean([ex.target in p[:k] for ex, p in zip(exs, preds, strict=True)]))
                for name, k in zip(metric_names(task, decoding, num_samples), KS, strict=False)}
    firsts = [p[0] if p else "" for p in preds]
    refs = [collapse(ex.target) for ex in exs]
    return {"exact_match": 100.0 * float(np.mean([a == b for a, b in zip(firsts, refs, strict=True)])),
            "bleu": round(corpus_bleu(firsts, refs, smooth=True), 2)}


def per_example(task: str, exs: list[Example], preds: list[list[str]], decoding: str, num_samples: int = 10
                ) -> dict[str, Any]:
    """Each metric of :func:`score` as per-example statistics (:class:`codeintel.eval.resample.Decomposed`):
    whether the name is among the first k (× 100, a mean), or the first candidate's exact match and its
    ``_bleu`` n-gram counts (smoothed corpus BLEU, 2 decimals), so ``codeintel compare`` can resample them."""
    from codeintel.eval.bleu import bleu_stats
    from codeintel.eval.resample import Decomposed

    if task == "api-call":
        return {name: Decomposed("mean", [float(ex.target in p[:k]) for ex, p in zip(exs, preds, strict=True)],
                                 scale=100.0)
                for name, k in zip(metric_names(task, decoding, num_samples), KS, strict=False)}
    firsts = [p[0] if p else "" for p in preds]
    refs = [collapse(ex.target) for ex in exs]
    return {"exact_match": Decomposed("mean", [float(a == b) for a, b in zip(firsts, refs, strict=True)], scale=100.0),
            "bleu": Decomposed("bleu_smooth", [bleu_stats(a, b) for a, b in zip(firsts, refs, strict=True)],
                               digits=2)}


KS = (1, 5, 10)


def metric_names(task: str, decoding: str, num_samples: int = 10) -> list[str]:
    if task == "api-call":
        prefix = "pass" if decoding == "sample" else "exact"
        return [f"{prefix}@{k}" for k in KS if k <= (1 if decoding == "greedy" else num_samples)]
    return ["exact_match", "bleu"]
