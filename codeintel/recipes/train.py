"""The training recipe: one loop, read top to bottom, shared by every task.

Length-grouped token-budget batches, AdamW with linear warm-up/decay, a progress bar with loss,
throughput and time left, periodic dev evaluation, the best checkpoint kept by the card's selection
metric (written atomically), and a final test evaluation of the reloaded best checkpoint.

It runs on ``accelerate`` (:mod:`codeintel.recipes.engine`): one process, or several under ``torchrun`` /
``accelerate launch`` (each global step is ``processes x train.grad_accum`` micro-batches of similar size,
evaluation is sharded and gathered, only rank 0 writes), in fp32/bf16/fp16. With ``train.save_every=N`` the
whole training state is written every N steps and ``resume`` continues from the newest complete one, to
the same final result as a run that was never interrupted.

The loop runs in four named phases over two records: :func:`setup` builds a :class:`Run` (what does not
change while training: model, task, data, optimizer), :class:`TrainState` is what the loop advances (step,
epoch, position, best score, history, token counts, RNG state); :func:`train_step`,
:func:`evaluate_and_keep_best`, :func:`save_state` and :func:`finish` each read one and update the other.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import set_seed

from codeintel.config import RunConfig, to_dict, validate
from codeintel.errors import CheckpointError, ConfigError, TrainingError
from codeintel.eval.metrics import SCALES
from codeintel.io import parse_json, write_json, write_text
from codeintel.log import say
from codeintel.recipes import engine, kit
from codeintel.recipes.batching import make_batches, padding_fraction
from codeintel.recipes.evaluate import (
    evaluate_split,
    format_scores,
    load_splits,
    predict_split,
    sanity,
    write_per_example,
)
from codeintel.recipes.kit import capture_rng, linear_schedule, restore_rng
from codeintel.recipes.modelcard import model_card, write_card
from codeintel.recipes.plot import plot_history
from codeintel.recipes.rundir import RunDir, fresh
from codeintel.tasks.cards import TaskCard
from codeintel.tasks.models import Loaded, attach_for_training, load_model, save_model
from codeintel.tasks.types import build_task


def default_output_dir(cfg: RunConfig, card: TaskCard) -> Path:
    model = Path(cfg.model).name if Path(cfg.model).exists() else cfg.model.replace("/", "--")
    return Path("runs") / f"{card.name}-{model}"


@dataclass
class TrainState:
    """What the loop advances; with the model, optimizer, scheduler and RNG states, everything a resumed run
    needs to continue exactly where this one stopped."""

    step: int = 0                     # optimizer steps taken
    epoch: int = 0                    # the epoch in progress (1-based; 0 before the first)
    position: int = 0                 # global steps done within that epoch (where to continue in its order)
    best: float | None = None         # best dev value of the selection metric so far
    best_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)     # one record per dev evaluation
    losses: list[tuple[int, float]] = field(default_factory=list)   # (step, training loss)
    tokens: int = 0                   # real (non-padding) tokens trained on, all processes
    train_seconds: float = 0.0        # optimisation time only (no evaluation, no checkpointing)
    state_seconds: float = 0.0        # time spent writing resumable states
    padding: list[float] = field(default_factory=list)              # padding fraction of each epoch's batches
    micro_per_step: int = 1           # processes x grad_accum when the run started
    stopped_at: int = 0               # the step early stopping (train.patience) ended training at; 0 = it did not


@dataclass
class Run:
    """What :func:`setup` builds and the loop only reads."""

    cfg: RunConfig
    card: TaskCard
    echo: Any                         # prints on rank 0, nothing elsewhere
    out: Path
    rundir: RunDir                    # claimed and locked by this run (by rank 0)
    acc: Any                          # the accelerate.Accelerator
    loaded: Loaded                    # loaded.model is the bare model (what is saved and evaluated)
    model: torch.nn.Module            # the model the loss runs through (DDP-wrapped with several processes)
    task: Any
    raw: dict[str, list]              # rows of each split
    train_set: Any                    # prepared (tokenized) training split
    dev_rows: list                    # the dev subset scored at each evaluation
    dev_set: Any                      # this process's shard of it, prepared
    optim: Any
    sched: torch.optim.lr_scheduler.LambdaLR
    params: list[torch.nn.Parameter]
    total: int                        # optimizer steps to take
    steps_per_epoch: int
    eval_every: int
    settings: dict[str, Any]          # what `codeintel evaluate` needs to score the checkpoint the same way

    @property
    def n_epochs(self) -> int:
        return math.ceil(self.total / self.steps_per_epoch)

    @property
    def grad_accum(self) -> int:
        return self.cfg.train.grad_accum

    @property
    def micro_per_step(self) -> int:
        return self.acc.num_processes * self.grad_accum

    def steps(self, epoch: int) -> list[list[list[int]]]:
        """Epoch ``epoch``'s (0-based) global steps, each a list of ``micro_per_step`` index batches:
        length-grouped and reshuffled with the seed each epoch."""
        t, lengths = self.cfg.train, self.train_set.lengths
        batches = make_batches(lengths, *batch_limits(t), t.grouping, seed=t.seed + epoch)
        return engine.group_steps(batches, lengths, self.micro_per_step, seed=t.seed + epoch)

    def mine(self, step_batches: list[list[int]]) -> list[list[int]]:
        """This process's micro-batches of one global step."""
        r, k = self.acc.process_index, self.grad_accum
        return step_batches[r * k : (r + 1) * k]


# --------------------------------------------------------------------------- phases

def setup(cfg: RunConfig, card: TaskCard, echo=say, overwrite: bool = False, resume: bool = False) -> Run:
    """Accelerator, model, task, data, optimizer and schedule; claims and locks the run directory, writes
    ``config.yaml``. An existing run directory is refused before any work unless ``overwrite`` (then it is
    moved aside) or ``resume`` (then it must hold a saved state, and it is continued in place)."""

    validate(cfg)
    t = cfg.train
    card = select_metric(card, t.metric_for_best_model)
    acc = engine.make_accelerator(cfg.device, t.precision, cfg.report_to, echo)
    if not acc.is_main_process:  # only rank 0 talks
        echo = engine.quiet
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    set_seed(t.seed + acc.process_index)  # dropout differs per rank; DDP copies rank 0's initial weights
    out = Path(cfg.output_dir) if cfg.output_dir else engine.on_main(acc, lambda: fresh(default_output_dir(cfg, card)))
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=resume)
    engine.on_main(acc, rundir.claim)  # a taken directory is refused now; locked until train() ends
    try:
        return _setup(cfg, card, echo, acc, out, rundir, resume)
    except BaseException:
        if acc.is_main_process:
            rundir.abandon()  # nothing written yet: the directory goes back to how it was
        raise


def _setup(cfg: RunConfig, card: TaskCard, echo, acc, out: Path, rundir: RunDir, resume: bool) -> Run:
    """The part of :func:`setup` after the claim: model, task, data, optimizer; writes ``config.yaml``."""
    import yaml

    t = cfg.train
    loaded = load_model(cfg.model, card.type, pretrained=cfg.pretrained, tokenizer=cfg.tokenizer or None,
                        allow_pickle=cfg.allow_pickle)
    adapter_mode = ""
    if cfg.adapter:  # the backbone frozen: only the adapter(s) and the task's fresh parts train
        adapter_mode, _ = attach_for_training(loaded, cfg.adapter, cfg.adapter_mode, cfg.stack_adapter,
                                              cfg.allow_pickle)
    if t.gradient_checkpointing:
        enable_gradient_checkpointing(loaded.model, cfg.model)
    loaded.model.to(acc.device)
    if resume:
        t.grad_accum = resume_grad_accum(out, acc.num_processes, t.grad_accum, echo)
    task = build_task(cfg, card, loaded)
    if not t.batch_size and t.batch_tokens < task.source_len:
        raise ConfigError(f"train.batch_tokens={t.batch_tokens} is below one example of source_len {task.source_len} "
                          f"tokens: every batch would be a single example; pass train.batch_tokens="
                          f"{task.source_len} or more, or train.batch_size=N for N examples a batch.")
    loaded.set_export_defaults(task.source_len, task.target_len if task.generates else 0,
                               cfg.eval.beam_size, cfg.eval.no_repeat_ngram_size)
    with acc.main_process_first():  # rank 0 fills the tokenization cache, the others read it
        raw = load_splits(task, cfg, echo)
        if cfg.data.max_train_examples:
            raw["train"] = raw["train"][: cfg.data.max_train_examples]
        dev_rows = raw["valid"]
        if cfg.data.max_eval_examples and len(dev_rows) > cfg.data.max_eval_examples:
            keep = sorted(np.random.default_rng(t.seed).choice(len(dev_rows), cfg.data.max_eval_examples,
                                                                 replace=False).tolist())
            dev_rows = [dev_rows[i] for i in keep]
        t_tok = time.perf_counter()
        train_set = task.prepare(raw["train"])
        dev_part = eval_shard(acc, task, dev_rows)
        dev_set = task.prepare(dev_part) if dev_part else None
    echo(f"data: train={len(raw['train'])} valid={len(raw['valid'])} (dev subset {len(dev_rows)}) "
         f"test={len(raw['test'])}  tokenized in {time.perf_counter() - t_tok:.1f}s")
    ranked = [m for m in card.metrics if m in RANKING_METRICS]
    if ranked and len(dev_rows) != len(raw["test"]):
        echo(f"note: dev {'/'.join(ranked)} ranks each example among the {len(dev_rows)} dev examples scored, test "
             f"among all {len(raw['test'])} test examples: more candidates, lower scores; the two are not "
             "comparable (data.max_eval_examples=0 scores the whole dev split)")
    if cfg.data.check_leakage and acc.is_main_process:
        from codeintel.recipes.hygiene import leakage_warning

        warning = leakage_warning(card, raw, task.leakage_programs(), cfg.lang or None)
        if warning:
            echo(warning)

    batches = make_batches(train_set.lengths, *batch_limits(t), t.grouping, seed=t.seed)
    steps_per_epoch = math.ceil(len(batches) / (acc.num_processes * t.grad_accum))
    total = t.max_steps or math.ceil(t.epochs * steps_per_epoch)
    params = [p for p in loaded.model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, eps=1e-8)
    sched = linear_schedule(optim, int(t.warmup_ratio * total), total)
    model, optim = acc.prepare(loaded.model, optim)
    procs = f", {acc.num_processes} processes" if acc.num_processes > 1 else ""
    accum = f" x {t.grad_accum} accumulated" if t.grad_accum > 1 else ""
    n_train, n_total = loaded.parameter_counts()
    adapted = f", adapter {cfg.adapter} ({adapter_mode})" if cfg.adapter else ""
    echo(f"model: {cfg.model} ({n_train / 1e6:.2f}M of {n_total / 1e6:.2f}M parameters trained, "
         f"{100 * n_train / n_total:.2f} %{adapted}; {acc.device}{procs}, {t.precision})  task: {card.name}  "
         f"steps: {total} ({steps_per_epoch}/epoch{accum})  selection: dev {card.select_by}")
    settings = {"card": cfg.task, "data": [str(Path(p).resolve()) for p in cfg.data.paths],
                "source_len": task.source_len, "target_len": getattr(task, "target_len", 0),
                "eval": dataclasses.asdict(cfg.eval), "dropout": 0.1, "graph": cfg.graph, "lang": cfg.lang,
                "dfg_length": cfg.dfg_length, "parameters": {"trainable": n_train, "total": n_total},
                "adapter": {"source": cfg.adapter, "mode": adapter_mode} if cfg.adapter else None}

    def begin() -> None:  # the first write of the run
        if resume:
            rundir.drop_unlinked("best")  # a version a killed process began and never linked
        else:
            write_text(out / "config.yaml", yaml.safe_dump({"task_card": card.path, **to_dict(cfg)}, sort_keys=False))

    engine.on_main(acc, begin)
    echo(f"run directory: {out}")
    if acc.log_with:
        acc.project_configuration.project_dir = acc.project_configuration.logging_dir = str(out / "logs")
    return Run(cfg, card, echo, out, rundir, acc, loaded, model, task, raw, train_set, dev_rows, dev_set, optim, sched,
               params, total, steps_per_epoch, t.eval_steps or max(1, steps_per_epoch // t.evals_per_epoch), settings)


RANKING_METRICS = ("mrr", "map_at_r")   # a score that depends on how many candidates are ranked


def select_metric(card: TaskCard, metric: str) -> TaskCard:
    """``card`` selecting its best checkpoint by ``metric`` (``train.metric_for_best_model``; empty: unchanged)."""
    if not metric or metric == card.select_by:
        return card
    if metric not in card.metrics:
        raise ConfigError(f"train.metric_for_best_model={metric!r} is not a metric of {card.name}; pass one of "
                          f"{', '.join(card.metrics)}.")
    return dataclasses.replace(card, selection=metric)


def batch_limits(t) -> tuple[float, int]:
    """(token budget, examples cap) of a batch: ``train.batch_size`` examples exactly where it is set."""
    return (float("inf"), t.batch_size) if t.batch_size else (t.batch_tokens, t.max_batch_size)


def enable_gradient_checkpointing(model: torch.nn.Module, name: str) -> None:
    """Turn on activation recomputation in every transformers backbone inside ``model``."""
    from transformers import PreTrainedModel

    found = [m for m in model.modules() if isinstance(m, PreTrainedModel) and m.supports_gradient_checkpointing]
    if not found:
        raise ConfigError(f"train.gradient_checkpointing=true: {name} has no backbone that supports it; drop the "
                          "key.")
    for m in found:
        if not m.is_gradient_checkpointing:
            m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def train_step(run: Run, state: TrainState, step_batches: list[list[int]]) -> float:
    """One optimizer step on this process's micro-batches of a global step; returns the mean loss over all of
    the step's micro-batches (every process)."""
    acc = run.acc
    t_step = time.perf_counter()
    run.model.train()
    run.optim.zero_grad(set_to_none=True)
    mine = run.mine(step_batches)
    loss_sum, n_tok = 0.0, 0
    for i, idx in enumerate(mine):
        if run.micro_per_step > 1:  # dropout of micro-batch j of a step is the same whichever process runs it
            j = acc.process_index * run.grad_accum + i
            torch.manual_seed((run.cfg.train.seed * 1_000_003 + state.step * 1_009 + j) % 2**63)
        batch = {k: v.to(acc.device) for k, v in run.task.collate(run.train_set, idx).items()}
        # DDP runs with a static graph (engine.make_accelerator), which cannot skip the all-reduce (no_sync):
        # every micro-batch's gradient is averaged over the processes; the sum over micro-batches is the same
        with engine.fast_dropout(run.cfg.train.fast_kernels):
            loss, n = run.task.loss(run.model, batch)
        acc.backward(loss / len(mine) if len(mine) > 1 else loss)
        loss_sum, n_tok = loss_sum + loss.item(), n_tok + n
    if acc.num_processes > 1:  # one small all-reduce: the step's loss and tokens over all processes
        both = acc.reduce(torch.tensor([loss_sum, float(n_tok)], device=acc.device), reduction="sum")
        loss_value, n_tok = both[0].item() / run.micro_per_step, int(both[1].item())
    else:
        loss_value = loss_sum / len(mine)
    if not math.isfinite(loss_value):
        raise TrainingError(f"the loss became {loss_value} at step {state.step}; lower train.lr (now "
                            f"{run.cfg.train.lr}) or raise train.warmup_ratio. The best checkpoint so far is intact "
                            f"in {run.out}/best.")
    if run.cfg.train.grad_clip:
        acc.clip_grad_norm_(run.params, run.cfg.train.grad_clip)
    run.optim.step()
    run.sched.step()
    state.step, state.tokens = state.step + 1, state.tokens + n_tok
    state.losses.append((state.step, loss_value))
    state.train_seconds += time.perf_counter() - t_step
    return loss_value


def eval_shard(acc, task, rows: list) -> list:
    """The rows this process predicts: its ``r::N`` shard, or, for a task whose predictions are not one per row
    (``task.sharded`` false: code search's queries x codes matrix), all of them on rank 0 and none elsewhere."""
    if not task.sharded and acc.num_processes > 1:
        return rows if acc.is_main_process else []
    return engine.shard(rows, acc.process_index, acc.num_processes)


def evaluate_rows(run: Run, model, rows: list, prepared_shard, progress: bool = False) -> tuple[dict, Any]:
    """Scores and predictions on ``rows``: each process predicts its shard, rank 0 scores them all once."""
    acc = run.acc
    if not run.task.sharded and acc.num_processes > 1:  # rank 0 holds all the rows
        return engine.on_main(acc, lambda: evaluate_split(run.task, model, prepared_shard, run.cfg, progress))
    preds = predict_split(run.task, model, prepared_shard, run.cfg, progress)
    if acc.num_processes > 1:
        from accelerate.utils import gather_object

        preds = engine.merge(gather_object([preds]), len(rows))
    return engine.on_main(acc, lambda: run.task.score(preds, rows)), preds


def evaluate_and_keep_best(run: Run, state: TrainState, loss: float | None) -> str:
    """Score the dev subset; save the checkpoint if it is the best so far (step 0 included). Returns the log line."""
    scores, _ = evaluate_rows(run, run.loaded.model, run.dev_rows, run.dev_set)
    state.history.append({"step": state.step, "epoch": state.epoch, "loss": loss, **scores})
    run.acc.log({f"dev/{k}": v for k, v in scores.items()}, step=state.step)
    improved = run.card.better(scores[run.card.select_by], state.best)
    if improved:
        state.best, state.best_step = scores[run.card.select_by], state.step
        meta = {**run.settings, "dev": scores, "step": state.step}
        engine.on_main(run.acc, lambda: run.rundir.publish("best", lambda v: save_model(run.loaded, v, meta)))
    return f"step {state.step:>6}  dev {format_scores(scores)}{'  (best, saved)' if improved else ''}"


def untrained_test(run: Run) -> str:
    """Score the model before any training step on the test split, into ``RUN/untrained/`` (``metrics.json``,
    ``per_example.json``: ``codeintel compare RUN/untrained RUN`` works): the reference that tells whether
    fine-tuning learned anything. Returns the log line."""
    rows = run.raw["test"]
    part = eval_shard(run.acc, run.task, rows)
    scores, preds = evaluate_rows(run, run.loaded.model, rows, run.task.prepare(part) if part else None)

    def write() -> None:
        d = run.out / UNTRAINED
        d.mkdir(exist_ok=True)
        write_per_example(d, run.task, run.card.name, "test", preds, rows)
        write_json(d / "metrics.json", {"task": run.card.name, "model": run.cfg.model, "split": "test",
                                        "step": 0, "scores": scores})

    engine.on_main(run.acc, write)
    return f"step      0  test (untrained) {format_scores(scores)}"


# --------------------------------------------------------------------------- resumable state

def save_state(run: Run, state: TrainState) -> None:
    """Write the whole training state (weights, optimizer, schedule, gradient scaler, every process's RNG, the
    loop's position and history) as ``states/state-<step>/`` (:func:`codeintel.recipes.kit.save_state`);
    only the newest ``train.keep_last`` are kept."""
    acc = run.acc
    t0 = time.perf_counter()
    rngs = [capture_rng()]
    if acc.num_processes > 1:
        from accelerate.utils import gather_object

        rngs = gather_object(rngs)
    scaler = acc.scaler.state_dict() if acc.scaler is not None else None
    engine.on_main(acc, lambda: kit.save_state(run.rundir, state.step, run.cfg.train.keep_last,
                                               weights=run.loaded.model, optim=run.optim, sched=run.sched,
                                               loop=dataclasses.asdict(state), rng=rngs, extra={"scaler": scaler}))
    state.state_seconds += time.perf_counter() - t0  # (a saved state counts the writes before its own)


def resume_grad_accum(out: Path, processes: int, grad_accum: int, echo) -> int:
    """The ``train.grad_accum`` that gives this resume the saved run's micro-batches per global step on
    ``processes`` processes (the same global batches, so the same result up to the order of float sums): a
    2-process run resumes on 1 process with ``grad_accum`` doubled, and back. A count that cannot divide the
    saved one is refused, naming those that can."""
    from codeintel.recipes.rundir import latest_state

    state = latest_state(out)
    try:
        micro = parse_json((state / "trainer.json").read_text())["micro_per_step"] if state else None
    except (OSError, ValueError, KeyError, TypeError):
        micro = None    # a damaged state: load_state names it
    if not isinstance(micro, int) or micro < 1 or micro == processes * grad_accum:
        return grad_accum
    if micro % processes:
        fits = ", ".join(str(n) for n in range(1, micro + 1) if micro % n == 0)
        raise ConfigError(f"{out} was trained with {micro} micro-batches per step (processes x train.grad_accum); "
                          f"{processes} processes cannot share them evenly: resume on {fits} process(es).")
    echo(f"note: {out} was trained with {micro} micro-batches per step; on {processes} process(es) this resume "
         f"runs train.grad_accum={micro // processes}: the same global batches")
    return micro // processes


def load_state(run: Run, echo) -> TrainState:
    """The newest complete state of the run directory, put back into the model, optimizer, schedule and RNGs."""
    loop, blob = kit.load_state(run.out, weights=run.loaded.model, optim=run.optim, sched=run.sched,
                                device=run.acc.device)
    known = {f.name for f in dataclasses.fields(TrainState)}
    if set(loop) - known or "step" not in loop:
        raise CheckpointError(f"{kit.latest_state(run.out)}/trainer.json has keys this version does not know "
                              f"({', '.join(sorted(set(loop) - known)) or 'no step'}): written by another version, or "
                              "edited. Remove that state to resume from the one before it.")
    state = TrainState(**loop)
    state.losses = [tuple(x) for x in state.losses]
    if state.micro_per_step != run.micro_per_step:
        raise ConfigError(f"{run.out} was trained with {state.micro_per_step} micro-batches per step "
                          f"(processes x train.grad_accum), this resume has {run.micro_per_step}; resume with "
                          f"train.grad_accum={max(1, state.micro_per_step // run.acc.num_processes)} on a number of "
                          "processes that divides it.")
    if blob["scaler"] is not None and run.acc.scaler is not None:
        run.acc.scaler.load_state_dict(blob["scaler"])
    rngs = blob["rng"]
    restore_rng(rngs[run.acc.process_index % len(rngs)])
    echo(f"resuming {run.out} from {blob['path'].name}: step {state.step} of {run.total}, epoch {state.epoch}, "
         f"best dev {run.card.select_by} {state.best if state.best is None else round(state.best, 4)} "
         f"(step {state.best_step})")
    return state


# --------------------------------------------------------------------------- the end

UNTRAINED = "untrained"


def _untrained(out: Path) -> tuple[dict, dict] | None:
    """The untrained model's test scores and per-example statistics (``RUN/untrained/``), if the run has them."""
    from codeintel.eval import resample

    d = out / UNTRAINED
    if not (d / "metrics.json").is_file():
        return None
    per = resample.load(d / resample.FILE)["metrics"] if (d / resample.FILE).is_file() else {}
    return json.loads((d / "metrics.json").read_text())["scores"], per


def finish(run: Run, state: TrainState, wall_seconds: float, progress: bool) -> dict[str, Any]:
    """Reload the best checkpoint exactly as ``codeintel evaluate`` would, score test, write metrics and plot."""
    cfg, card, out = run.cfg, run.card, run.out
    best_model = load_model(str(out / "best")).model.to(run.acc.device)
    test_rows = run.raw["test"]
    test_part = eval_shard(run.acc, run.task, test_rows)
    test_set = run.task.prepare(test_part) if test_part else None
    test_scores, test_preds = evaluate_rows(run, best_model, test_rows, test_set, progress=progress)
    untrained = engine.on_main(run.acc, lambda: _untrained(out))
    result = {
        "task": card.name, "model": cfg.model, "checkpoint": str(out / "best"),
        "dev_best": {card.select_by: state.best, "step": state.best_step}, "test": test_scores,
        "scales": {m: SCALES[m] for m in card.metrics},
        "baselines": run.task.baselines(run.raw),
        "dev_baselines": run.task.baselines({**run.raw, "test": run.dev_rows}),  # on the dev subset of the curve
        "train": {"steps": state.step, "seconds": round(state.train_seconds, 1), "wall_seconds": round(wall_seconds, 1),
                  "tokens": state.tokens, "state_seconds": round(state.state_seconds, 2),
                  "early_stopped_at": state.stopped_at or None,
                  "tokens_per_s": round(state.tokens / max(state.train_seconds, 1e-9), 1),
                  "padding_fraction": round(float(np.mean(state.padding)), 4) if state.padding else 0.0,
                  "examples": len(run.raw["train"]), "processes": run.acc.num_processes,
                  "grad_accum": run.grad_accum, "precision": cfg.train.precision,
                  "trainable_parameters": run.settings["parameters"]["trainable"],
                  "total_parameters": run.settings["parameters"]["total"],
                  "adapter": cfg.adapter, "adapter_mode": (run.settings["adapter"] or {}).get("mode", "")},
        "history": state.history,
        "untrained_test": untrained[0] if untrained else None,
    }
    got = run.task.per_example(test_preds, test_rows) if run.acc.is_main_process else None  # once: written and read
    if run.acc.is_main_process:
        result["sanity"] = sanity(run.task, card.select_by, test_preds, test_rows, run.raw,
                                  untrained[1].get(card.select_by) if untrained and untrained[1] else None,
                                  per_example=got)

    def write() -> None:
        run.task.write_predictions(out, test_preds, test_rows)
        write_per_example(out, run.task, card.name, "test", test_preds, test_rows, got)
        write_json(out / "metrics.json", result)
        dev_baselines = {name: b[card.select_by] for name, b in result["dev_baselines"].items() if card.select_by in b}
        plot_history(state.history, state.losses, card.select_by, state.best_step, dev_baselines, out,
                     f"{card.name} | {cfg.model}")
        write_card(out / "best", model_card(result, to_dict(cfg), card, run.settings.get("command")),
                   source_len=run.task.source_len)

    engine.on_main(run.acc, write)
    run.acc.log({f"test/{k}": v for k, v in test_scores.items()}, step=state.step)
    return result


# --------------------------------------------------------------------------- the loop

def _plan(run: Run, state: TrainState):
    """The global steps' micro-batches, epoch after epoch from where ``state`` is (a resumed run continues inside
    its epoch); entering an epoch records it and its padding in ``state``."""
    for epoch in range(max(state.epoch - 1, 0), run.n_epochs):
        steps = run.steps(epoch)
        if state.epoch != epoch + 1:  # a new epoch (a resumed one continues at its position)
            state.epoch, state.position = epoch + 1, 0
            state.padding.append(padding_fraction([b for s in steps for b in s], run.train_set.lengths,
                                                 run.train_set.parts, run.train_set.real))
        yield from steps[state.position :]


def _loop(run: Run, state: TrainState, bar, log) -> None:
    """Training on the kit's step loop (:func:`codeintel.recipes.kit.step_loop`): the task's objective on each
    global step, dev evaluation every ``run.eval_every`` steps (the best published as ``best``), early stopping
    on ``train.patience`` evaluations without a better dev score, a resumable state every ``train.save_every``."""
    from codeintel.eval.metrics import LOWER_IS_BETTER

    t, card, plan, last = run.cfg.train, run.card, _plan(run, state), {}
    tracker = kit.BestTracker("min" if card.select_by in LOWER_IS_BETTER else "max", t.patience, state.best,
                              state.best_step, sum(h["step"] > state.best_step for h in state.history))

    window: list[float] = []   # losses since the last log line (train.logging_steps)

    def step(s: int) -> dict[str, float]:
        batches = next(plan)
        padding = padding_fraction(batches, run.train_set.lengths, run.train_set.parts, run.train_set.real)
        last["loss"] = train_step(run, state, batches)
        state.position += 1
        logs = {"loss": last["loss"], "lr": run.sched.get_last_lr()[0],
                "tokens_per_s": state.tokens / state.train_seconds, "padding": padding}
        if t.logging_steps:
            window.append(last["loss"])
            if s % t.logging_steps == 0 or s == run.total:
                log(f"step {s:>6}  train loss={sum(window) / len(window):.4f}  lr={logs['lr']:.3g}  "
                    f"tok/s={logs['tokens_per_s']:.0f}  padding={padding:.3f}  epoch={state.epoch}")
                window.clear()
        return logs

    def evaluate(s: int) -> float:
        log(evaluate_and_keep_best(run, state, last["loss"]))
        return state.history[-1][card.select_by]

    def stop(s: int) -> None:
        if s < run.total:
            state.stopped_at = s
            log(f"early stop at step {s}: no better dev {card.select_by} for {tracker.waited} evaluations "
                f"(train.patience={t.patience}); the best is step {state.best_step}")
        if t.save_every:
            save_state(run, state)

    kit.step_loop(start=state.step, total=run.total, step=step, bar=bar, acc=run.acc, evaluate=evaluate,
                  log_every=t.logging_steps,
                  eval_every=run.eval_every, tracker=tracker, on_stop=stop,
                  save=lambda s: save_state(run, state), save_every=t.save_every, save_last=True,
                  show=lambda logs: {"loss": f"{logs['loss']:.3f}", "tok_s": f"{logs['tokens_per_s']:.0f}",
                                     "epoch": state.epoch})


def train(cfg: RunConfig, card: TaskCard, echo=say, progress: bool = True, overwrite: bool = False,
          resume: bool = False, command: str | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``card``; returns (and writes) the run's metrics.

    ``overwrite``: an existing run in the output directory is moved aside (never deleted) instead of refused.
    ``resume``: continue the run in ``cfg.output_dir`` from its newest complete saved state.
    ``command``: the command line that started the run, for the checkpoint's ``codeintel.json`` and model card.
    """
    from codeintel.progress import progress as progress_bar

    run = setup(cfg, card, echo, overwrite, resume)
    if command:
        run.settings["command"] = command
    acc, echo = run.acc, run.echo
    try:
        state = load_state(run, echo) if resume else TrainState(micro_per_step=run.micro_per_step)
        if acc.log_with:
            acc.init_trackers(card.name, config=engine.hparams(to_dict(cfg)),
                              init_kwargs={"tensorboard": {"purge_step": state.step + 1}} if resume else {})
        bar = progress_bar(total=run.total, initial=state.step, desc="train", unit="step",
                           enabled=progress and acc.is_main_process)

        on_terminal = progress and sys.stderr.isatty()

        def log(line: str) -> None:  # above a live bar (on the bar's stream), else through echo
            bar.write(line, file=sys.stderr) if on_terminal else echo(line, flush=True)

        t0 = time.perf_counter()
        if state.step == 0:
            log(evaluate_and_keep_best(run, state, None))  # the starting point: fine-tuning must beat it to replace it
            log(untrained_test(run))
        if not state.stopped_at:  # a run that stopped early and was resumed has nothing left to train
            _loop(run, state, bar, log)
        bar.close()
        return finish(run, state, time.perf_counter() - t0, progress)
    finally:
        if acc.log_with:
            engine.finish_trackers(acc)
        engine.on_main(acc, run.rundir.release)
