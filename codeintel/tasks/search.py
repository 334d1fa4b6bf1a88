"""Code search (natural language -> code), GraphCodeBERT's setting: a bi-encoder shared by queries and code,
in-batch softmax over the batch's code, MRR of each query against every code of the split (top 1,000)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.cache import tokenize_cached
from codeintel.data.loaders import LoadReport, field, key_field, load_rows, tokens_field
from codeintel.data.stdlib import first_sentence
from codeintel.eval import metrics
from codeintel.tasks.common import Prepared, default_paths, no_grad
from codeintel.tasks.encoding import GraphSettings, collate_programs, embed, graph_inputs, normalise, program_length
from codeintel.tasks.protocol import TaskType

if TYPE_CHECKING:
    import torch


class CodeSearchTask(TaskType):
    """Rank every code of the split for each natural-language query; the paired code is the answer."""

    name = "code-search"
    columns = {"code_field": "code", "nl_field": "summary", "id_field": "id"}
    metrics = ("mrr",)
    variants = {"roberta": "encoder", "t5": "encoder-decoder", "t5-embedding": "embedding"}
    head, takes_graph, robustness = "embedding", True, True
    sharded = False  # a prediction is a queries x codes matrix over the whole split: made on one process
    data_format = "jsonl: code + summary/docstring (or docstring_tokens)"
    pipeline_tag = "sentence-similarity"
    temperature = 0.05

    def __init__(self, card, tokenizer, source_len: int, target_len: int) -> None:
        super().__init__(card, tokenizer, source_len, target_len)
        self.graph: GraphSettings | None = None

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        def convert(row: dict, path: Path, i: int) -> dict:
            if row.get("summary") is not None:
                nl = field(row, ("summary",), path)
            elif row.get("docstring_tokens"):
                nl = tokens_field(row, "docstring_tokens", path)
            else:
                nl = first_sentence(field(row, ("docstring", "nl"), path))
            code = field(row, ("code", "original_string", "func"), path)
            return {"id": key_field(row, ("id", "url"), path, f"{path.stem}-{i}"), "code": code, "nl": nl}

        return load_rows(default_paths(self.card, paths, "FILE.jsonl"), convert, skip_bad, report)

    def prepare(self, rows: list[dict]) -> Prepared:
        if self.graph:
            code = graph_inputs([r["code"] for r in rows], self.tok, self.source_len, self.graph)
        else:
            code = tokenize_cached([normalise(r["code"]) for r in rows], self.tok, self.source_len)["input_ids"]
        nl = tokenize_cached([r["nl"] for r in rows], self.tok, self.target_len)["input_ids"]
        size = [program_length(c) for c in code]
        parts = np.array([[s, len(q)] for s, q in zip(size, nl, strict=True)]).reshape(-1, 2)   # padded apart
        return Prepared({"code": code, "nl": nl}, parts.sum(1), rows, parts)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        code = collate_programs([prepared.items["code"][i] for i in idx], self.tok.pad_token_id)
        nl = collate_programs([prepared.items["nl"][i] for i in idx], self.tok.pad_token_id)
        return {**{f"code_{k}": v for k, v in code.items()}, **{f"nl_{k}": v for k, v in nl.items()}}

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        import torch
        import torch.nn.functional as F

        code = model(batch["code_input_ids"], batch["code_attention_mask"], batch.get("code_position_ids"))
        nl = model(batch["nl_input_ids"], batch["nl_attention_mask"])
        logits = nl @ code.T / self.temperature                                          # (B, B)
        n_tok = int(batch["code_input_ids"].ne(self.tok.pad_token_id).sum() + batch["nl_attention_mask"].sum())
        return F.cross_entropy(logits, torch.arange(len(nl), device=nl.device)), n_tok

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, **_) -> np.ndarray:
        """(queries, codes) cosine similarities."""
        model.eval()
        device = next(model.parameters()).device
        code = embed(model, prepared.items["code"], self.tok.pad_token_id, batch_size, device)
        nl = embed(model, prepared.items["nl"], self.tok.pad_token_id, batch_size, device)
        return (nl @ code.T).numpy()

    infer_input, index_query = "code", "nl"

    @no_grad
    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False, **decoding) -> list[dict]:
        """The unit vector of each item: its code, or (an item with ``nl`` and no code) its query."""
        model.eval()
        device = next(model.parameters()).device
        codes = [i for i, it in enumerate(items) if it.get("code")]
        queries = [i for i, it in enumerate(items) if not it.get("code")]
        out: list[dict] = [{} for _ in items]
        if codes:
            rows = [items[i] for i in codes]
            if self.graph:
                ids = graph_inputs([r["code"] for r in rows], self.tok, self.source_len, self.graph)
            else:
                ids = tokenize_cached([normalise(r["code"]) for r in rows], self.tok, self.source_len)["input_ids"]
            for i, v in zip(codes, embed(model, ids, self.tok.pad_token_id, batch_size, device), strict=True):
                out[i] = {"embedding": v.tolist()}
        if queries:
            ids = tokenize_cached([items[i]["nl"] for i in queries], self.tok, self.target_len)["input_ids"]
            for i, v in zip(queries, embed(model, ids, self.tok.pad_token_id, batch_size, device), strict=True):
                out[i] = {"embedding": v.tolist()}
        return out

    def score(self, scores: np.ndarray, rows: list[dict]) -> dict[str, float]:
        return {"mrr": metrics.mrr(scores)}

    def per_example(self, scores: np.ndarray, rows: list[dict]):
        from codeintel.eval.resample import Decomposed

        return [r["id"] for r in rows], {"mrr": Decomposed("mean", metrics.reciprocal_ranks(scores))}

    def baselines(self, splits: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
        """Chance: the expected MRR of a random ranking of the test split's codes, (1/N) Σ_k 1/k (k <= 1000)."""
        n = len(splits["test"])
        return {"chance_random_ranking": {"mrr": float(sum(1 / k for k in range(1, min(n, 1000) + 1)) / n)}}

    def write_predictions(self, out_dir: Path, scores: np.ndarray, rows: list[dict]) -> None:
        """Per query: the rank of its code and the ids of the top 10."""
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for i, r in enumerate(rows):
                order = np.argsort(-scores[i], kind="stable")
                rank = int(np.nonzero(order == i)[0][0]) + 1
                fh.write(json.dumps({"id": r["id"], "query": r["nl"], "rank": rank,
                                     "top10": [rows[j]["id"] for j in order[:10]]}) + "\n")
