"""Code-to-code, text-to-code and defect detection: the CodeXGLUE metrics on hand-worked cases, the official file
layouts, bad input, and the three task types end to end from the CLI and Python."""

import json
import math

import numpy as np
import pytest

from codeintel.cli import main
from codeintel.data.loaders import load_concode, load_defect, load_parallel
from codeintel.errors import ConfigError, DataError
from codeintel.eval import codebleu as cb
from codeintel.eval.metrics import codexglue_bleu, xmatch
from codeintel.eval.resample import Decomposed


def q(*p):
    """The geometric mean of four precisions (BLEU-4 without brevity penalty)."""
    return math.prod(p) ** 0.25


# ---------------------------------------------------------------- the n-gram parts, by hand
def test_xmatch_is_stripped_line_equality():
    assert xmatch([" a b ", "a  b", "a b"], ["a b", "a b", "a c"]) == pytest.approx(100 / 3)


def test_codexglue_bleu_add_one_smoothing_by_hand():
    # matches 4, 3, 2, 1 of possible 5, 4, 3, 2; smoothed (m + 1) / (p + 1); equal lengths: no penalty
    assert codexglue_bleu(["a b c d e"], ["a b c d f"]) == round(100 * q(5 / 6, 4 / 5, 3 / 4, 2 / 3), 2) == 75.98
    # a prediction of 2 tokens against 4: bp = exp(1 - 4 / 2)
    assert codexglue_bleu(["a b"], ["a b c d"]) == round(100 * q(3 / 3, 2 / 2, 1 / 1, 1 / 1) * math.exp(-1), 2)


def test_codebleu_ngram_is_nltk_bleu_with_method1_by_hand():
    hyp, ref = "a b c d e".split(), "a b c d f".split()
    assert cb.bleu_from(cb.ngram_stats(hyp, [ref])) == pytest.approx(q(4 / 5, 3 / 4, 2 / 3, 1 / 2))
    # an order without matches gets 0.1 / count; a hypothesis shorter than 4 tokens has count 1 at order 4
    hyp, ref = "return x ;".split(), "return y ;".split()
    assert cb.bleu_from(cb.ngram_stats(hyp, [ref])) == pytest.approx(q(2 / 3, 0.1 / 2, 0.1 / 1, 0.1 / 1))
    # no unigram match at all: 0, whatever else
    assert cb.bleu_from(cb.ngram_stats(["z"], [["a"]])) == 0.0
    # several references: the closest length (ties to the shorter) and the largest count clip
    st = cb.ngram_stats("a a b".split(), ["a b".split(), "a a b b".split()])
    assert st[0] == 3 and st[9] == 2          # both a's match (second reference), closest length 2 (tie 2 vs 4)


def test_weighted_ngram_is_a_keyword_weighted_recall_by_hand():
    kw = cb.KEYWORDS["java"]
    assert "return" in kw and "y" not in kw
    # unigrams of the reference: return (1), y (0.2), ; (0.2); return and ; are in the hypothesis
    hyp, ref = "return x ;".split(), "return y ;".split()
    st = cb.weighted_ngram_stats(hyp, [ref], kw)
    assert st[0] == pytest.approx(1.2) and st[4] == pytest.approx(1.4)
    assert cb.bleu_from(st) == pytest.approx(q(1.2 / 1.4, 0.1 / 2, 0.1 / 1, 0.1 / 1))
    # several references: counts are added (not maximised); a reference's weighted total is at least 1
    st = cb.weighted_ngram_stats("a b".split(), ["a b".split(), "a c".split()], kw)
    assert st[:4] == pytest.approx([0.6, 1, 0, 0]) and st[4:8] == pytest.approx([2, 2, 2, 2])
    assert cb.bleu_from(st) == pytest.approx(q(0.6 / 2, 1 / 2, 0.1 / 2, 0.1 / 2))
    # the evaluator's brevity penalty compares the hypothesis length with 2 per example
    assert st[9] == 2
    one = cb.weighted_ngram_stats(["a"], [["a", "b", "c", "d"]], kw)
    assert cb.bleu_from(one) == pytest.approx(math.exp(1 - 2 / 1) * q(0.2 / 1, 0.1 / 3, 0.1 / 2, 0.1 / 1))


# ---------------------------------------------------------------- the structural parts, by hand
def test_comments_are_stripped_with_the_java_rule_in_every_language():
    code = 'a = 1 // c\n/* x */ b = "//no"\n\n# py'
    assert cb.strip_comments(code) == 'a = 1  \n  b = "//no"\n# py'
    assert cb.strip_comments("x = a // b\ny = 1") == "x = a  \ny = 1"      # Python's // cuts its line


def test_syntax_match_counts_reference_subtrees_by_hand():
    ref = "class A { void f() { x = 1; } }"
    hyp = "class A { void f() { } }"
    # reference nodes with children: program, class_declaration, class_body, method_declaration,
    # formal_parameters "()", block, expression_statement, assignment_expression = 8; only the
    # parameter list "(formal_parameters)" is also a subtree of the hypothesis
    assert cb.syntax_stats(hyp, [ref], "java") == [1, 8]
    # names and literals are not in the s-expressions: a renamed copy matches every subtree
    assert cb.syntax_stats("class B { void g() { y = 2; } }", [ref], "java") == [8, 8]
    # no clipping: a repeated reference subtree matches every time, though the hypothesis has it once. Reference
    # subtrees: program, method_declaration, block (differ), 2 x (expression_statement, method_invocation,
    # argument_list "()"), formal_parameters "()", integral_type (the keyword "int" is its child): 8 of 11
    assert cb.syntax_stats("int f() { a(); }", ["int f() { a(); a(); }"], "java") == [8, 11]


def test_data_flow_match_normalises_names_by_hand():
    ref = "int f(int a){int b = a + 1; return b;}"
    # ref: a@4 def; b@8 <- a@10, 1@12; a@10 <- a@4; 1@12; b@15 <- b@8 -> names a=var_0, 1=var_1, b=var_2
    assert cb.data_flow(ref, "java") == [("var_0", "comesFrom", []), ("var_2", "comesFrom", ["var_0", "var_1"]),
                                         ("var_0", "comesFrom", ["var_0"]), ("var_1", "comesFrom", []),
                                         ("var_2", "comesFrom", ["var_2"])]
    # the hypothesis returns a instead of b: 4 of the 5 reference triples are matched
    assert cb.dataflow_stats("int f(int a){int b = a + 2; return a;}", [ref], "java") == [4, 5]
    # a triple matches once: the reference has (var_0, comesFrom, [var_0]) twice (a = a reads a; return a reads
    # it), plus (var_0, comesFrom, []) and the assignment's computedFrom; the hypothesis has the first and one of the
    # pair: 2 of 4
    assert cb.dataflow_stats("int f(int a){return a;}", ["int f(int a){a = a; return a;}"], "java") == [2, 4]


def test_codebleu_sums_its_weighted_components():
    preds = ["int f(int a){int b = a + 2; return a;}", "return x ;"]
    refs = ["int f(int a){int b = a + 1; return b;}", "return y ;"]
    out = cb.codebleu(preds, refs, "java")
    assert out["codebleu"] == pytest.approx(0.25 * sum(out[c] for c in cb.COMPONENTS))
    out2 = cb.codebleu(preds, refs, "java", weights=(1, 0, 0, 0))
    assert out2["codebleu"] == pytest.approx(out["ngram"])


def test_degenerate_data_flow_and_empty_hypothesis():
    with pytest.warns(cb.CodeBLEUWarning, match="no reference has data flow"):
        out = cb.codebleu(["int Size ( ) { return 5 ; }"], ["int Size ( ) { return 5 ; }"], "java")
    assert out["codebleu"] == pytest.approx(75.0) and out["dataflow"] == 0.0
    out = cb.codebleu([""], ["int f(int a){int b = a + 1; return b;}"], "java")
    assert all(v == 0.0 for v in out.values())


def test_codebleu_languages_and_bad_input():
    for lang in ("java", "c_sharp", "python", "javascript", "php", "go", "ruby", "c", "cpp"):
        out = cb.codebleu(["x = 1"], ["x = 1"], lang)
        assert out["ngram"] == pytest.approx(100 * q(1, 1, 1, 0.1)), lang      # 3 tokens: no 4-gram
    with pytest.raises(ConfigError, match="keyword list"):
        cb.codebleu(["x"], ["x"], "fortran")
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        cb.codebleu(["a", "b"], ["a"], "java")


def test_per_example_statistics_give_the_corpus_scores():
    preds = ["int f(int a){int b = a + 2; return a;}", "return x ;", "", "a b c d e f g"]
    refs = ["int f(int a){int b = a + 1; return b;}", "return y ;", "int g() { }", "a b c d e f h"]
    st = cb.codebleu_stats(preds, refs, "java")
    parts = st.components()
    assert Decomposed("nltk_bleu", st.ngram).value() == pytest.approx(parts["ngram"])
    assert Decomposed("nltk_bleu", st.weighted_ngram).value() == pytest.approx(parts["weighted_ngram"])
    assert Decomposed("ratio", st.syntax, 100.0).value() == pytest.approx(parts["syntax"])
    assert Decomposed("ratio", st.dataflow, 100.0).value() == pytest.approx(parts["dataflow"])
    combined = np.concatenate([np.asarray(x, dtype=float) for x in (st.ngram, st.weighted_ngram, st.syntax,
                                                                    st.dataflow)], axis=1)
    assert Decomposed("codebleu", combined).value() == pytest.approx(parts["codebleu"])
    saved = json.dumps(Decomposed("codebleu", combined, weights=(1, 0, 0, 0)).to_json())
    back = Decomposed.from_json(json.loads(saved))           # the weights travel with the statistics
    assert back.value() == pytest.approx(parts["ngram"])
    from codeintel.eval.bleu import bleu_stats

    d = Decomposed("bleu_smooth", [bleu_stats(p, r) for p, r in zip(preds, refs, strict=True)], digits=2)
    assert d.value() == codexglue_bleu(preds, refs)


def test_the_codebleu_package_agrees_where_it_is_installed():
    """Cross-check against the unofficial ``codebleu`` package (it needs an older tree-sitter; skipped here)."""
    pkg = pytest.importorskip("codebleu")
    preds = ["int f(int a){int b = a + 2; return a;}", "return x ;"]
    refs = ["int f(int a){int b = a + 1; return b;}", "return y ;"]
    theirs = pkg.calc_codebleu(refs, preds, "java")
    ours = cb.codebleu(preds, refs, "java")
    assert ours["ngram"] / 100 == pytest.approx(theirs["ngram_match_score"])
    assert ours["weighted_ngram"] / 100 == pytest.approx(theirs["weighted_ngram_match_score"])


# ---------------------------------------------------------------- file layouts and bad input
def _pairs(d, split, src, tgt, n=3):
    (d / f"{split}.x-y.txt.src").write_text("".join(f"{s}\n" for s in src[:n]))
    (d / f"{split}.x-y.txt.tgt").write_text("".join(f"{t}\n" for t in tgt[:n]))


def test_parallel_files_by_split_and_carving(tmp_path):
    src = [f"int f{i}() {{ return {i}; }}" for i in range(40)]
    tgt = [f"int F{i}() {{ return {i}; }}" for i in range(40)]
    _pairs(tmp_path, "train", src, tgt, 40)
    _pairs(tmp_path, "valid", src, tgt, 5)
    from codeintel.data.loaders import LoadReport

    report = LoadReport()
    splits = load_parallel([str(tmp_path)], ".src", ".tgt", report=report)
    assert len(splits["valid"]) == 5 and splits["test"] and len(splits["train"]) + len(splits["test"]) == 40
    assert "no test file" in report.messages[0]
    assert splits["valid"][0] == {"id": "valid-0", "source": src[0], "target": tgt[0]}
    (tmp_path / "train.x-y.txt.tgt").write_text("only one line\n")
    with pytest.raises(DataError, match="has 40 lines but .* has 1"):
        load_parallel([str(tmp_path)], ".src", ".tgt")
    (tmp_path / "train.x-y.txt.tgt").unlink()
    with pytest.raises(DataError, match="has no partner"):
        load_parallel([str(tmp_path)], ".src", ".tgt")


def test_concode_and_devign_layouts(tmp_path):
    rows = [{"nl": f"return {i} concode_field_sep int x", "code": f"int function ( ) {{ return {i} ; }}"}
            for i in range(30)]
    f = tmp_path / "c.json"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    splits = load_concode([str(f)])
    assert sum(len(v) for v in splits.values()) == 30
    assert {"source", "target", "id"} <= set(splits["train"][0])
    cdir = tmp_path / "concode"
    cdir.mkdir()
    for name, part in (("train", rows[:20]), ("dev", rows[20:25]), ("test", rows[25:])):
        (cdir / f"{name}.json").write_text("".join(json.dumps(r) + "\n" for r in part))
    splits = load_concode([str(cdir)])
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [20, 5, 5]
    assert splits["test"][0]["target"] == rows[25]["code"]

    d = tmp_path / "devign"
    d.mkdir()
    table = [{"project": "p", "commit_id": str(i), "target": i % 2, "func": f"int f{i}(void) {{ return {i}; }}"}
             for i in range(6)]
    (d / "function.json").write_text(json.dumps(table))
    for split, idx in (("train", "0\n1\n2\n"), ("valid", "3\n"), ("test", "4\n5\n")):
        (d / f"{split}.txt").write_text(idx)
    splits = load_defect([str(d)])
    assert [r["id"] for r in splits["test"]] == ["4", "5"] and [r["label"] for r in splits["test"]] == [0, 1]
    (d / "test.txt").write_text("4\n9\n")
    with pytest.raises(DataError, match="'9' names no row of function.json"):
        load_defect([str(d)])
    (d / "test.txt").write_text("4\n")
    table[0]["target"] = 2
    (d / "function.json").write_text(json.dumps(table))
    with pytest.raises(DataError, match="labels are 0 .* or 1"):
        load_defect([str(d)])


def test_bad_input_is_one_error_line(tmp_path, capsys):
    d = tmp_path / "t"
    d.mkdir()
    (d / "train.buggy-fixed.buggy").write_text("a\nb\n")
    (d / "train.buggy-fixed.fixed").write_text("a\n")
    out = tmp_path / "run"
    assert main(["train", "--task", "refinement-small", "--data", str(d), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has 2 lines but" in err and "Traceback" not in err
    assert not out.exists()


# ---------------------------------------------------------------- end to end
def _translation_dir(tmp_path):
    """A learnable toy translation set in CodeXGLUE's layout: Java getters -> C# getters."""
    words = ["Name", "Size", "Color", "Value", "Path", "Mode", "Count", "Owner", "Label", "Limit"]
    d = tmp_path / "tr"
    d.mkdir()
    for split, rng in (("train", range(0, 80)), ("valid", range(80, 88)), ("test", range(88, 96))):
        java = [f"public int get{words[i % 10]}{i}(int v) {{int r = v + {i}; return r;}}" for i in rng]
        cs = [f"public virtual int Get{words[i % 10]}{i}(int v){{int r = v + {i}; return r;}}" for i in rng]
        (d / f"{split}.java-cs.txt.java").write_text("\n".join(java) + "\n")
        (d / f"{split}.java-cs.txt.cs").write_text("\n".join(cs) + "\n")
    return d


FAST = ["train.max_steps=8", "eval.beam_size=1", "data.max_eval_examples=8", "source_len=48", "target_len=32"]


def test_translation_end_to_end_and_loads_with_transformers(tmp_path):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    run = tmp_path / "run"
    assert main(["train", "--task", "translation-java-cs", "--data", str(_translation_dir(tmp_path)), "--model",
                 "tiny-codet5", "--out", str(run), "--no-progress", *FAST]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["test"]) == {"bleu", "xmatch", "codebleu", "ngram_match", "weighted_ngram_match", "syntax_match",
                              "dataflow_match"}
    base = m["baselines"]["copy_source"]
    # the Java source copied: the hand-checkable baseline, scored by the same functions
    lines = (tmp_path / "tr" / "test.java-cs.txt.java").read_text().splitlines()
    gold = (tmp_path / "tr" / "test.java-cs.txt.cs").read_text().splitlines()
    assert base["bleu"] == codexglue_bleu(lines, gold) and base["xmatch"] == 0.0
    out_lines = (run / "test.output").read_text().splitlines()
    assert len(out_lines) == 8 and (run / "test.gold").read_text().splitlines() == gold
    # the test scores are the metric functions on the files the run wrote
    assert m["test"]["bleu"] == codexglue_bleu(out_lines, gold)
    assert m["test"]["xmatch"] == xmatch(out_lines, gold)
    # the checkpoint generates with plain transformers what the run wrote
    tok = AutoTokenizer.from_pretrained(run / "best")
    model = AutoModelForSeq2SeqLM.from_pretrained(run / "best").eval()
    preds = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    first = next(p for p in preds if p["id"] == "test-0")
    with torch.no_grad():
        ids = model.generate(**tok(lines[0], return_tensors="pt", truncation=True))
    text = tok.decode(ids[0], skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert text.replace("\n", " ").strip() == first["prediction"]
    assert "translation-java-cs" in (run / "best" / "README.md").read_text()


def test_defect_detection_end_to_end_python_api(tmp_path):
    import codeintel

    rows = [{"id": f"r{i}", "code": ("for (i=0;i<n;i++) a[i+1] = a[i];" if i % 2 else "for (i=0;i<n;i++) a[i] = b[i];"),
             "race": i % 2} for i in range(60)]
    f = tmp_path / "drb.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    codeintel.train(task="defect-dataracebench", data=[str(f)], model="tiny-codebert",
                    out=str(tmp_path / "run"), echo=lambda *a, **k: None,
                    overrides={"train.max_steps": 10, "source_len": 32, "train.lr": 1e-3})
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "majority_class" in m["baselines"]
    answers = (tmp_path / "run" / "answers.txt").read_text().splitlines()
    preds = (tmp_path / "run" / "predictions.txt").read_text().splitlines()
    assert len(answers) == len(preds) > 0 and all(p.split("\t")[1] in ("0", "1") for p in preds)
    acc = np.mean([a == p for a, p in zip(answers, preds, strict=True)])
    assert m["test"]["accuracy"] == pytest.approx(acc)          # the Devign evaluator's accuracy on the files
    loaded = codeintel.load_model(str(tmp_path / "run" / "best"))
    assert loaded.task == "defect-detection"
    probs = [json.loads(x)["prob"] for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert all(0.0 <= p <= 1.0 for p in probs)


def test_score_command_reads_the_evaluators_files(tmp_path, capsys):
    hyp = tmp_path / "hyp.txt"
    ref = tmp_path / "ref.txt"
    preds = ["int f(int a){int b = a + 2; return a;}", "", "return x ;"]   # an empty line is a prediction
    refs = ["int f(int a){int b = a + 1; return b;}", "int g() { }", "return y ;"]
    hyp.write_text("\n".join(preds))                         # no newline after the last line: still a line
    ref.write_text("\n".join(refs) + "\n")
    assert main(["score", "--hyp", str(hyp), "--refs", str(ref), "--lang", "java", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    parts = cb.codebleu(preds, refs, "java")
    assert out["codebleu"] == parts["codebleu"] and out["syntax_match"] == parts["syntax"]
    assert out["bleu"] == codexglue_bleu(preds, refs) and out["xmatch"] == 0.0 and out["examples"] == 3
    for argv, message in [
        (["--hyp", str(hyp), "--refs", str(tmp_path / "missing.txt")], "does not exist"),
        (["--hyp", str(hyp), "--refs", str(ref), "--lang", "fortran"], "no keyword list for 'fortran'"),
        (["--hyp", str(hyp), "--refs", str(ref), "--weights", "1,2"], "four weights"),
        (["--hyp", str(hyp), "--refs", str(ref), "--metrics", "rouge"], "choose from codebleu, bleu, xmatch"),
    ]:
        assert main(["score", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err
    ref.write_text("one\n")
    assert main(["score", "--hyp", str(hyp), "--refs", str(ref)]) == 2
    assert "has 3 lines but" in capsys.readouterr().err


def test_graph_input_for_code_to_code_is_graphcodebert_layout_and_trimming_is_exact():
    """graph=true: code first (up to C + D - 3 sub-tokens), then the data-flow nodes; the batch is cut to its
    longest real input, which changes no loss (the cut positions are padding in every row)."""
    import torch

    from codeintel.backbones.graphcodebert import collate
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.encoding import GraphSettings
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import make_task

    torch.manual_seed(0)
    loaded = load_model("tiny-graphcodebert", "code-to-code")
    task = make_task(load_task("refinement-small"), loaded.tokenizer, 40, 16)
    task.graph = GraphSettings("java", 24)
    rows = [{"id": "a", "source": "int f(int a){int b = a + 1; return b;}", "target": "int f(int a){return a;}"},
            {"id": "b", "source": "void g(){}", "target": "void g(){ }"}]
    prep = task.prepare(rows)
    g = prep.items[0][0]
    assert len(g.input_ids) == 64 and g.position_ids.count(0) == 5        # the 5 nodes of the hand-worked graph
    assert g.input_ids[0] == loaded.tokenizer.cls_token_id
    trimmed = task.collate(prep, [0, 1])
    assert trimmed["input_ids"].shape[1] == g.n_real < 64
    full = collate([prep.items[0][0], prep.items[1][0]])
    model = loaded.model.eval()
    with torch.no_grad():
        a, _ = task.loss(model, trimmed)
        b, _ = task.loss(model, {**full, "labels": trimmed["labels"]})
    assert torch.allclose(a, b, atol=1e-6)


def test_graph_translation_end_to_end_and_evaluate_reproduces_it(tmp_path):
    run = tmp_path / "run"
    data = _translation_dir(tmp_path)
    assert main(["train", "--task", "translation-java-cs", "--data", str(data), "--model", "tiny-graphcodebert",
                 "--out", str(run), "--no-progress", "graph=true", "dfg_length=16", *FAST]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert main(["evaluate", "--model", str(run), "--data", str(data), "--no-progress"]) == 0
    again = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert again["scores"] == m["test"]
    assert (run / "eval-test" / "test.output").read_text() == (run / "test.output").read_text()


def test_a_card_whose_target_language_codebleu_cannot_score_is_refused_before_training(tmp_path, capsys):
    card = tmp_path / "card.yaml"
    card.write_text("name: tr-f\ntype: code-to-code\nlang: java\noptions: {source: .java, target: .cs, "
                    "target_lang: fortran}\n")
    out = tmp_path / "run"
    assert main(["train", "--task", str(card), "--data", str(_translation_dir(tmp_path)), "--out", str(out),
                 "--no-progress", *FAST]) == 2
    err = capsys.readouterr().err
    assert "options.target_lang" in err and "fortran" in err and not out.exists()
