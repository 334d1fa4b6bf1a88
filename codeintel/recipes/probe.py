"""``codeintel probe``: how much of the syntax tree a backbone's hidden states hold, layer by layer (AST-Probe).

For every layer (0 = the embedding layer) a linear probe is trained on frozen vectors, one per terminal of the
function (its sub-tokens averaged; ``<s>``/``</s>`` and other special tokens dropped; encoder-decoders: the
encoder). The probe projects a vector h to B h (B: m2 x hidden, kept near-orthogonal by 5 ||B B^T - I||^2):

- d̂_i = ||B h_{i-1} - B h_i||^2 predicts the height d_i of the lowest common ancestor of terminals i-1 and i,
  trained with a pairwise hinge: the mean over pairs with d_i > d_j of ReLU(1 - (d̂_i - d̂_j));
- c scores <B h_{i-1} - B h_i, v> over one vector v per ancestor label (cross-entropy), u scores <B h_j, v> over
  one vector per unary label (cross-entropy).

Adam (lr 1e-3), learning rate x 0.1 whenever the validation loss does not improve, at most 20 epochs, stop after
5 without improvement, the best state by validation loss scored on the test split: the predicted tuple is
decoded into a tree (:mod:`codeintel.structure.ast_probe`) and compared with the true one, constituent by
constituent (precision, recall, F1 averaged per function); also the Spearman correlation of d̂ with d and the
accuracy of c and u. Baselines: layer 0, and the same architecture with random layers (embeddings kept).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from codeintel.config import ProbeConfig, validate_keys
from codeintel.errors import ConfigError, DataError
from codeintel.io import save_figure, write_json, write_text
from codeintel.log import say
from codeintel.recipes import engine, kit
from codeintel.recipes.kit import BestTracker, claimed, epoch_loop, seed_everything
from codeintel.structure.ast_probe import TOO_LONG, decode, prf, probe_tree

CACHE_VERSION = "1"
SPLIT_LIMITS = {"train": "max_train_examples", "valid": "max_eval_examples", "test": "max_test_examples"}


@dataclass
class Sample:
    ids: list[int]          # sub-token ids, special tokens included
    pos: list[int]          # positions in ids of the sub-tokens that belong to a terminal ...
    leaf: list[int]         # ... and that terminal's index
    d: list[int]
    c: list[str]
    u: list[str]
    constituents: list[tuple[str, int, int]]

    @property
    def n(self) -> int:
        return len(self.u)


class AstProbe(nn.Module):
    """B (hidden x rank, used as h @ B), label vectors C (rank x |c|) and U (rank x |u|), all uniform ±0.05."""

    def __init__(self, hidden: int, rank: int, n_c: int, n_u: int) -> None:
        super().__init__()
        self.proj = nn.Parameter(torch.empty(hidden, rank).uniform_(-0.05, 0.05))
        self.vectors_c = nn.Parameter(torch.empty(rank, n_c).uniform_(-0.05, 0.05))
        self.vectors_u = nn.Parameter(torch.empty(rank, n_u).uniform_(-0.05, 0.05))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = h @ self.proj                                 # (B, L, rank)
        diffs = t[:, 1:] - t[:, :-1]                      # (B, L-1, rank)
        return (diffs ** 2).sum(-1), diffs @ self.vectors_c, t @ self.vectors_u

    def orthogonality(self) -> torch.Tensor:
        eye = torch.eye(self.proj.shape[1], device=self.proj.device)
        return ((self.proj.T @ self.proj - eye) ** 2).sum()


def rank_loss(d_pred: torch.Tensor, d_true: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over pairs (i, j) of one function with d_i > d_j of ReLU(1 - (d̂_i - d̂_j))."""
    diff = d_pred[:, :, None] - d_pred[:, None, :]                            # (B, L-1, L-1)
    wanted = ((d_true[:, :, None] - d_true[:, None, :]) > 0).float()
    pairs = mask[:, :, None] * mask[:, None, :] * wanted
    return (F.relu(wanted - diff) * pairs).sum() / (pairs.sum() + 1e-9)


# --------------------------------------------------------------------------- data

def _split_codes(cfg: ProbeConfig) -> dict[str, list[str]]:
    from codeintel.data.loaders import CODE_FIELDS, field, key_field, load_rows

    if not cfg.data.paths:
        from codeintel.data.stdlib import SPLITS, default_stdlib_dir

        root = default_stdlib_dir()
        return {s: [json.loads(line)["code"] for line in (root / f"{s}.jsonl").open()] for s in SPLITS}

    def convert(row: dict, path: Path, i: int) -> dict:
        return {"id": key_field(row, ("id", "idx", "index", "path"), path, f"{path.stem}-{i}"),
                "code": field(row, CODE_FIELDS, path)}

    return {s: [r["code"] for r in rows] for s, rows in load_rows(list(cfg.data.paths), convert).items()}


def build_samples(codes: list[str], lang: str, tokenizer, max_length: int, limit: int, seed: int
                  ) -> tuple[list[Sample], dict[str, int]]:
    """Probe samples of up to ``limit`` functions (drawn in a seeded order) that parse and fit ``max_length``."""
    order = list(range(len(codes)))
    random.Random(seed).shuffle(order)
    out, skipped = [], {"syntax_errors_or_too_small": 0, "too_long": 0}
    for i in order:
        if len(out) >= limit:
            break
        # every terminal is at least one sub-token (and <s>, </s> take two): more terminals cannot fit, and are
        # refused before the binary tree is built
        t = probe_tree(codes[i], lang, max_terminals=max_length - 2)
        if t is None:
            skipped["syntax_errors_or_too_small"] += 1
            continue
        if t == TOO_LONG:
            skipped["too_long"] += 1
            continue
        sample = _align(t, tokenizer, max_length)
        if sample is None:
            skipped["too_long"] += 1
            continue
        out.append(sample)
    return out, skipped


def _align(t, tokenizer, max_length: int) -> Sample | None:
    """Tokenize the terminals joined by spaces; each sub-token belongs to the terminal its first character is in."""
    starts, at = [], 0
    for tok in t.tokens:
        starts.append(at)
        at += len(tok) + 1
    text = " ".join(t.tokens)
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=True, verbose=False)  # long: skipped below
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if len(ids) > max_length:
        return None
    special = set(tokenizer.all_special_ids)
    bounds = np.array(starts[1:] + [at + 1])
    pos, leaf = [], []
    for p, (tid, (s, e)) in enumerate(zip(ids, offsets, strict=True)):
        if tid in special or e <= s:
            continue
        while s < len(text) and text[s] == " ":
            s += 1
        pos.append(p)
        leaf.append(int(np.searchsorted(bounds, s, side="right")))
    if set(leaf) != set(range(len(t.tokens))):
        return None  # a terminal without a sub-token of its own (should not happen with byte-level BPE)
    return Sample(ids, pos, leaf, t.d, t.c, t.u, t.constituents)


def load_samples(cfg: ProbeConfig, tokenizer, max_length: int) -> tuple[dict[str, list[Sample]], dict]:
    """The samples of every split, cached by tokenizer, language, length limit, sizes and the code itself."""
    from codeintel.data.cache import tokenizer_fingerprint
    from codeintel.hub import cache_dir

    codes = _split_codes(cfg)
    h = hashlib.sha256()
    for part in (CACHE_VERSION, tokenizer_fingerprint(tokenizer), cfg.lang, str(max_length), str(cfg.data.sample_seed),
                 *(str(getattr(cfg.data, k)) for k in SPLIT_LIMITS.values())):
        h.update(part.encode() + b"\0")
    for split in sorted(codes):
        for code in codes[split]:
            h.update(code.encode("utf-8", "replace") + b"\0")
    path = cache_dir() / "probe" / f"{h.hexdigest()[:24]}.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return ({s: [Sample(**{**x, "constituents": [tuple(c) for c in x["constituents"]]}) for x in v]
                 for s, v in raw["samples"].items()}, raw["skipped"])
    samples, skipped = {}, {}
    for split, limit_key in SPLIT_LIMITS.items():
        samples[split], skipped[split] = build_samples(codes.get(split, []), cfg.lang, tokenizer, max_length,
                                                       getattr(cfg.data, limit_key) or len(codes.get(split, [])),
                                                       cfg.data.sample_seed)
    empty = [s for s in SPLIT_LIMITS if not samples[s]]
    if empty:
        raise DataError(f"no function of the {'/'.join(empty)} split parses as {cfg.lang} without errors and fits "
                        f"{max_length} sub-tokens (skipped: {skipped}); pass --data with {cfg.lang} functions.")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"samples": {s: [asdict(x) for x in v] for s, v in samples.items()},
                                 "skipped": skipped}))
    return samples, skipped


# --------------------------------------------------------------------------- vectors

def _encoder(loaded, random_layers: bool, seed: int):
    """A callable ids, mask -> hidden_states tuple, for the backbone or its random-layer twin."""
    from codeintel.backbones.family import family
    from codeintel.tasks.heads import backbone_of

    return family(loaded.family).hidden_states(backbone_of(loaded.model), random_layers, seed)


@torch.no_grad()
def terminal_vectors(encode, samples: list[Sample], layers: list[int], pad_id: int, batch: int = 16,
                     acc=None) -> dict[int, list[torch.Tensor]]:
    """Per layer, one (terminals, hidden) tensor per sample: the mean of each terminal's sub-token vectors (fp32,
    on the CPU). ``acc``: the ``Accelerator`` whose device and autocast the backbone runs with."""
    import contextlib
    out: dict[int, list[torch.Tensor | None]] = {layer: [None] * len(samples) for layer in layers}
    order = sorted(range(len(samples)), key=lambda i: len(samples[i].ids))
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        longest = max(len(samples[i].ids) for i in idx)
        ids = torch.full((len(idx), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), longest), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : len(samples[i].ids)] = torch.tensor(samples[i].ids)
            mask[r, : len(samples[i].ids)] = 1
        with acc.autocast() if acc is not None else contextlib.nullcontext():
            hidden = encode(ids.to(acc.device), mask.to(acc.device)) if acc is not None else encode(ids, mask)
        for r, i in enumerate(idx):
            sm = samples[i]
            pos, leaf = torch.tensor(sm.pos), torch.tensor(sm.leaf)
            counts = torch.zeros(sm.n).index_add_(0, leaf, torch.ones(len(leaf)))
            for layer in layers:
                h = hidden[layer][r, pos.to(hidden[layer].device)].float().cpu()  # (sub-tokens, H)
                sums = torch.zeros(sm.n, h.shape[1]).index_add_(0, leaf, h)
                out[layer][i] = sums / counts[:, None]
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------- one probe

def _targets(samples: list[Sample], c_ids: dict[str, int], u_ids: dict[str, int]) -> list[tuple]:
    """(d, c, u) tensors of every sample, made once."""
    return [(torch.tensor(sm.d, dtype=torch.float), torch.tensor([c_ids[x] for x in sm.c]),
             torch.tensor([u_ids[x] for x in sm.u])) for sm in samples]


def _batch(vectors: list[torch.Tensor], targets: list[tuple], idx: list[int]):
    """Padded (h, d, c, u, lengths) of the samples ``idx``: h (B, L, H); d and c (B, L-1); u (B, L); -1 = pad."""
    lengths = torch.tensor([len(targets[i][2]) for i in idx])
    longest = int(lengths.max())
    h = torch.zeros(len(idx), longest, vectors[idx[0]].shape[1])
    d = torch.full((len(idx), longest - 1), -1.0)
    c = torch.full((len(idx), longest - 1), -1, dtype=torch.long)
    u = torch.full((len(idx), longest), -1, dtype=torch.long)
    for r, i in enumerate(idx):
        n = len(targets[i][2])
        h[r, :n] = vectors[i]
        d[r, : n - 1], c[r, : n - 1], u[r, :n] = targets[i]
    return h, d, c, u, lengths


def _grouped_batches(idx: list[int], lengths: list[int], size: int, rng: random.Random, pool: int = 20,
                     grouping: str = "length") -> list:
    """Shuffled batches of similar lengths: the shuffled order is cut into pools of ``pool`` batches, each pool
    sorted by length and cut into batches, and the batches shuffled (the pairwise d loss costs length^2);
    ``grouping="random"``: the shuffled order cut into batches."""
    order = idx[:]
    rng.shuffle(order)
    if grouping == "random":
        return [order[b:b + size] for b in range(0, len(order), size)]
    batches = []
    for p in range(0, len(order), size * pool):
        chunk = sorted(order[p:p + size * pool], key=lambda i: lengths[i])
        batches += [chunk[b:b + size] for b in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def _loss(probe, batch) -> torch.Tensor:
    h, d, c, u, lengths = batch
    d_pred, sc, su = probe(h)
    mask = (torch.arange(d.shape[1])[None, :] < (lengths - 1)[:, None]).float()
    return (rank_loss(d_pred, d, mask) + F.cross_entropy(sc.reshape(-1, sc.shape[-1]), c.reshape(-1), ignore_index=-1)
            + F.cross_entropy(su.reshape(-1, su.shape[-1]), u.reshape(-1), ignore_index=-1))


def train_probe(vectors: dict[str, list[torch.Tensor]], samples: dict[str, list[Sample]], rank: int,
                labels: tuple[list[str], list[str]], cfg: ProbeConfig) -> dict[str, Any]:
    """Train one probe on the train split's vectors, select by validation loss, score the test split."""
    from scipy.stats import spearmanr

    c_labels, u_labels = labels
    c_ids, u_ids = {x: i for i, x in enumerate(c_labels)}, {x: i for i, x in enumerate(u_labels)}
    torch.manual_seed(cfg.train.seed)
    hidden = vectors["train"][0].shape[1]
    probe = AstProbe(hidden, rank, len(c_labels), len(u_labels))
    opt = torch.optim.Adam(probe.parameters(), lr=cfg.train.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=0)
    rng = random.Random(cfg.train.seed)
    targets = {s: _targets(samples[s], c_ids, u_ids) for s in samples}
    train_idx = list(range(len(samples["train"])))
    n_valid = len(samples["valid"])
    valid_batches = [_batch(vectors["valid"], targets["valid"], list(range(s, min(s + cfg.train.batch_size, n_valid))))
                     for s in range(0, n_valid, cfg.train.batch_size)]
    tracker, history = BestTracker("min", cfg.train.patience), []
    lengths = [samples["train"][i].n for i in train_idx]

    def run_epoch(epoch: int) -> float:                    # the objective: distance ranking + labels + orthogonality
        probe.train()
        for idx in _grouped_batches(train_idx, lengths, cfg.train.batch_size, rng, grouping=cfg.train.grouping):
            batch = _batch(vectors["train"], targets["train"], idx)
            loss = _loss(probe, batch) + cfg.orthogonal_weight * probe.orthogonality()
            opt.zero_grad()
            loss.backward()
            opt.step()
        probe.eval()
        with torch.no_grad():
            val = float(np.mean([_loss(probe, b).item() for b in valid_batches]))
        history.append(round(val, 4))
        sched.step(val)
        return val

    best_state = epoch_loop(epochs=cfg.train.epochs, run_epoch=run_epoch, tracker=tracker,
                            snapshot=lambda: {k: v.detach().clone() for k, v in probe.state_dict().items()})
    if best_state is not None:
        probe.load_state_dict(best_state)
    probe.eval()
    p_all, r_all, f_all, rho, hits_c, n_c, hits_u, n_u = [], [], [], [], 0, 0, 0, 0
    test = samples["test"]
    with torch.no_grad():
        for s in range(0, len(test), cfg.train.batch_size):
            idx = list(range(s, min(s + cfg.train.batch_size, len(test))))
            h, *_ = _batch(vectors["test"], targets["test"], idx)
            d_pred, sc, su = probe(h)
            for r, i in enumerate(idx):
                sm, n = test[i], test[i].n
                dp = d_pred[r, : n - 1].tolist()
                cp = [c_labels[j] for j in sc[r, : n - 1].argmax(-1).tolist()]
                up = [u_labels[j] for j in su[r, :n].argmax(-1).tolist()]
                p, rec, f1 = prf(sm.constituents, decode(dp, cp, up))
                p_all.append(p)
                r_all.append(rec)
                f_all.append(f1)
                if n > 2 and len(set(sm.d)) > 1:
                    rho.append(spearmanr(dp, sm.d).statistic)
                hits_c += sum(a == b for a, b in zip(cp, sm.c, strict=True))
                hits_u += sum(a == b for a, b in zip(up, sm.u, strict=True))
                n_c, n_u = n_c + n - 1, n_u + n
    rho = [x for x in rho if np.isfinite(x)]
    return {"precision": float(np.mean(p_all)), "recall": float(np.mean(r_all)), "f1": float(np.mean(f_all)),
            "spearman_d": float(np.mean(rho)) if rho else float("nan"), "accuracy_c": hits_c / n_c,
            "accuracy_u": hits_u / n_u, "epochs": len(history),
            "best_valid_loss": round(tracker.best, 4)}


# --------------------------------------------------------------------------- the recipe

def parse_layers(spec: str, n_layers: int) -> list[int]:
    """``all``, ``3``, ``2-5`` or ``0,2,4`` -> layer numbers, each checked against 0..n_layers."""
    spec = str(spec).strip()
    try:
        if spec == "all":
            layers = list(range(n_layers + 1))
        elif "-" in spec:
            a, b = (int(x) for x in spec.split("-", 1))
            if not 0 <= a <= b <= n_layers:   # checked before the range is built (0-1000000000000 is no list)
                raise ConfigError(f"--layers {spec}: this model has layers 0 (embeddings) to {n_layers}; pass a "
                                  f"range inside it, e.g. 0-{n_layers}.")
            layers = list(range(a, b + 1))
        else:
            layers = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--layers {spec!r}: use all, one layer (3), a range (2-5) or a list (0,2,4).") from None
    bad = [x for x in layers if not 0 <= x <= n_layers]
    if bad or not layers:
        raise ConfigError(f"--layers {spec}: layer {bad[0] if bad else '?'} does not exist; this model has layers "
                          f"0 (embeddings) to {n_layers}.")
    return sorted(set(layers))


def parse_dims(spec: str, hidden: int) -> list[int]:
    """``auto`` or comma-separated ranks, each 1 <= rank < hidden."""
    if str(spec).strip() == "auto":
        return [128 if hidden >= 256 else max(1, hidden // 2)]
    try:
        dims = [int(x) for x in str(spec).split(",") if x.strip()]
    except ValueError:
        dims = []
    if not dims or min(dims) < 1:
        raise ConfigError(f"--dims {spec!r}: give probe ranks as positive integers, e.g. 8,16,32,64,128.")
    if max(dims) >= hidden:
        raise ConfigError(f"--dims {max(dims)}: a probe rank must be below the model's hidden size {hidden} (an "
                          f"orthogonal {hidden}x{hidden} B is a rotation and preserves every distance); use at most "
                          f"{hidden - 1}, e.g. {max(1, hidden // 2)}.")
    return dims


def validate(cfg: ProbeConfig) -> None:
    """The shared key rules and the probe's own, before any work (the language canonicalised in place)."""
    from codeintel.structure.parsing import canonical

    cfg.lang = canonical(cfg.lang)
    if str(cfg.dims).strip() != "auto":
        parse_dims(cfg.dims, 1 << 30)  # the syntax now; the hidden size once the model is loaded
    validate_keys(cfg, [(cfg.source_len >= 4, f"source_len must be at least 4, got {cfg.source_len}"),
                        (cfg.orthogonal_weight >= 0, f"orthogonal_weight must be >= 0, got {cfg.orthogonal_weight}")])


def probe(cfg: ProbeConfig | None = None, *, overwrite: bool = False, echo=say, write: bool = True,
          progress: bool = True, resume: bool = False, seeds: list[int] | str | None = None, seed_jobs: int = 1,
          **settings: Any) -> dict[str, Any]:
    """Run AST-Probe; returns the result that ``probe.json`` holds.

    ``settings`` are :class:`~codeintel.config.ProbeConfig` fields (``model``, ``lang``, ``data``, ``layers``,
    ``dims`` as ``"8,16"`` or a list, ``train={"epochs": 5}``, ``data={"max_train_examples": 500}``, dotted keys
    as ``**{"train.lr": 1e-3}``), applied over ``cfg``. ``progress``: a line per probe
    trained (layer and rank) through ``echo``. ``seeds``: one probe run per seed under ``output_dir`` and the
    summary of their F1s (:mod:`codeintel.recipes.seeds`). With ``write`` the result is also
    written to ``output_dir`` (default ``runs/probe-<model>-<lang>``): ``probe.json``, ``probe.md``, ``probe.png``.

    Example::

        import codeintel
        result = codeintel.probe(model="tiny-codebert", lang="python", layers="0-2", write=False)
        result["best"]   # {"layer": ..., "dim": ..., "f1": ..., ...}
    """
    from codeintel.config import set_key
    from codeintel.recipes.rundir import RunDir, fresh

    cfg = copy.deepcopy(cfg) if cfg is not None else ProbeConfig()
    for key, value in settings.items():
        if key == "dims" and not isinstance(value, str):
            value = ",".join(str(v) for v in value)
        set_key(cfg, key, value)

    validate(cfg)
    if seeds is not None:
        if not write:
            raise ConfigError("--seeds writes one run per seed; drop write=False.")
        from codeintel.recipes.seeds import over_seeds

        return over_seeds(cfg, seeds, lambda c, again: probe(c, echo=echo, progress=progress, resume=again),
                          lambda d: kit.resumed_config(d, ProbeConfig), result_file="probe.json", scores=seed_scores,
                          default_out=f"runs/probe-{Path(cfg.model).name}-{cfg.lang}-seeds", resume=resume,
                          echo=echo, overwrite=overwrite, task=f"probe {cfg.lang}", jobs=seed_jobs)
    if resume and not write:
        raise ConfigError("resume continues a written run; drop write=False.")
    out = Path(cfg.output_dir) if cfg.output_dir else fresh(f"runs/probe-{Path(cfg.model).name}-{cfg.lang}")
    rundir = RunDir(out, overwrite=overwrite, echo=echo, resume=resume) if write else None
    if rundir:
        rundir.check()
    with claimed(rundir):  # locked from here to the last write
        acc = engine.make_accelerator(cfg.device, cfg.train.precision, cfg.report_to if rundir else [], echo)
        if acc.log_with:
            acc.project_configuration.project_dir = acc.project_configuration.logging_dir = str(out / "logs")
            acc.init_trackers("probe", config=engine.hparams(asdict(cfg)))
        try:
            result = _probe(cfg, echo, progress, rundir, acc)
        finally:
            if acc.log_with:
                engine.finish_trackers(acc)
        if rundir:
            write_text(out / "probe.md", markdown(result))
            plot(result, out / "probe.png")
            write_json(out / "probe.json", result)
            result["output_dir"] = str(out)
    return result


def seed_scores(result: dict[str, Any]) -> dict[str, float]:
    """What ``--seeds`` summarises of a probe run: the best F1, layer 0's, and each probed layer's at the first
    rank."""
    first = result["dims"][0]
    layers = {f"layer{r['layer']}_f1": r["f1"] for r in result["results"] if r["kind"] == "model" and r["dim"] == first}
    return {"best_f1": result["best"]["f1"], "layer0_f1": result["baselines"]["layer0_f1"], **layers}


def _probe(cfg: ProbeConfig, echo, progress: bool, rundir=None, acc=None) -> dict[str, Any]:
    """The probes of :func:`probe` (``cfg`` resolved and checked); returns the result. Each probe is seeded on
    its own, so a resumed run (``rundir.resume``) skips the probes its state holds and ends identical."""
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import ENCODER_TYPE

    seed_everything(cfg.train.seed, cfg.train.threads)  # a random-init preset (tiny-*) is the same model every run
    t0 = time.perf_counter()
    loaded = load_model(cfg.model, ENCODER_TYPE)
    from codeintel.backbones.family import family
    from codeintel.tasks.heads import backbone_of

    kind = family(loaded.family)
    if not kind.encoder:
        raise ConfigError(f"{cfg.model} is a {loaded.family} model; the probe reads RoBERTa or T5 hidden states.")

    config = backbone_of(loaded.model).config
    hidden, n_layers = getattr(config, "hidden_size", None), getattr(config, "num_hidden_layers", None)
    if not isinstance(hidden, int) or not isinstance(n_layers, int):
        raise ConfigError(f"{cfg.model}: cannot read its hidden size and layer count from its config "
                          f"({type(config).__name__}); probe a RoBERTa or T5 backbone.")
    layers = parse_layers(cfg.layers, n_layers)
    dims = parse_dims(cfg.dims, hidden)
    tok = loaded.tokenizer
    if not getattr(tok, "is_fast", False):
        raise ConfigError(f"{cfg.model}'s tokenizer ({type(tok).__name__}) gives no character offsets; the probe "
                          "needs a fast (Rust) tokenizer to align sub-tokens with syntax-tree terminals.")
    limit = cfg.source_len
    if kind.max_tokens(config) is not None:
        limit = min(limit, kind.max_tokens(config))
    samples, skipped = load_samples(cfg, tok, limit)
    c_labels = sorted({x for v in samples.values() for sm in v for x in sm.c})
    u_labels = sorted({x for v in samples.values() for sm in v for x in sm.u})
    echo(f"probe {cfg.model} ({loaded.family}, hidden {hidden}, layers 0-{n_layers}) on {cfg.lang}: "
         f"train={len(samples['train'])} valid={len(samples['valid'])} test={len(samples['test'])} functions, "
         f"{len(c_labels)} c labels, {len(u_labels)} u labels")
    runs: list[dict[str, Any]] = []
    if rundir is not None and rundir.resume:
        loop, blob = kit.load_state(rundir.path)
        runs = loop["runs"]
        echo(f"resuming {rundir.path} from {blob['path'].name}: {len(runs)} probe(s) done")
    done = {(r["kind"], r["layer"], r["dim"]) for r in runs}
    for name, random_layers in (("model", False), ("random", True)):
        if random_layers and not cfg.random_baseline:
            continue
        want = sorted(set(layers) | {0}) if not random_layers else [x for x in layers if x > 0] or [n_layers]
        todo = [(layer, rank) for layer in want for rank in (dims if not random_layers else dims[:1])
                if (name, layer, rank) not in done]
        if not todo:
            continue
        if acc is not None:
            loaded.model.to(acc.device)
        encode = _encoder(loaded, random_layers, cfg.train.seed)
        vecs = {s: terminal_vectors(encode, samples[s], want, tok.pad_token_id, acc=acc) for s in samples}
        for layer, rank in todo:
            t = time.perf_counter()
            res = train_probe({s: vecs[s][layer] for s in vecs}, samples, rank, (c_labels, u_labels), cfg)
            res.update(kind=name, layer=layer, dim=rank, seconds=round(time.perf_counter() - t, 1))
            runs.append(res)
            if acc is not None and acc.log_with:
                acc.log({f"{name}/dim{rank}/{k}": res[k] for k in ("f1", "precision", "recall", "best_valid_loss")},
                        step=layer)
            if progress:
                echo(f"  {name:6s} layer {layer:2d} dim {rank:4d}: F1 {res['f1']:.3f} (P {res['precision']:.3f} R "
                     f"{res['recall']:.3f})  spearman d {res['spearman_d']:.3f}  acc c {res['accuracy_c']:.3f} "
                     f"u {res['accuracy_u']:.3f}  {res['epochs']} epochs, {res['seconds']:.1f}s")
            if rundir is not None and cfg.train.save_every and len(runs) % cfg.train.save_every == 0:
                kit.save_state(rundir, len(runs), cfg.train.keep_last, loop={"runs": runs, "config": asdict(cfg)})
    trivial = trivial_baselines(samples)
    echo(f"trivial baselines: the whole-function constituents {', '.join(trivial['root_chain']['labels'])} alone "
         f"score F1 {trivial['root_chain']['f1']:.3f}; the majority label scores accuracy c "
         f"{trivial['majority_c']['accuracy']:.3f} ({trivial['majority_c']['label']}), u "
         f"{trivial['majority_u']['accuracy']:.3f} ({trivial['majority_u']['label']})")
    main = [r for r in runs if r["kind"] == "model" and r["layer"] in layers]
    best = max(main, key=lambda r: r["f1"])
    layer0 = next(r for r in runs if r["kind"] == "model" and r["layer"] == 0 and r["dim"] == dims[0])
    result = {"model": cfg.model, "family": loaded.family, "lang": cfg.lang, "data": cfg.data.paths or ["stdlib"],
              "hidden_size": hidden, "layers": layers, "dims": dims,
              "functions": {s: len(v) for s, v in samples.items()}, "skipped": skipped,
              "labels": {"c": len(c_labels), "u": len(u_labels)}, "results": runs,
              "best": {k: best[k] for k in ("layer", "dim", "f1", "precision", "recall")},
              "baselines": {"layer0_f1": layer0["f1"],
                            "random": {r["layer"]: r["f1"] for r in runs if r["kind"] == "random"}, **trivial},
              "settings": asdict(cfg), "seconds": round(time.perf_counter() - t0, 1)}
    return result


def trivial_baselines(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    """Scores that need no model, on the test functions:

    - ``root_chain``: predicting only the constituents that span the whole function, with the labels that do so
      in at least half of the training functions (Python: ``module`` and ``function_definition``) — the part of
      every tree that is free;
    - ``majority_c`` / ``majority_u``: the accuracy of always predicting the training split's most frequent c
      (ancestor) and u (unary) label."""
    train, test = samples["train"], samples["test"]
    full = Counter(lab for sm in train
                   for lab in {lab for lab, lo, hi in sm.constituents if lo == 0 and hi == sm.n - 1})
    labels = sorted(lab for lab, k in full.items() if k >= len(train) / 2)
    scores = [prf(sm.constituents, [(lab, 0, sm.n - 1) for lab in labels]) for sm in test]
    out: dict[str, Any] = {"root_chain": {"labels": labels,
                                          **{k: float(np.mean([s[i] for s in scores])) if scores else 0.0
                                             for i, k in enumerate(("precision", "recall", "f1"))}}}
    for kind in ("c", "u"):
        label = Counter(x for sm in train for x in getattr(sm, kind)).most_common(1)[0][0]
        seen = [x for sm in test for x in getattr(sm, kind)]
        out[f"majority_{kind}"] = {"label": label, "accuracy": sum(x == label for x in seen) / max(len(seen), 1)}
    return out


def markdown(result: dict) -> str:
    dims = result["dims"]
    rows = ["| layer | " + " | ".join(f"F1 (dim {d})" for d in dims) + " | P | R | Spearman d | acc c | acc u |"
            + (" random layers F1 |" if result["baselines"]["random"] else ""),
            "|---:|" + "---:|" * (len(dims) + 5) + ("---:|" if result["baselines"]["random"] else "")]
    by = {(r["kind"], r["layer"], r["dim"]): r for r in result["results"]}
    for layer in sorted({r["layer"] for r in result["results"] if r["kind"] == "model"}):
        first = by[("model", layer, dims[0])]
        f1s = " | ".join(f"{by[('model', layer, d)]['f1']:.3f}" if ("model", layer, d) in by else "" for d in dims)
        rnd = result["baselines"]["random"].get(layer)
        rows.append(f"| {layer} | {f1s} | {first['precision']:.3f} | {first['recall']:.3f} | "
                    f"{first['spearman_d']:.3f} | {first['accuracy_c']:.3f} | {first['accuracy_u']:.3f} |"
                    + ((f" {rnd:.3f} |" if rnd is not None else " |") if result["baselines"]["random"] else ""))
    b, base = result["best"], result["baselines"]
    text = (f"# AST-Probe: {result['model']} on {result['lang']}\n\n"
            f"{result['functions']['train']} / {result['functions']['valid']} / {result['functions']['test']} "
            f"train / valid / test functions. Best: layer {b['layer']}, dim {b['dim']}, F1 {b['f1']:.3f}; "
            f"layer 0 (embeddings) {base['layer0_f1']:.3f}.")
    if "root_chain" in base:
        rc = base["root_chain"]
        text += (f" Trivial baselines (no model): the whole-function constituents alone ({', '.join(rc['labels'])})"
                 f" score F1 {rc['f1']:.3f}; always the most frequent label scores accuracy c "
                 f"{base['majority_c']['accuracy']:.3f}, u {base['majority_u']['accuracy']:.3f}.")
    return text + "\n\n" + "\n".join(rows) + "\n"


def plot(result: dict, path: Path) -> Path:
    """F1 per layer (one line per probe rank), with the layer-0 and random-layers baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4), constrained_layout=True)
    for d in result["dims"]:
        pts = sorted((r["layer"], r["f1"]) for r in result["results"] if r["kind"] == "model" and r["dim"] == d)
        ax.plot(*zip(*pts, strict=True), marker="o", label=f"{result['model']} (dim {d})")
    rnd = sorted((int(k), v) for k, v in result["baselines"]["random"].items())
    if rnd:
        ax.plot(*zip(*rnd, strict=True), ls="--", marker="x", color="tab:gray", label="random layers")
    ax.axhline(result["baselines"]["layer0_f1"], color="tab:red", ls=":", label="layer 0 (embeddings)")
    if "root_chain" in result["baselines"]:
        ax.axhline(result["baselines"]["root_chain"]["f1"], color="black", ls="-.", lw=1,
                   label="trivial: whole-function constituents only")
    ax.set_ylim(0, 1)   # F1's whole range: noise between close layers must not look like a trend
    layers = sorted({r["layer"] for r in result["results"]})
    ax.set_xticks(layers)
    ax.set(xlabel="layer (0 = embeddings)", ylabel="constituent F1 on test functions",
           title=f"AST-Probe: {result['model']} on {result['lang']} ({result['functions']['test']} test functions)")
    ax.legend(frameon=False, fontsize=8)
    save_figure(fig, path)
    return path
