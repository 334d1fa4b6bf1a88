"""The Python API of the commands, with the CLI's configuration precedence (dataclass defaults < the task
card's defaults < a config file < overrides < the named arguments)::

    import codeintel
    result = codeintel.train(model="tiny-codet5", task="summarization", out="runs/s", train={"max_steps": 50})
    scores = codeintel.evaluate(model="runs/s/best", split="test")["scores"]
    codeintel.pretrain("mlm", model="tiny-codebert", out="runs/p", train={"max_steps": 100})

Overrides are keyword arguments: a section as a mapping (``train={"lr": 3e-4}``) or dotted keys in
``overrides={"train.lr": 3e-4}``. Each function returns what the command writes (``metrics.json``,
``pretrain.json``, ...) and sends the lines the command prints to ``echo``; the CLI commands parse their
arguments and call these functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeintel.log import say


class Result(dict):
    """What ``train``, ``evaluate`` and ``pretrain`` return: the run's JSON record (``metrics.json``,
    ``pretrain.json``, ``summary.json``) as a dict, plus the same names on every recipe — ``.scores`` (train: the
    test scores; evaluate: the split's scores; pretrain: the final losses; several seeds: each score's mean) and
    ``.run_dir`` (the directory written)."""

    def __init__(self, record: dict[str, Any], run_dir: str | Path | None, scores: dict[str, Any]) -> None:
        super().__init__(record)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.scores = dict(scores)


def _summary_scores(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v["mean"] for k, v in (summary.get("metrics") or {}).items() if isinstance(v, dict) and "mean" in v}


def _settings(overrides: dict[str, Any] | None, sections: dict[str, Any]) -> dict[str, Any]:
    return {**(overrides or {}), **sections}


def _refuse_with_resume(resume: str | Path, named: dict[str, Any], settings: dict[str, Any], what: str) -> None:
    """A resumed run continues with its saved settings: any other setting given is an error."""
    from codeintel.errors import ConfigError

    given = [k for k, v in named.items() if v] + list(settings)
    if given:
        raise ConfigError(f"resume continues {resume} with {what}; drop {', '.join(given)} (start a new run to "
                          "change settings).")


def train_config(model: str | None = None, task: str | None = None, data: list[str] | None = None, *,
                 config: str | None = None, out: str | Path | None = None, tokenizer: str | None = None,
                 adapter: str | None = None, adapter_mode: str | None = None, resume: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, **sections: Any) -> tuple[Any, Any]:
    """The fully resolved, validated ``(RunConfig, TaskCard)`` of a ``train`` call (what ``codeintel train
    --print-config`` prints). With ``resume`` it is the run's own ``config.yaml`` and no other setting is
    taken."""
    from codeintel.config import validate
    from codeintel.data.loaders import dataset_files
    from codeintel.tasks.cards import resolve_run_config

    data = dataset_files(data)   # datasets objects and hf: ids as files
    named = {"model": model, "task": task, "data": data, "config": config, "out": out, "tokenizer": tokenizer,
             "adapter": adapter, "adapter_mode": adapter_mode}
    if resume is not None:
        _refuse_with_resume(resume, named, _settings(overrides, sections), "the settings in its config.yaml")
        cfg, card = _resumed_run_config(Path(resume))
    else:
        cfg, card = resolve_run_config(task, model, data, config, _settings(overrides, sections))
        if out is not None:
            cfg.output_dir = str(out)
        for key in ("tokenizer", "adapter", "adapter_mode"):
            if named[key]:
                setattr(cfg, key, named[key])
    validate(cfg)
    from codeintel.tasks.types import task_type

    if not task_type(card.type).trainable:
        from codeintel.errors import ConfigError

        raise ConfigError(f"task {card.name!r} is evaluation only (it has no training data); run codeintel "
                          f"evaluate --task {card.name} --model MODEL.")
    return cfg, card


def _resumed_run_config(run_dir: Path) -> tuple[Any, Any]:
    """The configuration a training run was started with (its ``config.yaml``) and its task card."""
    from codeintel.config import RunConfig, apply_mapping, load_yaml
    from codeintel.errors import ConfigError
    from codeintel.tasks.cards import load_task

    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"--resume {run_dir}: no config.yaml there, so it is not a codeintel training run; pass "
                          "the run directory (the --out of the run to continue).")
    saved = load_yaml(run_dir / "config.yaml")
    card_path = saved.pop("task_card", None)
    cfg = RunConfig()
    apply_mapping(cfg, saved)
    cfg.output_dir = str(run_dir)
    return cfg, load_task(card_path if card_path and Path(card_path).is_file() else cfg.task)


def train(model: str | None = None, task: str | None = None, data: Any = None, *,
          config: str | None = None, out: str | Path | None = None, tokenizer: str | None = None,
          adapter: str | None = None, adapter_mode: str | None = None, resume: str | Path | None = None,
          overwrite: bool = False, progress: bool = False, echo: Callable[..., None] = say,
          command: str | None = None, overrides: dict[str, Any] | None = None, seeds: list[int] | str | None = None,
          seed_jobs: int = 1, **sections: Any) -> dict[str, Any]:
    """``codeintel train``: fine-tune, keep the best dev checkpoint, score it on test; returns ``metrics.json``.

    ``resume=RUN`` continues a run started with ``train.save_every`` from its newest complete state (no other
    setting). ``echo`` receives the log lines and the final summary the command prints (``print`` by default);
    ``command`` is recorded in the checkpoint and its model card. ``seeds`` (``[1, 2, 3]`` or ``"1-3"``): one
    run per seed under ``out`` and their summary (:mod:`codeintel.recipes.seeds`); returns ``summary.json``;
    ``seed_jobs``: that many seeds at once, each in its own process.
    """
    from codeintel.recipes.train import train as run_train

    cfg, card = train_config(model, task, data, config=config, out=out, tokenizer=tokenizer, adapter=adapter,
                             adapter_mode=adapter_mode, resume=resume, overrides=overrides, **sections)
    if seeds is not None:
        summary = _train_seeds(cfg, card, seeds, echo, progress, overwrite, command, resume, seed_jobs)
        return Result(summary, summary.get("output_dir"), _summary_scores(summary))
    result = run_train(cfg, card, echo=echo, progress=progress, overwrite=overwrite, resume=resume is not None,
                       command=command)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun / accelerate launch only rank 0 reports
        _train_summary(result, echo)
    return Result(result, Path(result["checkpoint"]).parent, result["test"])


def _train_seeds(cfg, card, seeds, echo, progress: bool, overwrite: bool, command: str | None, resume,
                 jobs: int = 1) -> dict:
    """``train --seeds``: the runs of :func:`train` with each seed, in ``cfg.output_dir``; their summary."""
    from codeintel.recipes.seeds import over_seeds
    from codeintel.recipes.train import train as run_train

    def run(c, again: bool) -> dict:
        c, run_card = c if again else (c, card)           # a resumed seed brings its own (config, card)
        result = run_train(c, run_card, echo=echo, progress=progress, resume=again, command=command)
        _train_summary(result, echo)
        return result

    return over_seeds(cfg, seeds, run, _resumed_run_config, result_file="metrics.json", scores=lambda r: r["test"],
                      default_out=f"runs/{card.name}-{Path(cfg.model).name}-seeds", resume=resume is not None,
                      echo=echo, overwrite=overwrite, extra={"card": card.name}, jobs=jobs)


def _train_summary(result: dict[str, Any], echo: Callable[..., None]) -> None:
    from codeintel.recipes.evaluate import format_scores, sanity_lines

    echo(f"\n== {result['task']} | {result['model']} | test split ({result['checkpoint']})")
    echo(f"model     {format_scores(result['test'])}")
    if result.get("untrained_test"):
        echo(f"untrained {format_scores(result['untrained_test'])}   (the model before training, step 0)")
    for name, scores in result["baselines"].items():
        echo(f"baseline  {format_scores({k: v for k, v in scores.items() if k != 'prediction'})}   ({name})")
    for line in sanity_lines(result.get("sanity") or {"indistinguishable_from": {}}):
        echo(line)
    t = result["train"]
    if t["adapter"]:
        echo(f"trained parameters {t['trainable_parameters']:,} of {t['total_parameters']:,} "
             f"({100 * t['trainable_parameters'] / t['total_parameters']:.2f} %), adapter {t['adapter']} "
             f"({t['adapter_mode']})")
    echo(f"trained {t['steps']} steps in {t['seconds']}s, {t['tokens_per_s']:.0f} tokens/s, "
         f"padding {100 * t['padding_fraction']:.1f}%; metrics: {result['checkpoint'].rsplit('/', 1)[0]}/metrics.json")


def evaluate_config(model: str, data: list[str] | None = None, *, task: str | None = None, config: str | None = None,
                    overrides: dict[str, Any] | None = None, **sections: Any) -> tuple[Any, Any]:
    """(RunConfig, card) an ``evaluate`` call runs with: the checkpoint's saved task, data, lengths and decoding,
    under ``config`` and the overrides (what ``codeintel evaluate --print-config`` prints)."""
    cfg, card, _ = _evaluate_setup(resolve_checkpoint(model), data, task, config, _settings(overrides, sections))
    return cfg, card


def resolve_checkpoint(model: str) -> str:
    """A run directory (``config.yaml`` and a ``best`` link, what ``train`` writes) stands for its ``best``
    checkpoint; anything else is returned as it is."""
    p = Path(model)
    if p.is_dir() and (p / "config.yaml").is_file() and (p / "best").is_dir() and not (p / "config.json").is_file():
        return str(p / "best")
    return model


def _evaluate_setup(model: str, data, task, config, settings: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """(RunConfig, card, the checkpoint's ``codeintel.json``) of an evaluation."""
    from codeintel.data.loaders import dataset_files
    from codeintel.errors import ConfigError
    from codeintel.tasks.cards import resolve_run_config
    from codeintel.tasks.models import read_meta

    data = dataset_files(data)   # datasets objects and hf: ids as files
    if not model:
        cfg, card = resolve_run_config(task, None, data, config, settings)
        if not cfg.eval.check_canonical:
            raise ConfigError("evaluate needs --model DIR (a checkpoint written by `codeintel train`, or a registry "
                              "name or hub id).")
        return cfg, card, {}       # the reference solutions run; the default preset only lends its tokenizer
    checkpoint = read_meta(model) if Path(model).is_dir() else {}
    return (*resolve_run_config(task, model, data, config, settings, checkpoint), checkpoint)


def evaluate(model: str, split: str = "test", data: Any = None, *, task: str | None = None,
             config: str | None = None, out: str | Path | None = None, robustness: list[str] | None = None,
             overwrite: bool = False, progress: bool = False, echo: Callable[..., None] = say,
             overrides: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    """``codeintel evaluate``: score a checkpoint (its saved task, lengths and decoding settings unless
    overridden) on one split; returns ``metrics.json`` (with ``robustness`` when asked); ``echo`` receives the
    lines the command prints."""
    from codeintel.recipes.evaluate import default_eval_dir, evaluate_checkpoint, format_scores
    from codeintel.recipes.rundir import fresh

    model = resolve_checkpoint(model) if model else model  # RUN means RUN/best
    cfg, card, checkpoint = _evaluate_setup(model, data, task, config, _settings(overrides, sections))
    what = model or "the reference solutions"
    out_dir = Path(out) if out is not None else fresh(default_eval_dir(model or "reference", split))
    echo(f"== {card.name} | {what} | {split} split")
    card_ref = checkpoint.get("card")
    if isinstance(card_ref, str) and not task and ("/" in card_ref or card_ref.endswith((".yaml", ".yml"))):
        echo(f"task card (from {model}/codeintel.json): {card_ref}")
    if checkpoint.get("data") and not data:
        echo(f"data (from {model}/codeintel.json): {' '.join(cfg.data.paths)}")
    result = evaluate_checkpoint(cfg, out_dir, split=split, robustness=robustness, overwrite=overwrite,
                                 progress=progress, echo=echo)
    echo(f"n={result['n']}")
    echo(f"model     {format_scores(result['scores'])}")
    for name, scores in result["baselines"].items():
        echo(f"baseline  {format_scores({k: v for k, v in scores.items() if k != 'prediction'})}   ({name})")
    from codeintel.recipes.evaluate import sanity_lines

    for line in sanity_lines(result["sanity"]) if result.get("sanity") else []:
        echo(line)
    echo(f"wrote {out_dir}/metrics.json and predictions" + (", robustness.json/.png" if robustness else ""))
    return Result(result, out_dir, result["scores"])


def pretrain_config(objective: str = "mlm", model: str | None = None, data: list[str] | None = None, *,
                    lang: str | None = None, out: str | Path | None = None, resume: str | Path | None = None,
                    overrides: dict[str, Any] | None = None, **sections: Any) -> Any:
    """The resolved :class:`~codeintel.config.PretrainConfig` of a ``pretrain`` call: defaults < overrides
    (dotted keys, ``train.max_steps``, or sections, ``train={"max_steps": 100}``) < the named arguments. With
    ``resume`` it is the saved run's own configuration (no other setting taken)."""
    from codeintel.config import PretrainConfig, apply_mapping
    from codeintel.errors import ConfigError
    from codeintel.recipes.pretrain import resumed_config, validate

    if resume is not None:
        _refuse_with_resume(resume, {"model": model, "data": data, "lang": lang, "out": out},
                            _settings(overrides, sections), "its saved settings")
        cfg = resumed_config(resume)
        if cfg.objective != objective:
            raise ConfigError(f"{resume} is a {cfg.objective} pre-training; resume it with `codeintel pretrain "
                              f"{cfg.objective} --resume {resume}`.")
        return cfg
    cfg = PretrainConfig(objective=objective)
    apply_mapping(cfg, _settings(overrides, sections))
    cfg.objective = objective
    if model:
        cfg.model = model
    if data:
        cfg.data.paths = [str(d) for d in data]
    if lang:
        cfg.lang = lang
    if out is not None:
        cfg.output_dir = str(out)
    validate(cfg)
    return cfg


def pretrain(objective: str = "mlm", model: str | None = None, data: list[str] | None = None, *,
             lang: str | None = None, out: str | Path | None = None, resume: str | Path | None = None,
             overwrite: bool = False, progress: bool = False, echo: Callable[..., None] = say,
             overrides: dict[str, Any] | None = None, seeds: list[int] | str | None = None, seed_jobs: int = 1,
             **sections: Any) -> dict[str, Any]:
    """``codeintel pretrain OBJECTIVE``: continued pre-training (``contrastive`` = MLM + InfoNCE, or ``mlm``)
    with :class:`~codeintel.config.PretrainConfig`'s keys (``train={"max_steps": 500}`` or
    ``overrides={"contrastive.queue_size": 1024}``); returns ``pretrain.json`` (with ``seeds``: one run per
    seed and the summary of their final losses, :mod:`codeintel.recipes.seeds`)."""
    from codeintel.recipes.pretrain import pretrain as run_pretrain
    from codeintel.recipes.pretrain import resumed_config

    cfg = pretrain_config(objective, model, data, lang=lang, out=out, resume=resume, overrides=overrides,
                          **sections)
    if seeds is not None:
        from codeintel.recipes.seeds import over_seeds

        summary = over_seeds(cfg, seeds, lambda c, again: run_pretrain(c, echo=echo, progress=progress, resume=again),
                          resumed_config, result_file="pretrain.json", scores=lambda r: r["final"],
                          default_out=f"runs/pretrain-{objective}-{Path(cfg.model).name}-seeds",
                          resume=resume is not None, echo=echo, overwrite=overwrite, task=f"pretrain {objective}",
                          jobs=seed_jobs)
        return Result(summary, summary.get("output_dir"), _summary_scores(summary))
    result = run_pretrain(cfg, echo=echo, progress=progress, overwrite=overwrite, resume=resume is not None)
    final = "  ".join(f"{k}={v:.4f}" for k, v in result["final"].items())
    echo(f"== pretrain {result['objective']} | {result['model']} | {result['steps']} steps in "
         f"{result['seconds']:.0f}s")
    echo(f"final (mean of the last 20 steps): {final}")
    echo(f"wrote {result['checkpoint']} (load it with --model {result['checkpoint']}), pretrain.json, "
         "pretraining.png")
    return Result(result, result["checkpoint"], result["final"])


def _warn_surrogates(text: str, what: str) -> None:
    """A warning (``UnicodeWarning``) when ``text`` holds lone UTF-16 surrogates: they are read as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        import warnings

        n = sum(0xD800 <= ord(c) <= 0xDFFF for c in text)
        warnings.warn(f"{what}: the text holds {n} lone UTF-16 surrogate(s) (not valid Unicode text); they are "
                      "read as U+FFFD", UnicodeWarning, stacklevel=3)


def dfg(code: str, lang: str, *, max_bytes: int = 1_000_000, max_loop_depth: int = 8) -> dict[str, Any]:
    """``codeintel dfg``: the data-flow graph (GraphCodeBERT's 5-tuples over the code's leaf tokens) of a source
    string, as ``{tokens, edges, syntax_errors, limited}`` (what ``--format json`` prints, plus the limits hit)."""
    import warnings

    from codeintel.errors import ConfigError
    from codeintel.structure.dfg import Limits, extract

    if max_bytes < 1 or max_loop_depth < 0:
        raise ConfigError("max_bytes must be positive and max_loop_depth at least 0.")
    _warn_surrogates(code, "codeintel.dfg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the limits hit are returned
        flow = extract(code, lang, Limits(max_bytes, max_loop_depth))
    return {"tokens": flow.tokens, "edges": flow.edges, "syntax_errors": flow.errors, "limited": list(flow.limited)}


def tokenize(code: str, lang: str | None = None, *, tokenizer: str = "tokompiler", numbering: str = "random",
             seed: int = 0) -> dict[str, Any]:
    """``codeintel tokenize``: Tokompiler's tokens and name mapping (``lang`` needed), or another tokenizer's
    tokens (a registry name or directory)."""
    from codeintel.config import check_option
    from codeintel.errors import ConfigError

    _warn_surrogates(code, "codeintel.tokenize")
    check_option("seed", "seed", seed)
    if tokenizer != "tokompiler":
        from codeintel.backbones.loading import load_tokenizer

        return {"tokens": load_tokenizer(tokenizer).tokenize(code)}
    if not lang:
        raise ConfigError("Tokompiler needs the language: pass lang=c|cpp|fortran|python|java.")
    from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

    tok = TokompilerTokenizer(lang=lang, numbering=numbering, seed=seed)
    result = tok.tokompile(code)
    return {"tokens": result.tokens, "mapping": result.mapping, "syntax_errors": result.errors,
            "unknown_tokens": sum(t not in tok.vocab for t in result.tokens)}


def augment_code(text: str, ops: str, lang: str | None = None, *, seed: int = 0) -> dict[str, Any]:
    """``codeintel augment`` on one sample: ``ops`` as the CLI takes them (``rename_variables:k=2,swap_operands``);
    returns ``{text, applied, skipped}`` (an operator that cannot apply is skipped with its reason). Not named
    ``codeintel.augment``: that is the operators' package."""
    import random

    from codeintel.augment import compose, parse_ops
    from codeintel.config import check_option

    check_option("seed", "seed", seed)
    out = compose(text, lang, parse_ops(ops), random.Random(seed))
    return {"text": out.text, "applied": out.applied, "skipped": out.skipped}


def _pick(row: dict, explicit: str | None, names: tuple[str, ...]) -> str | None:
    """The key of the field to transform: ``explicit`` if the row has it, else the first text field of ``names``."""
    if explicit:
        return explicit if explicit in row else None
    return next((n for n in names if isinstance(row.get(n), str)), None)


MAX_PER_SAMPLE = 1000  # variants of one row that augment writes at most


def augment_file(in_path: str | Path, out_path: str | Path, ops: str, lang: str | None = None, *, seed: int = 0,
                 per_sample: int = 1, code_field: str | None = None, nl_field: str | None = None,
                 overwrite: bool = False, progress: bool = False,
                 echo: Callable[..., None] = say) -> dict[str, Any]:
    """``codeintel augment IN.jsonl OUT.jsonl``: ``per_sample`` variants of every row, each with its own seeded
    stream (``seed:row:variant``), code operators on the code field and NL operators on the text field; every
    written row records ``augment: {source_line, variant, applied, skipped}``. OUT is written whole or not at
    all (an existing one is refused, or moved aside with ``overwrite``). Returns ``{output, rows, written,
    applied: {op: n}, skipped: {"op: reason": n}}``."""
    import json
    import random
    from collections import Counter

    from codeintel.augment import compose, get, parse_ops
    from codeintel.config import check_option
    from codeintel.data.loaders import CODE_FIELDS, NL_FIELDS, read_jsonl
    from codeintel.errors import ConfigError, DataError
    from codeintel.progress import progress as progress_bar
    from codeintel.recipes.rundir import output_file

    src, dst = Path(in_path), Path(out_path)
    check_option("--seed", "seed", seed)
    if not 1 <= per_sample <= MAX_PER_SAMPLE:
        raise ConfigError(f"--per-sample must be in [1, {MAX_PER_SAMPLE}], got {per_sample} (each input row is written "
                          "that many times).")
    parsed = parse_ops(ops)
    code_ops = [(n, p) for n, p in parsed if get(n).kind == "code"]
    nl_ops = [(n, p) for n, p in parsed if get(n).kind == "nl"]
    if src.resolve() == dst.resolve():
        raise ConfigError("OUT.jsonl must differ from IN.jsonl.")
    with output_file(out_path, overwrite=overwrite, echo=echo, what="OUT.jsonl") as tmp:  # claimed and locked
        rows = read_jsonl(src)
        applied, skipped = Counter(), Counter()
        with tmp.open("w", encoding="utf-8") as fh:
            for i, row in enumerate(progress_bar(rows, desc="augment", unit="row", enabled=progress)):
                line = row.pop("__line")
                code_key, nl_key = _pick(row, code_field, CODE_FIELDS), _pick(row, nl_field, NL_FIELDS)
                if code_ops and code_key is None:
                    raise DataError(f"{src}:{line}: no code field (tried {code_field or CODE_FIELDS}); "
                                    "pass --code-field NAME.")
                if nl_ops and nl_key is None:
                    raise DataError(f"{src}:{line}: no text field (tried {nl_field or NL_FIELDS}); "
                                    "pass --nl-field NAME.")
                row_lang = lang or row.get("lang") or row.get("language")
                if code_ops and not row_lang:
                    raise ConfigError(f"{src}:{line}: which language? Pass --lang (python, java or c).")
                for j in range(per_sample):
                    rng = random.Random(f"{seed}:{i}:{j}")
                    out = dict(row)
                    done, why = [], {}
                    if code_ops:
                        res = compose(row[code_key], row_lang, code_ops, rng)
                        out[code_key], done, why = res.text, res.applied, dict(res.skipped)
                    if nl_ops:
                        res = compose(row[nl_key], None, nl_ops, rng)
                        out[nl_key] = res.text
                        done, why = done + res.applied, {**why, **res.skipped}
                    applied.update(done)
                    skipped.update(f"{op}: {reason}" for op, reason in why.items())
                    out["augment"] = {"source_line": line, "variant": j, "applied": done, "skipped": why}
                    fh.write(json.dumps(out, ensure_ascii=False) + "\n")
    total = len(rows) * per_sample
    echo(f"wrote {total} row(s) to {dst}")
    for name, _ in parsed:
        echo(f"  {name:<20} applied to {applied[name]}/{total} ({100 * applied[name] / max(total, 1):.1f} %)")
    for reason, n in skipped.most_common():
        echo(f"    not applied, {reason}: {n}")
    return {"output": str(dst), "rows": len(rows), "written": total,
            "applied": {name: applied[name] for name, _ in parsed}, "skipped": dict(skipped.most_common())}


# --------------------------------------------------------------------------- data hygiene and NER adapters

def _analysis(paths: list[str], task: str | None, lang: str | None, threshold: float, multiset_threshold: float,
              min_tokens: int, exact_only: bool, workers: int, skip_bad_lines: bool, progress: bool, echo):
    from codeintel.data.hygiene import Settings
    from codeintel.errors import ConfigError
    from codeintel.recipes import hygiene

    for name, value in (("threshold", threshold), ("multiset_threshold", multiset_threshold)):
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"--{name.replace('_', '-')} {value} must be in (0, 1].")
    if min_tokens < 1 or workers < 0:
        raise ConfigError("--min-tokens must be at least 1 and --workers at least 0.")
    if workers > 8 * (os.cpu_count() or 1):
        raise ConfigError(f"--workers {workers} is more than 8 processes per CPU ({os.cpu_count()} here); pass 0 (one "
                          "per CPU, at most 8) or fewer.")
    corpus = hygiene.load_corpus([str(p) for p in paths], task, lang, skip_bad_lines)
    if corpus.skipped_lines:
        echo(f"warning: skipped {corpus.skipped_lines} malformed line(s) (--skip-bad-lines)")
    return hygiene.analyse(corpus, Settings(threshold, multiset_threshold, min_tokens), workers, progress,
                           near=not exact_only)


def data_check(paths: list[str], *, task: str | None = None, lang: str | None = None, out: str | Path | None = None,
               overwrite: bool = False, threshold: float = 0.8, multiset_threshold: float = 0.7, min_tokens: int = 20,
               exact_only: bool = False, workers: int = 0, skip_bad_lines: bool = False, progress: bool = False,
               echo: Callable[..., None] = say) -> dict[str, Any]:
    """``codeintel data check``: duplicates and leakage of a dataset (what ``hygiene.json`` holds); with ``out``
    also ``hygiene.json``, ``hygiene.md`` and ``hygiene.png`` there. Example::

        report = codeintel.data_check(["data/train.jsonl", "data/test.jsonl"], echo=lambda *a: None)
        report["leakage"]["test_in_train"]
    """
    from codeintel.recipes import hygiene
    from codeintel.recipes.kit import claimed
    from codeintel.recipes.rundir import RunDir

    rundir = RunDir(out, overwrite=overwrite, echo=echo) if out is not None else None
    if rundir:
        rundir.check()   # a bad --out is refused before the data is read
    with claimed(rundir):  # and a second command on it while this one works
        analysis = _analysis(paths, task, lang, threshold, multiset_threshold, min_tokens, exact_only, workers,
                             skip_bad_lines, progress, echo)
        echo("\n".join(hygiene.summary_lines(analysis.report)))
        if rundir:
            hygiene.write_report(analysis, rundir.path)
            echo(f"wrote {out}/hygiene.json, hygiene.md, hygiene.png")
    return analysis.report


def dedup(paths: list[str], out: str | Path, *, task: str | None = None, lang: str | None = None,
          keep: str = "first", cross_split_only: bool = False, threshold: float = 0.8,
          multiset_threshold: float = 0.7, min_tokens: int = 20, exact_only: bool = False, workers: int = 0,
          skip_bad_lines: bool = False, progress: bool = False, echo: Callable[..., None] = say) -> dict[str, Any]:
    """``codeintel data dedup``: the dataset without its duplicates (the first copy, or the longest, is kept;
    ``cross_split_only``: only copies of earlier splits' documents go) in the input's own files under ``out``
    (a new directory), with ``removed.json`` and ``dedup.json``; returns the summary."""
    from codeintel.errors import ConfigError
    from codeintel.recipes import hygiene
    from codeintel.recipes.rundir import new_output_dir

    if keep not in ("first", "longest"):
        raise ConfigError(f"keep={keep!r}: choose first or longest.")
    if cross_split_only and keep == "longest":
        raise ConfigError("--cross-split-only always keeps the earlier split's copy; drop --keep longest.")
    out = Path(out)
    with new_output_dir(out, hygiene.check_new_dir):  # before the work, and held to the end
        analysis = _analysis(paths, task, lang, threshold, multiset_threshold, min_tokens, exact_only, workers,
                             skip_bad_lines, progress, echo)
        summary = hygiene.dedup(analysis, out, keep, cross_split_only)
    per = ", ".join(f"{s} {v['removed']}/{v['documents']}" for s, v in summary["splits"].items())
    echo(f"removed {summary['removed']} of {analysis.report['documents']} documents ({per}); wrote {out}: "
         f"{', '.join(summary['files'])}, removed.json, dedup.json")
    return summary


def ner_config(model: str | None = None, data: list[str] | None = None, *, lang: str | None = None,
               out: str | Path | None = None, resume: str | Path | None = None,
               overrides: dict[str, Any] | None = None, **sections: Any) -> Any:
    """The resolved :class:`~codeintel.config.NerConfig` of a ``train_ner`` call: defaults < overrides (dotted
    keys, ``train.max_steps``, or sections, ``train={"max_steps": 100}``) < the named arguments; with ``resume``,
    the saved run's own (no other setting taken)."""
    from codeintel.config import NerConfig, apply_mapping
    from codeintel.recipes.ner import resumed_config

    if resume:
        _refuse_with_resume(resume, {"model": model, "data": data, "lang": lang, "out": out},
                            _settings(overrides, sections), "its own settings")
        return resumed_config(resume)
    cfg = NerConfig()
    apply_mapping(cfg, _settings(overrides, sections))
    cfg.model, cfg.lang = model or cfg.model, lang or cfg.lang
    if data:
        cfg.data.paths = [str(d) for d in data]
    if out:
        cfg.output_dir = str(out)
    return cfg


def train_ner(model: str | None = None, data: list[str] | None = None, *, lang: str | None = None,
              out: str | Path | None = None, overwrite: bool = False, resume: str | Path | None = None,
              overrides: dict[str, Any] | None = None, progress: bool = False, echo: Callable[..., None] = say,
              command: list[str] | None = None, seeds: list[int] | str | None = None, seed_jobs: int = 1,
              **sections: Any) -> dict[str, Any]:
    """``codeintel adapters train-ner``: a NER adapter (and its token-type head) on a frozen backbone; returns
    what ``ner.json`` holds. ``overrides``: :class:`~codeintel.config.NerConfig` keys (``train.max_steps``,
    ``train.lr``, ``train.save_every``, ...; or sections, ``train={"max_steps": 100}``). ``resume=RUN``: continue
    RUN from its newest saved state with its own settings. ::

        r = codeintel.train_ner("tiny-codebert", out="runs/ner", train={"max_steps": 100})
        adapter = r["output_dir"] + "/adapter"      # codeintel.train(..., adapter=adapter)
    """
    from codeintel.errors import ConfigError
    from codeintel.recipes.ner import train_ner as run

    if resume and overwrite:
        raise ConfigError(f"--resume continues {resume} in place; drop --overwrite.")
    cfg = ner_config(model, data, lang=lang, out=out, resume=resume, overrides=overrides, **sections)
    if seeds is not None:
        from codeintel.recipes.ner import resumed_config
        from codeintel.recipes.seeds import over_seeds

        return over_seeds(cfg, seeds, lambda c, again: run(c, echo=echo, progress=progress, argv=command, resume=again),
                          resumed_config, result_file="ner.json", scores=lambda r: r["held_out"],
                          default_out=f"runs/ner-{Path(cfg.model).name}-seeds", resume=bool(resume), echo=echo,
                          overwrite=overwrite, task="ner", jobs=seed_jobs)
    result = run(cfg, echo=echo, progress=progress, overwrite=overwrite, argv=command, resume=bool(resume))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun / accelerate launch only rank 0 reports
        return result
    base, held = result["majority_baseline"], result["held_out"]
    echo(f"== ner adapter | {cfg.model} | held-out: accuracy {held['accuracy']:.4f}  macro_f1 {held['macro_f1']:.4f}"
         f"   (always {base['label']}: accuracy {base['accuracy']:.4f}  macro_f1 {base['macro_f1']:.4f})")
    echo(f"trained {result['trainable_parameters']:,} of {result['total_parameters']:,} parameters "
         f"({100 * result['trainable_parameters'] / result['total_parameters']:.2f} %); wrote {result['output_dir']}")
    return result
