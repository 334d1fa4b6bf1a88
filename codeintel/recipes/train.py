"""The training recipe: one loop, read top to bottom, shared by every task.

Length-grouped token-budget batches, AdamW with linear warm-up/decay, a progress bar with loss,
throughput and time left, periodic dev evaluation, the best checkpoint kept by the card's selection
metric (written atomically), and a final test evaluation of the reloaded best checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codeintel.backbones.loading import load_model, save_model
from codeintel.config import RunConfig, resolve_device, to_dict, validate
from codeintel.errors import TrainingError
from codeintel.eval.harness import build_task, evaluate_split, format_scores, load_splits, write_json
from codeintel.recipes.batching import make_batches, padding_fraction
from codeintel.recipes.plot import plot_history
from codeintel.tasks.cards import TaskCard


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def linear_schedule(optim: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""
    return torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))


def default_output_dir(cfg: RunConfig, card: TaskCard) -> Path:
    model = Path(cfg.model).name if Path(cfg.model).exists() else cfg.model.replace("/", "--")
    return Path("runs") / f"{card.name}-{model}"


def train(cfg: RunConfig, card: TaskCard, echo=print, progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``card``; returns (and writes) the run's metrics."""
    import yaml
    from tqdm.auto import tqdm

    validate(cfg)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    out = Path(cfg.output_dir) if cfg.output_dir else default_output_dir(cfg, card)

    # ---- model, task, data
    device = resolve_device(cfg.device)
    loaded = load_model(cfg.model, card.type, pretrained=cfg.pretrained, tokenizer=cfg.tokenizer or None)
    model = loaded.model.to(device)
    task = build_task(cfg, card, loaded)
    raw = load_splits(task, cfg, echo)
    if cfg.data.max_train_examples:
        raw["train"] = raw["train"][: cfg.data.max_train_examples]
    dev_rows = raw["valid"]
    if cfg.data.max_eval_examples and len(dev_rows) > cfg.data.max_eval_examples:
        keep = sorted(np.random.default_rng(cfg.train.seed).choice(len(dev_rows), cfg.data.max_eval_examples,
                                                                     replace=False).tolist())
        dev_rows = [dev_rows[i] for i in keep]
    t_tok = time.perf_counter()
    train_set, dev_set = task.prepare(raw["train"]), task.prepare(dev_rows)
    echo(f"data: train={len(raw['train'])} valid={len(raw['valid'])} (dev subset {len(dev_rows)}) "
         f"test={len(raw['test'])}  tokenized in {time.perf_counter() - t_tok:.1f}s")

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump({"task_card": card.path, **to_dict(cfg)}, sort_keys=False))

    # ---- optimisation
    batches_per_epoch = len(make_batches(train_set.lengths, cfg.train.batch_tokens, cfg.train.max_batch_size,
                                         cfg.train.grouping, seed=cfg.train.seed))
    total = cfg.train.max_steps or math.ceil(cfg.train.epochs * batches_per_epoch)
    n_epochs = math.ceil(total / batches_per_epoch)
    eval_every = max(1, batches_per_epoch // cfg.train.evals_per_epoch)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, eps=1e-8)
    warmup = int(cfg.train.warmup_ratio * total)
    sched = linear_schedule(optim, warmup, total)
    echo(f"model: {cfg.model} ({sum(p.numel() for p in params) / 1e6:.2f}M trainable, {device})  task: {card.name}  "
         f"steps: {total} ({batches_per_epoch}/epoch)  selection: dev {card.select_by}")

    # what `codeintel evaluate` needs to score this checkpoint the same way
    settings = {"card": cfg.task, "data": [str(Path(p).resolve()) for p in cfg.data.paths],
                "source_len": task.source_len, "target_len": getattr(task, "target_len", 0),
                "eval": dataclasses.asdict(cfg.eval), "dropout": 0.1, "graph": cfg.graph, "lang": cfg.lang,
                "dfg_length": cfg.dfg_length}

    # ---- loop
    best, best_step, history, step, tokens, pad_frac, losses = None, 0, [], 0, 0, [], []
    train_seconds = 0.0  # optimisation time only: dev evaluations and checkpointing are not counted
    bar = tqdm(total=total, desc="train", unit="step", disable=not progress, dynamic_ncols=True)

    def dev_eval(epoch: int, loss_value: float | None) -> None:
        """Score the dev subset; keep the checkpoint if it is the best so far (step 0 included)."""
        nonlocal best, best_step
        scores, _ = evaluate_split(task, model, dev_set, cfg)
        history.append({"step": step, "epoch": epoch, "loss": loss_value, **scores})
        improved = card.better(scores[card.select_by], best)
        if improved:
            best, best_step = scores[card.select_by], step
            save_model(loaded, out / "best", {**settings, "dev": scores, "step": step})
        line = f"step {step:>6}  dev {format_scores(scores)}{'  (best, saved)' if improved else ''}"
        bar.write(line) if progress else echo(line, flush=True)

    t0 = time.perf_counter()
    dev_eval(0, None)  # the starting point: fine-tuning must beat it to replace it
    for epoch in range(n_epochs):
        batches = make_batches(train_set.lengths, cfg.train.batch_tokens, cfg.train.max_batch_size,
                               cfg.train.grouping, seed=cfg.train.seed + epoch)
        pad_frac.append(padding_fraction(batches, train_set.lengths))
        for idx in batches:
            if step >= total:
                break
            t_step = time.perf_counter()
            model.train()
            batch = {k: v.to(device) for k, v in task.collate(train_set, idx).items()}
            loss, n_tok = task.loss(model, batch)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise TrainingError(f"the loss became {loss_value} at step {step}; lower train.lr (now {cfg.train.lr}) "
                                    f"or raise train.warmup_ratio. The best checkpoint so far is intact in {out}/best.")
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optim.step()
            sched.step()
            step, tokens = step + 1, tokens + n_tok
            losses.append((step, loss_value))
            train_seconds += time.perf_counter() - t_step
            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens / train_seconds:.0f}", epoch=epoch + 1,
                            refresh=False)
            bar.update(1)
            if step % eval_every == 0 or step == total:
                dev_eval(epoch + 1, loss_value)
    bar.close()
    wall_seconds = time.perf_counter() - t0

    # ---- test: reload the best checkpoint, exactly as `codeintel evaluate` would
    best_model = load_model(str(out / "best")).model.to(device)
    test_set = task.prepare(raw["test"])
    test_scores, test_preds = evaluate_split(task, best_model, test_set, cfg, progress=progress)
    task.write_predictions(out, test_preds, raw["test"])
    result = {
        "task": card.name, "model": cfg.model, "checkpoint": str(out / "best"),
        "dev_best": {card.select_by: best, "step": best_step}, "test": test_scores,
        "baselines": task.baselines(raw),
        "train": {"steps": step, "seconds": round(train_seconds, 1), "wall_seconds": round(wall_seconds, 1),
                  "tokens": tokens,
                  "tokens_per_s": round(tokens / train_seconds, 1),
                  "padding_fraction": round(float(np.mean(pad_frac)), 4),
                  "examples": len(raw["train"])},
        "history": history,
    }
    write_json(out / "metrics.json", result)
    baseline = next((b[card.select_by] for b in result["baselines"].values() if card.select_by in b), None)
    plot_history(history, losses, card.select_by, best_step, baseline, out, f"{card.name} | {cfg.model}")
    return result
