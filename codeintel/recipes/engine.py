"""What the recipes run on: ``accelerate`` for processes, devices, mixed precision and trackers, and the few
things accelerate leaves to a loop that builds its own batches.

- :func:`make_accelerator`: one ``Accelerator`` per run (single process, ``torchrun`` or ``accelerate launch``;
  gloo on CPU, NCCL on CUDA; FSDP/DeepSpeed through an accelerate config file), with precision checked first.
- :func:`group_steps`: a global step is ``world_size x grad_accum`` micro-batches of similar token counts, so
  no rank waits on another's long batch; rank ``r`` takes its slice of every step.
- :func:`shard` / :func:`merge`: evaluation splits rows ``r::world`` across ranks and puts the gathered
  predictions back in row order, so every metric is computed once, on exactly the split's examples.
- :func:`on_main`: work only rank 0 does (claiming a directory, writing a checkpoint); an error there is
  raised on every rank instead of leaving the others waiting.
- :func:`fast_dropout`: dropout noise from cheap integer draws (:func:`dropout_noise`), for ``train.fast_kernels``.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from codeintel.errors import CodeintelError, ConfigError
from codeintel.log import say


def tracker_names(report_to: list[str]) -> list[str]:
    """The trackers asked for (``none`` = no tracker; the names are checked by ``config.validate``); one that
    is not installed is a clear error with the pip command."""
    names = [n for n in report_to if n != "none"]
    for name in names:
        if importlib.util.find_spec(name) is None:
            raise ConfigError(f"report_to={name} needs the {name} package, which is not installed; install it "
                              f"with: pip install 'codeintel-hub[{name}]'  (or: pip install {name})")
    return names


def matmul_rate(dtype, n: int = 384, repeats: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` CPU matmul in ``dtype`` over a few runs (a 50 ms probe)."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def check_precision(precision: str, on_cpu: bool, echo) -> None:
    """bf16 on a CPU: warn with the measured matmul rate against fp32 when it is not faster (on many CPUs it is
    much slower)."""
    import torch

    if precision != "bf16" or not on_cpu:
        return
    half, full = matmul_rate(torch.bfloat16), matmul_rate(torch.float32)
    if half < 1.2 * full:
        echo(f"warning: train.precision={precision} on this CPU: a {precision} matmul runs at {half:.1f} GFLOP/s "
             f"against {full:.1f} GFLOP/s in fp32 ({full / half:.1f}x slower, measured just now); fp32 is the CPU "
             "default for that reason.")


def make_accelerator(device: str, precision: str, report_to: list[str], echo=say):
    """An ``Accelerator`` for this run (``precision`` and ``report_to`` already validated by
    ``config.validate``). Earlier accelerator state in the process (a previous run in the same
    Python session) is reset first; the process group of a distributed launch is kept. Tracker logs go to
    ``acc.project_configuration.logging_dir``, set by the recipe once its run directory is claimed."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs

    from codeintel.config import resolve_device

    trackers = tracker_names(report_to)
    resolved = resolve_device(device)  # cuda without a CUDA device: the config's error
    on_cpu = resolved.type == "cpu"
    if precision == "fp16" and on_cpu:
        raise ConfigError("train.precision=fp16 needs a CUDA device: on a CPU accelerate runs fp16 as plain fp32 "
                          "(no autocast, no scaler). Use train.precision=bf16 or fp32 here.")
    if resolved.index is not None:
        import torch

        torch.cuda.set_device(resolved.index)
    AcceleratorState._reset_state()
    GradientState._reset_state()
    # static graph: some tasks run the model twice per step (code search: code, then queries) and some heads
    # leave parameters unused; DDP's default bookkeeping rejects both, a static graph handles them
    acc = Accelerator(cpu=on_cpu, mixed_precision="no" if precision == "fp32" else precision,
                      log_with=trackers or None, step_scheduler_with_optimizer=False,
                      kwargs_handlers=[DistributedDataParallelKwargs(static_graph=True)],
                      project_dir=".")  # a placeholder: the run directory is known only after the claim
    if acc.is_main_process:
        check_precision(precision, on_cpu, echo)
    return acc


def hparams(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config as trackers take it: dotted keys (``train.lr``), non-scalar values as strings."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v if isinstance(v, int | float | str | bool) else str(v)

    walk(config, "")
    return out


def quiet(*_, **__) -> None:
    """The ``echo`` of every process but rank 0 (only rank 0 talks)."""


def finish_trackers(acc) -> None:
    """Close the run's trackers (flush their logs). Not ``acc.end_training()``: that also destroys the process
    group, which the run's last collective (releasing its directory on rank 0) still needs."""
    for tracker in acc.trackers:
        tracker.finish()


# --------------------------------------------------------------------------- batches across ranks

def group_steps(batches: list[list[int]], lengths: np.ndarray, per_step: int, seed: int) -> list[list[list[int]]]:
    """Cut an epoch's batches into global steps of ``per_step`` micro-batches each.

    With ``per_step == 1`` the batch order is kept as it is. Otherwise the batches are ordered by their padded
    size, consecutive ones form a step (so the micro-batches of one step cost about the same), and the steps
    are shuffled with ``seed``. A short last step is filled up with the smallest batches of the other steps
    again (as ``DistributedSampler`` pads), so every rank has a micro-batch at every step.
    """
    if per_step == 1:
        return [[b] for b in batches]
    size = [len(b) * int(lengths[b].max()) for b in batches]
    ordered = [batches[i] for i in np.argsort(-np.array(size), kind="stable")]
    steps = [ordered[i : i + per_step] for i in range(0, len(ordered), per_step)]
    if len(steps[-1]) < per_step:  # filled from the smallest batches of the other steps (itself if none)
        smallest = ordered[: len(ordered) - len(steps[-1])][::-1] or steps[-1]
        steps[-1] = steps[-1] + [smallest[i % len(smallest)] for i in range(per_step - len(steps[-1]))]
    rng = np.random.default_rng(seed)
    return [steps[i] for i in rng.permutation(len(steps))]


def shard(rows: list, rank: int, world: int) -> list:
    """This rank's rows of an evaluation split: ``rows[rank::world]``."""
    return rows[rank::world] if world > 1 else rows


def merge(parts: list[Any], n: int) -> Any:
    """Put per-rank predictions (``parts[r]`` for ``rows[r::world]``) back in row order.

    Predictions are a list (one per row), an array (rows along axis 0) or a dict of such arrays.
    """
    world = len(parts)
    if world == 1:
        return parts[0]
    first = parts[0]
    if isinstance(first, dict):
        return {k: merge([p[k] for p in parts], n) for k in first}
    if isinstance(first, np.ndarray):
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    else:
        out = [None] * n
    for r, part in enumerate(parts):
        out[r::world] = part
    return out


# --------------------------------------------------------------------------- rank 0 only

def on_main(acc, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the main process only; every rank returns its result or raises its error.

    A codeintel error on rank 0 (a taken directory, an unwritable disk) is sent to all ranks and raised there
    too, so no rank is left waiting at the next collective.
    """
    if acc.num_processes == 1:
        return fn()
    from accelerate.utils import broadcast_object_list

    box: list[Any] = [None]
    if acc.is_main_process:
        try:
            box[0] = ("ok", fn())
        except CodeintelError as exc:
            box[0] = ("error", (type(exc), str(exc)))
    broadcast_object_list(box, from_process=0)
    kind, value = box[0]
    if kind == "error":
        cls, message = value
        error = CodeintelError.__new__(cls)  # the same class (the CLI's exit code depends on it), same text
        CodeintelError.__init__(error, message)
        raise error
    return value


def dropout_noise(shape, p: float, dtype=None, device=None):
    """Inverted-dropout noise of ``shape``: ``1 / q`` where an element is kept, with probability ``q``, else 0 —
    what ``x * noise`` needs, as torch's own dropout builds it. ``q`` is ``1 - p`` with ``p`` rounded to a
    multiple of 2^-16 where that moves it by at most 0.1 % of itself (0.1 becomes 0.1000061), else to a multiple
    of 2^-32; the kept values are scaled by the inverse of the ``q`` actually used, so ``E[x * noise] = x``
    exactly. The keep decisions come from torch's default generator: 64-bit ``random_`` values over the full
    range, read as four int16 (or two int32) uniform parts, each compared with one threshold. On CPU this is
    3-4x cheaper than ``bernoulli_`` alone (one double drawn per element); seeding (``torch.manual_seed``) and saved RNG
    states govern it as they govern ``bernoulli_``."""
    import math

    import torch

    n = math.prod(shape)
    k16 = round(p * 2**16)
    bits = 16 if 0 < k16 < 2**16 and abs(k16 / 2**16 - p) <= 1e-3 * p else 32
    k = min(round(p * 2**bits), 2**bits - 1)                       # dropped values among the 2^bits
    per = 64 // bits
    v = torch.empty((n + per - 1) // per, dtype=torch.int64, device=device).random_(-(2**63), None)
    parts = v.view(torch.int16 if bits == 16 else torch.int32).view(-1)[:n].view(shape)
    keep = parts >= -(2 ** (bits - 1)) + k
    return keep.to(dtype or torch.get_default_dtype()).mul_(2**bits / (2**bits - k))


def _dropout(x, p: float):
    """Inverted dropout with :func:`dropout_noise`; autograd keeps the noise for the backward (one multiply each
    way, as torch's own CPU dropout)."""
    return x * dropout_noise(x.shape, p, x.dtype, x.device)


def _attention_with_fast_dropout(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 **other):
    """``scaled_dot_product_attention`` with dropout on the probabilities (training), as its math path computes
    it — softmax(q kᵀ · scale + mask) — with the noise of :func:`dropout_noise`; ``None`` (run torch's own) without
    dropout or with options this does not cover."""
    import math

    import torch

    if other or not 0 < dropout_p < 1:
        return None
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale                        # (..., Lq, Lk)
    if is_causal:
        lq, lk = scores.shape[-2:]
        causal = torch.ones(lq, lk, dtype=torch.bool, device=scores.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    probs = torch.softmax(scores, dim=-1)
    return _dropout(probs, dropout_p) @ value


def fast_dropout(enabled: bool = True):
    """A context in which ``torch.nn.functional.dropout`` (what ``nn.Dropout`` modules and transformers'
    eager attention call) in training mode uses :func:`dropout_noise`, and so does the probability dropout of
    ``scaled_dot_product_attention`` (transformers' ``sdpa`` attention: RoBERTa, GPT-2); everything else runs
    as it would. A ``TorchFunctionMode``, active only around a training forward: nothing is patched. With
    ``enabled`` false (``train.fast_kernels`` off) a context that changes nothing."""
    import contextlib

    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.scaled_dot_product_attention:
                out = _attention_with_fast_dropout(*args, **kwargs)
                if out is not None:
                    return out
            if func is F.dropout:
                x = args[0]
                p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
                training = args[2] if len(args) > 2 else kwargs.get("training", True)
                inplace = args[3] if len(args) > 3 else kwargs.get("inplace", False)
                if training and 0 < p < 1 and not inplace and x.is_floating_point():
                    return _dropout(x, p)
            return func(*args, **kwargs)

    return Mode() if enabled else contextlib.nullcontext()
