"""Continual-learning strategies as small hook objects for one explicit training loop.

The loop (:mod:`codeintel.recipes.continual`) calls, per experience::

    before_experience(ctx, model)
    for each epoch:
        for batch in batches(ctx):                  # mixing (replay)
            before_forward(ctx, model, batch)       # RWalk: the clean gradient
            loss = lm_loss + loss_penalty(ctx, model, batch, outputs)   # EWC, SI, RWalk, LwF
            loss.backward(); after_backward(ctx, model)                 # A-GEM projection
            optimizer.step(); after_step(ctx, model)                    # SI/RWalk path integrals
    after_experience(ctx, model)                    # importances, buffers, anchors

Every strategy overrides only the hooks it needs; :class:`Strategy` holds the no-op defaults (that is the
whole hierarchy). Defaults are the settings of Weyssow et al.'s code (``martin-wey/cl-code-apis``), which runs
Avalanche's plugins or copies of them: EWC and RWalk penalise ``λ · Σ Ω (θ − θ*)²`` without a ½, Avalanche's SI
with ``(λ / 2) · Σ Ω (θ − θ*)²``.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from codeintel.continual.tasks import Data, concat, rows, take
from codeintel.registry import LazyTable


@dataclass
class Context:
    """What the hooks see of the current experience."""

    index: int
    name: str
    own: Data                   # this experience's training items
    seen: list[Data]            # the training items of the earlier experiences
    batch_size: int
    forward: Callable[[Any, Data], tuple]   # (mean loss, logits, mask of counted positions); moves the batch
    rng: np.random.Generator
    train: Data = field(default_factory=dict)   # what the loop trains on (a strategy may replace it)
    step: int = 0

    def __post_init__(self) -> None:
        if not self.train:
            self.train = self.own

    def loss(self, model, batch: Data) -> torch.Tensor:
        return self.forward(model, batch)[0]


def trainable(model) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def clone_params(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trainable(model)}


def zeros_like_params(model) -> dict[str, torch.Tensor]:
    return {n: torch.zeros_like(p) for n, p in trainable(model)}


def quadratic(model, importance: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ importance · (θ − anchor)² over the trainable parameters."""
    return sum(((importance[n] * (p - anchor[n]) ** 2).sum() for n, p in trainable(model)),
               torch.zeros((), device=next(model.parameters()).device))


def default_batches(data: Data, batch_size: int, rng: np.random.Generator) -> Iterator[Data]:
    order = rng.permutation(rows(data))
    for start in range(0, len(order), batch_size):
        yield take(data, torch.as_tensor(order[start : start + batch_size]))


class Strategy:
    """Sequential fine-tuning (``naive``): every hook is a no-op."""

    name = "naive"
    joint = False  # the loop trains once on every experience's data

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        self.cfg, self.seed = cfg, seed

    def before_experience(self, ctx: Context, model) -> None:
        pass

    def batches(self, ctx: Context) -> Iterator[Data]:
        return default_batches(ctx.train, ctx.batch_size, ctx.rng)

    def before_forward(self, ctx: Context, model, batch: Data) -> None:
        """Before the step's forward pass (RWalk: the clean gradient at the parameters the step starts from)."""

    def steps(self, ctx: Context) -> int:
        """Batches per epoch (for the progress bar)."""
        return -(-rows(ctx.train) // ctx.batch_size)

    def loss_penalty(self, ctx: Context, model, batch: Data, outputs: tuple) -> torch.Tensor | None:
        """``outputs``: (loss, logits, mask) of the batch, as ``ctx.forward`` returns them."""
        return None

    def after_backward(self, ctx: Context, model) -> None:
        pass

    def after_step(self, ctx: Context, model) -> None:
        pass

    def after_experience(self, ctx: Context, model) -> None:
        pass


class Cumulative(Strategy):
    """Train on every experience seen so far (the upper bound of sequential learning)."""

    name = "cumulative"

    def before_experience(self, ctx: Context, model) -> None:
        ctx.train = concat([*ctx.seen, ctx.own])


class Joint(Strategy):
    """All experiences at once, offline (the loop merges the stream into one experience)."""

    name = "joint"
    joint = True


class Replay(Strategy):
    """A reservoir buffer of ``memory`` items over everything seen; each batch is ``batch_new`` new items plus
    ``batch_mem`` from the buffer (plain batches while the buffer is empty)."""

    name = "replay"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.buffer: list[Data] = []    # single rows
        self.seen_count = 0
        self.rand = random.Random(f"replay:{seed}")

    def memory(self) -> Data:
        return concat(self.buffer)

    def batches(self, ctx: Context) -> Iterator[Data]:
        if not self.buffer:
            yield from default_batches(ctx.train, ctx.batch_size, ctx.rng)
            return
        mem = self.memory()
        order = ctx.rng.permutation(rows(ctx.train))
        for start in range(0, len(order), self.cfg.batch_new):
            new = take(ctx.train, torch.as_tensor(order[start : start + self.cfg.batch_new]))
            pick = ctx.rng.choice(rows(mem), size=min(self.cfg.batch_mem, rows(mem)), replace=False)
            yield concat([new, take(mem, torch.as_tensor(pick))])

    def steps(self, ctx: Context) -> int:
        return -(-rows(ctx.train) // (self.cfg.batch_new if self.buffer else ctx.batch_size))

    def after_experience(self, ctx: Context, model) -> None:
        for i in range(rows(ctx.own)):  # reservoir sampling: every item seen so far is kept with equal probability
            self.seen_count += 1
            item = take(ctx.own, slice(i, i + 1))
            if len(self.buffer) < self.cfg.memory:
                self.buffer.append(item)
            else:
                j = self.rand.randrange(self.seen_count)
                if j < self.cfg.memory:
                    self.buffer[j] = item


class EWC(Strategy):
    """Elastic weight consolidation, one penalty per earlier experience: ``λ Σ_e Σ F_e (θ − θ*_e)²``; the
    importance F_e is the mean over the experience's mini-batches of the squared gradients of the batch-mean
    loss, computed in eval mode (no dropout) after the experience."""

    name = "ewc"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.anchors: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []

    def loss_penalty(self, ctx: Context, model, batch: Data, outputs: tuple) -> torch.Tensor | None:
        if not self.anchors:
            return None
        return self.cfg.lam * sum(quadratic(model, f, star) for f, star in self.anchors)

    def after_experience(self, ctx: Context, model) -> None:
        self.anchors.append((fisher(model, ctx.own, ctx.batch_size, ctx.loss), clone_params(model)))


def fisher(model, data: Data, batch_size: int, loss_fn) -> dict[str, torch.Tensor]:
    """Mean over mini-batches (in order) of the squared gradient of the batch-mean loss."""
    was_training = model.training
    model.eval()
    out, batches = zeros_like_params(model), 0
    for start in range(0, rows(data), batch_size):
        model.zero_grad(set_to_none=True)
        loss_fn(model, take(data, slice(start, start + batch_size))).backward()
        for n, p in trainable(model):
            if p.grad is not None:
                out[n] += p.grad.detach() ** 2
        batches += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {n: v / max(batches, 1) for n, v in out.items()}


class SI(Strategy):
    """Synaptic intelligence (Zenke et al. 2017) as Avalanche's ``SynapticIntelligencePlugin`` computes it (the
    plugin the authors use). Along each experience's path ω += −g · Δθ per step, with g the gradient the optimizer
    stepped with (of loss + penalty, read after the step, as Avalanche reads it); at the experience's end
    C += ω / (Δ² + ε) with Δ the experience's total change, and the importance is Ω = min(C, ``clip_to``)
    (Avalanche caps it at 0.001 and has no floor, so a parameter whose path raised the loss is pulled *away*
    from its anchor); penalty ``(λ / 2) Σ Ω (θ − θ*)²`` around the previous experience's end point."""

    name = "si"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.cum: dict[str, torch.Tensor] | None = None
        self.omega: dict[str, torch.Tensor] | None = None
        self.star: dict[str, torch.Tensor] | None = None

    def before_experience(self, ctx: Context, model) -> None:
        self.start, self.prev = clone_params(model), clone_params(model)
        self.path = zeros_like_params(model)
        if self.cum is None:
            self.cum = zeros_like_params(model)

    def loss_penalty(self, ctx: Context, model, batch: Data, outputs: tuple) -> torch.Tensor | None:
        return None if self.star is None else self.cfg.lam / 2 * quadratic(model, self.omega, self.star)

    def after_step(self, ctx: Context, model) -> None:
        for n, p in trainable(model):
            g = p.grad.detach() if p.grad is not None else torch.zeros_like(p)
            self.path[n] -= g * (p.detach() - self.prev[n])
            self.prev[n] = p.detach().clone()

    def after_experience(self, ctx: Context, model) -> None:
        for n, p in trainable(model):
            self.cum[n] += self.path[n] / ((p.detach() - self.start[n]) ** 2 + self.cfg.eps)
        self.omega = {n: c.clamp(max=self.cfg.clip_to) for n, c in self.cum.items()}
        self.star = clone_params(model)


class RWalk(Strategy):
    """Riemannian walk (Chaudhry et al. 2018) as Avalanche's ``RWalkPlugin`` computes it (the authors use a copy).

    Before every step, the gradient g of the *clean* loss (no penalty, model in eval mode) on the step's batch
    gives the online Fisher, F = g² at the first step of the stream, then F = α g² + (1 − α) F (α weighs the
    *new* squares). After the step, the window's loss change −g · Δθ accumulates; every ``delta_t``-th step of
    the stream (the counter runs across experiences) s += window / (½ F Δθ_window² + ε), ε the float32 machine
    epsilon, negative values kept. Each experience starts a new window and new scores; after it, the scores
    average with the earlier experiences' (½ (old + new)) and the importance is F / max F + relu(s) / max s
    (maxima over every parameter; a term whose maximum is not positive is left out, where Avalanche divides by
    it); penalty ``λ Σ importance (θ − θ*)²`` (no ½) from the second experience on."""

    name = "rwalk"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.fisher: dict[str, torch.Tensor] | None = None
        self.exp_scores: dict[str, torch.Tensor] | None = None
        self.importance: dict[str, torch.Tensor] | None = None
        self.star: dict[str, torch.Tensor] | None = None
        self.iterations = 0  # steps of the whole stream (Avalanche's clock.train_iterations)

    def before_experience(self, ctx: Context, model) -> None:
        self.window_start = clone_params(model)
        self.window_loss, self.scores = zeros_like_params(model), zeros_like_params(model)

    def before_forward(self, ctx: Context, model, batch: Data) -> None:
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        ctx.loss(model, batch).backward()
        self.grad = {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
                     for n, p in trainable(model)}
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        a = self.cfg.alpha
        if self.fisher is None:
            self.fisher = {n: g ** 2 for n, g in self.grad.items()}
        else:
            self.fisher = {n: a * g ** 2 + (1 - a) * self.fisher[n] for n, g in self.grad.items()}
        self.prev = clone_params(model)

    def loss_penalty(self, ctx: Context, model, batch: Data, outputs: tuple) -> torch.Tensor | None:
        return None if self.star is None else self.cfg.lam * quadratic(model, self.importance, self.star)

    def after_step(self, ctx: Context, model) -> None:
        self.iterations += 1
        for n, p in trainable(model):
            self.window_loss[n] -= self.grad[n] * (p.detach() - self.prev[n])
        if self.iterations % self.cfg.delta_t == 0:
            for n, p in trainable(model):
                moved = p.detach() - self.window_start[n]
                eps = torch.finfo(self.window_loss[n].dtype).eps
                self.scores[n] += self.window_loss[n] / (0.5 * self.fisher[n] * moved ** 2 + eps)
                self.window_loss[n].zero_()
                self.window_start[n] = p.detach().clone()

    def after_experience(self, ctx: Context, model) -> None:
        if self.exp_scores is None:
            self.exp_scores = {n: s.clone() for n, s in self.scores.items()}
        else:
            self.exp_scores = {n: 0.5 * (self.exp_scores[n] + s) for n, s in self.scores.items()}
        max_f = max(float(f.max()) for f in self.fisher.values())
        max_s = max(float(s.max()) for s in self.exp_scores.values())
        self.importance = {n: (self.fisher[n] / max_f if max_f > 0 else torch.zeros_like(self.fisher[n]))
                           + (F.relu(self.exp_scores[n]) / max_s if max_s > 0 else 0.0) for n in self.fisher}
        self.star = clone_params(model)


class AGEM(Strategy):
    """Averaged GEM (Chaudhry et al. 2019): ``patterns`` random items kept per experience; after each backward
    pass the gradient g is projected, g − (g·g_ref / ‖g_ref‖²) g_ref, only when g·g_ref < 0, where g_ref is the
    gradient on a reference batch of ``sample_size`` items drawn evenly across the buffers."""

    name = "agem"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.buffers: list[Data] = []
        self.projected = 0

    def reference_batch(self, rng: np.random.Generator) -> Data:
        per = max(1, self.cfg.sample_size // len(self.buffers))
        return concat([take(b, torch.as_tensor(rng.choice(rows(b), size=min(per, rows(b)), replace=False)))
                       for b in self.buffers])

    def after_backward(self, ctx: Context, model) -> None:
        if not self.buffers:
            return
        params = [p for _, p in trainable(model)]
        g = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]).clone()
        model.zero_grad(set_to_none=True)
        ctx.loss(model, self.reference_batch(ctx.rng)).backward()
        g_ref = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        dot = torch.dot(g, g_ref)
        if dot < 0:
            g = g - dot / torch.dot(g_ref, g_ref).clamp(min=1e-12) * g_ref
            self.projected += 1
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = g[offset : offset + n].view_as(p).clone()
            offset += n

    def after_experience(self, ctx: Context, model) -> None:
        n = min(self.cfg.patterns, rows(ctx.own))
        self.buffers.append(take(ctx.own, torch.as_tensor(ctx.rng.choice(rows(ctx.own), size=n, replace=False))))


class LwF(Strategy):
    """Learning without forgetting (Li & Hoiem 2017): from the second experience on, a frozen snapshot of the
    model taken before the experience; penalty α_i · KL(softmax(old / T) ‖ softmax(new / T)), averaged over the
    predicted tokens (α per experience, the last value repeating)."""

    name = "lwf"

    def __init__(self, cfg: Any = None, seed: int = 0) -> None:
        super().__init__(cfg, seed)
        self.old = None

    def before_experience(self, ctx: Context, model) -> None:
        alphas = self.cfg.alpha
        self.alpha = float(alphas[min(ctx.index, len(alphas) - 1)]) if alphas else 0.0
        if ctx.index > 0:
            self.old = copy.deepcopy(model).eval()
            for p in self.old.parameters():
                p.requires_grad_(False)

    def loss_penalty(self, ctx: Context, model, batch: Data, outputs: tuple) -> torch.Tensor | None:
        if self.old is None or self.alpha == 0:
            return None
        with torch.no_grad():
            _, old, _ = ctx.forward(self.old, batch)
        _, new, mask = outputs
        return self.alpha * distillation(new, old, mask, self.cfg.temperature)


def distillation(new: torch.Tensor, old: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over the counted positions (``mask``, (B, L)) of KL(softmax(old / T) ‖ softmax(new / T)), (B, L, V)
    logits."""
    kl = F.kl_div(F.log_softmax(new / temperature, -1), F.softmax(old.detach() / temperature, -1),
                  reduction="none").sum(-1)                                            # (B, L)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


STRATEGIES = LazyTable("continual-learning strategy", {
    "naive": "codeintel.continual.strategies:Strategy",
    "cumulative": "codeintel.continual.strategies:Cumulative",
    "joint": "codeintel.continual.strategies:Joint",
    "replay": "codeintel.continual.strategies:Replay",
    "ewc": "codeintel.continual.strategies:EWC",
    "si": "codeintel.continual.strategies:SI",
    "rwalk": "codeintel.continual.strategies:RWalk",
    "agem": "codeintel.continual.strategies:AGEM",
    "lwf": "codeintel.continual.strategies:LwF",
}, hint="The five CL methods of Weyssow et al. are replay, ewc, si, rwalk and agem; naive, cumulative and joint "
        "are the baselines; lwf is an extra.")
