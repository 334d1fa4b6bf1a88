"""Continued pre-training: MLM, or MLM + MoCo-style contrastive learning over augmented views (ContraBERT).

Read top to bottom: load a RoBERTa-family backbone with an MLM head (or a T5 encoder-decoder, whose
decoder restores the masked input and whose encoder the contrastive term trains); build ``variants`` augmented views of
every example up front (code operators on the code, NL operators on the comment); then per step:

- query  = the backbone on the masked original ``<s> comment </s></s> code </s>``, pooled, projected, L2-normalised;
- key    = the momentum copy on a masked augmented view of the same example (no gradient);
- loss   = mlm_weight * MLM(query input) + contrastive_weight * InfoNCE(q, k+ vs the queue of past keys);
- the key encoder follows the query encoder by EMA (``momentum``); the keys are enqueued, the oldest dropped.

``objective="mlm"`` runs the same loop with the MLM term only (the comparison ContraBERT makes). The result
is a backbone checkpoint: ``load_model(DIR, task)`` loads it for any task, like a registry model.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codeintel.config import PretrainConfig
from codeintel.errors import ConfigError, DataError, TrainingError
from codeintel.io import parse_json, save_figure, write_json
from codeintel.log import say
from codeintel.recipes import engine, kit
from codeintel.recipes.kit import batch_stream, capture_rng, claimed, linear_schedule, restore_rng, seed_everything
from codeintel.recipes.modelcard import pretraining_card, write_card
from codeintel.tasks.common import pad


def validate(cfg: PretrainConfig) -> None:
    """Every value checked before any work starts (the shared key rules, then pre-training's own); messages
    name the dotted keys."""
    from codeintel.config import validate_keys

    c = cfg.contrastive
    validate_keys(cfg, [
        (cfg.objective in ("contrastive", "mlm"), f"objective must be contrastive or mlm, got {cfg.objective!r}"),
        (c.pooling in ("mean", "cls"), f"contrastive.pooling must be mean or cls, got {c.pooling!r}"),
        (cfg.source_len >= 4, f"source_len must be at least 4, got {cfg.source_len}"),
        (1 <= c.variants <= 64, f"contrastive.variants must be in [1, 64], got {c.variants}"),
        (c.proj_dim >= 0, f"contrastive.proj_dim must be >= 0 (0 = no projection), got {c.proj_dim}"),
        (min(cfg.mlm.weight, c.weight) >= 0, "mlm.weight and contrastive.weight must be >= 0"),
        (0 <= c.op_probability <= 1, f"contrastive.op_probability must be in [0, 1], got {c.op_probability}"),
        (0 < cfg.mlm.probability < 1, f"mlm.probability must be in (0, 1), got {cfg.mlm.probability}"),
        (0 <= c.momentum < 1, f"contrastive.momentum must be in [0, 1), got {c.momentum}"),
        (c.temperature > 0, f"contrastive.temperature must be > 0, got {c.temperature}"),
        (cfg.objective != "contrastive" or c.queue_size >= cfg.train.batch_size,
         f"contrastive.queue_size ({c.queue_size}) must be at least train.batch_size ({cfg.train.batch_size})"),
    ])


# --------------------------------------------------------------------------- data


def load_examples(cfg: PretrainConfig) -> list[dict]:
    """Rows of ``{"code", "nl", "lang"}``."""
    from codeintel.data.loaders import read_code_rows

    if not cfg.data.paths:
        from codeintel.data.stdlib import default_stdlib_dir

        paths, default_lang = [default_stdlib_dir() / "train.jsonl"], "python"
    else:
        paths, default_lang = [Path(p) for p in cfg.data.paths], ""
    rows = [r for path in paths for r in read_code_rows(path, cfg.lang, default_lang)]
    if len(rows) < 2:
        raise DataError(f"pre-training needs at least 2 examples; {len(rows)} found in {[str(p) for p in paths]}.")
    return rows


def build_views(rows: list[dict], cfg: PretrainConfig, progress: bool) -> tuple[list[list[dict]], dict[str, int]]:
    """``cfg.contrastive.variants`` augmented views per row: each operator tried with probability ``op_probability``."""
    from codeintel.augment import compose, get, parse_ops
    from codeintel.progress import progress as progress_bar

    ops = parse_ops(cfg.contrastive.ops)
    applied: dict[str, int] = {}
    views = []
    for i, row in enumerate(progress_bar(rows, desc="augment", unit="ex", enabled=progress, leave=False)):
        mine = []
        for j in range(cfg.contrastive.variants):
            rng = random.Random(f"{cfg.train.seed}:{i}:{j}")
            chosen = [op for op in ops if rng.random() < cfg.contrastive.op_probability] or [rng.choice(ops)]
            code = compose(row["code"], row["lang"], [o for o in chosen if get(o[0]).kind == "code"], rng)
            nl = compose(row["nl"], None, [o for o in chosen if get(o[0]).kind == "nl"], rng) if row["nl"] else None
            for name in code.applied + (nl.applied if nl else []):
                applied[name] = applied.get(name, 0) + 1
            mine.append({"code": code.text, "nl": nl.text if nl else ""})
        views.append(mine)
    return views, applied


def mask_tokens(ids: torch.Tensor, special: torch.Tensor, tok, prob: float, gen: torch.Generator):
    """BERT masking: ``prob`` of the real tokens are targets; 80 % -> <mask>, 10 % random, 10 % kept."""
    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=gen) < prob) & ~special
    labels[~chosen] = -100
    ids = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    ids[chosen & (roll < 0.8)] = tok.mask_token_id
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[rand] = torch.randint(len(tok), ids.shape, generator=gen)[rand]
    return ids, labels


def tokenize_all(tok, items: list[dict], max_len: int) -> list[tuple[list[int], list[int]]]:
    """(ids, special-token mask) per item, once: ``<s> comment </s></s> code </s>`` or ``<s> code </s>``, the
    code whitespace-normalised as in fine-tuning."""
    out: list[tuple[list[int], list[int]] | None] = [None] * len(items)
    pairs = [i for i, it in enumerate(items) if it["nl"]]
    single = [i for i, it in enumerate(items) if not it["nl"]]
    for group, texts in ((pairs, lambda i: (items[i]["nl"], " ".join(items[i]["code"].split()))),
                         (single, lambda i: (" ".join(items[i]["code"].split()),))):
        for start in range(0, len(group), 1024):
            chunk = group[start : start + 1024]
            cols = list(zip(*(texts(i) for i in chunk), strict=True))
            enc = tok(*cols, truncation="longest_first" if len(cols) == 2 else True, max_length=max_len,
                      return_special_tokens_mask=True)
            for i, ids, special in zip(chunk, enc["input_ids"], enc["special_tokens_mask"], strict=True):
                out[i] = (ids, special)
    return out  # type: ignore[return-value]


def batch_of(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a few tokenized items: input_ids, attention_mask, special_tokens_mask (padding counts as special)."""
    ids, mask = pad([i for i, _ in encoded], pad_id)
    special = pad([sp for _, sp in encoded], 1)[0].bool()
    return {"input_ids": ids, "attention_mask": mask, "special_tokens_mask": special}


# --------------------------------------------------------------------------- model


class ContrastiveModel(nn.Module):
    """The MLM model (query encoder + LM head), a projection, and their momentum copies (key encoder)."""

    def __init__(self, mlm: nn.Module, cfg: PretrainConfig) -> None:
        super().__init__()
        hidden = kind_of(mlm).hidden_size(mlm.config)
        self.mlm, self.pooling = mlm, cfg.contrastive.pooling
        self.proj = (nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, cfg.contrastive.proj_dim))
                     if cfg.contrastive.proj_dim else nn.Identity())
        self.key_encoder = copy.deepcopy(encoder_of(mlm)).requires_grad_(False)
        self.key_proj = copy.deepcopy(self.proj).requires_grad_(False)
        dim = cfg.contrastive.proj_dim or hidden
        self.register_buffer("queue", F.normalize(torch.randn(cfg.contrastive.queue_size, dim), dim=-1))  # (K, D)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    @torch.no_grad()
    def momentum_update(self, m: float) -> None:
        for pk, pq in zip(self.key_encoder.parameters(), encoder_of(self.mlm).parameters(), strict=True):
            pk.mul_(m).add_(pq.detach(), alpha=1 - m)
        for pk, pq in zip(self.key_proj.parameters(), self.proj.parameters(), strict=True):
            pk.mul_(m).add_(pq.detach(), alpha=1 - m)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        k, ptr = len(self.queue), int(self.queue_ptr)
        idx = (torch.arange(len(keys), device=keys.device) + ptr) % k
        self.queue[idx] = keys
        self.queue_ptr.fill_((ptr + len(keys)) % k)


def load_mlm(name: str):
    """(model, loaded): a backbone that can be trained to restore masked tokens — RoBERTa with an MLM head (the
    checkpoint's own head where it has one), or a T5 encoder-decoder (which reconstructs the whole input from
    the masked one); the family decides (:meth:`~codeintel.backbones.family.Family.masked_lm_model`)."""
    from codeintel.backbones.family import family
    from codeintel.backbones.loading import resolve
    from codeintel.tasks.heads import backbone_of
    from codeintel.tasks.models import load_model, read_meta
    from codeintel.tasks.types import ENCODER_TYPE

    src = resolve(name)
    meta = read_meta(src.ref) if src.kind == "dir" else {}
    if meta.get("task") not in (None, "pretraining", ENCODER_TYPE):  # (a retrieval model is an encoder)
        origin = meta.get("origin") or "named in its codeintel.json"
        raise ConfigError(f"{name} is a fine-tuned {meta['task']} checkpoint; pre-training continues from a "
                          f"backbone: pass the model it was fine-tuned from ({origin}), a registry name or an earlier "
                          "`codeintel pretrain` output.")
    loaded = load_model(name, ENCODER_TYPE)
    files = sorted(Path(src.ref).glob("*.safetensors")) if src.kind == "dir" else []
    return family(loaded.family).masked_lm_model(backbone_of(loaded.model), files), loaded


def kind_of(mlm: nn.Module):
    """The family object of a masked-LM model (from its config's model type)."""
    from codeintel.backbones.family import family
    from codeintel.backbones.loading import MODEL_TYPE_FAMILY

    return family(MODEL_TYPE_FAMILY[mlm.config.model_type])


def encoder_of(mlm: nn.Module) -> nn.Module:
    """The encoder whose vectors the contrastive term trains (RoBERTa body or T5 encoder stack)."""
    return kind_of(mlm).mlm_encoder(mlm)


def masked_lm(mlm: nn.Module, ids, mask, labels, original, pad_id: int):
    """(loss, last encoder layer) of the masked input. T5: the decoder restores the whole original input."""
    return kind_of(mlm).masked_lm_loss(mlm, ids, mask, labels, original, pad_id)


# --------------------------------------------------------------------------- the loop


def pretrain(cfg: PretrainConfig, echo=say, progress: bool = True, overwrite: bool = False,
             resume: bool = False) -> dict[str, Any]:
    """Run continued pre-training; the output directory is the checkpoint (new or empty, or moved aside with
    ``overwrite``; never deleted). ``resume``: continue the run in ``cfg.output_dir`` from its newest saved
    state (``save_every``), to the same result as an uninterrupted run."""
    from codeintel.recipes.rundir import RunDir, fresh

    validate(cfg)
    acc = engine.make_accelerator(cfg.device, cfg.train.precision, cfg.report_to, echo)  # one process, or torchrun's
    if not acc.is_main_process:
        echo = engine.quiet
    seed_everything(cfg.train.seed, cfg.train.threads)  # Python, NumPy, torch (and CUDA); the same on every rank
    out = Path(cfg.output_dir) if cfg.output_dir else \
        engine.on_main(acc, lambda: fresh(f"runs/pretrain-{cfg.objective}-{Path(cfg.model).name}"))
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=resume)
    engine.on_main(acc, rundir.check)  # a taken --out fails now, before any work
    with claimed(rundir, acc):  # locked from here to the last write
        if acc.log_with:
            acc.project_configuration.project_dir = acc.project_configuration.logging_dir = str(out / "logs")
        try:
            return _pretrain(cfg, rundir, echo, progress and acc.is_main_process, resume, acc)
        finally:
            if acc.log_with:
                engine.finish_trackers(acc)


def _pretrain(cfg: PretrainConfig, rundir, echo, progress: bool, resume: bool, acc) -> dict[str, Any]:
    """The work of :func:`pretrain` in its claimed directory.

    On several processes (torchrun) every rank draws the same global batches and the same view choices and
    trains on its slice ``r::N``; the gradients are averaged over the ranks after each backward (the loop calls
    the model's parts, not one forward, so there is no DDP wrapper), the momentum keys of all ranks are gathered
    into the one queue every rank holds, and rank 0 writes. Masking draws from a generator per rank."""
    from codeintel.progress import progress as progress_bar
    from codeintel.tasks.models import Loaded, write_checkpoint

    out = rundir.path
    device, rank, world = acc.device, acc.process_index, acc.num_processes
    if world > 1 and cfg.train.batch_size % world:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} does not split over {world} processes; use a "
                          f"multiple of {world} (each process trains on an equal slice of every batch).")
    rows = load_examples(cfg)
    mlm, loaded = load_mlm(cfg.model)  # before the augmentation: a wrong model fails at once
    from codeintel.tasks.types import refuse_beyond_positions

    refuse_beyond_positions(loaded, cfg.source_len, cfg.model)
    tok = loaded.tokenizer
    t0 = time.perf_counter()
    views, applied = build_views(rows, cfg, progress) if cfg.objective == "contrastive" else ([], {})
    if views:
        echo(f"augmented views: {cfg.contrastive.variants} per example for {len(rows)} examples in "
             f"{time.perf_counter() - t0:.1f}s; operators applied: "
             + ", ".join(f"{k} {v}" for k, v in sorted(applied.items())))
    tokenized = tokenize_all(tok, rows, cfg.source_len)                      # once, not per step
    flat = tokenize_all(tok, [v for vs in views for v in vs], cfg.source_len) if views else []
    view_tokens = [flat[i * cfg.contrastive.variants : (i + 1) * cfg.contrastive.variants] for i in range(len(views))]
    model = ContrastiveModel(mlm, cfg).to(device) if cfg.objective == "contrastive" else mlm.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    sched = linear_schedule(optim, int(cfg.train.warmup_ratio * cfg.train.max_steps), cfg.train.max_steps)
    gen = torch.Generator().manual_seed(cfg.train.seed + rank)
    order_rng = np.random.default_rng(cfg.train.seed)
    echo(f"pre-training {cfg.model} ({sum(p.numel() for p in params) / 1e6:.2f}M trainable, {device}): "
         f"{cfg.objective}, {cfg.train.max_steps} steps x {cfg.train.batch_size} of {len(rows)} examples")
    history: list[dict[str, float]] = []
    order: list[int] = []
    start, done_seconds = 0, 0.0
    if resume:
        start, order, history, done_seconds = load_state(rundir.path, model, optim, sched, gen, order_rng, echo,
                                                         rank, device)
    if acc.log_with:
        acc.init_trackers(f"pretrain-{cfg.objective}", config=engine.hparams(dataclasses.asdict(cfg)))
    bar = progress_bar(total=cfg.train.max_steps, initial=start, desc=f"pretrain {cfg.objective}", unit="step",
                       enabled=progress)
    t0 = time.perf_counter() - done_seconds
    batches = batch_stream(len(rows), cfg.train.batch_size, order_rng, order)  # consumes `order` in place

    def step(s: int) -> dict[str, float]:                    # the objective: MLM (+ InfoNCE on a view)
        global_idx = next(batches)
        views_of = [int(order_rng.integers(cfg.contrastive.variants)) for _ in global_idx] \
            if cfg.objective == "contrastive" else []                      # drawn for the global batch, every rank
        idx = global_idx[rank::world]
        enc = batch_of([tokenized[i] for i in idx], tok.pad_token_id)
        ids, labels = mask_tokens(enc["input_ids"], enc["special_tokens_mask"], tok, cfg.mlm.probability, gen)
        mask = enc["attention_mask"].to(device)
        mlm_model = model.mlm if cfg.objective == "contrastive" else model
        model.train()
        with engine.fast_dropout(cfg.train.fast_kernels), acc.autocast():
            mlm_loss, hidden = masked_lm(mlm_model, ids.to(device), mask, labels.to(device),
                                         enc["input_ids"].to(device), tok.pad_token_id)
            loss, record = cfg.mlm.weight * mlm_loss, {"mlm": mlm_loss.item()}
            if cfg.objective == "contrastive":
                drawn = [view_tokens[i][v] for i, v in zip(idx, views_of[rank::world], strict=True)]
                kv = batch_of(drawn, tok.pad_token_id)
                k_ids, _ = mask_tokens(kv["input_ids"], kv["special_tokens_mask"], tok, cfg.mlm.probability, gen)
                q = F.normalize(model.proj(model.pool(hidden, mask)), dim=-1)                            # (B, D)
                with torch.no_grad():
                    model.momentum_update(cfg.contrastive.momentum)
                    k_mask = kv["attention_mask"].to(device)
                    k_out = model.key_encoder(input_ids=k_ids.to(device), attention_mask=k_mask)
                    k_hidden = k_out.last_hidden_state
                    k = F.normalize(model.key_proj(model.pool(k_hidden, k_mask)), dim=-1)              # (B, D)
                logits = torch.cat([(q * k).sum(1, keepdim=True), q @ model.queue.T], dim=1)
                logits = logits / cfg.contrastive.temperature
                target = torch.zeros(len(q), dtype=torch.long, device=device)
                nce = F.cross_entropy(logits, target)
                loss = loss + cfg.contrastive.weight * nce
                record.update(infonce=nce.item(), key_top1=float((logits.argmax(1) == 0).float().mean()))
        if not math.isfinite(loss.item()):
            raise TrainingError(f"the loss became {loss.item()} at step {s}; lower train.lr (now {cfg.train.lr}).")
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:  # the mean gradient over the ranks' slices (every rank then takes the same step)
            for p in params:
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad.div_(world)
            losses = acc.reduce(torch.tensor([loss.item(), *record.values()], device=device), reduction="mean")
            loss_value, record = losses[0].item(), dict(zip(record, losses[1:].tolist(), strict=True))
        else:
            loss_value = loss.item()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        optim.step()
        sched.step()
        if cfg.objective == "contrastive":
            model.enqueue(acc.gather(k.float().contiguous()) if world > 1 else k)   # every rank's keys, in rank order
        history.append({"step": s, "loss": loss_value, **record})
        return {"loss": loss_value, **record}

    kit.step_loop(start=start, total=cfg.train.max_steps, step=step, bar=bar, acc=acc,
                  save=lambda s: save_state(rundir, cfg, s, model, optim, sched, gen, order_rng, order, history,
                                            time.perf_counter() - t0, acc),
                  save_every=cfg.train.save_every, save_last=True)
    bar.close()
    seconds = time.perf_counter() - t0
    settings = {"pretraining": {k: v for k, v in dataclasses.asdict(cfg).items()}, "seconds": round(seconds, 1)}
    last = history[-min(20, len(history)):]
    final = {k: float(np.mean([h[k] for h in last])) for k in last[0] if k != "step"}
    result = {"checkpoint": str(out), "objective": cfg.objective, "model": cfg.model, "steps": cfg.train.max_steps,
              "seconds": round(seconds, 1), "examples": len(rows), "operators_applied": applied, "final": final,
              "history": history, "processes": world}

    def write() -> None:
        write_checkpoint(Loaded(mlm, tok, "pretraining", loaded.family, cfg.model, loaded.spec_name), out, settings)
        write_json(out / "pretrain.json", result)
        write_card(out, pretraining_card(result, dataclasses.asdict(cfg)))
        plot_pretraining(history, out / "pretraining.png", f"{cfg.objective} | {cfg.model}")

    engine.on_main(acc, write)
    return result



# --------------------------------------------------------------------------- resumable state

def save_state(rundir, cfg: PretrainConfig, step: int, model, optim, sched, gen, order_rng, order: list[int],
               history: list[dict], seconds: float, acc) -> None:
    """Everything the loop needs to continue at ``step`` (:func:`codeintel.recipes.kit.save_state`): weights
    (momentum encoder and queue included), optimizer, schedule, every rank's masking generator and RNGs, the
    example order and its generator, and the run's configuration. Rank 0 writes."""
    from functools import partial

    rngs = [{"rng": capture_rng(), "mask": gen.get_state()}]
    if acc.num_processes > 1:
        from accelerate.utils import gather_object

        rngs = gather_object(rngs)
    engine.on_main(acc, partial(
        kit.save_state, rundir, step, cfg.train.keep_last, weights=model, optim=optim, sched=sched,
        rng=[r["rng"] for r in rngs], extra={"mask_generator": [r["mask"] for r in rngs]},
        loop={"step": step, "order": order, "history": history, "order_rng": order_rng.bit_generator.state,
              "seconds": seconds, "config": dataclasses.asdict(cfg)}))


def load_state(path: Path, model, optim, sched, gen, order_rng, echo, rank: int = 0,
               device=None) -> tuple[int, list[int], list[dict], float]:
    """Put the newest complete state of ``path`` back; returns (step, remaining order, history, seconds). States
    written before the generators were kept per rank hold one of each."""
    meta, blob = kit.load_state(path, weights=model, optim=optim, sched=sched, device=device)
    masks, rngs = blob["mask_generator"], blob["rng"]
    masks, rngs = (masks, rngs) if isinstance(rngs, list) else ([masks], [rngs])
    gen.set_state(masks[rank % len(masks)])
    order_rng.bit_generator.state = meta["order_rng"]
    restore_rng(rngs[rank % len(rngs)])
    echo(f"resuming {path} from {blob['path'].name}: step {meta['step']}")
    return meta["step"], meta["order"], meta["history"], meta["seconds"]


def resumed_config(path: str | Path) -> PretrainConfig:
    """The configuration of the pre-training run in ``path`` (stored with its states)."""
    from codeintel.recipes.rundir import latest_state

    state = latest_state(Path(path))
    if state is None:
        raise ConfigError(f"--resume {path}: no complete saved pre-training state there (states/state-*); only "
                          "runs started with train.save_every=N can be resumed.")
    try:
        saved = parse_json((state / "trainer.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"--resume {path}: {state}/trainer.json is unreadable; remove that state to resume from "
                          "the one before it.") from None
    cfg = config_from_dict(saved)
    cfg.output_dir = str(path)
    return cfg


def config_from_dict(saved: dict[str, Any]) -> PretrainConfig:
    """A :class:`PretrainConfig` from its ``asdict`` form; states saved under earlier key names (flat ``steps``,
    ``lr``, ``data``, ...) are translated."""
    from codeintel.config import from_saved

    return from_saved(PretrainConfig, saved)


def plot_pretraining(history: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in ("mlm", "infonce", "key_top1") if k in history[0]]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False, constrained_layout=True)
    steps = [h["step"] for h in history]
    for ax, key in zip(axes[0], keys, strict=True):
        vals = [h[key] for h in history]
        w = max(1, len(vals) // 30)
        ax.plot(steps, vals, lw=0.6, alpha=0.35)
        ax.plot(steps, [float(np.mean(vals[max(0, i - w + 1) : i + 1])) for i in range(len(vals))], lw=1.6)
        ax.set(xlabel="step", ylabel={"mlm": "cross-entropy (nats)", "infonce": "cross-entropy (nats)",
                                      "key_top1": "fraction of the batch"}[key],
               title={"mlm": "MLM loss", "infonce": "InfoNCE loss", "key_top1": "positive key ranked first"}[key])
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
    return path
