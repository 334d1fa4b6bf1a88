"""Code generation: code-to-code (translation, refinement) and text-to-code (CONCODE), sequence to sequence,
scored as CodeXGLUE's evaluators score them — exact match of stripped lines (``xmatch``), ``_bleu`` (corpus
BLEU-4 with add-one smoothing, ``bleu``) and CodeBLEU with its four components (:mod:`codeintel.eval.codebleu`).

Card ``options``: ``source`` / ``target`` (the file suffixes of the line-aligned files, e.g. ``.java`` / ``.cs``)
and ``target_lang`` (the language CodeBLEU parses the outputs in; default the card's ``lang``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codeintel.data.cache import tokenize_cached
from codeintel.data.loaders import LoadReport, load_concode, load_parallel
from codeintel.eval import metrics
from codeintel.tasks.common import Prepared, default_paths, no_grad, pad
from codeintel.tasks.encoding import GraphSettings
from codeintel.tasks.summarization import SummarizationTask

if TYPE_CHECKING:
    import torch

CODEBLEU_PARTS = {"codebleu": "codebleu", "ngram_match": "ngram", "weighted_ngram_match": "weighted_ngram",
                  "syntax_match": "syntax", "dataflow_match": "dataflow"}


class CodeToCodeTask(SummarizationTask):
    """Code -> code: translation (Java <-> C#) and refinement (buggy -> fixed method), line-aligned files.

    ``graph=true`` (RoBERTa family): GraphCodeBERT's translation and refinement input — the source's code tokens,
    then its data-flow nodes, under graph-guided attention (:mod:`codeintel.backbones.graphcodebert`), laid out as
    GraphCodeBERT's ``translation/run.py`` lays it out: code first (up to ``source_len + dfg_length - 3``
    sub-tokens), the nodes in the positions left; the decoder attends to code and nodes."""

    name = "code-to-code"
    columns: dict[str, str] = {}   # line-aligned text files, not tables
    metrics = ("bleu", "xmatch", *CODEBLEU_PARTS)
    data_format = "line-aligned files: line i of *<source suffix> <-> line i of *<target suffix> (CodeXGLUE)"
    pipeline_tag, robustness, takes_graph = "text2text-generation", False, True
    pipeline_output = "generated_text"
    graph: GraphSettings | None = None
    decode_options = {"clean_up_tokenization_spaces": False}

    def configure(self, cfg) -> None:
        super().configure(cfg)
        self.target_lang = self.card.options.get("target_lang") or self.card.lang or "java"
        if set(self.card.metrics) & set(CODEBLEU_PARTS):
            from codeintel.errors import ConfigError
            from codeintel.eval.codebleu import check_language

            try:
                self.target_lang = check_language(self.target_lang)
            except ConfigError as exc:
                raise ConfigError(f"task card {self.card.path}: options.target_lang: {exc}") from None

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return False

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        opts = self.card.options
        return load_parallel(default_paths(self.card, paths, "DIR"), opts.get("source", ".src"),
                             opts.get("target", ".tgt"), skip_bad, report)

    def perturb(self, rows: list[dict], transform, tag: str = "perturbed") -> list[dict]:
        from codeintel.errors import ConfigError

        raise ConfigError(f"--robustness is not available for {self.name} tasks yet.")

    # ---- graph=true: GraphCodeBERT's data-flow input in the encoder
    def prepare(self, rows: list[dict]) -> Prepared:
        if not self.graph:
            return super().prepare(rows)
        from codeintel.backbones.graphcodebert import build_input

        total = self.source_len + self.graph.dfg_length
        src = [build_input(r["source"], self.graph.lang, self.tok, total, 0) for r in rows]
        tgt = tokenize_cached([r["target"] for r in rows], self.tok, self.target_len, append_eos=True)["input_ids"]
        parts = np.array([[g.n_real, len(t)] for g, t in zip(src, tgt, strict=True)]).reshape(-1, 2)
        return Prepared(list(zip(src, tgt, strict=True)), parts.sum(1), rows, parts)

    def collate(self, prepared: Prepared, idx: list[int]) -> dict[str, torch.Tensor]:
        if not self.graph:
            return super().collate(prepared, idx)
        from codeintel.backbones.graphcodebert import collate

        batch = collate([prepared.items[i][0] for i in idx])       # cut to the batch's longest real input
        labels, label_mask = pad([prepared.items[i][1] for i in idx], self.tok.pad_token_id)
        labels[label_mask == 0] = -100
        return {**batch, "labels": labels}

    def _encode(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's states on the graph input, and the (B, L) mask of what the decoder may attend to."""
        from codeintel.backbones.graphcodebert import encode

        core = getattr(model, "module", model)     # accelerate's DDP wrapper
        hidden = encode(core.encoder, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
        return hidden, batch["position_ids"].ne(self.tok.pad_token_id).long()

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        if not self.graph:
            return super().loss(model, batch)
        from transformers.modeling_outputs import BaseModelOutput

        hidden, memory = self._encode(model, batch)
        out = model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=memory,
                    labels=batch["labels"])
        return out.loss, int(memory.sum() + (batch["labels"] != -100).sum())

    @no_grad
    def predict(self, model, prepared: Prepared, beam_size: int = 1, batch_size: int = 32,
                no_repeat_ngram_size: int = 0, progress: bool = False) -> list[str]:
        if not self.graph:
            return super().predict(model, prepared, beam_size, batch_size, no_repeat_ngram_size, progress)
        from codeintel.progress import progress as progress_bar
        from codeintel.tasks.decoding import search

        model.eval()
        order = np.argsort([-g.n_real for g, _ in prepared.items], kind="stable")
        out: list[str] = [""] * len(order)
        device = next(model.parameters()).device
        for start in progress_bar(range(0, len(order), batch_size), desc="generate", unit="batch", enabled=progress,
                                  leave=False):
            idx = order[start : start + batch_size].tolist()
            batch = {k: v.to(device) for k, v in self.collate(prepared, idx).items() if k != "labels"}
            hidden, memory = self._encode(model, batch)
            gen = search(model, None, memory, self.target_len, beam_size, no_repeat_ngram_size, encoder_hidden=hidden)
            for i, text in zip(idx, self.tok.batch_decode(gen, skip_special_tokens=True, **self.decode_options),
                               strict=True):
                out[i] = self.clean(text)
        return out

    infer_output = "code"

    @staticmethod
    def infer_source(item: dict) -> str:
        return item["code"].strip()

    @staticmethod
    def clean(text: str) -> str:
        """A generated method as one line (the references are lines): line breaks become spaces, ends stripped."""
        return text.replace("\r", " ").replace("\n", " ").strip()

    def score(self, predictions: list[str], rows: list[dict]) -> dict[str, float]:
        refs = [r["target"] for r in rows]
        wanted = set(self.card.metrics)
        scores: dict[str, float] = {}
        if "bleu" in wanted:
            scores["bleu"] = metrics.codexglue_bleu(predictions, refs)
        if "xmatch" in wanted:
            scores["xmatch"] = metrics.xmatch(predictions, refs)
        if wanted & set(CODEBLEU_PARTS):
            from codeintel.eval.codebleu import codebleu

            parts = codebleu(predictions, refs, self.target_lang)
            scores.update({name: parts[key] for name, key in CODEBLEU_PARTS.items()})
        return {k: scores[k] for k in self.card.metrics}

    def per_example(self, predictions: list[str], rows: list[dict]):
        from codeintel.eval.bleu import bleu_stats
        from codeintel.eval.codebleu import codebleu_stats, xmatch_scores
        from codeintel.eval.resample import Decomposed

        refs = [r["target"] for r in rows]
        out = {}
        if "bleu" in self.card.metrics:
            out["bleu"] = Decomposed("bleu_smooth", [bleu_stats(p, r) for p, r in zip(predictions, refs, strict=True)],
                                     digits=2)
        if "xmatch" in self.card.metrics:
            out["xmatch"] = Decomposed("mean", xmatch_scores(predictions, refs), 100.0)
        if set(self.card.metrics) & set(CODEBLEU_PARTS):
            st = codebleu_stats(predictions, refs, self.target_lang)
            combined = np.concatenate([np.asarray(x, dtype=float) for x in (st.ngram, st.weighted_ngram, st.syntax,
                                                                            st.dataflow)], axis=1)
            parts = {"codebleu": Decomposed("codebleu", combined, weights=st.weights),
                     "ngram_match": Decomposed("nltk_bleu", st.ngram),
                     "weighted_ngram_match": Decomposed("nltk_bleu", st.weighted_ngram),
                     "syntax_match": Decomposed("ratio", st.syntax, 100.0),
                     "dataflow_match": Decomposed("ratio", st.dataflow, 100.0)}
            out.update({k: v for k, v in parts.items() if k in self.card.metrics})
        return [r["id"] for r in rows], out

    def baseline_name(self) -> str:
        return "copy_source"

    def baseline_predictions(self, splits: dict[str, list[dict]], rows: list[dict]) -> dict[str, list[str]]:
        return {self.baseline_name(): [r["source"] for r in rows]}

    def baselines(self, splits: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
        """The input copied unchanged (translation: the source method; refinement: the buggy method, the baseline
        refinement papers report)."""
        import warnings

        test = splits["test"]
        (name, preds), = self.baseline_predictions(splits, test).items()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {name: self.score(preds, test)}

    def write_predictions(self, out_dir: Path, predictions: list[str], rows: list[dict]) -> None:
        """``predictions.jsonl`` plus the evaluators' line files ``test.output`` / ``test.gold`` (line i of one is
        the partner of line i of the other)."""
        with (out_dir / "predictions.jsonl").open("w") as fh:
            for r, p in zip(rows, predictions, strict=True):
                fh.write(json.dumps({"id": r["id"], "prediction": p, "reference": r["target"]}) + "\n")
        (out_dir / "test.output").write_text("".join(f"{self.clean(p)}\n" for p in predictions))
        (out_dir / "test.gold").write_text("".join(f"{self.clean(r['target'])}\n" for r in rows))


class TextToCodeTask(CodeToCodeTask):
    """Natural language (and class context) -> code: CONCODE."""

    name = "text-to-code"
    columns = {"nl_field": "nl", "code_field": "code", "id_field": "id"}
    data_format = "json lines: nl (docstring + class context) and code (CONCODE)"
    default_card = "concode"

    infer_input = "nl"

    @staticmethod
    def infer_source(item: dict) -> str:
        return item["nl"].strip()

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list[dict]]:
        return load_concode(default_paths(self.card, paths), skip_bad, report)

    @classmethod
    def recognises(cls, files: list, row: dict | None) -> bool:
        return row is not None and "nl" in row and "code" in row and "concode_field_sep" in str(row.get("nl"))

    def documents(self, splits: dict[str, list], lang: str | None = None) -> list[dict]:
        """The code of each example (the targets; the inputs are text)."""
        return [{"split": split, "id": r["id"], "code": r["target"], "target": r["source"],
                 "lang": lang or self.card.lang or None, "origin": r.get("__origin")}
                for split in ("train", "valid", "test") for r in splits[split]]

    def baseline_predictions(self, splits: dict[str, list[dict]], rows: list[dict]) -> dict[str, list[str]]:
        common = Counter(r["target"] for r in splits["train"]).most_common(1)[0][0]
        return {"most_frequent_code": [common] * len(rows)}

    def baselines(self, splits: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
        """The most frequent training method, always."""
        out = super().baselines(splits)
        common = Counter(r["target"] for r in splits["train"]).most_common(1)[0][0]
        return {k: {"prediction": common, **v} for k, v in out.items()}
