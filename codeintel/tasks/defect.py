"""Defect detection: is this function defective? Binary classification of one function, accuracy as CodeXGLUE's
Devign evaluator (and P/R/F1 of the defect class). Data: Devign's ``function.json`` with index lists, or jsonl
rows with a 0/1 ``target``/``race``/``label`` (DataRaceBench's data races)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.cache import tokenize_cached
from codeintel.data.loaders import LoadReport, load_defect
from codeintel.eval import metrics
from codeintel.tasks.common import Prepared, default_paths, no_grad, pad
from codeintel.tasks.encoding import embed, normalise
from codeintel.tasks.protocol import TaskType

if TYPE_CHECKING:
    import torch


class DefectDetectionTask(TaskType):
    """One function -> P(defect); the label is P > ``eval.threshold`` (0.5)."""

    name = "defect-detection"
    columns = {"code_field": "func", "label_field": "target", "id_field": "idx"}
    metrics = ("accuracy", "f1", "precision", "recall")
    variants = {"roberta": "encoder", "t5": "encoder-decoder"}  # CodeT5 reads the decoder's last </s>
    head, robustness, default_card = "single", True, "defect-devign"
    data_format = "Devign function.json + train/valid/test.txt index lists, or jsonl: func/code + 0/1 target/race"

    def __init__(self, card, tokenizer, source_len: int, target_len: int = 0) -> None:
        super().__init__(card, tokenizer, source_len, target_len)
        self.threshold = 0.5

    def configure(self, cfg) -> None:
        self.threshold = cfg.eval.threshold

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        return load_defect(default_paths(self.card, paths), skip_bad, report)

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return row is not None and any(k in row for k in ("target", "race")) and any(k in row for k in ("func", "code"))

    def prepare(self, rows: list[dict]) -> Prepared:
        ids = tokenize_cached([normalise(r["code"]) for r in rows], self.tok, self.source_len)["input_ids"]
        return Prepared(ids, np.array([len(x) for x in ids]), rows)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        import torch

        input_ids, attention_mask = pad([prepared.items[i] for i in idx], self.tok.pad_token_id)
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "labels": torch.tensor([prepared.rows[i]["label"] for i in idx])}

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        import torch.nn.functional as F

        logits = model(batch["input_ids"], batch["attention_mask"])
        return F.cross_entropy(logits, batch["labels"]), int(batch["attention_mask"].sum())

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, **_) -> list[float]:
        """P(defect) per function, in the order of ``prepared.rows`` (length-sorted batches)."""
        import torch

        model.eval()
        device = next(model.parameters()).device

        def prob(input_ids, attention_mask):
            return torch.softmax(model(input_ids, attention_mask).float(), dim=-1)[:, 1:]

        return embed(prob, prepared.items, self.tok.pad_token_id, batch_size, device)[:, 0].tolist()

    infer_input = "code"

    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False, **decoding) -> list[dict]:
        rows = [{"id": it["id"], "code": it["code"], "label": 0} for it in items]
        return [{"probability": p} for p in self.predict(model, self.prepare(rows), batch_size=batch_size)]

    def labels(self, probs: list[float]) -> list[int]:
        return [int(p > self.threshold) for p in probs]

    def score(self, probs: list[float], rows: list[dict]) -> dict[str, float]:
        pred, gold = self.labels(probs), [r["label"] for r in rows]
        scores = {"accuracy": metrics.accuracy(pred, gold), **metrics.precision_recall_f1(pred, gold)}
        return {**{k: scores[k] for k in self.card.metrics}, "threshold": self.threshold}

    def per_example(self, probs: list[float], rows: list[dict]):
        from codeintel.eval.resample import Decomposed

        pred = np.array(self.labels(probs), dtype=bool)
        gold = np.array([bool(r["label"]) for r in rows])
        stats = np.stack([pred & gold, pred & ~gold, ~pred & gold], axis=1).astype(float)      # tp, fp, fn
        out = {m: Decomposed(m, stats) for m in self.card.metrics if m != "accuracy"}
        if "accuracy" in self.card.metrics:
            out["accuracy"] = Decomposed("mean", (pred == gold).astype(float))
        return [r["id"] for r in rows], out

    few_distinct = 1

    def distinct_predictions(self, probs: list[float]) -> int:
        return len(set(self.labels(probs)))

    @staticmethod
    def majority(splits: dict[str, list]) -> int:
        counts = Counter(r["label"] for r in splits["train"])
        return 1 if counts[1] > counts[0] else 0

    def baseline_predictions(self, splits: dict[str, list], rows: list) -> dict[str, list[float]]:
        return {"majority_class": [float(self.majority(splits))] * len(rows)}

    def baselines(self, splits: dict[str, list]) -> dict[str, dict[str, float]]:
        """The training set's majority class, always."""
        test = splits["test"]
        (name, preds), = self.baseline_predictions(splits, test).items()
        label = int(preds[0]) if preds else 0
        gold = [r["label"] for r in test]
        scores = {"accuracy": metrics.accuracy([label] * len(gold), gold),
                  **metrics.precision_recall_f1([label] * len(gold), gold)}
        return {name: {"prediction": label, **{k: scores[k] for k in self.card.metrics}}}

    def write_predictions(self, out_dir: Path, probs: list[float], rows: list[dict]) -> None:
        """``predictions.txt`` and ``answers.txt`` in the Devign evaluator's ``idx<TAB>label`` layout, plus
        ``predictions.jsonl`` with the probabilities."""
        pred = self.labels(probs)
        (out_dir / "predictions.txt").write_text("".join(f"{r['id']}\t{p}\n" for r, p in zip(rows, pred, strict=True)))
        (out_dir / "answers.txt").write_text("".join(f"{r['id']}\t{r['label']}\n" for r in rows))
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for r, p in zip(rows, probs, strict=True):
                fh.write(json.dumps({"id": r["id"], "prob": p, "label": r["label"]}) + "\n")
