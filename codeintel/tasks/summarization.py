"""Code summarization: sequence-to-sequence training, generation, CodeXGLUE smoothed BLEU-4."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.cache import tokenize_cached
from codeintel.data.loaders import NL_FIELDS, LoadReport, load_summarization
from codeintel.eval import metrics
from codeintel.tasks.common import Prepared, default_paths, no_grad, pad
from codeintel.tasks.protocol import TaskType

if TYPE_CHECKING:
    import torch


class SummarizationTask(TaskType):
    """Code -> natural-language summary."""

    name = "summarization"
    columns = {"code_field": "code", "nl_field": "summary", "id_field": "id"}
    metrics = ("smoothed_bleu", "rouge_l", "exact_match")
    variants = {"roberta": "encoder-decoder", "t5": "encoder-decoder"}
    data_format = "jsonl: code/func/original_string (or code_tokens) + summary/docstring (or docstring_tokens)"
    pipeline_tag, generates, robustness = "summarization", True, True
    pipeline_output = "summary_text"

    def configure(self, cfg) -> None:
        self.target_logits_only = cfg.train.fast_kernels

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return not any(Path(f).suffix == ".txt" for f in files) and row is not None \
            and any(k in row for k in (*NL_FIELDS, "docstring_tokens"))

    def perturb(self, rows: list[dict], transform, tag: str = "perturbed") -> list[dict]:
        from codeintel.errors import ConfigError
        from codeintel.tasks.encoding import normalise

        if not all("code" in r for r in rows):
            raise ConfigError("robustness needs the raw code of each example (a code/func/original_string field); "
                              "rows given only as code_tokens cannot be re-parsed.")
        new = transform([r["code"] for r in rows])
        return [{**r, "code": c, "source": normalise(c)} for r, c in zip(rows, new, strict=True)]

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        return load_summarization(default_paths(self.card, paths), skip_bad, report)

    def prepare(self, rows: list[dict]) -> Prepared:
        src = tokenize_cached([r["source"] for r in rows], self.tok, self.source_len)["input_ids"]
        tgt = tokenize_cached([r["target"] for r in rows], self.tok, self.target_len, append_eos=True)["input_ids"]
        items = list(zip(src, tgt, strict=True))
        parts = np.array([[len(s), len(t)] for s, t in items]).reshape(-1, 2)
        return Prepared(items, parts.sum(1), rows, parts)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        src = [prepared.items[i][0] for i in idx]
        tgt = [prepared.items[i][1] for i in idx]
        input_ids, attention_mask = pad(src, self.tok.pad_token_id)
        labels, label_mask = pad(tgt, self.tok.pad_token_id)
        labels[label_mask == 0] = -100
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    target_logits_only = False
    """``train.fast_kernels``: the LM head and cross-entropy on the real target positions only."""

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        n = int(batch["attention_mask"].sum() + (batch["labels"] != -100).sum())
        if self.target_logits_only:
            loss = target_positions_loss(model, batch)
            if loss is not None:
                return loss, n
        return model(**batch).loss, n

    @no_grad
    def predict(self, model, prepared: Prepared, beam_size: int = 1, batch_size: int = 32,
                no_repeat_ngram_size: int = 0, progress: bool = False) -> list[str]:
        """Generated summaries, in the order of ``prepared.rows`` (batched by source length)."""
        from codeintel.progress import progress as progress_bar
        from codeintel.tasks.decoding import search

        model.eval()
        order = np.argsort([-len(s) for s, _ in prepared.items], kind="stable")
        out: list[str] = [""] * len(order)
        for start in progress_bar(range(0, len(order), batch_size), desc="generate", unit="batch", enabled=progress,
                                  leave=False):
            idx = order[start : start + batch_size].tolist()
            input_ids, attention_mask = pad([prepared.items[i][0] for i in idx], self.tok.pad_token_id)
            input_ids, attention_mask = input_ids.to(model.device), attention_mask.to(model.device)
            # generate's tokens; rows (greedy) or inputs (beam search) that are done leave the batch
            gen = search(model, input_ids, attention_mask, self.target_len, beam_size, no_repeat_ngram_size)
            for i, text in zip(idx, self.tok.batch_decode(gen, skip_special_tokens=True, **self.decode_options),
                               strict=True):
                out[i] = self.clean(text)
        return out

    decode_options: dict = {}
    """Extra ``batch_decode`` arguments (code generation keeps the tokenizer's spaces as they are)."""

    @staticmethod
    def clean(text: str) -> str:
        """A generated text as a prediction: a summary is its words joined by single spaces."""
        return " ".join(text.split())

    def score(self, predictions: list[str], rows: list[dict]) -> dict[str, float]:
        refs = [r["target"] for r in rows]
        ids = [r["id"] for r in rows]
        scores = {"smoothed_bleu": metrics.smoothed_bleu(dict(zip(ids, predictions, strict=True)),
                                                         dict(zip(ids, refs, strict=True))),
                  "rouge_l": metrics.rouge_l(predictions, refs),
                  "exact_match": metrics.exact_match(predictions, refs)}
        return {k: scores[k] for k in self.card.metrics}

    def per_example(self, predictions: list[str], rows: list[dict]):
        from codeintel.eval.bleu import smoothed_bleu_scores
        from codeintel.eval.resample import Decomposed

        refs = [r["target"] for r in rows]
        per = {"smoothed_bleu": lambda: list(smoothed_bleu_scores(predictions, refs).values()),
               "rouge_l": lambda: metrics.rouge_l_scores(predictions, refs),
               "exact_match": lambda: metrics.exact_match_scores(predictions, refs)}
        return [r["id"] for r in rows], {m: Decomposed("mean", per[m](), 100.0) for m in self.card.metrics}

    infer_input = "code"

    def infer(self, model, items: list[dict], batch_size: int = 32, progress: bool = False, **decoding) -> list[dict]:
        rows = [{"id": it["id"], "source": self.infer_source(it), "target": ""} for it in items]
        out = self.predict(model, self.prepare(rows), batch_size=batch_size, progress=progress,
                           beam_size=decoding.get("beam_size", 1),
                           no_repeat_ngram_size=decoding.get("no_repeat_ngram_size", 0))
        return [{self.infer_output: o} for o in out]

    infer_output = "summary"

    @staticmethod
    def infer_source(item: dict) -> str:
        from codeintel.tasks.encoding import normalise

        return normalise(item["code"])

    def distinct_predictions(self, predictions: list[str]) -> int:
        return len(set(predictions))

    def baseline_predictions(self, splits: dict[str, list[dict]], rows: list[dict]) -> dict[str, list[str]]:
        common = Counter(r["target"] for r in splits["train"]).most_common(1)[0][0]
        return {"most_frequent_summary": [common] * len(rows)}

    def baselines(self, splits: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
        """Trivial baselines on the test split: the most frequent training summary, always."""
        common = Counter(r["target"] for r in splits["train"]).most_common(1)[0][0]
        test = splits["test"]
        return {"most_frequent_summary": {"prediction": common, **self.score([common] * len(test), test)}}

    @staticmethod
    def write_predictions(out_dir: Path, predictions: list[str], rows: list[dict]) -> None:
        """``predictions.jsonl`` plus CodeXGLUE's ``test.output`` / ``test.gold`` (``id<TAB>text``)."""
        import json

        with (out_dir / "predictions.jsonl").open("w") as fh:
            for r, p in zip(rows, predictions, strict=True):
                fh.write(json.dumps({"id": r["id"], "prediction": p, "reference": r["target"]}) + "\n")
        pairs = zip(rows, predictions, strict=True)
        (out_dir / "test.output").write_text("".join(f"{r['id']}\t{p}\n" for r, p in pairs))
        (out_dir / "test.gold").write_text("".join(f"{r['id']}\t{r['target']}\n" for r in rows))


def target_positions_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The model's own loss (mean token cross-entropy over the real target tokens), with the LM head applied to
    those positions only: a pre-hook on the output projection keeps the rows whose label is real, so padded
    target positions cost no vocabulary-sized matmul, log-softmax or their backward. The forward still goes
    through ``model`` (a DDP wrapper keeps its gradient synchronisation). T5 and the RoBERTa
    encoder-decoder; ``None`` for other models (the caller takes the plain loss)."""
    import torch.nn.functional as F
    from transformers import EncoderDecoderModel, T5ForConditionalGeneration
    from transformers.models.encoder_decoder.modeling_encoder_decoder import shift_tokens_right

    core = getattr(model, "module", model)  # accelerate's DDP wrapper
    labels = batch["labels"]
    if isinstance(core, T5ForConditionalGeneration):
        decoder_input_ids = core._shift_right(labels)
    elif isinstance(core, EncoderDecoderModel):
        decoder_input_ids = shift_tokens_right(labels, core.config.pad_token_id, core.config.decoder_start_token_id)
    else:
        return None
    keep = labels.ne(-100)
    head = core.get_output_embeddings()
    handle = head.register_forward_pre_hook(lambda _module, args: (args[0][keep], *args[1:]))
    try:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       decoder_input_ids=decoder_input_ids).logits                        # (real targets, V)
    finally:
        handle.remove()
    return F.cross_entropy(logits, labels[keep])
