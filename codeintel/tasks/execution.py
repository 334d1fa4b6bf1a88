"""Execution-based evaluation (HumanEval, MBPP-style files): the model completes each prompt ``eval.n_samples``
times, every completion runs against the problem's tests in the sandbox (:mod:`codeintel.execution.sandbox`), and
pass@k is the unbiased estimator's mean over problems. Evaluation only: ``codeintel evaluate --task humaneval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.data.loaders import LoadReport
from codeintel.tasks.common import Prepared, no_grad
from codeintel.tasks.protocol import TaskType


class ExecutionTask(TaskType):
    """Prompt -> code completions, scored by running the problems' tests."""

    name = "execution"
    metrics = ("pass@1", "pass@10", "pass@100")
    variants = {"gpt2": "causal-lm", "t5": "encoder-decoder"}
    data_format = "HumanEval jsonl (task_id, prompt, entry_point, test) or MBPP jsonl (text, code, test_list); " \
                  "default: the 164 HumanEval problems"
    generates, sharded, trainable = True, False, False

    def configure(self, cfg) -> None:
        e = cfg.eval
        self.n, self.temperature, self.top_p = e.n_samples, e.temperature, e.top_p
        self.ks = sorted({int(k) for k in str(e.pass_k).split(",")})
        self.max_new_tokens = self.target_len
        self.canonical, self.workers, self.unsafe = e.check_canonical, e.workers, e.unsafe_execution
        from codeintel.execution.sandbox import Limits

        self.limits = Limits(timeout=e.timeout, cpu=max(1, int(np.ceil(e.timeout))), memory_mb=e.memory_mb)
        self._done: tuple[int, dict, list] | None = None

    def load(self, paths: list[str], skip_bad: bool, report: LoadReport) -> dict[str, list]:
        from codeintel.errors import DataError
        from codeintel.execution.problems import load_problems

        if len(paths) > 1:
            raise DataError(f"execution tasks read one problem file (HumanEval or MBPP jsonl); got {len(paths)}.")
        problems = load_problems(paths[0] if paths else self.card.data)
        if self.canonical:
            missing = [p.task_id for p in problems if not p.canonical]
            if missing:
                raise DataError(f"eval.check_canonical=true: {len(missing)} problem(s) have no reference solution "
                                f"(canonical_solution / code), e.g. {missing[0]}.")
        return {"train": [], "valid": [], "test": problems}

    def documents(self, splits: dict[str, list], lang: str | None = None) -> list[dict]:
        return [{"split": "test", "id": p.task_id, "code": p.prompt + p.canonical, "target": None, "lang": "python",
                 "origin": None} for p in splits["test"]]

    # ---- generation
    def prepare(self, rows: list) -> Prepared:
        """Each prompt's last ``source_len`` tokens, with the tokenizer's special tokens (T5 ends its input with
        ``</s>``; a causal LM's trailing end-of-text is dropped when it generates, :meth:`_no_eos`)."""
        ids = [self.tok(p.prompt)["input_ids"][-self.source_len:] for p in rows]
        return Prepared(ids, np.array([len(x) for x in ids]), rows)

    @no_grad
    def predict(self, model, prepared: Prepared, batch_size: int = 32, progress: bool = False, **_) -> list[list[str]]:
        """``eval.n_samples`` completions per problem (greedy when 1), cut at HumanEval's stop sequences; the
        reference solutions instead with ``eval.check_canonical``."""
        problems = prepared.rows
        if self.canonical:
            return [[p.canonical] for p in problems]
        import torch
        from transformers.generation.stopping_criteria import StopStringCriteria

        from codeintel.execution.problems import STOP, truncate
        from codeintel.progress import progress as progress_bar
        from codeintel.tasks.common import pad
        from codeintel.tasks.decoding import decode

        model.eval()
        device = next(model.parameters()).device
        seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        order = np.argsort([-len(x) for x in prepared.items], kind="stable")
        per_batch = max(1, batch_size // self.n)
        out: list[list[str]] = [[] for _ in problems]
        sample = self.n > 1
        stop = StopStringCriteria(self.tok, list(STOP))
        for start in progress_bar(range(0, len(order), per_batch), desc="generate", unit="batch", enabled=progress,
                                  leave=False):
            idx = order[start : start + per_batch].tolist()
            seqs = [prepared.items[i] if seq2seq else self._no_eos(prepared.items[i]) for i in idx]
            if not seq2seq:                             # prompt + completion must fit the model's positions
                limit = getattr(model.config, "n_positions", None) or getattr(model.config,
                                                                              "max_position_embeddings", None)
                if limit:
                    keep = max(1, limit - self.max_new_tokens)
                    seqs = [s[-keep:] for s in seqs]
            if seq2seq:
                ids, mask = pad(seqs, pad_id)
            else:                                       # left padding: every prompt ends where generation starts
                longest = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), longest), pad_id, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for r, s in enumerate(seqs):
                    ids[r, longest - len(s):] = torch.tensor(s, dtype=torch.long)
                    mask[r, longest - len(s):] = 1
            ids, mask = ids.to(device), mask.to(device)
            # the prompt encoded once for its n samples, a row leaving the batch at EOS or a stop sequence
            gen = decode(model, ids, mask, self.max_new_tokens, n=self.n, sample=sample,
                         temperature=self.temperature, top_p=self.top_p, stop=stop, pad_token_id=pad_id)
            if gen is None:
                gen = model.generate(input_ids=ids, attention_mask=mask,
                                     max_new_tokens=self.max_new_tokens, do_sample=sample,
                                     num_return_sequences=self.n, pad_token_id=pad_id,
                                     **({"temperature": self.temperature, "top_p": self.top_p} if sample else {}),
                                     # transformers 4.57 hands the tokenizer on to an encoder-decoder's forward:
                                     # stop strings for causal LMs only
                                     **({} if seq2seq else {"stop_strings": list(STOP), "tokenizer": self.tok}))
            new = gen if seq2seq else gen[:, ids.shape[1]:]
            texts = self.tok.batch_decode(new, skip_special_tokens=True)
            for j, i in enumerate(idx):
                out[i] = [truncate(t) for t in texts[j * self.n : (j + 1) * self.n]]
        return out

    def _no_eos(self, ids: list[int]) -> list[int]:
        eos = self.tok.eos_token_id
        return ids[:-1] if ids and ids[-1] == eos and len(ids) > 1 else ids

    # ---- running and scoring
    def run(self, completions: list[list[str]], problems: list) -> tuple[dict, list]:
        """Every completion run in the sandbox once per prediction list (the summary and the results)."""
        if self._done is not None and self._done[0] == id(completions):
            return self._done[1], self._done[2]
        from codeintel.execution.problems import execute, summarise
        from codeintel.execution.sandbox import require

        mode = require(self.unsafe)
        jobs = [(i, p.program(c)) for i, (p, cs) in enumerate(zip(problems, completions, strict=True)) for c in cs]
        flat = execute(jobs, self.limits, mode, self.workers)
        results, pos = [], 0
        for cs in completions:
            results.append(flat[pos : pos + len(cs)])
            pos += len(cs)
        summary = summarise(problems, results, self.ks)
        from codeintel.execution.sandbox import interpreter

        summary["sandbox"] = {"mode": mode, "python": interpreter() if mode == "bwrap" else sys.executable}
        self._done = (id(completions), summary, results)
        return summary, results

    def score(self, completions: list[list[str]], problems: list) -> dict[str, Any]:
        summary, _ = self.run(completions, problems)
        return {**summary["scores"], "n_samples": min((len(c) for c in completions), default=0),
                "sandbox": summary["sandbox"]["mode"], "python": summary["sandbox"]["python"]}

    def per_example(self, completions: list[list[str]], problems: list):
        from codeintel.eval.resample import Decomposed

        summary, _ = self.run(completions, problems)
        rows = summary["per_problem"]
        return [r["task_id"] for r in rows], {m: Decomposed("mean", [r[m] for r in rows])
                                              for m in summary["scores"]}

    def baselines(self, splits: dict[str, list]) -> dict[str, dict[str, float]]:
        return {}

    def write_predictions(self, out_dir: Path, completions: list[list[str]], problems: list) -> None:
        """``samples.jsonl`` (one line per sample: completion, status, the last line of its error),
        ``problems.jsonl`` (per problem: samples, passed, pass@k) and ``pass_at_k.png``."""
        from codeintel.execution.problems import pass_at_k, write_samples

        summary, results = self.run(completions, problems)
        write_samples(out_dir / "samples.jsonl", problems, completions, results)
        with (out_dir / "problems.jsonl").open("w") as fh:
            for row in summary["per_problem"]:
                fh.write(json.dumps(row) + "\n")
        n = min((len(c) for c in completions), default=0)
        if n:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from codeintel.io import save_figure

            ks = list(range(1, n + 1))
            values = [float(np.mean([pass_at_k(r["n"], r["passed"], k) for r in summary["per_problem"]]))
                      for k in ks]
            fig, ax = plt.subplots(figsize=(5, 3.5))
            ax.plot(ks, values, marker="o")
            ax.set_xscale("log" if n > 10 else "linear")
            ax.set_xlabel("k")
            ax.set_ylabel("pass@k")
            ax.set_ylim(0, 1)
            ax.set_title(f"{self.card.name}: {len(problems)} problems, {n} samples each")
            ax.grid(alpha=0.3)
            save_figure(fig, out_dir / "pass_at_k.png")
            plt.close(fig)
