"""Dataset hygiene: exact and near-duplicates, leakage between splits, the cleaned copy, and train's warning."""

import json
import random

import numpy as np
import pytest

from codeintel.cli import main
from codeintel.data import hygiene as hy

BASE = '''def total_price(items, tax_rate):
    """Price of a basket."""
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity  # per line
    discount = compute_discount(subtotal, items, customer_level)
    shipping_cost = shipping(items, subtotal, discount, destination)
    return (subtotal - discount) * (1 + tax_rate) + shipping_cost
'''
# the same function reformatted and re-commented: an exact duplicate
REFORMATTED = '''def total_price( items,tax_rate ):
    """Price of a basket."""
    # start at zero
    subtotal=0
    for item in items:
        subtotal += item.price*item.quantity
    discount = compute_discount(subtotal,
                                items, customer_level)
    shipping_cost = shipping(items, subtotal, discount, destination)
    return (subtotal - discount) * (1 + tax_rate) + shipping_cost
'''
# one identifier renamed everywhere: a near duplicate, not an exact one
RENAMED = BASE.replace("tax_rate", "vat")
OTHER = '''def parse_header(line, separator):
    key, _, value = line.partition(separator)
    if not key or key.startswith("#"):
        raise ValueError(f"bad header line: {line!r}")
    options = [part.strip() for part in value.split(";") if part.strip()]
    return key.strip().lower(), options, len(options), separator, line
'''


def test_exact_key_ignores_whitespace_and_comments_but_not_tokens_or_strings():
    key = hy.exact_key(BASE, "python")
    assert hy.exact_key(REFORMATTED, "python") == key
    assert hy.exact_key(RENAMED, "python") != key
    assert hy.exact_key(BASE.replace("Price of a basket", "Price of a  basket"), "python") != key  # strings are kept
    assert hy.exact_key("x = a b", None) != hy.exact_key("x = ab", None)
    assert hy.exact_key("x = a+b", None) == hy.exact_key("x  =  a + b", None)
    # a Fortran OpenMP directive is a comment to the grammar and code to the compiler: it stays
    loop = "program p\n  integer :: i\n{}  do i = 1, 10\n  end do\nend program p\n"
    assert hy.exact_key(loop.format("  !$omp parallel do\n"), "fortran") != hy.exact_key(loop.format(""), "fortran")
    assert hy.exact_key(loop.format("  ! a remark\n"), "fortran") == hy.exact_key(loop.format(""), "fortran")


def test_identifier_multiset_drops_keywords_strings_and_comments():
    _, multiset = hy.fingerprint('def f(a, b):\n    # note c\n    return a + a if b else "d e"\n', "python")
    # f, a, b, a, a, b: keywords (def, return, if, else), the comment and the string are not identifiers
    assert sorted(multiset.values()) == [1, 2, 3]
    _, java = hy.fingerprint('class A { int n() { return this.n + "s".length(); } }', "java")
    assert sum(java.values()) == 4  # A, n, n, length  (class, int, return, this are keywords)


def test_identifiers_follow_the_duplicate_detectors_definition():
    def idents(code, lang):
        return sum(hy.fingerprint(code, lang)[1].values())

    # numbers are no identifiers: not xFF, e, _000, j
    assert idents("x = 0xFF + 1e-9 + 1_000 + 2j + 1.5e3\n", "python") == 1
    # dpu-utils' Python keywords are keyword.kwlist without True/False: None and if go, the rest are identifiers
    assert idents("if x: print(True, False, None, _, type, match, super)\n", "python") == 8
    # its Java list names this (and not null/true/false): A, n, y, null, true, false
    assert idents("class A { int n() { return this.y == null ? true : false; } }", "java") == 6
    # a language it has no list for keeps the grammar's keywords and literal words out
    assert idents("program p\n  logical :: x\n  x = .true.\nend program p\n", "fortran") == 4   # p, x, x, p
    # string literals never count, prefixed or not (the detector's prefix match would count f"..." as one)
    assert idents('x = f"a {y}" + b"z"\n', "python") == 1


def test_set_and_multiset_jaccard_are_exact():
    # identifiers a a b c  vs  a b b d: sets {a,b,c} / {a,b,d}: 2/4; multisets: min 1+1 = 2, max 2+2+1+1 = 6
    fp = hy.fingerprint_corpus(["a a b c", "a b b d", "a a b c"], [None, None, None],
                               hy.Settings(min_tokens=1), workers=1)
    s, m = hy.similarities(fp, np.array([0, 0]), np.array([1, 2]))
    assert s.tolist() == [0.5, 1.0]
    assert m.tolist() == [pytest.approx(2 / 6), 1.0]


def test_lsh_recall_at_the_threshold_edge():
    """Pairs built at Jaccard 0.82-0.88 (just above the threshold, the hardest for LSH to find) and 0.76-0.79 (just
    below: must not be reported): >= 0.95 of the true pairs found, no false one."""
    rng = random.Random(0)
    docs, truth = [], 0
    for i in range(300):
        base = [f"v{i}_{k}" for k in range(60)]
        drop = rng.choice([4, 5, 6, 6, 7, 8])  # J = (60 - d) / (60 + d): 0.875, 0.846, 0.818 | 0.791, 0.765
        other = base[drop:] + [f"w{i}_{k}" for k in range(drop)]
        truth += (60 - drop) / (60 + drop) >= 0.8
        docs += [" ".join(base), " ".join(other)]
    fp = hy.fingerprint_corpus(docs, [None] * len(docs), workers=1)
    exhaustive = hy.all_pairs_near(fp)
    assert len(exhaustive) == truth > 150
    found = set(map(tuple, hy.find_duplicates(fp).near.tolist()))
    assert found <= exhaustive          # every reported pair is verified
    assert len(found & exhaustive) / len(exhaustive) >= 0.95


def test_lsh_recall_on_real_transformed_code():
    """Functions of the embedded corpus and their ContraBERT-transformed variants: LSH against all pairs."""
    from codeintel.data.stdlib_clones import default_stdlib_clones_dir

    rows = [json.loads(line) for line in (default_stdlib_clones_dir() / "data.jsonl").open()][:1500]
    fp = hy.fingerprint_corpus([r["func"] for r in rows], ["python"] * len(rows), workers=1)
    exhaustive = hy.all_pairs_near(fp)
    found = set(map(tuple, hy.find_duplicates(fp).near.tolist()))
    assert len(exhaustive) >= 50
    assert found <= exhaustive and len(found) / len(exhaustive) >= 0.95


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _corpus(tmp_path):
    """train: BASE, OTHER and 20 unrelated functions, one duplicated inside train; valid: unrelated; test: a
    reformatted copy of BASE (exact leak), a renamed copy of OTHER (near leak) and two clean functions."""
    def fn(tag, i):
        names = ", ".join(f"{tag}_arg{k}_{i}" for k in range(6))
        body = " + ".join(f"{tag}_arg{k}_{i} * {tag}_w{k}_{i}" for k in range(6))
        return f"def {tag}_fn_{i}({names}):\n    return {body}\n"

    train = [{"id": "t-base", "code": BASE, "summary": "Price."}, {"id": "t-other", "code": OTHER, "summary": "Parse."}]
    train += [{"id": f"t{i}", "code": fn("tr", i), "summary": f"Sum {i}."} for i in range(20)]
    train.append({"id": "t-copy", "code": fn("tr", 3), "summary": "Sum 3 again."})
    valid = [{"id": f"v{i}", "code": fn("va", i), "summary": f"V {i}."} for i in range(5)]
    test = [{"id": "x-exact", "code": REFORMATTED, "summary": "Price."},
            {"id": "x-near", "code": OTHER.replace("separator", "sep"), "summary": "Split a header."},
            {"id": "x1", "code": fn("te", 1), "summary": "Price."}, {"id": "x2", "code": fn("te", 2), "summary": "T."}]
    d = tmp_path / "data"
    d.mkdir()
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        _write(d / f"{name}.jsonl", rows)
    return d


def test_check_reports_exact_and_near_leakage(tmp_path, capsys):
    data = _corpus(tmp_path)
    assert main(["data", "check", str(data), "--out", str(tmp_path / "rep"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "rep" / "hygiene.json").read_text())
    assert report["task"] == "summarization" and report["documents"] == 23 + 5 + 4
    assert report["leakage"]["test_in_train"] == {"documents": 4, "exact": 1, "exact_pct": 25.0, "near": 2,
                                                  "near_pct": 50.0}
    assert report["leakage"]["valid_in_train"]["near"] == 0
    assert report["splits"]["train"]["exact"] == 2            # t3 and t-copy
    assert report["targets"]["test_in_train"]["identical_target"] == 2  # "Price." twice
    assert report["clusters"]["exact"]["clusters"] == 2        # {t3, t-copy}, {t-base, x-exact}
    assert report["clusters"]["near"]["documents"] == 6
    assert (tmp_path / "rep" / "hygiene.md").read_text().startswith("# Dataset hygiene")
    assert (tmp_path / "rep" / "hygiene.png").stat().st_size > 10_000
    assert "test -> train: 1 (25.0%) exact, 2 (50.0%) exact or near" in capsys.readouterr().out


def test_dedup_writes_a_clean_copy_and_leaves_the_original(tmp_path, capsys):
    data = _corpus(tmp_path)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    out = tmp_path / "clean"
    assert main(["data", "dedup", str(data), "--out", str(out), "--no-progress"]) == 0
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    removed = json.loads((out / "removed.json").read_text())
    assert sorted(r["id"] for r in removed) == ["t-copy", "x-exact", "x-near"]
    assert {r["id"]: r["duplicate_of"]["id"] for r in removed} == {"t-copy": "t3", "x-exact": "t-base",
                                                                   "x-near": "t-other"}
    kept_test = [json.loads(line)["id"] for line in (out / "test.jsonl").open()]
    assert kept_test == ["x1", "x2"]
    # the surviving lines are the original bytes
    assert (out / "valid.jsonl").read_bytes() == before["valid.jsonl"]
    assert main(["data", "check", str(out), "--no-progress"]) == 0
    assert "clusters: 0 exact (0 documents" in capsys.readouterr().out
    # cross-split only: the duplicate inside train stays
    assert main(["data", "dedup", str(data), "--out", str(tmp_path / "cross"), "--cross-split-only"]) == 0
    removed = json.loads((tmp_path / "cross" / "removed.json").read_text())
    assert sorted(r["id"] for r in removed) == ["x-exact", "x-near"]


def test_dedup_keep_longest(tmp_path):
    short = "def f(a):\n    return a\n"
    d = tmp_path / "d"
    d.mkdir()
    _write(d / "train.jsonl", [{"id": "a", "code": BASE, "summary": "s"}, {"id": "b", "code": short, "summary": "s"}])
    _write(d / "valid.jsonl", [{"id": "c", "code": short, "summary": "s"}])
    _write(d / "test.jsonl", [{"id": "long", "code": REFORMATTED, "summary": "s"}])
    assert main(["data", "dedup", str(d), "--out", str(tmp_path / "o"), "--keep", "longest"]) == 0
    gone = {r["id"]: r["duplicate_of"]["id"] for r in json.loads((tmp_path / "o" / "removed.json").read_text())}
    assert gone == {"a": "long", "c": "b"}  # REFORMATTED is longer than BASE; ties keep the first


def _clone_set(tmp_path):
    """Programs p0..p5 (p5 a reformatted copy of p0); train pairs use p0-p3, test pairs reuse p0 and p5."""
    progs = [BASE, OTHER] + [f"def g{i}(x{i}, y{i}):\n    return x{i} * {i} + y{i}\n" for i in range(3)] + [REFORMATTED]
    d = tmp_path / "clone"
    d.mkdir()
    _write(d / "data.jsonl", [{"idx": f"p{i}", "func": c} for i, c in enumerate(progs)])
    (d / "train.txt").write_text("p0\tp1\t0\np2\tp3\t0\n")
    (d / "valid.txt").write_text("p2\tp4\t0\n")
    (d / "test.txt").write_text("p0\tp1\t0\np5\tp4\t0\np4\tp1\t0\n")
    return d


def test_clone_pairs_leakage_and_dedup(tmp_path):
    d = _clone_set(tmp_path)
    assert main(["data", "check", str(d), "--out", str(tmp_path / "rep"), "--lang", "python"]) == 0
    rep = json.loads((tmp_path / "rep" / "hygiene.json").read_text())
    assert rep["type"] == "clone-detection"
    pairs = rep["pairs"]["test_in_train"]
    assert pairs["pairs"] == 3 and pairs["identical_pair"] == 1
    assert pairs["both_programs_exact"] == 1           # (p0, p1); (p5, p4): p4 is in no train pair
    assert pairs["either_program_exact"] == 3          # p0/p1, p5 (= p0), p1
    assert rep["leakage"]["test_in_train"]["exact"] == 3  # test programs p0, p1, p5 (p4 is not in train)
    assert main(["data", "dedup", str(d), "--out", str(tmp_path / "o"), "--cross-split-only", "--lang", "python"]) == 0
    assert (tmp_path / "o" / "data.jsonl").read_bytes() == (d / "data.jsonl").read_bytes()
    assert (tmp_path / "o" / "train.txt").read_bytes() == (d / "train.txt").read_bytes()
    assert (tmp_path / "o" / "test.txt").read_text() == ""   # every test pair used a train program
    assert (tmp_path / "o" / "valid.txt").read_text() == ""  # p2 is a train program


@pytest.mark.parametrize("argv, expected", [
    (["data", "check", "{data}", "--threshold", "1.5"], "--threshold 1.5 must be in (0, 1]"),
    (["data", "check", "{data}", "--lang", "cobol"], "unknown language"),
    (["data", "check", "{tmp}/missing"], "does not exist"),
    (["data", "check", "{tmp}/odd.jsonl"], "cannot tell which task's format"),
    (["data", "dedup", "{data}", "--out", "{tmp}/o", "--cross-split-only", "--keep", "longest"], "drop --keep"),
    (["data", "dedup", "{data}", "--out", "{data}"], "not an empty directory"),
    (["data", "check", "{data}", "--out", "{data}"], "did not write"),
])
def test_bad_input(tmp_path, capsys, argv, expected):
    data = _corpus(tmp_path)
    _write(tmp_path / "odd.jsonl", [{"code": "x = 1", "stars": 3}])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main([a.format(data=data, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_train_warns_when_test_leaks(tmp_path, capsys):
    data = _corpus(tmp_path)
    fast = ["train.max_steps=1", "source_len=32", "target_len=8", "data.max_eval_examples=2", "--no-progress"]
    assert main(["train", "--model", "tiny-codet5", "--data", str(data), "--out", str(tmp_path / "r1"), *fast]) == 0
    out = capsys.readouterr().out
    assert "warning: 1 of 4 test examples (25.0%) are exact duplicates of training examples" in out
    assert main(["train", "--model", "tiny-codet5", "--data", str(data), "--out", str(tmp_path / "r2"),
                 "data.check_leakage=false", *fast]) == 0
    assert "exact duplicates" not in capsys.readouterr().out


def test_shared_samples(shared_data, capsys):
    """GCJ's single pair list, split 80/10/10 by pair: most test programs are also programs of train pairs."""
    clone = shared_data / "clone"
    progs = {json.loads(line)["idx"] for line in (clone / "gcj_programs.jsonl").open()}
    assert main(["data", "check", str(clone / "gcj_programs.jsonl"), str(clone / "gcj_pairs.txt"),
                 "--exact-only"]) == 0
    out = capsys.readouterr().out
    from codeintel.data.loaders import load_clone_detection

    data = load_clone_detection([str(clone / "gcj_programs.jsonl"), str(clone / "gcj_pairs.txt")])
    train = {k for p in data.pairs["train"] for k in p[:2]}
    test = list(dict.fromkeys(k for p in data.pairs["test"] for k in p[:2]))
    same_id = sum(k in train for k in test)
    assert len(progs) == 1665 and same_id > 0.5 * len(test)
    # the same program ids are exact duplicates; identical code under other ids can only add to them
    leaked = int(out.split("test -> train: ")[1].split(" ")[0])
    assert leaked >= same_id
