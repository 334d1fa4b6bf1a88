"""Trainer-style controls of `codeintel train`: train.batch_size, eval_steps, logging_steps and
metric_for_best_model behave as their Hugging Face namesakes say."""

import json
import re

from codeintel.cli import main


def _data(tmp_path, n=100):
    rows = [{"id": f"r{i}", "code": f"def get_{i}(self):\n    return self._v{i % 7}" + " + 1" * (i % 9),
             "summary": f"Return the value {i % 7}."} for i in range(n)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_logging_batch_size_and_selection_metric(tmp_path, capsys):
    data = _data(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--model", "tiny-codet5", "--data", str(data), "--out", str(run), "train.max_steps=12",
                 "train.eval_steps=5", "train.logging_steps=4", "train.batch_size=8",
                 "train.metric_for_best_model=rouge_l", "train.lr=3e-3", "source_len=32", "target_len=8",
                 "data.max_eval_examples=8", "--no-progress"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    n_train = metrics["train"]["examples"]
    # exactly 8 examples per batch (the token budget out of play): ceil(n / 8) steps an epoch
    assert f"steps: 12 ({-(-n_train // 8)}/epoch)" in out and "selection: dev rouge_l" in out
    assert [h["step"] for h in metrics["history"]] == [0, 5, 10, 12]               # eval_steps, and the last
    assert re.findall(r"step +(\d+)  train loss=", out) == ["4", "8", "12"]        # logging_steps
    best = max(metrics["history"], key=lambda h: h["rouge_l"])                      # the first best wins ties
    assert metrics["dev_best"] == {"rouge_l": best["rouge_l"], "step": best["step"]}
    assert json.loads((run / "best" / "codeintel.json").read_text())["step"] == best["step"]


def test_a_selection_metric_the_task_does_not_have_is_refused_before_any_work(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "tiny-codet5", "--data", str(_data(tmp_path)), "--out", str(run),
                 "train.metric_for_best_model=mrr", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "smoothed_bleu, rouge_l, exact_match" in err and "Traceback" not in err
    assert not run.exists()


def test_ranking_metrics_say_dev_and_test_rank_among_different_counts(tmp_path, capsys):
    rows = [{"code": f"def f{i}(x):\n    return x * {i}", "docstring": f"Multiply by {i}."} for i in range(120)]
    data = tmp_path / "s.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["train", "--model", "tiny-codebert", "--task", "code-search", "--data", str(data), "--out",
                 str(tmp_path / "run"), "train.max_steps=1", "data.max_eval_examples=4", "--no-progress"]) == 0
    assert "note: dev mrr ranks each example among the 4 dev examples scored" in capsys.readouterr().out
