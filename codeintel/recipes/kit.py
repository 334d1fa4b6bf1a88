"""The recipe kit: the parts every recipe (``train``, ``pretrain``, ``continual run``, ``probe``,
``adapters train-ner``, ``evaluate``) is assembled from, so that each guarantee is written once.

- :func:`claimed`: the output directory claimed and locked *for the whole run* (from before the model is
  loaded to the last write). A run that fails before it wrote anything gives the directory back as it found
  it (created → removed, an earlier run moved aside → moved back); one that fails later keeps what it wrote.
- :func:`seed_everything`: threads and the Python/NumPy/torch seeds, the same way in every recipe.
- :func:`linear_schedule`, :func:`capture_rng` / :func:`restore_rng`: the schedule and the RNG snapshot of a
  resumable state.
- :class:`BestTracker`: the best score by a metric and its direction, and early stopping after ``patience``
  evaluations without improvement (0 = never stop early).
- :func:`step_loop` and :func:`epoch_loop`: the two training loops with named callback points — steps counted
  to ``train.max_steps`` (the objective's step, periodic evaluation and best-state tracking, early stopping,
  resumable states; ``train``, ``pretrain`` and ``adapters train-ner``) and epochs with a validation value each
  (early stopping, the best snapshot; ``probe`` and ``continual run``).
- :func:`batch_stream`: an endless seeded order of example indices, refilled with a new permutation when it
  runs low, cut into batches (what the step-counted loops of ``pretrain`` and ``train-ner`` draw from).
- :func:`save_state` / :func:`load_state`: the one resumable-state format of every recipe that trains
  (``states/state-<step>/``: ``model.safetensors``, ``optimizer.pt``, ``trainer.json``).

Writers are :mod:`codeintel.io` (atomic JSON, text and figures); run directories, versioned checkpoints and
resumable states are :mod:`codeintel.recipes.rundir`; processes, precision and trackers are
:mod:`codeintel.recipes.engine`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from codeintel.errors import CheckpointError
from codeintel.io import parse_json
from codeintel.recipes.rundir import RunDir, latest_state


@contextlib.contextmanager
def claimed(rundir: RunDir | None, acc=None) -> Iterator[RunDir | None]:
    """Claim and lock ``rundir`` for the ``with`` block (``None``: a run that writes nothing). On an error the
    claim is undone if the run wrote nothing yet (:meth:`RunDir.abandon`), else the lock alone is released.

    ``acc``: the run's ``Accelerator`` when it may run on several processes: rank 0 claims (a refusal is raised
    on every rank) and holds the lock. (``train`` claims on rank 0 in its ``setup`` the same way.)"""
    if rundir is None:
        yield None
        return
    main = acc is None or acc.is_main_process
    if acc is None:
        rundir.claim()
    else:
        from codeintel.recipes import engine

        engine.on_main(acc, rundir.claim)
    try:
        yield rundir
    except BaseException:
        if main:  # no collective here: the other ranks may be failing too
            rundir.abandon()
        raise
    if main:
        rundir.release()


def seed_everything(seed: int, threads: int = 0) -> None:
    """``threads`` torch CPU threads (0 = torch's default) and every generator seeded with ``seed`` (Python,
    NumPy, torch and CUDA; transformers' ``set_seed``)."""
    import torch
    from transformers import set_seed

    if threads:
        torch.set_num_threads(threads)
    set_seed(seed)


def linear_schedule(optim, warmup: int, total: int):
    """Linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total`` (a ``LambdaLR``).

    Not ``transformers.get_scheduler("linear")``: that one gives the first optimizer step a learning rate of 0
    (``s / warmup`` at s = 0), a wasted step that matters in short runs; here step s of the warm-up uses
    ``(s + 1) / warmup`` (tested against it)."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))


def capture_rng() -> dict[str, Any]:
    """This process's Python, NumPy and torch generators (CPU, and CUDA where present), as tensors and
    plain values (so the state file loads with ``torch.load(weights_only=True)``)."""
    import torch

    np_state = np.random.get_state()
    return {"python": random.getstate(), "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                                                   *np_state[2:]],
            "torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng(rng: dict[str, Any]) -> None:
    """Put the generators back as :func:`capture_rng` found them."""
    import torch

    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    name, key, *rest = rng["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


@dataclass
class BestTracker:
    """The best value of a metric so far and when it was reached; early stopping after ``patience``
    evaluations in a row without improvement (0: never).

    ``update(step, value)`` returns whether ``value`` is a new best (the first value always is);
    ``stop`` says whether to stop now. A plain dataclass: ``dataclasses.asdict`` saves it in a state.
    """

    direction: str = "max"            # "max": higher is better; "min": lower is better
    patience: int = 0
    best: float | None = None
    best_step: int = 0
    waited: int = 0                   # evaluations since the last improvement

    def better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.direction == "max" else value < self.best

    def update(self, step: int, value: float) -> bool:
        if self.better(value):
            self.best, self.best_step, self.waited = value, step, 0
            return True
        self.waited += 1
        return False

    @property
    def stop(self) -> bool:
        return bool(self.patience) and self.waited >= self.patience


def step_loop(*, start: int, total: int, step: Callable[[int], dict[str, float]], bar, acc=None,
              evaluate: Callable[[int], float] | None = None, eval_every: int = 0,
              tracker: BestTracker | None = None, on_best: Callable[[int], None] | None = None,
              on_stop: Callable[[int], None] | None = None, save: Callable[[int], None] | None = None,
              save_every: int = 0, save_last: bool = False, log_every: int = 0,
              show: Callable[[dict[str, float]], dict[str, Any]] | None = None) -> int:
    """The step-counted loop of the recipes that train for ``train.max_steps`` (``pretrain``, ``adapters
    train-ner``): steps ``start + 1`` .. ``total``; returns the last step run.

    Callback points, in order within a step: ``step(s)`` (one optimizer step on the next batch: the
    objective; returns the values logged as ``train/<name>`` to ``acc``'s trackers — every step, or every
    ``log_every`` steps and the last — and shown on ``bar``);
    every ``eval_every`` steps and at the last, ``evaluate(s)`` returns the selection value that ``tracker``
    (a :class:`BestTracker`) ranks, ``on_best(s)`` runs on a new best and, once the tracker says stop,
    ``on_stop(s)`` and the loop ends (a state, if wanted, is ``on_stop``'s to write); every ``save_every`` steps
    (and at the last with ``save_last``) ``save(s)`` writes the resumable state. ``show``: what the bar shows of
    the step's values (default: each to three decimals)."""
    for s in range(start + 1, total + 1):
        logs = step(s)
        if acc is not None and (not log_every or s % log_every == 0 or s == total):
            acc.log({f"train/{k}": v for k, v in logs.items()}, step=s)
        bar.set_postfix(show(logs) if show else {k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
        bar.update(1)
        if evaluate is not None and eval_every and (s % eval_every == 0 or s == total):
            if tracker.update(s, evaluate(s)) and on_best is not None:
                on_best(s)
            if tracker.stop:
                if on_stop is not None:
                    on_stop(s)
                return s
        if save is not None and save_every and (s % save_every == 0 or (save_last and s == total)):
            save(s)
    return total


def epoch_loop(*, epochs: int, run_epoch: Callable[[int], float], tracker: BestTracker,
               snapshot: Callable[[], Any]) -> Any:
    """The epoch-counted loop with early stopping of the recipes that select by a validation value per epoch
    (``probe``: one per probe; ``continual run``: one per experience): ``run_epoch(e)`` trains epoch ``e`` and
    returns its validation value, ``tracker`` (a :class:`BestTracker`) ranks it and decides when to stop,
    ``snapshot()`` is taken at every new best. Returns the best snapshot (the caller puts it back)."""
    best = None
    for epoch in range(epochs):
        if tracker.update(epoch, run_epoch(epoch)):
            best = snapshot()
        elif tracker.stop:
            break
    return best


def batch_stream(n: int, batch_size: int, rng: np.random.Generator, order: list[int] | None = None
                 ) -> Iterator[list[int]]:
    """Batches of ``batch_size`` indices of ``range(n)`` forever: a permutation from ``rng`` is appended whenever
    fewer than ``batch_size`` remain (so a batch can span two permutations, and no example waits an epoch).
    ``order``: the remaining order of an interrupted stream (a resumed run); it is consumed in place, so it
    always holds what is left after the last batch given out."""
    order = [] if order is None else order
    while True:
        if len(order) < batch_size:
            order += rng.permutation(n).tolist()
        batch = order[:batch_size]
        del order[:batch_size]
        yield batch


# --------------------------------------------------------------------------- the resumable state

STATE_FILES = ("model.safetensors", "optimizer.pt", "trainer.json")


def save_state(rundir: RunDir, step: int, keep_last: int, *, loop: dict[str, Any], weights=None, optim=None,
               rng: Any = None, sched=None, extra: dict[str, Any] | None = None) -> None:
    """Write a resumable state as ``states/state-<step>/`` (crash-safely, :meth:`RunDir.save_state`): the weights
    (``weights``: a module, tied tensors once, or a ``{name: tensor}`` dict of what trains) as
    ``model.safetensors``; optimizer, schedule, ``rng`` (:func:`capture_rng`, or one per process) and ``extra``
    tensors or plain values as ``optimizer.pt`` (loaded with ``weights_only``: no code runs); the loop's
    position and history (``loop``, JSON) as ``trainer.json``. A recipe passes only what it has (the probe's
    state is its loop alone: ``trainer.json`` only). The newest ``keep_last`` states are kept."""
    import json

    import torch
    from safetensors.torch import save_file, save_model

    def write(d) -> None:
        if isinstance(weights, dict):
            save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(d / STATE_FILES[0]))
        elif weights is not None:
            save_model(weights, str(d / STATE_FILES[0]))
        if optim is not None or rng is not None or extra:
            torch.save({"optimizer": optim.state_dict() if optim is not None else None,
                        "scheduler": sched.state_dict() if sched is not None else None, "rng": rng, **(extra or {})},
                       d / STATE_FILES[1])
        (d / STATE_FILES[2]).write_text(json.dumps(loop, default=float))  # (numpy scalars as floats)

    rundir.save_state(step, write, keep_last)


def load_state(run_dir, *, weights=None, optim=None, sched=None, device=None, rng: bool = False
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Put the newest complete state of ``run_dir`` back into ``weights`` (a module or a ``{name: tensor}``
    dict, as saved), ``optim`` and ``sched``. Returns the loop's ``trainer.json`` and the rest of
    ``optimizer.pt`` (``rng``, the extras, and ``path``: the state read); the RNGs are the caller's to
    restore (one per process)."""
    import pickle

    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file, load_model

    path = latest_state(run_dir)
    needed = [f for f, part in zip(STATE_FILES, (weights, optim or rng or None, True), strict=True) if part is not None]
    missing = [f for f in needed if not (path / f).is_file()]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; remove that state directory to resume from the "
                              "one before it.")
    def damaged(name: str, exc: BaseException, what: str = "damaged (truncated or edited?)") -> CheckpointError:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return CheckpointError(f"{path}/{name} is {what}: {reason}. Remove {path} to resume from the state "
                               "before it.")

    try:   # the loop first: nothing is put into the model when the state cannot be read whole
        loop = parse_json((path / STATE_FILES[2]).read_text(encoding="utf-8"))
        if not isinstance(loop, dict):
            raise ValueError(f"expected a JSON object, got {type(loop).__name__}")
    except (OSError, ValueError) as exc:
        raise damaged(STATE_FILES[2], exc) from None
    blob: dict[str, Any] = {}
    if (path / STATE_FILES[1]).is_file():
        try:
            blob = torch.load(path / STATE_FILES[1], map_location=device, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
            raise damaged(STATE_FILES[1], exc, "not a state codeintel can read safely (weights_only: tensors and "
                                               "plain values only; written by something else, or damaged)") from None
        if not isinstance(blob, dict) or "optimizer" not in blob or "scheduler" not in blob:
            raise damaged(STATE_FILES[1], ValueError("no optimizer/scheduler entries"))
    try:
        if isinstance(weights, dict):
            saved = load_file(str(path / STATE_FILES[0]))
            if set(saved) != set(weights):
                raise CheckpointError(f"{path}/{STATE_FILES[0]} holds other tensors than this run trains; resume "
                                      "with the settings the run started with.")
            with torch.no_grad():
                for k, v in weights.items():
                    v.copy_(saved[k])
        elif weights is not None:   # safetensors takes "cpu", not the "cpu:0" a process group's device prints as
            dev = torch.device(device) if device is not None else torch.device("cpu")
            load_model(weights, str(path / STATE_FILES[0]), device="cpu" if dev.type == "cpu" else str(dev))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise damaged(STATE_FILES[0], exc) from None
    if blob:
        optim_state, sched_state = blob.pop("optimizer"), blob.pop("scheduler")
        try:
            if optim is not None:
                optim.load_state_dict(optim_state)
            if sched is not None and sched_state is not None:
                sched.load_state_dict(sched_state)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise damaged(STATE_FILES[1], exc, "not this run's optimizer state") from None
    blob["path"] = path
    return loop, blob


def resumed_config(path, cls):
    """The configuration (a config dataclass ``cls``) a run in ``path`` saved with its newest state (keys of
    earlier versions translated), its ``output_dir`` set to ``path``: what ``--resume`` continues with."""
    from pathlib import Path

    from codeintel.config import from_saved
    from codeintel.errors import ConfigError

    state = latest_state(Path(path))
    if state is None:
        raise ConfigError(f"--resume {path}: no complete saved state there (states/state-*); only runs started with "
                          "save_every=N can be resumed. Start a new run instead.")
    try:
        saved = parse_json((state / STATE_FILES[2]).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"--resume {path}: {state}/{STATE_FILES[2]} is unreadable; remove that state to resume "
                          "from the one before it.") from None
    cfg = from_saved(cls, saved)
    cfg.output_dir = str(path)
    return cfg
