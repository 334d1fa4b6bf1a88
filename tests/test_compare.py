"""Per-example statistics that recompute every corpus metric exactly, paired bootstrap intervals and approximate
randomization on them (codeintel.eval.resample), and `codeintel compare` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from codeintel.cli import main
from codeintel.eval import bleu, metrics
from codeintel.eval.resample import Decomposed, approximate_randomization, paired_bootstrap

PREDS = ["return the name .", "set the size", "return the value of x", "", "get the path"]
REFS = ["return the name .", "set the new size", "return the value", "return nothing", "get the file path"]


def _bleu(preds, refs) -> Decomposed:
    return Decomposed("bleu", [bleu.bleu_stats(p, r) for p, r in zip(preds, refs, strict=True)])


def test_each_kind_recomputes_the_harness_metric_exactly():
    assert Decomposed("mean", metrics.exact_match_scores(PREDS, REFS), 100.0).value() == \
        pytest.approx(metrics.exact_match(PREDS, REFS), abs=1e-12) == 20.0
    assert Decomposed("mean", metrics.rouge_l_scores(PREDS, REFS), 100.0).value() == \
        pytest.approx(metrics.rouge_l(PREDS, REFS), abs=1e-12)
    assert Decomposed("mean", list(bleu.smoothed_bleu_scores(PREDS, REFS).values()), 100.0).value() == \
        pytest.approx(bleu.smoothed_bleu(PREDS, REFS), abs=1e-12)
    assert _bleu(PREDS, REFS).value() == pytest.approx(bleu.corpus_bleu(PREDS, REFS), abs=1e-12)
    pred, gold = [1, 1, 0, 1, 0, 0, 1], [1, 0, 0, 1, 1, 0, 1]
    tp_fp_fn = [[p & g, p & (1 - g), (1 - p) & g] for p, g in zip(pred, gold, strict=True)]
    prf = metrics.precision_recall_f1(pred, gold)
    for m in ("f1", "precision", "recall"):
        assert Decomposed(m, tp_fp_fn).value() == pytest.approx(prf[m], abs=1e-12)
    assert prf["f1"] == 0.75                                                  # tp 3, fp 1, fn 1: 6 / 8
    nll, lex = [10.0, 4.0, 7.5], [5, 2, 6]
    assert Decomposed("exp_ratio", np.stack([nll, lex], 1)).value() == \
        pytest.approx(metrics.normalized_perplexity(sum(nll), sum(lex)), rel=1e-12)
    answers = {"0": ["1", "2"], "1": ["0", "2"], "2": ["0", "1"]}
    ranked = {"0": ["1", "3"], "1": ["3", "0"], "2": ["1", "0"]}
    ap = metrics.average_precisions(ranked, answers)
    assert ap == {"0": 0.5, "1": 0.25, "2": 1.0}                              # worked by hand
    assert Decomposed("mean", list(ap.values()), digits=4).value() == metrics.map_at_r(ranked, answers) == 0.5833


def test_macro_f1_of_programs_is_the_ner_score_and_resamples_whole_programs():
    from codeintel.recipes.ner import per_example, scores

    # three programs, labels 0..2; label 2 never occurs in gold: it does not count in the macro average
    items = [(np.array([0, 0, 1]), np.array([0, 1, 1])), (np.array([1, 1]), np.array([1, 2])),
             (np.array([0]), np.array([0]))]
    gold, pred = np.concatenate([g for g, _ in items]), np.concatenate([p for _, p in items])
    # label 0: tp 2, predicted 2, gold 3 -> P 1, R 2/3, F1 0.8; label 1: tp 2, predicted 3, gold 3 -> F1 2/3
    assert scores(gold, pred)["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    got = per_example(items, 3)
    assert got["macro_f1"].value() == pytest.approx(scores(gold, pred)["macro_f1"], abs=1e-12)
    assert got["accuracy"].value() == pytest.approx(scores(gold, pred)["accuracy"], abs=1e-12) == 4 / 6
    w = np.array([2.0, 0.0, 1.0])                    # a resample: program 0 twice, program 2 once
    rep = [items[0], items[0], items[2]]
    want = scores(np.concatenate([g for g, _ in rep]), np.concatenate([p for _, p in rep]))["macro_f1"]
    assert got["macro_f1"].from_sums(w[None, :] @ got["macro_f1"].stats, np.array([3.0]))[0] == \
        pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("kind", ["bleu", "f1", "mean"])
def test_a_resample_is_the_metric_of_the_repeated_examples(kind):
    """Weights w (a bootstrap resample) give exactly the metric of the list with example i repeated w_i times."""
    rng = np.random.default_rng(3)
    n = 5
    for _ in range(20):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        rep = [i for i in range(n) for _ in range(w[i])]
        if kind == "bleu":
            d, want = _bleu(PREDS, REFS), bleu.corpus_bleu([PREDS[i] for i in rep], [REFS[i] for i in rep])
        elif kind == "f1":
            pred, gold = [1, 1, 0, 1, 0], [1, 0, 1, 1, 0]
            d = Decomposed("f1", [[p & g, p & (1 - g), (1 - p) & g] for p, g in zip(pred, gold, strict=True)])
            want = metrics.precision_recall_f1([pred[i] for i in rep], [gold[i] for i in rep])["f1"]
        else:
            d = Decomposed("mean", metrics.rouge_l_scores(PREDS, REFS), 100.0)
            want = metrics.rouge_l([PREDS[i] for i in rep], [REFS[i] for i in rep])
        got = d.from_sums(w[None, :].astype(float) @ d.stats, np.array([float(n)]))[0]
        assert got == pytest.approx(want, abs=1e-9)


def test_identical_systems_differ_by_zero_with_p_one():
    d = _bleu(PREDS, REFS)
    boot = paired_bootstrap(d, d, resamples=500)
    assert (boot["diff"], boot["low"], boot["high"]) == (0.0, 0.0, 0.0)
    assert approximate_randomization(d, d, trials=500) == 1.0


def test_intervals_cover_the_true_difference_and_p_is_small_for_a_large_one():
    """200 simulated test sets of 300 examples, accuracy 0.70 vs 0.62 (per-example correctness correlated, as two
    models on one test set are): the 95 % interval covers the true difference 0.08 in 88-99 % of them (the
    binomial spread of 200 draws around 95 % is about ±3 %, and percentile intervals run slightly narrow)."""
    rng = np.random.default_rng(0)
    covered, n = 0, 300
    for t in range(200):
        hard = rng.random(n)                                             # a shared difficulty per example
        a = (hard < 0.62).astype(float)
        b = np.where(hard < 0.62, 1.0, (hard < 0.70).astype(float))        # B right wherever A is, and more
        flip = rng.random(n) < 0.2                                       # plus independent noise on both
        a = np.where(flip, (rng.random(n) < 0.62).astype(float), a)
        b = np.where(flip, (rng.random(n) < 0.70).astype(float), b)
        boot = paired_bootstrap(Decomposed("mean", a), Decomposed("mean", b), resamples=1000, seed=t)
        covered += boot["low"] <= 0.08 <= boot["high"]
    assert 0.88 * 200 <= covered <= 0.99 * 200
    a, b = Decomposed("mean", np.r_[np.ones(150), np.zeros(150)]), Decomposed("mean", np.ones(300))
    assert approximate_randomization(a, b, trials=2000) < 0.001
    same = Decomposed("mean", (np.arange(300) % 2).astype(float))
    other = Decomposed("mean", ((np.arange(300) + 1) % 2).astype(float))   # as good, on other examples
    assert approximate_randomization(same, other, trials=2000) > 0.5


def test_corpus_bleu_bootstrap_agrees_with_sacrebleu_paired_bootstrap():
    """Both tools on the same whitespace-tokenised sentences: the same BLEU of each system, interval widths
    within resampling noise, and the same verdict (significant or not)."""
    sacrebleu = pytest.importorskip("sacrebleu")
    from sacrebleu.significance import PairedTest

    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(30)]
    refs = [" ".join(rng.choice(vocab, rng.integers(6, 14))) for _ in range(400)]

    def noisy(p: float) -> list[str]:
        return [" ".join(t if rng.random() > p else rng.choice(vocab) for t in r.split()) for r in refs]

    sys_a, sys_b = noisy(0.5), noisy(0.3)
    ours_a, ours_b = _bleu(sys_a, refs), _bleu(sys_b, refs)
    metric = sacrebleu.BLEU(tokenize="none", smooth_method="none")
    assert ours_a.value() == pytest.approx(metric.corpus_score(sys_a, [refs]).score, abs=1e-9)
    test = PairedTest([("a", sys_a), ("b", sys_b)], {"BLEU": metric}, references=[refs], test_type="bs",
                      n_samples=1000)
    _, scores = test()
    theirs = scores["BLEU"][1]                                            # system b against baseline a
    boot = paired_bootstrap(ours_a, ours_b, resamples=1000, seed=0)
    half = (boot["b_high"] - boot["b_low"]) / 2
    assert half == pytest.approx(theirs.ci, rel=0.2)
    assert theirs.p_value < 0.05 and approximate_randomization(ours_a, ours_b, trials=1000) < 0.05
    assert boot["low"] > 0


def _train(tmp_path, name: str, seed: int, data) -> str:
    out = tmp_path / name
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "train.max_steps=12",
                 "train.batch_tokens=2048", "source_len=48", "target_len=12", "train.lr=3e-3",
                 "data.max_eval_examples=16", f"train.seed={seed}"]) == 0
    return str(out)


def test_compare_two_runs_end_to_end(tmp_path, capsys):
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner", "label", "limit"]
    rows = [{"id": f"r{i}", "code": f"def get_{w}(self):\n    return self._{w}", "summary": f"Return the {w}."}
            for i, w in enumerate(words * 10)]
    data = tmp_path / "sum.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    a, b = _train(tmp_path, "a", 1, data), _train(tmp_path, "b", 2, data)
    capsys.readouterr()
    for run in (a, b):                               # the statistics recompute the run's own test scores
        for scored, key in ((tmp_path / run, "test"), (tmp_path / run / "untrained", "scores")):
            per = json.loads((scored / "per_example.json").read_text())
            test = json.loads((scored / "metrics.json").read_text())[key]
            for m, d in per["metrics"].items():
                assert Decomposed.from_json(d).value() == pytest.approx(test[m], abs=1e-9)
        metrics_json = json.loads((tmp_path / run / "metrics.json").read_text())
        assert metrics_json["untrained_test"] == json.loads((tmp_path / run / "untrained" / "metrics.json")
                                                            .read_text())["scores"]
        assert 1 <= metrics_json["sanity"]["distinct_predictions"] <= 100
    assert main(["compare", a, b, "--resamples", "300", "--trials", "300", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["metric"] for r in result["rows"]] == ["smoothed_bleu", "rouge_l", "exact_match"]
    for r in result["rows"]:
        test_a = json.loads((tmp_path / "a" / "metrics.json").read_text())["test"][r["metric"]]
        assert r["a"] == pytest.approx(test_a) and r["low"] <= r["diff"] <= r["high"] and 0 < r["p"] <= 1
    assert main(["compare", a, a, "--resamples", "200", "--trials", "200"]) == 0
    table = capsys.readouterr().out
    assert "+0.0000" in table and "[+0.0000, +0.0000]" in table and "1.0000" in table
    plot = tmp_path / "diff.png"
    assert main(["compare", a, b, "--resamples", "200", "--trials", "200", "--format", "latex", "--plot",
                 str(plot)]) == 0
    assert r"\begin{tabular}" in capsys.readouterr().out and plot.read_bytes()[:4] == b"\x89PNG"
    # a run on other test examples is refused, naming the difference; nothing written
    per = json.loads((tmp_path / "b" / "per_example.json").read_text())
    per["ids"][0] = "someone-else"
    (tmp_path / "other.json").write_text(json.dumps(per))
    assert main(["compare", a, str(tmp_path / "other.json"), "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "different test examples" in err and "someone-else" in err
    assert not (tmp_path / "x.png").exists()
    per["ids"][0], per["task"] = json.loads((tmp_path / "b" / "per_example.json").read_text())["ids"][0], "poj104"
    (tmp_path / "other.json").write_text(json.dumps(per))
    assert main(["compare", a, str(tmp_path / "other.json")]) == 2
    assert "task" in capsys.readouterr().err
    assert main(["compare", a]) == 2 and "at least two" in capsys.readouterr().err
    assert main(["compare", a, str(tmp_path / "nothing")]) == 2 and "does not exist" in capsys.readouterr().err
    assert math.isfinite(result["rows"][0]["p"])


def _seed_args(data, out, *extra) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--no-progress", "train.max_steps=6",
            "train.batch_tokens=2048", "source_len=48", "target_len=12", "train.lr=3e-3", "data.max_eval_examples=8",
            *extra]


def test_train_seeds_writes_a_summary_continues_and_feeds_compare_and_report(tmp_path, capsys):
    from scipy import stats

    words = ["name", "size", "color", "value", "path", "mode", "count", "owner"]
    rows = [{"id": f"r{i}", "code": f"def get_{w}(self):\n    return self._{w}", "summary": f"Return the {w}."}
            for i, w in enumerate(words * 8)]
    data = tmp_path / "sum.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ms = tmp_path / "ms"
    assert main([*_seed_args(data, ms), "--seeds", "1,2"]) == 0
    summary = json.loads((ms / "summary.json").read_text())
    per_seed = {s: json.loads((ms / f"seed-{s}" / "metrics.json").read_text())["test"] for s in (1, 2)}
    assert summary["seeds"] == [1, 2] and (ms / "summary.md").read_text().startswith("# summarization")
    for m, v in summary["metrics"].items():
        values = np.array([per_seed[1][m], per_seed[2][m]])
        half = stats.t.ppf(0.975, 1) * values.std(ddof=1) / math.sqrt(2)
        assert v["mean"] == pytest.approx(values.mean()) and v["std"] == pytest.approx(values.std(ddof=1))
        assert v["ci95"] == pytest.approx([values.mean() - half, values.mean() + half])
    import yaml

    assert yaml.safe_load((ms / "seed-2" / "config.yaml").read_text())["train"]["seed"] == 2
    stamp = (ms / "seed-1" / "metrics.json").stat().st_mtime_ns
    (ms / "seed-3").mkdir()                                       # a seed killed before its first state
    (ms / "seed-3" / "config.yaml").write_text("model: tiny-codet5\n")
    capsys.readouterr()
    assert main([*_seed_args(data, ms), "--seeds", "1-3"]) == 0     # the same command again: continues
    out = capsys.readouterr().out
    assert "seed 1: finished before" in out and "seed 2: finished before" in out and "moved it to" in out
    assert (ms / "seed-1" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((ms / "summary.json").read_text())["seeds"] == [1, 2, 3]
    assert len(list(tmp_path.glob("ms/seed-3.replaced-*"))) == 1
    assert main([*_seed_args(data, ms, "train.lr=1e-3"), "--seeds", "1,2"]) == 2      # another configuration
    assert "another configuration" in capsys.readouterr().err
    assert main([*_seed_args(data, tmp_path / "x", "train.seed=3"), "--seeds", "1,2"]) == 2
    assert "drop train.seed" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # several seeds a side: the same seeds against themselves differ by 0 with p = 1
    assert main(["compare", str(ms), str(ms), "--resamples", "200", "--trials", "200", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [3, 3] and all(r["diff"] == 0 and r["p"] == 1.0 for r in result["rows"])
    assert main(["compare", str(ms), str(ms / "seed-1")]) == 2
    assert "same number of seeds" in capsys.readouterr().err
    # the same seeds in separate processes, two at a time: the same runs, to the last digit
    par = tmp_path / "par"
    assert main([*_seed_args(data, par), "--seeds", "1,2", "--seed-jobs", "2"]) == 0
    assert "started in process" in capsys.readouterr().out
    for s in (1, 2):
        assert json.loads((par / f"seed-{s}" / "metrics.json").read_text())["test"] == per_seed[s]
        assert (par / f"seed-{s}.log").read_text().strip()
    assert main([*_seed_args(data, tmp_path / "y"), "--seed-jobs", "2"]) == 2
    assert "needs --seeds" in capsys.readouterr().err
    # a leaderboard over two tasks
    cs = tmp_path / "cs"
    assert main(["train", "--task", "code-search", "--out", str(cs), "--no-progress", "train.max_steps=4",
                 "data.max_eval_examples=8", "data.max_train_examples=100"]) == 0
    capsys.readouterr()
    assert main(["report", str(ms), str(cs), "--trials", "200"]) == 0
    board = capsys.readouterr().out
    mean = json.loads((ms / "summary.json").read_text())["metrics"]["smoothed_bleu"]
    assert "| model | summarization smoothed_bleu |" in board and "code-search mrr" in board
    assert f"{mean['mean']:.4f} ± {mean['std']:.4f}" in board
    assert main(["report", str(ms), str(cs), "--format", "latex", "--trials", "200"]) == 0
    assert r"\begin{tabular}" in capsys.readouterr().out
    assert main(["report", str(ms), str(ms / "seed-1")]) == 2           # one entry per configuration and task
    assert "give one run" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2 and "does not exist" in capsys.readouterr().err


def _fake_run(path, model: str, correct: np.ndarray) -> str:
    """A finished run's files as train writes them: metrics.json and per_example.json (exact match)."""
    from codeintel.eval.resample import save

    path.mkdir()
    d = Decomposed("mean", correct.astype(float), 100.0)
    (path / "metrics.json").write_text(json.dumps({"task": "summarization", "model": model,
                                                   "test": {"exact_match": d.value()}}))
    save(path / "per_example.json", "summarization", "test", [f"e{i}" for i in range(len(correct))],
         {"exact_match": d})
    return str(path)


def test_report_marks_a_best_only_where_it_is_significant(tmp_path, capsys):
    n = 400
    base = (np.arange(n) % 4 == 0)                                      # 25 %
    far = base | (np.arange(n) % 4 == 1)                                # 50 %: significantly better
    near = base.copy()
    near[[1, 2]] = True                                                 # 25.5 %: not significantly better
    runs = [_fake_run(tmp_path / "a", "model-a", base), _fake_run(tmp_path / "b", "model-b", far)]
    assert main(["report", *runs, "--trials", "500"]) == 0
    board = capsys.readouterr().out
    assert "| model-b | **50.0000** |" in board and "| model-a | 25.0000 |" in board
    runs[1] = _fake_run(tmp_path / "c", "model-c", near)
    assert main(["report", *runs, "--trials", "500"]) == 0
    board = capsys.readouterr().out
    assert "**" not in board and "| model-c | 25.5000 |" in board


def test_sanity_says_when_a_model_is_a_trivial_baseline_and_not_when_it_is_not():
    """The real summarization task type: a model that always writes the most frequent training summary is that
    baseline (difference 0, inside its interval) and made one distinct prediction; a model that writes the
    references is distinguishable from it and from an untrained model."""
    from codeintel.recipes.evaluate import sanity, sanity_lines
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.summarization import SummarizationTask

    task = SummarizationTask(load_task("summarization"), None, 64, 16)
    words = ["name", "size", "color", "value", "path", "mode", "count", "owner"]
    train = [{"id": f"t{i}", "target": "Return the name."} for i in range(5)]
    test = [{"id": f"e{i}", "target": f"Return the {w} of the object {i}."} for i, w in enumerate(words * 10)]
    splits = {"train": train, "valid": [], "test": test}
    lazy = sanity(task, "smoothed_bleu", ["Return the name."] * len(test), test, splits, resamples=500)
    assert lazy["distinct_predictions"] == 1 and list(lazy["indistinguishable_from"]) == ["most_frequent_summary"]
    b = lazy["indistinguishable_from"]["most_frequent_summary"]
    assert (b["diff"], b["low"], b["high"]) == (0.0, 0.0, 0.0)
    lines = sanity_lines(lazy)
    assert len(lines) == 2 and "1 distinct prediction" in lines[0] and "may have learned nothing" in lines[1]
    untrained = task.per_example(["x y z"] * len(test), test)[1]["smoothed_bleu"]
    good = sanity(task, "smoothed_bleu", [r["target"] for r in test], test, splits, untrained, resamples=500)
    assert good["distinct_predictions"] == len(test) and good["indistinguishable_from"] == {}
    assert sanity_lines(good) == []
    same = sanity(task, "smoothed_bleu", ["x y z"] * len(test), test, splits, untrained, resamples=500)
    assert "the untrained model" in same["indistinguishable_from"]


def test_sanity_of_a_binary_classifier_flags_one_label_not_two():
    """Clone detection: predicting both labels is all a classifier can do (not flagged); always 'clone' is the
    always-clone baseline exactly (flagged twice: one label, indistinguishable)."""
    from codeintel.recipes.evaluate import sanity, sanity_lines
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.clone import CloneDetectionTask

    task = CloneDetectionTask(load_task("clone-detection-stdlib"), None, 64)
    pairs = [(f"a{i}", f"b{i}", i % 2) for i in range(200)]
    splits = {"train": pairs, "valid": [], "test": pairs}
    right = sanity(task, "f1", [0.9 if p[2] else 0.1 for p in pairs], pairs, splits, resamples=300)
    assert right["distinct_predictions"] == 2 and not right["few_predictions"] and sanity_lines(right) == []
    always = sanity(task, "f1", [0.99] * len(pairs), pairs, splits, resamples=300)
    assert always["few_predictions"] and list(always["indistinguishable_from"]) == ["always_clone"]
    assert len(sanity_lines(always)) == 2


@pytest.mark.parametrize("command, result_file, score, metric", [
    (["probe", "--layers", "0-1", "--dims", "8", "data.max_train_examples=30", "data.max_eval_examples=10",
      "data.max_test_examples=10", "train.epochs=1"], "probe.json", lambda r: r["best"]["f1"], "best_f1"),
    (["adapters", "train-ner", "--data", "{functions}", "--lang", "python", "train.max_steps=4",
      "train.eval_every=2", "train.batch_size=4", "source_len=64", "data.max_eval_examples=8"], "ner.json",
     lambda r: r["held_out"]["macro_f1"], "macro_f1"),
    (["pretrain", "mlm", "--data", "{functions}", "--lang", "python", "train.max_steps=2", "train.batch_size=4",
      "source_len=64"], "pretrain.json", lambda r: r["final"]["mlm"], "mlm"),
], ids=["probe", "train-ner", "pretrain"])
def test_every_recipe_takes_seeds(command, result_file, score, metric, tmp_path, capsys):
    """--seeds on the recipes other than train: one run per seed with train.seed = s, and their summary."""
    functions = tmp_path / "functions.jsonl"
    functions.write_text("".join(json.dumps({"code": f"def f{i}(a, b):\n    c = a + b * {i}\n    return c - a\n"})
                                 + "\n" for i in range(40)))
    args = [a.format(functions=functions) for a in command]
    out = tmp_path / "seeds"
    assert main([*args, "--no-progress", "--out", str(out), "--seeds", "1,2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    per = [score(json.loads((out / f"seed-{s}" / result_file).read_text())) for s in (1, 2)]
    assert summary["seeds"] == [1, 2] and summary["metrics"][metric]["per_seed"] == {"1": per[0], "2": per[1]}
    assert summary["metrics"][metric]["mean"] == pytest.approx(np.mean(per))
    capsys.readouterr()
    assert main([*args, "--no-progress", "--out", str(out), "--seeds", "1,2"]) == 0      # continues: nothing rerun
    assert capsys.readouterr().out.count("finished before") == 2
    assert main([*args, "--no-progress", "--out", str(tmp_path / "x"), "--seeds", "1,2", "train.seed=5"]) == 2
    assert "drop train.seed" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["report", str(out), "--trials", "100"]) == 0                     # a leaderboard reads it too
    board = capsys.readouterr().out
    m = summary["metrics"][metric]
    assert f"{summary['task']} {metric}" in board and f"{m['mean']:.4f} ± {m['std']:.4f}" in board
