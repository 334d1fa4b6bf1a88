"""The training recipe: one loop, read top to bottom, shared by every task.

Length-grouped token-budget batches, AdamW with linear warm-up/decay, a progress bar with loss,
throughput and time left, periodic dev evaluation, the best checkpoint kept by the card's selection
metric (written atomically), and a final test evaluation of the reloaded best checkpoint.

The loop runs in four named phases over two records: :func:`setup` builds a :class:`Run` (what does not
change while training: model, task, data, optimizer), :class:`TrainState` is what the loop advances (step,
epoch, best score, history, token counts, RNG state); :func:`train_step`, :func:`evaluate_and_keep_best`
and :func:`finish` each read one and update the other.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codeintel.config import RunConfig, resolve_device, to_dict, validate
from codeintel.errors import TrainingError
from codeintel.recipes.batching import make_batches, padding_fraction
from codeintel.recipes.evaluate import evaluate_split, format_scores, load_splits, write_json
from codeintel.recipes.plot import plot_history
from codeintel.recipes.rundir import RunDir, fresh
from codeintel.tasks.cards import TaskCard
from codeintel.tasks.models import Loaded, load_model, save_model
from codeintel.tasks.types import build_task


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


@dataclass
class TrainState:
    """What the loop advances; everything a resumed run needs to continue where this one stopped."""

    step: int = 0                     # optimizer steps taken
    epoch: int = 0                    # the epoch in progress (1-based; 0 before the first)
    best: float | None = None         # best dev value of the selection metric so far
    best_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)     # one record per dev evaluation
    losses: list[tuple[int, float]] = field(default_factory=list)   # (step, training loss)
    tokens: int = 0                   # real (non-padding) tokens trained on
    train_seconds: float = 0.0        # optimisation time only (no evaluation, no checkpointing)
    padding: list[float] = field(default_factory=list)              # padding fraction of each epoch's batches
    rng: dict[str, Any] = field(default_factory=dict)               # set by capture_rng()

    def capture_rng(self) -> None:
        """Record the Python, NumPy and torch generators (CPU, and CUDA where present)."""
        self.rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def restore_rng(self) -> None:
        """Put the generators back as :meth:`capture_rng` found them."""
        random.setstate(self.rng["python"])
        np.random.set_state(self.rng["numpy"])
        torch.set_rng_state(self.rng["torch"])
        if self.rng["cuda"]:
            torch.cuda.set_rng_state_all(self.rng["cuda"])


@dataclass
class Run:
    """What :func:`setup` builds and the loop only reads."""

    cfg: RunConfig
    card: TaskCard
    out: Path
    rundir: RunDir                    # claimed and locked by this run
    device: torch.device
    loaded: Loaded
    task: Any
    raw: dict[str, list]              # rows of each split
    train_set: Any                    # prepared (tokenized) splits
    dev_set: Any
    optim: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    params: list[torch.nn.Parameter]
    total: int                        # optimizer steps to take
    batches_per_epoch: int
    eval_every: int
    settings: dict[str, Any]          # what `codeintel evaluate` needs to score the checkpoint the same way

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def n_epochs(self) -> int:
        return math.ceil(self.total / self.batches_per_epoch)

    def batches(self, epoch: int) -> list[list[int]]:
        """Epoch ``epoch``'s (0-based) index batches: length-grouped, reshuffled with the seed each epoch."""
        t = self.cfg.train
        return make_batches(self.train_set.lengths, t.batch_tokens, t.max_batch_size, t.grouping, seed=t.seed + epoch)


# --------------------------------------------------------------------------- phases

def setup(cfg: RunConfig, card: TaskCard, echo=print, overwrite: bool = False) -> Run:
    """Model, task, data, optimizer and schedule; claims and locks the run directory, writes ``config.yaml``.

    An existing run directory is refused before any work unless ``overwrite`` (then it is moved aside).
    """
    import yaml

    validate(cfg)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    out = Path(cfg.output_dir) if cfg.output_dir else fresh(default_output_dir(cfg, card))  # a 2nd run: NAME-2
    rundir = RunDir(out, overwrite=overwrite, echo=echo)
    rundir.check()  # refuse a taken directory now, not after loading the model and the data

    device = resolve_device(cfg.device)
    loaded = load_model(cfg.model, card.type, pretrained=cfg.pretrained, tokenizer=cfg.tokenizer or None,
                        allow_pickle=cfg.allow_pickle)
    loaded.model.to(device)
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

    t = cfg.train
    batches_per_epoch = len(make_batches(train_set.lengths, t.batch_tokens, t.max_batch_size, t.grouping, seed=t.seed))
    total = t.max_steps or math.ceil(t.epochs * batches_per_epoch)
    params = [p for p in loaded.model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, eps=1e-8)
    sched = linear_schedule(optim, int(t.warmup_ratio * total), total)
    echo(f"model: {cfg.model} ({sum(p.numel() for p in params) / 1e6:.2f}M trainable, {device})  task: {card.name}  "
         f"steps: {total} ({batches_per_epoch}/epoch)  selection: dev {card.select_by}")
    settings = {"card": cfg.task, "data": [str(Path(p).resolve()) for p in cfg.data.paths],
                "source_len": task.source_len, "target_len": getattr(task, "target_len", 0),
                "eval": dataclasses.asdict(cfg.eval), "dropout": 0.1, "graph": cfg.graph, "lang": cfg.lang,
                "dfg_length": cfg.dfg_length}
    rundir.claim()  # created (or the earlier run moved aside) and locked; from here on it is this run's
    echo(f"run directory: {out}")
    (out / "config.yaml").write_text(yaml.safe_dump({"task_card": card.path, **to_dict(cfg)}, sort_keys=False))
    return Run(cfg, card, out, rundir, device, loaded, task, raw, train_set, dev_set, optim, sched, params, total,
               batches_per_epoch, max(1, batches_per_epoch // t.evals_per_epoch), settings)


def train_step(run: Run, state: TrainState, idx: list[int]) -> float:
    """One optimizer step on the examples ``idx``; returns the loss."""
    t_step = time.perf_counter()
    run.model.train()
    batch = {k: v.to(run.device) for k, v in run.task.collate(run.train_set, idx).items()}
    loss, n_tok = run.task.loss(run.model, batch)
    loss_value = loss.item()
    if not math.isfinite(loss_value):
        raise TrainingError(f"the loss became {loss_value} at step {state.step}; lower train.lr (now "
                            f"{run.cfg.train.lr}) or raise train.warmup_ratio. The best checkpoint so far is intact "
                            f"in {run.out}/best.")
    run.optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.params, run.cfg.train.grad_clip)
    run.optim.step()
    run.sched.step()
    state.step, state.tokens = state.step + 1, state.tokens + n_tok
    state.losses.append((state.step, loss_value))
    state.train_seconds += time.perf_counter() - t_step
    return loss_value


def evaluate_and_keep_best(run: Run, state: TrainState, loss: float | None) -> str:
    """Score the dev subset; save the checkpoint if it is the best so far (step 0 included). Returns the log line."""
    scores, _ = evaluate_split(run.task, run.model, run.dev_set, run.cfg)
    state.history.append({"step": state.step, "epoch": state.epoch, "loss": loss, **scores})
    improved = run.card.better(scores[run.card.select_by], state.best)
    if improved:
        state.best, state.best_step = scores[run.card.select_by], state.step
        meta = {**run.settings, "dev": scores, "step": state.step}
        run.rundir.publish("best", lambda version: save_model(run.loaded, version, meta))
    return f"step {state.step:>6}  dev {format_scores(scores)}{'  (best, saved)' if improved else ''}"


def finish(run: Run, state: TrainState, wall_seconds: float, progress: bool) -> dict[str, Any]:
    """Reload the best checkpoint exactly as ``codeintel evaluate`` would, score test, write metrics and plot."""
    cfg, card, out = run.cfg, run.card, run.out
    best_model = load_model(str(out / "best")).model.to(run.device)
    test_set = run.task.prepare(run.raw["test"])
    test_scores, test_preds = evaluate_split(run.task, best_model, test_set, cfg, progress=progress)
    run.task.write_predictions(out, test_preds, run.raw["test"])
    result = {
        "task": card.name, "model": cfg.model, "checkpoint": str(out / "best"),
        "dev_best": {card.select_by: state.best, "step": state.best_step}, "test": test_scores,
        "baselines": run.task.baselines(run.raw),
        "train": {"steps": state.step, "seconds": round(state.train_seconds, 1), "wall_seconds": round(wall_seconds, 1),
                  "tokens": state.tokens,
                  "tokens_per_s": round(state.tokens / state.train_seconds, 1),
                  "padding_fraction": round(float(np.mean(state.padding)), 4),
                  "examples": len(run.raw["train"])},
        "history": state.history,
    }
    write_json(out / "metrics.json", result)
    baseline = next((b[card.select_by] for b in result["baselines"].values() if card.select_by in b), None)
    plot_history(state.history, state.losses, card.select_by, state.best_step, baseline, out,
                 f"{card.name} | {cfg.model}")
    return result


# --------------------------------------------------------------------------- the loop

def train(cfg: RunConfig, card: TaskCard, echo=print, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``card``; returns (and writes) the run's metrics.

    ``overwrite``: an existing run in the output directory is moved aside (never deleted) instead of refused.
    """
    from tqdm.auto import tqdm

    run = setup(cfg, card, echo, overwrite)
    try:
        state = TrainState()
        bar = tqdm(total=run.total, desc="train", unit="step", disable=not progress, dynamic_ncols=True)

        def log(line: str) -> None:
            bar.write(line) if progress else echo(line, flush=True)

        t0 = time.perf_counter()
        log(evaluate_and_keep_best(run, state, None))  # the starting point: fine-tuning must beat it to replace it
        for epoch in range(run.n_epochs):
            state.epoch = epoch + 1
            batches = run.batches(epoch)
            state.padding.append(padding_fraction(batches, run.train_set.lengths))
            for idx in batches:
                if state.step >= run.total:
                    break
                loss = train_step(run, state, idx)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{state.tokens / state.train_seconds:.0f}",
                                epoch=state.epoch, refresh=False)
                bar.update(1)
                if state.step % run.eval_every == 0 or state.step == run.total:
                    log(evaluate_and_keep_best(run, state, loss))
        bar.close()
        return finish(run, state, time.perf_counter() - t0, progress)
    finally:
        run.rundir.release()
