"""Token-type classification (TTC) pre-training of a NER adapter, read top to bottom.

Label every code token from the syntax tree (:mod:`codeintel.structure.token_types`), carry the labels to
the backbone's sub-tokens, insert a bottleneck adapter in every layer of the frozen encoder, train the
adapter and a linear head with cross-entropy, evaluate token accuracy and macro-F1 on held-out code every
``train.eval_every`` steps (early stopping on macro-F1), and write the best adapter with its head and a card.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from codeintel.config import NerConfig, validate_keys
from codeintel.errors import DataError
from codeintel.eval import resample
from codeintel.io import write_json, write_text
from codeintel.log import say
from codeintel.recipes import engine, kit
from codeintel.recipes.kit import BestTracker, batch_stream, claimed, seed_everything


def validate(cfg: NerConfig) -> None:
    """The shared key rules (:func:`codeintel.config.validate_keys`) and the adapter's own."""
    validate_keys(cfg, [(cfg.reduction_factor >= 1, f"reduction_factor must be >= 1, got {cfg.reduction_factor}")])


def load_rows(cfg: NerConfig) -> tuple[list[dict], list[dict]]:
    """(train, held-out) rows of ``{"code", "lang"}``: the stdlib corpus's train/valid splits, or the given
    files split 90/10 by a hash of the code (the same split on every run)."""
    import hashlib

    from codeintel.data.loaders import read_code_rows

    if not cfg.data.paths:
        from codeintel.data.stdlib import default_stdlib_dir

        d = default_stdlib_dir()
        split = {"train": [d / "train.jsonl"], "valid": [d / "valid.jsonl"]}
        default_lang = "python"
    else:
        split, default_lang = {"all": [Path(p) for p in cfg.data.paths]}, ""
    out: dict[str, list[dict]] = {"train": [], "valid": []}
    for name, paths in split.items():
        for path in paths:
            for r in read_code_rows(path, cfg.lang, default_lang):
                target = name if name != "all" else (
                    "valid" if int(hashlib.sha1(r["code"].encode("utf-8", "replace")).hexdigest(), 16) % 10 == 0
                    else "train")
                out[target].append({"code": r["code"], "lang": r["lang"]})
    if len(out["train"]) < 1 or len(out["valid"]) < 1:
        raise DataError(f"token-type training needs training and held-out code; got {len(out['train'])} and "
                        f"{len(out['valid'])} rows.")
    return out["train"], out["valid"]


def encode(rows: list[dict], tokenizer, max_len: int, kept: list | None = None) -> list[tuple[list[int], list[int]]]:
    """(sub-token ids, labels) of each row with at least one labelled token; ``kept`` receives those rows."""
    from codeintel.structure.token_types import IGNORE, align

    out = []
    for r in rows:
        ids, labels = align(r["code"], r["lang"], tokenizer, max_length=max_len)
        if any(lab != IGNORE for lab in labels):
            out.append((ids, labels))
            if kept is not None:
                kept.append(r)
    return out


def row_id(row: dict) -> str:
    """A held-out program's id for ``per_example.json``: its own ``id``, else a digest of its language and code
    (the same program pairs across runs of different backbones)."""
    import hashlib

    return str(row["id"]) if "id" in row else \
        hashlib.blake2b(f"{row['lang']}\0{row['code']}".encode("utf-8", "replace"), digest_size=8).hexdigest()


def batch(items: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    longest = max(len(i) for i, _ in items)
    ids = torch.full((len(items), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(items), longest), -100, dtype=torch.long)
    mask = torch.zeros((len(items), longest), dtype=torch.long)
    for row, (i, lab) in enumerate(items):
        ids[row, : len(i)], labels[row, : len(lab)], mask[row, : len(i)] = torch.tensor(i), torch.tensor(lab), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Token accuracy and macro-F1 over the labels that occur in ``gold`` (a label never predicted scores 0)."""
    f1s = []
    for c in np.unique(gold):
        tp = float(np.sum((pred == c) & (gold == c)))
        p, r = tp / max(1, np.sum(pred == c)), tp / max(1, np.sum(gold == c))
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return {"accuracy": float(np.mean(gold == pred)), "macro_f1": float(np.mean(f1s))}


@torch.no_grad()
def evaluate(model, items, pad_id: int, batch_size: int, per_item: list | None = None
             ) -> tuple[dict[str, float], np.ndarray]:
    """Scores on ``items``, and the gold labels; ``per_item`` receives each item's (gold, predicted) labels."""
    model.encoder.eval()
    device = next(model.head.parameters()).device
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, len(items), batch_size):
        b = batch(items[start : start + batch_size], pad_id)
        guess = model.logits(b["input_ids"].to(device), b["attention_mask"].to(device)).cpu().argmax(-1)
        keep = b["labels"] != -100
        rows += [(b["labels"][r][keep[r]].numpy(), guess[r][keep[r]].numpy()) for r in range(len(keep))]
    if per_item is not None:
        per_item += rows
    g, p = np.concatenate([x for x, _ in rows]), np.concatenate([y for _, y in rows])
    return scores(g, p), g


def per_example(per_item: list[tuple[np.ndarray, np.ndarray]], n_labels: int) -> dict[str, Any]:
    """:func:`scores` as per-program statistics (what ``codeintel compare`` resamples: whole programs, since the
    tokens of one program are not independent): accuracy as (correct, tokens), macro-F1 as each label's (tp,
    predicted, gold)."""
    from codeintel.eval.resample import Decomposed

    acc_rows, f1_rows = [], []
    for gold, pred in per_item:
        acc_rows.append([float(np.sum(gold == pred)), float(len(gold))])
        f1_rows.append([v for c in range(n_labels)
                        for v in (np.sum((pred == c) & (gold == c)), np.sum(pred == c), np.sum(gold == c))])
    return {"accuracy": Decomposed("ratio", acc_rows), "macro_f1": Decomposed("macro_f1", f1_rows)}


def train_ner(cfg: NerConfig, echo=say, progress: bool = True, overwrite: bool = False,
              argv: list[str] | None = None, resume: bool = False) -> dict[str, Any]:
    """Train a NER adapter; returns (and writes into the output directory) its metrics and card.

    ``resume``: continue the run in ``cfg.output_dir`` from its newest saved state (``save_every``), to the same
    result as a run that was never interrupted (:func:`resumed_config` reads the run's own settings)."""
    from codeintel.peft_adapters import ner
    from codeintel.recipes.rundir import RunDir, fresh

    validate(cfg)
    acc = engine.make_accelerator(cfg.device, cfg.train.precision, cfg.report_to, echo)  # one process, or torchrun's
    if not acc.is_main_process:
        echo = engine.quiet
    out = Path(cfg.output_dir) if cfg.output_dir else \
        engine.on_main(acc, lambda: fresh(f"runs/ner-{Path(cfg.model).name}"))
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=resume)
    engine.on_main(acc, rundir.check)
    with claimed(rundir, acc):  # locked from here to the last write
        if acc.log_with:
            acc.project_configuration.project_dir = acc.project_configuration.logging_dir = str(out / "logs")
        try:
            model, result = _train(cfg, echo, progress and acc.is_main_process, argv, rundir, acc)
        finally:
            if acc.log_with:
                engine.finish_trackers(acc)

        def write() -> None:
            def fill(adapter_dir: Path) -> None:
                ner.save(model, adapter_dir, {"metrics": result["held_out"],
                                              "majority_baseline": result["majority_baseline"]})
                write_text(adapter_dir / "README.md", card(result))

            rundir.publish_dir("adapter", fill)   # whole or not at all; a killed attempt's copy replaced
            got = result.pop("per_example")     # the held-out programs' statistics, for `codeintel compare`
            resample.save(out / resample.FILE, "ner token types", "held-out", got["ids"], got["metrics"])
            write_json(out / "ner.json", result)

        engine.on_main(acc, write)
    result["output_dir"] = str(out)
    return result


class _Tagger(torch.nn.Module):
    """The encoder and the head as one module, what accelerate prepares (DDP across processes)."""

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state)


def _train(cfg: NerConfig, echo, progress: bool, argv: list[str] | None, rundir, acc):
    """The training of :func:`train_ner`; returns the model with its best held-out weights, and the result.

    Every process draws the same global batches (one seeded order) and trains on its slice ``r::N`` of each;
    gradients are averaged across processes (DDP). Each process scores the held-out set itself (the same
    scores everywhere, no collective), rank 0 writes."""
    from dataclasses import asdict

    from codeintel.peft_adapters import ner
    from codeintel.progress import progress as progress_bar
    from codeintel.structure.token_types import LABELS
    from codeintel.tasks.models import load_encoder

    seed_everything(cfg.train.seed, cfg.train.threads)
    train_rows, held_rows = load_rows(cfg)
    if cfg.data.max_train_examples:
        train_rows = train_rows[: cfg.data.max_train_examples]
    if cfg.data.max_eval_examples:
        held_rows = held_rows[: cfg.data.max_eval_examples]
    model = ner.build(*load_encoder(cfg.model), cfg.model, LABELS, cfg.reduction_factor)
    model.encoder.to(acc.device)
    model.head.to(acc.device)
    tok, pad_id = model.tokenizer, model.tokenizer.pad_token_id
    t0 = time.perf_counter()
    held_kept: list[dict] = []
    train, held = encode(train_rows, tok, cfg.source_len), encode(held_rows, tok, cfg.source_len, held_kept)
    counts = np.bincount(np.concatenate([np.array(lab)[np.array(lab) >= 0] for _, lab in train]),
                         minlength=len(LABELS))
    majority = int(counts.argmax())
    trainable, total = model.parameter_counts()
    echo(f"ner adapter on {cfg.model} ({model.family}): {len(train)} training / {len(held)} held-out programs "
         f"labelled in {time.perf_counter() - t0:.1f}s; trained {trainable:,} of {total:,} parameters "
         f"({100 * trainable / total:.2f} %), reduction factor {cfg.reduction_factor}")
    named = {f"{part}.{k}": p for part, m in (("encoder", model.encoder), ("head", model.head))
             for k, p in m.named_parameters() if p.requires_grad}                 # what trains (and is saved)
    params = list(named.values())
    optim = torch.optim.AdamW(params, lr=cfg.train.lr)
    tagger, optim = acc.prepare(_Tagger(model.encoder, model.head), optim)
    rank, world = acc.process_index, acc.num_processes
    order_rng, order = np.random.default_rng(cfg.train.seed), []
    tracker, best_state, history, start, done = BestTracker("max", cfg.train.patience), None, [], 0, 0.0
    if rundir.resume:
        loop, blob = kit.load_state(rundir.path, weights=named, optim=optim, device=acc.device)
        start, order, history, done = loop["step"], loop["order"], loop["history"], loop["seconds"]
        order_rng.bit_generator.state = loop["order_rng"]
        tracker = BestTracker(**loop["tracker"])
        best_state = blob["best"]
        kit.restore_rng(blob["rng"][rank % len(blob["rng"])])
        echo(f"resuming {rundir.path} from {blob['path'].name}: step {start} of {cfg.train.max_steps}")
    batches = batch_stream(len(train), cfg.train.batch_size, order_rng, order)  # consumes `order` in place
    bar = progress_bar(total=cfg.train.max_steps, initial=start, desc="ner", unit="step", enabled=progress)
    t0 = time.perf_counter() - done
    if acc.log_with:
        acc.init_trackers("ner", config=engine.hparams(asdict(cfg)))
    last = {"loss": float("nan")}

    def step(s: int) -> dict[str, float]:                                  # the objective: token-type CE
        mine = next(batches)[rank::world]                                   # this rank's slice of the global batch
        b = {k: v.to(acc.device) for k, v in batch([train[i] for i in mine], pad_id).items()}
        tagger.train()
        logits = tagger(b["input_ids"], b["attention_mask"])                               # (B, L, C)
        loss = F.cross_entropy(logits.transpose(1, 2).float(), b["labels"], ignore_index=-100)
        optim.zero_grad(set_to_none=True)
        acc.backward(loss)
        optim.step()
        if world > 1:
            loss = acc.reduce(loss.detach(), reduction="mean")
        last["loss"] = loss.item()
        return dict(last)

    def held_out(s: int) -> float:
        held_scores, _ = evaluate(model, held, pad_id, cfg.train.batch_size)
        acc.log({f"held_out/{k}": v for k, v in held_scores.items()}, step=s)
        history.append({"step": s, "loss": last["loss"], **held_scores})
        (bar.write if progress else echo)(f"step {s:>5}  held-out accuracy={held_scores['accuracy']:.4f}  "
                                         f"macro_f1={held_scores['macro_f1']:.4f}")
        return held_scores["macro_f1"]

    def keep_best(s: int) -> None:
        nonlocal best_state
        best_state = [p.detach().clone() for p in params]

    def save(s: int) -> None:
        rngs = [kit.capture_rng()]
        if world > 1:
            from accelerate.utils import gather_object

            rngs = gather_object(rngs)
        loop = {"step": s, "order": order, "order_rng": order_rng.bit_generator.state, "tracker": asdict(tracker),
                "history": history, "seconds": time.perf_counter() - t0, "config": asdict(cfg)}
        engine.on_main(acc, partial(kit.save_state, rundir, s, cfg.train.keep_last, weights=named, optim=optim,
                                    rng=rngs, extra={"best": best_state}, loop=loop))

    kit.step_loop(start=start, total=cfg.train.max_steps, step=step, bar=bar, acc=acc, evaluate=held_out,
                  eval_every=cfg.train.eval_every, tracker=tracker, on_best=keep_best,
                  on_stop=lambda s: echo(f"early stop at step {s}: no better held-out macro-F1 for "
                                         f"{cfg.train.patience} evaluations"),
                  save=save, save_every=cfg.train.save_every)
    bar.close()
    with torch.no_grad():
        for p, saved in zip(params, best_state, strict=True):
            p.copy_(saved)
    items: list = []
    final, gold = evaluate(model, held, pad_id, cfg.train.batch_size, per_item=items)
    baseline = scores(gold, np.full_like(gold, majority))
    result = {"backbone": cfg.model, "family": model.family, "languages": sorted({r["lang"] for r in train_rows}),
              "labels": list(LABELS), "reduction_factor": cfg.reduction_factor, "trainable_parameters": trainable,
              "total_parameters": total, "held_out": final, "best_step": tracker.best_step,
              "majority_baseline": {"label": LABELS[majority], **baseline},
              "seconds": round(time.perf_counter() - t0, 1), "examples": {"train": len(train), "held_out": len(held)},
              "command": " ".join(argv) if argv else None, "history": history,
              "per_example": {"ids": [row_id(r) for r in held_kept], "metrics": per_example(items, len(LABELS))}}
    return model, result


def resumed_config(path: str | Path) -> NerConfig:
    """The configuration of the NER run in ``path`` (stored with its states), for ``--resume``."""
    return kit.resumed_config(path, NerConfig)


def card(r: dict) -> str:
    base = r["majority_baseline"]
    return f"""# NER adapter (token-type classification) on {r['backbone']}

- backbone: `{r['backbone']}` ({r['family']} family); languages: {', '.join(r['languages'])}
- adapter: AdapterHub bottleneck (`SeqBnConfig`), reduction factor {r['reduction_factor']}, in every layer; the
  backbone is frozen
- labels ({len(r['labels'])}): {', '.join(r['labels'])}
- trained parameters: {r['trainable_parameters']:,} of {r['total_parameters']:,}
  ({100 * r['trainable_parameters'] / r['total_parameters']:.2f} %)
- held-out ({r['examples']['held_out']} programs, best step {r['best_step']}): token accuracy
  **{r['held_out']['accuracy']:.4f}**, macro-F1 **{r['held_out']['macro_f1']:.4f}**; always `{base['label']}`:
  accuracy {base['accuracy']:.4f}, macro-F1 {base['macro_f1']:.4f}
- made by: `{r['command'] or 'codeintel adapters train-ner'}`

Load it: `codeintel.recipes.ner.load_ner("<this directory>")` (the adapter is active, the head loaded).
"""


def load_ner(path: str | Path, backbone: str | None = None):
    """A trained NER adapter directory on its backbone (the one it names, or ``backbone``): a
    :class:`~codeintel.peft_adapters.ner.NerModel` with the adapter active and the head loaded."""
    from codeintel.peft_adapters import ner
    from codeintel.tasks.models import load_encoder

    name = backbone or ner.read_meta(path)["backbone"]
    return ner.attach(path, *load_encoder(name), name)
