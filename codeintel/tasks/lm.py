"""Language modeling with normalized perplexity (PolyCoder), to compare tokenizers on the same code.

The T5 decoder is the language model: the encoder sees a constant ``<s></s>``, the decoder predicts every
token of the file, in windows of ``target_len`` tokens that cover the whole file (no truncation), so the
summed negative log-likelihood is over all of the file's model tokens. Comments are removed first (OpenMP
``!$omp`` sentinels kept), for every tokenizer alike, since Tokompiler drops them.

    normalized_ppl = exp(Σ NLL over model tokens / Σ Pygments lexer tokens)   (tokenizer-independent)
    token_ppl      = exp(Σ NLL / Σ model tokens)                             (per model token)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.loaders import NL_FIELDS, LoadReport, field, key_field, load_rows
from codeintel.errors import DataError
from codeintel.eval.metrics import lexer_rule_count, lexer_token_count, normalized_perplexity
from codeintel.structure.parsing import ALIASES, canonical, strip_comments
from codeintel.tasks.common import Prepared, default_paths, no_grad, pad
from codeintel.tasks.protocol import TaskType

if TYPE_CHECKING:
    import torch

PYGMENTS_NAME = {"c": "c", "cpp": "cpp", "fortran": "fortran", "python": "python", "java": "java"}


class LanguageModelingTask(TaskType):
    """Next-token prediction over whole files; scored by normalized perplexity."""

    name = "language-modeling"
    metrics = ("normalized_ppl", "token_ppl")
    variants = {"t5": "encoder-decoder"}  # the T5 decoder is the LM (constant encoder input)
    data_format = "jsonl: code + language (whole files)"
    pipeline_tag = "text-generation"

    def __init__(self, card, tokenizer, source_len: int, target_len: int) -> None:
        super().__init__(card, tokenizer, 2, target_len)  # the encoder sees a constant <s></s>
        self.compat = False

    def configure(self, cfg) -> None:
        self.compat = cfg.eval.ppl_compat

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return not any(Path(f).suffix == ".txt" for f in files) and row is not None \
            and ("language" in row or "lang" in row) and not any(k in row for k in (*NL_FIELDS, "docstring_tokens"))

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        def convert(row: dict, path: Path, i: int) -> dict:  # one row = one file, so the split is by file
            lang = field(row, ("language", "lang"), path).lower()
            lang = canonical(ALIASES.get(lang, lang))
            if lang not in PYGMENTS_NAME:
                raise DataError(f"{path}:{row['__line']}: language {lang!r} is not one of {sorted(PYGMENTS_NAME)}.")
            code = strip_comments(field(row, ("code", "func"), path), lang)
            return {"id": key_field(row, ("id", "path"), path, f"{path.stem}-{i}"), "code": code, "lang": lang}

        return load_rows(default_paths(self.card, paths, "FILE.jsonl (code, language)"), convert, skip_bad, report)

    def _encode(self, rows: list[dict]) -> list[list[int]]:
        from codeintel.tokenization.tokompiler_hf import TokompilerTokenizer

        out = []
        for r in rows:
            tok = self.tok.for_lang(r["lang"]) if isinstance(self.tok, TokompilerTokenizer) else self.tok
            ids = tok(r["code"], add_special_tokens=False, verbose=False)["input_ids"]  # windows, not truncation
            out.append(ids + [tok.eos_token_id])
        return out

    def prepare(self, rows: list[dict]) -> Prepared:
        seqs = self._encode(rows)
        chunks, owner = [], []
        for i, seq in enumerate(seqs):
            for start in range(0, len(seq), self.target_len):
                chunks.append(seq[start : start + self.target_len])
                owner.append(i)
        lexer = [lexer_token_count(r["code"], PYGMENTS_NAME[r["lang"]]) for r in rows]
        rules = [lexer_rule_count(PYGMENTS_NAME[r["lang"]]) for r in rows]
        items = {"chunks": chunks, "owner": owner, "model_tokens": [len(s) for s in seqs], "lexer_tokens": lexer,
                 "lexer_rules": rules}
        return Prepared(items, np.array([len(c) + 2 for c in chunks]), rows)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        src = [[self.tok.bos_token_id, self.tok.eos_token_id]] * len(idx)
        input_ids, attention_mask = pad(src, self.tok.pad_token_id)
        labels, mask = pad([prepared.items["chunks"][i] for i in idx], self.tok.pad_token_id)
        labels[mask == 0] = -100
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    @staticmethod
    def loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        return model(**batch).loss, int((batch["labels"] != -100).sum())

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, **_) -> dict[str, np.ndarray]:
        """Summed NLL (nats) of each file, with its model-token and lexer-token counts."""
        import torch.nn.functional as F

        model.eval()
        device = next(model.parameters()).device
        nll = np.zeros(len(prepared.rows))
        order = np.argsort(-prepared.lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size].tolist()
            batch = {k: v.to(device) for k, v in self.collate(prepared, idx).items()}
            logits = model(**batch).logits                                            # (B, T, V)
            per_tok = F.cross_entropy(logits.transpose(1, 2), batch["labels"], reduction="none", ignore_index=-100)
            for row, value in zip(idx, per_tok.sum(1).cpu().tolist(), strict=True):
                nll[prepared.items["owner"][row]] += value
        return {"nll": nll, **{k: np.array(prepared.items[k]) for k in ("model_tokens", "lexer_tokens", "lexer_rules")}}

    def score(self, preds: dict[str, np.ndarray], rows: list[dict]) -> dict[str, float]:
        total = float(np.sum(preds["nll"]))
        scores = {"normalized_ppl": normalized_perplexity(total, int(np.sum(preds["lexer_tokens"]))),
                  "token_ppl": math.exp(total / int(np.sum(preds["model_tokens"])))}
        out = {k: scores[k] for k in self.card.metrics}
        if self.compat:
            compat_count = int(np.sum(preds["lexer_tokens"] * preds["lexer_rules"]))
            out["normalized_ppl_compat"] = normalized_perplexity(total, compat_count)
        return out

    def per_example(self, preds: dict[str, np.ndarray], rows: list[dict]):
        from codeintel.eval.resample import Decomposed

        nll = np.asarray(preds["nll"], dtype=float)
        counts = {"normalized_ppl": preds["lexer_tokens"], "token_ppl": preds["model_tokens"]}
        out = {m: Decomposed("exp_ratio", np.stack([nll, np.asarray(counts[m], dtype=float)], 1),
                             lower_is_better=True) for m in self.card.metrics}
        if self.compat:
            out["normalized_ppl_compat"] = Decomposed(
                "exp_ratio", np.stack([nll, np.asarray(preds["lexer_tokens"] * preds["lexer_rules"], dtype=float)], 1),
                lower_is_better=True)
        return [r["id"] for r in rows], out

    def baselines(self, splits: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
        """A uniform distribution over the vocabulary, on the test files."""
        items = self.prepare(splits["test"]).items
        total = float(np.sum(items["model_tokens"])) * math.log(len(self.tok))
        return {"uniform_over_vocabulary": {
            "normalized_ppl": normalized_perplexity(total, int(np.sum(items["lexer_tokens"]))),
            "token_ppl": float(len(self.tok))}}

    def write_predictions(self, out_dir: Path, preds: dict[str, np.ndarray], rows: list[dict]) -> None:
        """Per file: summed NLL, model tokens, lexer tokens and its own normalized perplexity."""
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for i, r in enumerate(rows):
                nll, lex = float(preds["nll"][i]), int(preds["lexer_tokens"][i])
                fh.write(json.dumps({"id": r["id"], "lang": r["lang"], "nll": nll, "model_tokens":
                                     int(preds["model_tokens"][i]), "lexer_tokens": lex,
                                     "normalized_ppl": math.exp(nll / max(lex, 1))}) + "\n")


class CausalLMTask(TaskType):
    """Left-to-right language modelling for continual learning over API streams (``codeintel continual run``,
    which brings its own data and scores: :mod:`codeintel.continual.tasks`); no task card runs on it. GPT-2,
    RoBERTa as a decoder, and T5 as a prefix LM (the encoder reads the left context, the decoder continues it)."""

    name = "causal-lm"
    variants = {"gpt2": "causal-lm", "roberta": "causal-lm", "t5": "encoder-decoder"}
    data_format = "API streams (codeintel continual build-stream), not task cards"
    pipeline_tag = "text-generation"
    cards = False
