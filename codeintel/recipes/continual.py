"""Continual learning over an API stream: one explicit loop, strategies as hooks, the forgetting matrix.

For each seed the model is loaded once (optionally trained on the stream's in-distribution code first, see
``id_epochs``), scored on every domain's test set and on the ID test set (the starting row ``b``), and then
every strategy starts from those same weights. Per experience: causal-LM fine-tuning on the experience's
code, early stopping on its validation loss over the API tokens only (``train.patience`` 2, at most
``train.epochs``; the best epoch's weights reloaded when it stops early, as the authors' Avalanche plugin), then
every domain's test set scored. That gives R[i][j], the score on domain j
after experience i (the whole matrix, so forward transfer is visible), and from it:

* ``average``: mean_j R[T-1][j], the score after the last experience;
* ``forgetting``: mean over j < T-1 of max_{j <= l < T-1} R[l][j] − R[T-1][j]: the best score domain j reached
  once its experience was trained, minus the final one. Chaudhry et al. 2018 take the max over every earlier row
  (l < T-1), which here would count rows from before domain j was trained — zero-shot scores, knowledge no
  experience taught — as forgotten; Avalanche's ``StreamForgetting`` takes R[j][j] − R[T-1][j] (which is −BWT).
  The definition is written into ``continual.json`` (``definitions``) and ``continual.md``;
* ``bwt`` (Lopez-Paz & Ranzato 2017): mean over j < T-1 of R[T-1][j] − R[j][j];
* ``fwt``: mean over j > 0 of R[j-1][j] − b_j;
* ``id_before`` / ``id_after``: the ID test score before and after the stream.

Outputs in ``output_dir``: ``continual.json`` (everything, per seed and as mean ± std), ``continual.md`` (the
comparison table and each strategy's mean R), ``per-example/<strategy>/`` (each seed's per-call-site statistics
after the last experience: ``codeintel compare OUT/per-example/A OUT/per-example/B`` tests a difference),
``heatmap-<strategy>.png`` (R), ``domains.png`` (each domain's score across experiences, one panel per strategy)
and each strategy's final model (first seed) under ``models/<strategy>``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codeintel.config import ContinualConfig, resolve_device, set_key, validate_continual
from codeintel.continual import tasks as api_tasks
from codeintel.continual.strategies import STRATEGIES, Context, Strategy, trainable
from codeintel.continual.streams import Stream, load_stream
from codeintel.errors import ConfigError, DataError
from codeintel.io import save_figure, write_json, write_text
from codeintel.log import say
from codeintel.progress import progress
from codeintel.recipes import engine, kit
from codeintel.recipes.kit import BestTracker, claimed, epoch_loop

SUMMARY = ("average", "forgetting", "bwt", "fwt", "id_before", "id_after")
DEFINITIONS = {
    "forgetting": "mean over domains j < T-1 of max_{j <= l < T-1} R[l][j] - R[T-1][j] (the best score once domain j "
                  "was trained, minus the final; not Chaudhry et al.'s max over every earlier row, which counts "
                  "zero-shot rows, nor Avalanche's R[j][j] - R[T-1][j], which is -BWT)",
    "bwt": "mean over j < T-1 of R[T-1][j] - R[j][j] (Lopez-Paz & Ranzato 2017)",
    "fwt": "mean over j > 0 of R[j-1][j] - b[j], b the scores before the stream",
}


@dataclasses.dataclass
class Prepared:
    """The stream as tensors and examples, built once per run."""

    names: list[str]
    own: list[api_tasks.Data]        # training items per experience
    valid: list[api_tasks.Data]      # validation items (loss on target tokens) per experience
    tests: list[list[api_tasks.Example]]
    id_train: api_tasks.Data
    id_valid: api_tasks.Data
    id_test: list[api_tasks.Example]


def task_settings(cfg: ContinualConfig) -> dict[str, Any]:
    """Decoding settings with the task defaults filled in (api-call: T 1.0, top-p 1.0, 6 tokens; api-usage: the
    paper's T 0.2, top-p 0.95, 30 tokens)."""
    call = cfg.task == "api-call"
    e = cfg.eval
    return {"temperature": e.temperature or (1.0 if call else 0.2), "top_p": e.top_p or (1.0 if call else 0.95),
            "max_new_tokens": e.max_new_tokens or (6 if call else 30),
            "metric": e.metric or (("pass@1" if e.decoding == "sample" else "exact@1") if call else "exact_match")}


def prepare(stream: Stream, enc: api_tasks.Encoder, cfg: ContinualConfig, max_new_tokens: int) -> Prepared:
    """Items and examples of every experience; every problem with the data is raised here, before training."""
    def fits(exs: list[api_tasks.Example]) -> list[api_tasks.Example]:
        if cfg.task == "api-call":
            return exs
        return [e for e in exs if len(enc.ids(e.target)) <= max_new_tokens]  # the paper drops longer targets

    def cap(items: list, n: int, salt: str) -> list:
        if n and len(items) > n:
            items = random.Random(f"{cfg.train.seed}:{salt}").sample(items, n)
        return items

    out = Prepared([], [], [], [], {}, {}, [])
    for exp in stream.experiences:
        train = cap(sorted(exp.train, key=lambda s: s.id), cfg.data.max_train_examples, f"train:{exp.name}")
        train = sorted(train, key=lambda s: s.id)
        random.Random(f"{cfg.train.seed}:valid:{exp.name}").shuffle(train)
        n_valid = max(1, round(len(train) * cfg.data.valid_fraction))
        valid, train = train[:n_valid], train[n_valid:]
        valid_ex = fits(api_tasks.examples(valid, exp.apis, cfg.task))
        test_ex = cap(fits(api_tasks.examples(exp.test, exp.apis, cfg.task)), cfg.data.max_test_examples,
                      f"test:{exp.name}")
        own = enc.lm_items(train, cfg.train.seed) if cfg.objective == "lm" else \
            enc.target_items(fits(api_tasks.examples(train, exp.apis, cfg.task)))
        if not api_tasks.rows(own):
            raise DataError(f"domain {exp.name!r} has no training code left after the validation split; add samples.")
        if not valid_ex:
            sites = fits(api_tasks.examples(valid + train, exp.apis, cfg.task))
            if not sites:
                raise DataError(
                    f"domain {exp.name!r} has no {cfg.task} call site in its {len(valid) + len(train)} training "
                    "samples" + (f" with a target of at most {max_new_tokens} tokens (eval.max_new_tokens)"
                                 if cfg.task == "api-usage" else "")
                    + "; drop the domain from the stream (build-stream --domains) or use more data.")
            raise DataError(f"domain {exp.name!r}: its {len(valid)} validation samples (data.valid_fraction="
                            f"{cfg.data.valid_fraction}) hold none of its {len(sites)} {cfg.task} call sites; raise "
                            "data.valid_fraction.")
        if len(test_ex) < cfg.min_test_examples:
            raise DataError(f"domain {exp.name!r} has {len(test_ex)} {cfg.task} test call sites, fewer than "
                            f"min_test_examples={cfg.min_test_examples}; add APIs or data to it, or merge it with "
                            "another domain (build-stream --domains).")
        out.names.append(exp.name)
        out.own.append(own)
        out.valid.append(enc.target_items(valid_ex))
        out.tests.append(test_ex)
    if cfg.id_epochs:  # the ID stage stops early on held-out ID training samples, never on the ID test set
        id_train = cap(stream.id_train, cfg.id_max_examples, "id-train")
        n_valid = max(1, round(len(id_train) * cfg.data.valid_fraction))
        out.id_train = enc.lm_items(id_train[n_valid:], cfg.train.seed) if cfg.objective == "lm" else \
            enc.target_items(fits(api_tasks.examples(id_train[n_valid:], None, cfg.task)))
        out.id_valid = enc.target_items(fits(api_tasks.examples(id_train[:n_valid], None, cfg.task)))
    out.id_test = cap(fits(api_tasks.examples(stream.id_test, None, cfg.task)), cfg.data.max_test_examples,
                      "id-test")
    return out


def train_epochs(model, strategy, ctx: Context, valid: api_tasks.Data, enc: api_tasks.Encoder, cfg: ContinualConfig,
                 device, lr: float, max_epochs: int, bar_desc: str, show: bool) -> list[dict[str, float]]:
    """One experience: epochs of the strategy's batches, early stopping on the validation loss (the best epoch's
    weights reloaded when it stops early; after the last epoch they stay, as Avalanche's ``EarlyStoppingPlugin``)."""
    opt = torch.optim.AdamW([p for _, p in trainable(model)], lr=lr, weight_decay=cfg.train.weight_decay)
    strategy.before_experience(ctx, model)
    history, tracker = [], BestTracker("min", cfg.train.patience)
    bar = progress(total=strategy.steps(ctx) * max_epochs, desc=bar_desc, unit="step", enabled=show)

    def run_epoch(epoch: int) -> float:              # the objective and the strategy's hooks around each step
        model.train()
        losses = []
        for batch in strategy.batches(ctx):
            batch = {k: v.to(device) for k, v in batch.items()}
            strategy.before_forward(ctx, model, batch)
            with engine.fast_dropout(cfg.train.fast_kernels), torch.autocast(
                    device.type, dtype=torch.bfloat16, enabled=cfg.train.precision == "bf16"):
                out = ctx.forward(model, batch)
                loss = out[0]
                penalty = strategy.loss_penalty(ctx, model, batch, out)
            total = loss + penalty if penalty is not None else loss
            opt.zero_grad(set_to_none=True)
            total.backward()
            strategy.after_backward(ctx, model)
            if cfg.train.grad_clip:
                torch.nn.utils.clip_grad_norm_([p for _, p in trainable(model)], cfg.train.grad_clip)
            opt.step()
            strategy.after_step(ctx, model)
            ctx.step += 1
            losses.append(loss.item())
            bar.update(1)
        val = api_tasks.target_loss(enc, model, valid, cfg.eval.batch_size, device) if valid else float("nan")
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else float("nan"),
                        "valid_loss": val})
        bar.set_postfix(epoch=epoch + 1, valid_loss=f"{val:.3f}")
        return val

    best_state = epoch_loop(epochs=max_epochs, run_epoch=run_epoch, tracker=tracker,
                            snapshot=lambda: {k: v.detach().clone() for k, v in model.state_dict().items()})
    bar.close()
    if tracker.stop:   # as the authors' early stopping: the best weights return only when patience ran out
        model.load_state_dict(best_state)
    strategy.after_experience(ctx, model)
    return history


def score_all(model, enc, prep: Prepared, cfg: ContinualConfig, settings: dict, device, seed: int,
              with_id: bool = False, per_example: list | None = None
              ) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Scores on every domain's test set (and the ID test set); ``per_example``: a list that receives each
    domain's per-example statistics (:func:`codeintel.continual.tasks.per_example`)."""
    def one(exs, salt, keep=False):
        preds = api_tasks.predict(model, enc, exs, cfg.task, decoding=cfg.eval.decoding, num_samples=cfg.eval.n_samples,
                                  max_new_tokens=settings["max_new_tokens"], temperature=settings["temperature"],
                                  top_p=settings["top_p"], batch_size=cfg.eval.batch_size, seed=seed + salt,
                                  device=device)
        if keep and per_example is not None:
            per_example.append(api_tasks.per_example(cfg.task, exs, preds, cfg.eval.decoding, cfg.eval.n_samples))
        return api_tasks.score(cfg.task, exs, preds, cfg.eval.decoding, cfg.eval.n_samples)

    domains = [one(exs, j, keep=True) for j, exs in enumerate(prep.tests)]
    return domains, (one(prep.id_test, 1000) if with_id and prep.id_test else {})


def final_per_example(names: list[str], per_domain: list[dict]) -> tuple[list[str], dict]:
    """One ``per_example.json`` for a strategy after the last experience: every domain's test call sites
    (ids ``domain:k``); each metric over all sites, and per domain (``metric[domain]``: the other domains' sites
    weigh 0), the statistics :func:`codeintel.continual.tasks.per_example` gives."""
    from codeintel.eval.resample import Decomposed

    ids = [f"{n}:{k}" for n, d in zip(names, per_domain, strict=True) for k in range(next(iter(d.values())).n)]
    out: dict[str, Decomposed] = {}
    for metric in per_domain[0]:
        parts = [d[metric] for d in per_domain]
        first = parts[0]
        out[metric] = Decomposed(first.kind, np.concatenate([p.stats for p in parts]), first.scale, first.digits)
        for j, name in enumerate(names):
            if first.kind == "mean":                  # a ratio: (score, 1) on the domain's sites, (0, 0) elsewhere
                cols = [np.column_stack([p.stats[:, 0], np.ones(p.n)]) if i == j else np.zeros((p.n, 2))
                        for i, p in enumerate(parts)]
                out[f"{metric}[{name}]"] = Decomposed("ratio", np.concatenate(cols), first.scale)
            else:                                     # n-gram counts: zero rows add nothing
                cols = [p.stats if i == j else np.zeros_like(p.stats) for i, p in enumerate(parts)]
                out[f"{metric}[{name}]"] = Decomposed(first.kind, np.concatenate(cols), first.scale, first.digits)
    return ids, out


def summarize(R: list[list[float]], b: list[float], id_before: float | None, id_after: float | None) -> dict:
    """average, forgetting, bwt, fwt of a matrix R (rows: after experience i; columns: domain j)."""
    T = len(R)
    last = R[-1]
    out: dict[str, float | None] = {"average": float(np.mean(last))}
    if T > 1 and len(R[0]) == T:
        out["forgetting"] = float(np.mean([max(R[i][j] for i in range(j, T - 1)) - last[j] for j in range(T - 1)]))
        out["bwt"] = float(np.mean([last[j] - R[j][j] for j in range(T - 1)]))
        out["fwt"] = float(np.mean([R[j - 1][j] - b[j] for j in range(1, T)]))
    else:
        out.update(forgetting=None, bwt=None, fwt=None)
    out.update(id_before=id_before, id_after=id_after)
    return out


def _mean_std(values: list) -> dict[str, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0}


def run(cfg: ContinualConfig | None = None, *, overwrite: bool = False, echo=say, write: bool = True,
        show_progress: bool = True, resume: bool = False, **settings: Any) -> dict[str, Any]:
    """Run every strategy of ``cfg.strategies`` on the stream; returns what ``continual.json`` holds.

    ``settings`` are :class:`~codeintel.config.ContinualConfig` keys, sections as dicts (``train={"lr": 1e-3}``,
    ``ewc={"lam": 0.5}``) or dotted (``**{"train.lr": 1e-3}``), ``data`` a path; applied over ``cfg``. Example::

        import codeintel.continual
        result = codeintel.continual.run(model="tiny-codegpt", strategies=["naive", "replay"], id_epochs=1)
        result["summary"]["replay"]["forgetting"]   # {"mean": ..., "std": ...}
    """
    from codeintel.recipes.rundir import RunDir, fresh
    from codeintel.tasks.models import write_checkpoint

    cfg = copy.deepcopy(cfg) if cfg is not None else ContinualConfig()
    for key, value in settings.items():
        set_key(cfg, key, value)
    validate_continual(cfg)
    strategy_classes = {name: STRATEGIES[name] for name in cfg.strategies}  # unknown names fail here
    t0 = time.perf_counter()
    out = Path(cfg.output_dir) if cfg.output_dir else \
        fresh(f"runs/continual-{Path(cfg.model).name}-{Path(cfg.stream).stem}-{cfg.task}")
    if resume and not write:
        raise ConfigError("resume continues a written run; drop write=False.")
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=resume) if write else None
    if rundir:
        rundir.check()
    with claimed(rundir):  # locked from here to the last write
        tracker = None
        if rundir and [r for r in cfg.report_to if r != "none"]:
            tracker = engine.make_accelerator(cfg.device, "fp32", cfg.report_to, echo)  # for its trackers only
            tracker.project_configuration.project_dir = tracker.project_configuration.logging_dir = str(out / "logs")
            tracker.init_trackers("continual", config=engine.hparams(dataclasses.asdict(cfg)))
        try:
            result, loaded, final_models, names = _run(cfg, strategy_classes, echo, show_progress, write, rundir,
                                                       tracker)
        finally:
            if tracker is not None:
                engine.finish_trackers(tracker)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        echo(table(result))
        if rundir:
            for name, state in final_models.items():   # each whole or not at all; a killed attempt's replaced
                loaded.model.load_state_dict(state)
                rundir.publish_dir(f"models/{name}", lambda d, n=name: write_checkpoint(
                    loaded, d, {"continual": {"strategy": n, "stream": names}}))
            write_text(out / "continual.md", markdown(result))
            for name in result["summary"]:
                heatmap(result, name, out / f"heatmap-{name}.png")
            domain_plot(result, out / "domains.png")
            write_per_example(result, out / "per-example")
            write_json(out / "continual.json", result)
            result["output_dir"] = str(out)
    return result


def write_per_example(result: dict, root: Path) -> None:
    """``root/<strategy>/seed-<s>/per_example.json`` for every strategy and seed (the test call sites after the
    last experience; the statistics move out of ``result``'s per-seed records into these files) and
    ``root/<strategy>/seeds.json``, so that ``codeintel compare OUT/per-example/naive OUT/per-example/replay`` pairs
    the strategies site by site, over the seeds."""
    from codeintel.eval import resample

    task = f"continual {result['stream']['name']} {result['task']}"
    for name in result["summary"]:
        seeds = []
        for seed_result in result["per_seed"]:
            got = seed_result["strategies"][name].pop("per_example", None)
            if got is None:
                continue
            seeds.append(seed_result["seed"])
            metrics = {m: resample.Decomposed.from_json(d) for m, d in got["metrics"].items()}
            where = root / name / f"seed-{seed_result['seed']}"
            where.mkdir(parents=True, exist_ok=True)
            resample.save(where / resample.FILE, task, "test", got["ids"], metrics)
        if seeds:
            write_json(root / name / "seeds.json", {"seeds": seeds, "strategy": name, "task": task})


def _run(cfg: ContinualConfig, strategy_classes: dict, echo, show_progress: bool, write: bool, rundir=None,
         tracker=None):
    """The strategies of :func:`run` over every seed; returns the result, the loaded model, the final weights of
    each strategy (first seed, when they are to be saved) and the experience names.

    With ``save_every=N`` a state is written after every N strategies run through the stream (the results so far,
    the seed's starting weights, the kept final weights, the RNGs); a resumed run (``rundir.resume``) continues
    after the last of them, to the same results. ``tracker``: an ``Accelerator`` whose trackers get each
    strategy's scores after every experience (``<strategy>/seed<seed>/<domain>``, step = experiences trained)."""
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import CAUSAL_LM_TYPE, refuse_beyond_positions

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = resolve_device(cfg.device)
    stream = load_stream(cfg.stream, cfg.data.paths[0] if cfg.data.paths else None, show_progress)
    task_cfg = task_settings(cfg)
    if task_cfg["metric"] not in api_tasks.metric_names(cfg.task, cfg.eval.decoding, cfg.eval.n_samples):
        names = api_tasks.metric_names(cfg.task, cfg.eval.decoding, cfg.eval.n_samples)
        raise ConfigError(f"eval.metric={cfg.eval.metric!r} is not a {cfg.task} score with eval.decoding="
                          f"{cfg.eval.decoding}; choose one of {', '.join(names)}.")
    torch.manual_seed(cfg.train.seed)
    loaded = load_model(cfg.model, CAUSAL_LM_TYPE)  # a family without a causal LM fails here, clearly
    _quiet(loaded)
    block = cfg.source_len or _default_block(loaded)
    refuse_beyond_positions(loaded, block, cfg.model)
    enc = api_tasks.Encoder(loaded.tokenizer, loaded.family, block, target_len=max(task_cfg["max_new_tokens"], 32))
    if not enc.seq2seq and task_cfg["max_new_tokens"] >= block:   # a decoder's context and output share the block
        raise ConfigError(f"eval.max_new_tokens={task_cfg['max_new_tokens']} leaves no room for a context in blocks "
                          f"of {block} tokens; pass eval.max_new_tokens below {block} (default: 6 for api-call, 30 "
                          "for api-usage).")
    prep = prepare(stream, enc, cfg, task_cfg["max_new_tokens"])
    metric = task_cfg["metric"]
    echo(f"stream {stream.definition.name} ({stream.definition.lang}, by {stream.definition.by}): "
         + ", ".join(f"{n} {api_tasks.rows(o)} train items / {len(t)} test" for n, o, t in
                     zip(prep.names, prep.own, prep.tests, strict=True))
         + f"; ID {len(prep.id_test)} test; {cfg.model} ({loaded.family}), block {block}, task {cfg.task}, "
           f"metric {metric}")
    per_seed: list[dict[str, Any]] = []
    final_models: dict[str, Any] = {}
    saved, runs = None, 0   # the state resumed from; strategy runs finished (what save_every counts)
    if rundir is not None and rundir.resume:
        saved, blob = kit.load_state(rundir.path, rng=True)
        per_seed, final_models, runs = saved["per_seed"], blob["final"], saved["runs"]
        echo(f"resuming {rundir.path} from {blob['path'].name}: seed {saved['seed_result']['seed']}, "
             f"{', '.join(saved['seed_result']['strategies']) or 'no strategy'} done")
    for rep in range(len(per_seed), cfg.repeats):
        seed = cfg.train.seed + rep
        torch.manual_seed(seed)
        base = _quiet(load_model(cfg.model, CAUSAL_LM_TYPE)) if rep else loaded
        base.model.to(device)
        if saved is not None:  # this seed's start, its finished strategies and the RNGs, as the state holds them
            seed_result, start_state = saved["seed_result"], blob["start"]
            b_scores, id_before = seed_result["start"]["domains"], seed_result["start"]["id"]
            kit.restore_rng(blob["rng"])
            saved = None
        else:
            id_history = []
            if cfg.id_epochs:
                ctx = Context(-1, "id", prep.id_train, [], cfg.train.batch_size, _forward_fn(enc, device),
                              np.random.default_rng(seed))
                id_history = train_epochs(base.model, Strategy(), ctx, prep.id_valid, enc, cfg, device,
                                          cfg.id_lr or cfg.train.lr, cfg.id_epochs, f"seed {seed} ID pre-training",
                                          show_progress)
            start_state = {k: v.detach().clone() for k, v in base.model.state_dict().items()}
            b_scores, id_before = score_all(base.model, enc, prep, cfg, task_cfg, device, seed, with_id=True)
            seed_result = {"seed": seed, "start": {"domains": b_scores, "id": id_before}, "id_history": id_history,
                           "strategies": {}}
        for name, cls in strategy_classes.items():
            if name in seed_result["strategies"]:
                continue
            base.model.load_state_dict(start_state)
            strategy = cls(getattr(cfg, name, None), seed)
            rng = np.random.default_rng(seed)
            plan = [(0, "joint", api_tasks.concat(prep.own), api_tasks.concat(prep.valid))] if strategy.joint else \
                [(i, n, o, v) for i, (n, o, v) in enumerate(zip(prep.names, prep.own, prep.valid, strict=True))]
            rows_, histories, seen, final = [], [], [], []
            t_s = time.perf_counter()
            for i, exp_name, own, valid in plan:
                ctx = Context(i, exp_name, own, list(seen), cfg.train.batch_size, _forward_fn(enc, device), rng)
                hist = train_epochs(base.model, strategy, ctx, valid, enc, cfg, device, cfg.train.lr, cfg.train.epochs,
                                    f"seed {seed} {name} {i + 1}/{len(plan)} {exp_name}", show_progress)
                seen.append(own)
                scores, _ = score_all(base.model, enc, prep, cfg, task_cfg, device, seed,
                                      per_example=final if i == plan[-1][0] else None)
                rows_.append(scores)
                histories.append(hist)
                if tracker is not None:
                    tracker.log({f"{name}/seed{seed}/{n}": s.get(metric, 0.0)
                                 for n, s in zip(prep.names, scores, strict=True)}, step=i + 1)
                echo(f"  seed {seed} {name:10s} after {exp_name:14s}: "
                     + "  ".join(f"{n} {s.get(metric, 0):.1f}" for n, s in zip(prep.names, scores, strict=True)))
            _, id_after = score_all(base.model, enc, prep, cfg, task_cfg, device, seed, with_id=True)
            R = [[s.get(metric, 0.0) for s in row] for row in rows_]
            b = [s.get(metric, 0.0) for s in b_scores]
            summary = summarize(R, b, id_before.get(metric), id_after.get(metric))
            ids, stats = final_per_example(prep.names, final)
            seed_result["strategies"][name] = {"R": R, "scores": rows_, "id_after": id_after, "summary": summary,
                                               "per_example": {"ids": ids,
                                                               "metrics": {m: d.to_json() for m, d in stats.items()}},
                                               "history": histories, "seconds": round(time.perf_counter() - t_s, 1),
                                               **({"projected_steps": strategy.projected} if name == "agem" else {})}
            if rep == 0 and cfg.save_models and write:
                final_models[name] = {k: v.detach().cpu().clone() for k, v in base.model.state_dict().items()}
            runs += 1
            if rundir is not None and cfg.train.save_every and runs % cfg.train.save_every == 0:
                kit.save_state(rundir, runs, cfg.train.keep_last, rng=kit.capture_rng(),
                               extra={"start": start_state, "final": final_models},
                               loop={"runs": runs, "per_seed": per_seed, "seed_result": seed_result,
                                     "config": dataclasses.asdict(cfg)})
        per_seed.append(seed_result)
    result = _aggregate(cfg, stream, prep, per_seed, metric, task_cfg, block, loaded.family)
    return result, loaded, final_models, prep.names


def _quiet(loaded):
    """Name the decoders' loss (transformers warns on every model whose config leaves it unset)."""
    from codeintel.backbones.family import family

    if not family(loaded.family).seq2seq:
        loaded.model.config.loss_type = "ForCausalLM"
    return loaded


def _default_block(loaded) -> int:
    from codeintel.tasks.types import max_positions

    limit = max_positions(loaded) or 512
    spec_len = 256 if loaded.spec_name and loaded.spec_name.startswith("tiny-") else 1024
    return int(min(limit, spec_len))


def _forward_fn(enc: api_tasks.Encoder, device):
    def forward(model, batch: api_tasks.Data):
        return enc.forward(model, {k: v.to(device) for k, v in batch.items()})

    return forward


def _aggregate(cfg, stream, prep, per_seed, metric, task_cfg, block, family) -> dict[str, Any]:
    summary, mean_R = {}, {}
    for name in cfg.strategies:
        runs = [s["strategies"][name] for s in per_seed]
        summary[name] = {k: _mean_std([r["summary"][k] for r in runs]) for k in SUMMARY}
        mean_R[name] = np.mean([r["R"] for r in runs], axis=0).tolist()
    start = np.mean([[d.get(metric, 0.0) for d in s["start"]["domains"]] for s in per_seed], axis=0).tolist()
    return {"model": cfg.model, "family": family, "task": cfg.task, "metric": metric, "decoding": cfg.eval.decoding,
            "stream": {"name": stream.definition.name, "lang": stream.definition.lang, "by": stream.definition.by,
                       "domains": prep.names, "counts": stream.counts()},
            "test_examples": {**{n: len(t) for n, t in zip(prep.names, prep.tests, strict=True)},
                              "id": len(prep.id_test)},
            "seeds": [s["seed"] for s in per_seed], "block_size": block, "decoding_settings": task_cfg,
            "summary": summary, "definitions": DEFINITIONS, "R_mean": mean_R, "start_mean": start, "per_seed": per_seed,
            "settings": json.loads(json.dumps(dataclasses.asdict(cfg)))}


def _fmt(ms: dict | None) -> str:
    if ms is None:
        return "–"
    return f"{ms['mean']:.1f} ± {ms['std']:.1f}" if ms["std"] else f"{ms['mean']:.1f}"


def table(result: dict) -> str:
    """The comparison table (mean ± std over seeds), as aligned text."""
    head = ["strategy", "average", "forgetting", "BWT", "FWT", "ID before", "ID after"]
    body = [[name] + [_fmt(s[k]) for k in SUMMARY] for name, s in result["summary"].items()]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *body]]
    return (f"{result['metric']} on {result['stream']['name']} ({result['task']}, {len(result['seeds'])} seed(s)):\n"
            + "\n".join(lines))


def markdown(result: dict) -> str:
    names = result["stream"]["domains"]
    lines = [f"# Continual learning: {result['model']} on the {result['stream']['name']} stream ({result['task']})",
             "", f"Score: {result['metric']} (× 100), mean ± std over seeds {result['seeds']}. "
             f"Forgetting: {DEFINITIONS['forgetting']}; BWT/FWT: Lopez-Paz & Ranzato 2017.", "",
             "| strategy | average | forgetting | BWT | FWT | ID before | ID after |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(s[k]) for k in SUMMARY) + " |")
    sites = ", ".join(f"{k} {v}" for k, v in result["test_examples"].items())
    start = ", ".join(f"{n} {v:.1f}" for n, v in zip(names, result["start_mean"], strict=True))
    lines += ["", f"Test call sites per domain: {sites}", ""]
    lines += [f"Before the stream: {start}",
              ""]
    for name, R in result["R_mean"].items():
        rows_names = ["joint"] if len(R) == 1 and len(names) > 1 else names
        lines += [f"## R for {name} (row: after experience; column: test domain)", "",
                  "| after \\ on | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines += [f"| {r} | " + " | ".join(f"{v:.1f}" for v in row) + " |"
                  for r, row in zip(rows_names, R, strict=True)]
        lines.append("")
    return "\n".join(lines)


def heatmap(result: dict, name: str, path: Path) -> None:
    """R (mean over seeds) as a heat map with the values written in; one colour scale for every strategy's map
    (0 to the highest score of any of them), so the maps compare; each column names its test call sites."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, R = result["stream"]["domains"], np.array(result["R_mean"][name])
    rows_names = ["joint"] if len(R) == 1 and len(names) > 1 else names
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 0.7 * len(R) + 1.8), constrained_layout=True)
    vmax = max([float(np.max(r)) for r in result["R_mean"].values()] + [1e-9])
    im = ax.imshow(R, cmap="viridis", vmin=0, vmax=vmax, aspect="auto")
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            ax.text(j, i, f"{R[i, j]:.1f}", ha="center", va="center",
                    color="white" if R[i, j] < 0.6 * vmax else "black", fontsize=9)
    sites = result.get("test_examples", {})
    ax.set_xticks(range(len(names)), [f"{n}\n({sites[n]} test sites)" if n in sites else n for n in names],
                  rotation=30, ha="right")
    ax.set_yticks(range(len(rows_names)), [f"after {n}" for n in rows_names])
    ax.set(xlabel="test domain", title=f"{name}: {result['metric']} on each domain ({result['model']}, "
                                         f"{len(result['seeds'])} seed(s))")
    fig.colorbar(im, ax=ax, label=result["metric"])
    save_figure(fig, path)


def domain_plot(result: dict, path: Path) -> None:
    """Each domain's score across the experiences, one panel per sequential strategy, the start as x = 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result["stream"]["domains"]
    seq = [n for n, R in result["R_mean"].items() if len(R) == len(names)]
    if not seq:
        return
    fig, axes = plt.subplots(1, len(seq), figsize=(4.2 * len(seq), 3.6), sharey=True, squeeze=False,
                             constrained_layout=True)
    top = max(max(max(r) for r in result["R_mean"][n]) for n in seq)
    top = max(top, max(result["start_mean"]))
    for ax, name in zip(axes[0], seq, strict=True):
        R = np.array(result["R_mean"][name])
        for j, dom in enumerate(names):
            ys = [result["start_mean"][j], *R[:, j]]
            ax.plot(range(len(ys)), ys, marker="o", label=dom)
        ax.set_xticks(range(len(names) + 1), ["start", *names], rotation=30, ha="right")
        ax.set_ylim(0, top * 1.1 + 1e-9)
        ax.set(title=name, xlabel="after experience")
    axes[0][0].set_ylabel(result["metric"])
    sites = result.get("test_examples", {})
    handles, _ = axes[0][0].get_legend_handles_labels()   # one legend, outside the panels: it hides no curve
    fig.legend(handles, [f"{d} ({sites[d]})" if d in sites else d for d in names], loc="outside right center",
               frameon=False, fontsize=8, title="test domain (sites)")
    fig.suptitle(f"{result['model']} on {result['stream']['name']} ({result['task']}), mean of "
                 f"{len(result['seeds'])} seed(s)")
    save_figure(fig, path)
