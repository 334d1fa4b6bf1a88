"""Clone detection (BigCloneBench-style pair classification) and clone retrieval (POJ-104 MAP@R)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.cache import tokenize_cached
from codeintel.data.loaders import NL_FIELDS, LoadReport, load_clone_detection, load_clone_retrieval
from codeintel.eval import metrics
from codeintel.tasks.common import Prepared, default_paths, no_grad
from codeintel.tasks.encoding import GraphSettings, collate_programs, embed, graph_inputs, normalise, program_length
from codeintel.tasks.protocol import TaskType

if TYPE_CHECKING:
    import torch


class CloneDetectionTask(TaskType):
    """Are two programs clones? Pair classification with P/R/F1 at ``eval.threshold``. Rows are
    ``(id1, id2, label)`` pairs over a program table (``self.programs``, filled by :meth:`load`)."""

    name = "clone-detection"
    columns = {"code_field": "func", "id_field": "idx"}   # of the programs file
    metrics = ("f1", "precision", "recall")
    variants = {"roberta": "encoder", "t5": "encoder-decoder"}  # CodeT5 reads the decoder's last </s>
    head, takes_graph, robustness = "pair", True, True
    data_format = "programs jsonl (idx+func or index+code) + pair lists idx1 idx2 label"
    pipeline_tag = "text-classification"

    def __init__(self, card, tokenizer, source_len: int, target_len: int = 0) -> None:
        super().__init__(card, tokenizer, source_len, target_len)
        self.threshold = 0.5
        self.programs: dict[str, str] = {}  # id -> code, of the loaded data (pairs refer to programs by id)
        self.data = None  # the loaded pairs, program table and their files
        self.graph: GraphSettings | None = None

    def configure(self, cfg) -> None:
        self.threshold = cfg.eval.threshold

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport):
        self.data = load_clone_detection(default_paths(self.card, paths), skip_bad, report)
        self.programs = self.data.programs
        return self.data.pairs

    def leakage_programs(self) -> dict[str, str]:
        return self.programs

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return any(Path(f).suffix == ".txt" for f in files)   # pair lists

    def pair_data(self):
        return self.data

    def documents(self, splits: dict[str, list], lang: str | None = None) -> list[dict]:
        """Each split's programs (once per split, in pair order)."""
        docs = []
        for split in ("train", "valid", "test"):
            seen: set[str] = set()
            for a, b, _ in splits[split]:
                for key in (a, b):
                    if key not in seen:
                        seen.add(key)
                        docs.append({"split": split, "id": key, "code": self.programs[key],
                                     "lang": lang or self.card.lang or None})
        return docs

    def perturb(self, rows: list, transform, tag: str = "perturbed") -> list:
        """The pairs over transformed copies of their programs, which join the program table as ``id|tag``."""
        keys = sorted({k for a, b, _ in rows for k in (a, b)})
        new = transform([self.programs[k] for k in keys])
        renamed = {k: f"{k}|{tag}" for k in keys}
        self.programs.update({renamed[k]: code for k, code in zip(keys, new, strict=True)})
        return [(renamed[a], renamed[b], y) for a, b, y in rows]

    def prepare(self, pairs: list[tuple[str, str, int]]) -> Prepared:
        keys = sorted({k for a, b, _ in pairs for k in (a, b)})
        if self.graph:
            ids = graph_inputs([self.programs[k] for k in keys], self.tok, self.source_len, self.graph)
        else:
            ids = tokenize_cached([normalise(self.programs[k]) for k in keys], self.tok, self.source_len)["input_ids"]
        prog = dict(zip(keys, ids, strict=True))
        size = {k: program_length(v) for k, v in prog.items()}
        lengths = np.array([2 * max(size[a], size[b]) for a, b, _ in pairs])
        real = np.array([size[a] + size[b] for a, b, _ in pairs])
        return Prepared({"programs": prog, "pairs": pairs}, lengths, pairs, real=real)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        import torch

        prog, pairs = prepared.items["programs"], prepared.items["pairs"]
        batch = collate_programs([prog[k] for i in idx for k in pairs[i][:2]], self.tok.pad_token_id)
        b = len(idx)
        out = {k: v.reshape(b, 2, *v.shape[1:]) for k, v in batch.items()}                # (B, 2, L[, L])
        return {**out, "labels": torch.tensor([pairs[i][2] for i in idx])}

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        import torch.nn.functional as F

        logits = model(batch["input_ids"], batch["attention_mask"], batch.get("position_ids"))
        return F.cross_entropy(logits, batch["labels"]), int(batch["input_ids"].ne(self.tok.pad_token_id).sum())

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, **_) -> list[float]:
        """P(clone) per pair. Each program is encoded once; the head then scores the pairs."""
        import torch

        model.eval()
        prog, pairs = prepared.items["programs"], prepared.items["pairs"]
        keys = list(prog)
        device = next(model.parameters()).device
        vecs = embed(model.vectors, [prog[k] for k in keys], self.tok.pad_token_id, batch_size, device)
        row = {k: i for i, k in enumerate(keys)}
        a = vecs[[row[p[0]] for p in pairs]]
        b = vecs[[row[p[1]] for p in pairs]]
        probs = torch.softmax(model.head(torch.cat([a, b], dim=-1).to(device)), dim=-1)[:, 1]
        return probs.cpu().tolist()

    infer_input, index_query = "pair", "code"

    @no_grad
    def index_vectors(self, model, items: list[dict], batch_size: int = 32) -> np.ndarray:
        """Each function's vector as the pair head reads it (RoBERTa's ``<s>``, CodeT5's last ``</s>``), unnormalised:
        the index searches by its cosine and :meth:`verify_pairs` puts two of them through the head."""
        model.eval()
        codes = [it["code"] for it in items]
        if self.graph:
            ids = graph_inputs(codes, self.tok, self.source_len, self.graph)
        else:
            ids = tokenize_cached([normalise(c) for c in codes], self.tok, self.source_len)["input_ids"]
        device = next(model.parameters()).device
        return embed(model.vectors, ids, self.tok.pad_token_id, batch_size, device).numpy()

    @no_grad
    def verify_pairs(self, model, vectors: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
        """P(clone) of each pair of stored vectors, through the trained head (as :meth:`predict` scores pairs)."""
        import torch

        if not pairs:
            return np.zeros(0, dtype=np.float32)
        model.eval()
        device = next(model.parameters()).device
        v = torch.as_tensor(vectors)
        a, b = v[[i for i, _ in pairs]], v[[j for _, j in pairs]]
        return torch.softmax(model.head(torch.cat([a, b], dim=-1).to(device)), dim=-1)[:, 1].cpu().numpy()

    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False, **decoding) -> list[dict]:
        """P(clone) of each item's ``code1`` and ``code2``."""
        self.programs = {}
        pairs = []
        for i, it in enumerate(items):
            self.programs[f"{i}|1"], self.programs[f"{i}|2"] = it["code1"], it["code2"]
            pairs.append((f"{i}|1", f"{i}|2", 0))
        return [{"probability": p} for p in self.predict(model, self.prepare(pairs), batch_size=batch_size)]

    def score(self, probs: list[float], pairs: list) -> dict[str, float]:
        preds = [int(p > self.threshold) for p in probs]
        prf = metrics.precision_recall_f1(preds, [p[2] for p in pairs])
        return {**{k: prf[k] for k in self.card.metrics}, "threshold": self.threshold}

    def per_example(self, probs: list[float], pairs: list):
        from codeintel.eval.resample import Decomposed

        pred = np.array([p > self.threshold for p in probs])
        gold = np.array([bool(p[2]) for p in pairs])
        stats = np.stack([pred & gold, pred & ~gold, ~pred & gold], axis=1).astype(float)      # tp, fp, fn
        return [f"{a}|{b}" for a, b, _ in pairs], {m: Decomposed(m, stats) for m in self.card.metrics}

    few_distinct = 1  # two labels are all a binary classifier can give

    def distinct_predictions(self, probs: list[float]) -> int:
        return len({p > self.threshold for p in probs})

    def baseline_predictions(self, splits: dict[str, list], rows: list) -> dict[str, list[float]]:
        return {"always_clone": [1.0] * len(rows)}

    def baselines(self, splits: dict[str, list]) -> dict[str, dict[str, float]]:
        """Chance on the test pairs: random guessing at the positive rate, and always answering 'clone'."""
        gold = [p[2] for p in splits["test"]]
        rate = float(np.mean(gold))
        always = metrics.precision_recall_f1([1] * len(gold), gold)
        return {"chance_random_at_prior": {"f1": rate, "precision": rate, "recall": rate},
                "always_clone": always}

    def write_predictions(self, out_dir: Path, probs: list[float], pairs: list) -> None:
        """``predictions.txt`` in the BigCloneBench evaluator's ``idx1 idx2 label`` layout, plus probabilities."""
        with (out_dir / "predictions.txt").open("w") as fh:
            for (a, b, _), p in zip(pairs, probs, strict=True):
                fh.write(f"{a}\t{b}\t{int(p > self.threshold)}\n")
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for (a, b, gold), p in zip(pairs, probs, strict=True):
                fh.write(json.dumps({"idx1": a, "idx2": b, "prob": p, "label": gold}) + "\n")


class CloneRetrievalTask(TaskType):
    """Find the other solutions of the same problem: embeddings ranked by cosine, MAP@R."""

    name = "clone-retrieval"
    columns = {"code_field": "code", "label_field": "label", "id_field": "index"}
    metrics = ("map_at_r",)
    variants = {"roberta": "encoder", "t5": "encoder-decoder", "t5-embedding": "embedding"}
    head, takes_graph, embeds, robustness = "embedding", True, True, True
    data_format = "jsonl: index, label, code (POJ-104)"
    pipeline_tag = "feature-extraction"
    temperature = 0.1
    group = 4  # programs of one label placed together in a batch, so each anchor has positives

    def __init__(self, card, tokenizer, source_len: int, target_len: int = 0) -> None:
        super().__init__(card, tokenizer, source_len, target_len)
        self.graph: GraphSettings | None = None

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport):
        return load_clone_retrieval(default_paths(self.card, paths), skip_bad, report)

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return not any(Path(f).suffix == ".txt" for f in files) and row is not None and "label" in row \
            and not any(k in row for k in NL_FIELDS)

    def prepare(self, rows: list[dict]) -> Prepared:
        if self.graph:
            ids = graph_inputs([r["code"] for r in rows], self.tok, self.source_len, self.graph)
        else:
            ids = tokenize_cached([normalise(r["code"]) for r in rows], self.tok, self.source_len)["input_ids"]
        labels = [r["label"] for r in rows]
        # training items are groups of same-label programs; the batcher sees one "length" per group
        by_label: dict[str, list[int]] = {}
        for i, lab in enumerate(labels):
            by_label.setdefault(lab, []).append(i)
        groups = [v[j : j + self.group] for v in by_label.values() for j in range(0, len(v), self.group)]
        size = [program_length(x) for x in ids]
        lengths = np.array([len(g) * max(size[i] for i in g) for g in groups])
        real = np.array([sum(size[i] for i in g) for g in groups])
        return Prepared({"ids": ids, "labels": labels, "groups": groups}, lengths, rows, real=real)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        import torch

        members = [m for g in idx for m in prepared.items["groups"][g]]
        batch = collate_programs([prepared.items["ids"][m] for m in members], self.tok.pad_token_id)
        label_ids = {lab: i for i, lab in enumerate(sorted({prepared.items["labels"][m] for m in members}))}
        return {**batch, "labels": torch.tensor([label_ids[prepared.items["labels"][m]] for m in members])}

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Multi-positive InfoNCE over the batch: same-label programs are positives, all others negatives."""
        import torch

        vec = model(batch["input_ids"], batch["attention_mask"], batch.get("position_ids"))  # (B, D), unit norm
        sims = vec @ vec.T / self.temperature                                      # (B, B)
        eye = torch.eye(len(vec), dtype=torch.bool, device=vec.device)
        sims = sims.masked_fill(eye, float("-inf"))
        pos = (batch["labels"][:, None] == batch["labels"][None, :]) & ~eye
        log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
        has_pos = pos.any(1)
        per_anchor = -(log_prob.masked_fill(~pos, 0).sum(1) / pos.sum(1).clamp(min=1))
        return per_anchor[has_pos].mean(), int(batch["input_ids"].ne(self.tok.pad_token_id).sum())

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, **_) -> np.ndarray:
        model.eval()
        device = next(model.parameters()).device
        return embed(model, prepared.items["ids"], self.tok.pad_token_id, batch_size, device).numpy()

    infer_input, index_query = "code", "code"

    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False, **decoding) -> list[dict]:
        """The unit vector of each item's code (what retrieval ranks by cosine)."""
        return [{"embedding": v.tolist()} for v in self.index_vectors(model, items, batch_size)]

    def index_vectors(self, model, items: list[dict], batch_size: int = 32) -> np.ndarray:
        """:meth:`infer`'s vectors as one array (no Python float per value)."""
        rows = [{"id": it["id"], "code": it["code"], "label": str(i)} for i, it in enumerate(items)]
        return self.predict(model, self.prepare(rows), batch_size=batch_size)

    def score(self, embeddings: np.ndarray, rows: list[dict]) -> dict[str, float]:
        return {"map_at_r": metrics.map_at_r_from_embeddings(embeddings, [r["label"] for r in rows])}

    def per_example(self, embeddings: np.ndarray, rows: list[dict]):
        from codeintel.eval.resample import Decomposed

        emb = metrics.unit_rows(embeddings)
        sims = emb @ emb.T
        np.fill_diagonal(sims, -np.inf)
        ap = metrics.average_precisions(*metrics.rank_by_scores(sims, [r["label"] for r in rows]))
        return [rows[int(k)]["id"] for k in ap], {"map_at_r": Decomposed("mean", list(ap.values()), digits=4)}

    def baselines(self, splits: dict[str, list]) -> dict[str, dict[str, float]]:
        """Chance: MAP@R of random rankings on the test split (mean of 5 seeded draws)."""
        rows = splits["test"]
        draws = [self.score(np.random.default_rng(s).normal(size=(len(rows), 16)), rows)["map_at_r"] for s in range(5)]
        return {"chance_random_ranking": {"map_at_r": round(float(np.mean(draws)), 4)}}

    def write_predictions(self, out_dir: Path, embeddings: np.ndarray, rows: list[dict]) -> None:
        """``predictions.jsonl`` in the POJ-104 evaluator's layout: ``{index, answers: [R ranked indices]}``."""
        emb = metrics.unit_rows(embeddings)
        sims = emb @ emb.T
        np.fill_diagonal(sims, -np.inf)
        preds, _ = metrics.rank_by_scores(sims, [r["label"] for r in rows])
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for i, r in enumerate(rows):
                if str(i) in preds:
                    answers = [rows[int(j)]["id"] for j in preds[str(i)]]
                    fh.write(json.dumps({"index": r["id"], "answers": answers}) + "\n")
