"""The commands that use a trained model or score its output (``predict``, ``index``, ``search``, ``clones``,
``serve``, ``score``, ``compare``, ``report``) against bad input, one row each: exit 2, one ``error:`` line, no
traceback, nothing new or changed where they write (``refused``)."""

import pytest


@pytest.fixture
def paths(hostile_inputs, live_lock):
    t = hostile_inputs["t"]
    (t / "a.py").write_text("def f(a):\n    return a\n")
    (t / "h.txt").write_text("int x ;\n")
    (t / "r.txt").write_text("int x ;\n")
    (t / "taken.jsonl").write_text("mine\n")
    (t / "old-index").mkdir()
    (t / "index").mkdir()
    for f in ("functions.jsonl", "vectors.npy", "ann.faiss", "index.json"):
        (t / "index" / f).write_text("")
    live_lock(t / "index", beside=True)
    live_lock(t / "busy-index", beside=True)
    (t / "A").mkdir()
    (t / "B").mkdir()
    return hostile_inputs


PREDICT = ["predict", "--model", "{ck}", "{t}/a.py", "{t}/a.py"]
SCORE = ["score", "--hyp", "{t}/h.txt", "--refs", "{t}/r.txt"]
CASES = {
    "predict: --format xml": ([*PREDICT, "--format", "xml"], "--format must be jsonl or npy, got 'xml'"),
    "predict: --batch-size 0": ([*PREDICT, "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    "predict: --out with a trailing slash": ([*PREDICT, "--out", "{t}/x/"], "--out <tmp>/x/ names a directory"),
    "predict: --out inside a checkpoint": ([*PREDICT, "--out", "{R}/best/p.jsonl"],
                                           "is inside <tmp>/R/checkpoints/best-000001"),
    "predict: --out exists": ([*PREDICT, "--out", "{t}/taken.jsonl"], "already exists; pass --overwrite"),
    "index build: --out inside a checkpoint": (["index", "build", "{t}/a.py", "--model", "{ck}", "--out",
                                                "{R}/best/idx"], "is inside <tmp>/R/checkpoints/best-000001"),
    "index build: --out two levels inside": (["index", "build", "{t}/a.py", "--model", "{ck}", "--out",
                                              "{R}/best/a/idx"], "is inside <tmp>/R/checkpoints/best-000001"),
    "index build: --out exists": (["index", "build", "{t}/a.py", "--model", "{ck}", "--out", "{t}/old-index"],
                                  "an index is built into a new directory"),
    "index build: --out being built by another command": (["index", "build", "{t}/a.py", "--model", "{ck}", "--out",
                                                           "{t}/busy-index"], "being written by another codeintel"),
    "index update: not an index": (["index", "update", "{t}/old-index"], "is not a codeintel index"),
    "index update: being updated by another command": (["index", "update", "{t}/index"],
                                                       "index <tmp>/index is being written by another codeintel"),
    "search: -k 0": (["search", "{t}/index", "q", "-k", "0"], "-k must be >= 1, got 0"),
    "serve: --port -1": (["serve", "--model", "{ck}", "--port", "-1"], "--port must be in 0-65535, got -1"),
    "serve: --port 70000": (["serve", "--model", "{ck}", "--port", "70000"], "--port must be in 0-65535"),
    "serve: --timeout nan": (["serve", "--model", "{ck}", "--timeout", "nan"], "--timeout must be a finite number"),
    "serve: --timeout 0": (["serve", "--model", "{ck}", "--timeout", "0"], "--timeout must be a positive number"),
    "serve: --max-body 0": (["serve", "--model", "{ck}", "--max-body", "0"], "--max-body must be at least 1 byte"),
    "score: --weights not numbers": ([*SCORE, "--weights", "a,b"],
                                     "four numbers separated by commas"),
    "score: --weights nan": ([*SCORE, "--weights", "nan,1,1,1"],
                             "finite numbers >= 0"),
    "score: --weights all 0": ([*SCORE, "--weights", "0,0,0,0"],
                               "not all 0"),
    "score: --weights three": ([*SCORE, "--weights", "1,1,1"],
                               "CodeBLEU takes four weights"),
    "score: --metrics foo": ([*SCORE, "--metrics", "foo"],
                             "--metrics: foo; choose from codebleu, bleu, xmatch"),
    "score: --lang cobol": ([*SCORE, "--lang", "cobol"],
                            "unknown language 'cobol'"),
    "score: --hyp a directory": (["score", "--hyp", "{t}", "--refs", "{t}/r.txt"], "is a directory"),
    "score: --hyp /dev/null": (["score", "--hyp", "/dev/null", "--refs", "{t}/r.txt"], "is not a regular file"),
    "compare: --resamples 0": (["compare", "{t}/A", "{t}/B", "--resamples", "0"], "must be at least 100"),
    "compare: --confidence 2": (["compare", "{t}/A", "{t}/B", "--confidence", "2"], "--confidence must be in [0.5, 1)"),
    "compare: --seed -1": (["compare", "{t}/A", "{t}/B", "--seed=-1"], "--seed must be in [0, 2^32)"),
    "compare: a run without predictions": (["compare", "{t}/A", "{t}/B"], "<tmp>/A holds no per_example.json"),
    "report: --trials 0": (["report", "{t}/A", "--trials", "0"], "--trials must be at least 100"),
    "report: --seed -1": (["report", "{t}/A", "--seed=-1"], "--seed must be in [0, 2^32)"),
    "report: a directory without results": (["report", "{t}/A"], "<tmp>/A holds no metrics.json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_model_use_and_scoring_commands_refuse(case, paths, refused):
    argv, expected = CASES[case]
    refused(argv, expected, paths)
