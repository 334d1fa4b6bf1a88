"""Config resolution, task cards, the stdlib corpus, loaders, tokenized caching and batching."""

import json

import numpy as np
import pytest

from codeintel.config import RunConfig, apply_mapping, parse_overrides, set_key, validate
from codeintel.data import loaders
from codeintel.data.stdlib import _strip_docstring, build_stdlib_dataset, first_sentence, split_of
from codeintel.errors import ConfigError, DataError, UnknownNameError
from codeintel.recipes.batching import make_batches, padding_fraction
from codeintel.tasks.cards import all_cards, load_task

# ---------------------------------------------------------------- config and cards


def test_dotted_overrides_are_typed():
    cfg = RunConfig()
    for k, v in parse_overrides(["train.lr=3e-4", "train.max_steps=10", "data.skip_bad_lines=true",
                                 "data.paths=a.jsonl,b.txt"]).items():
        set_key(cfg, k, v)
    assert cfg.train.lr == 3e-4 and cfg.train.max_steps == 10 and cfg.data.skip_bad_lines is True
    assert cfg.data.paths == ["a.jsonl", "b.txt"]


def test_bad_overrides_are_named():
    cfg = RunConfig()
    with pytest.raises(UnknownNameError, match="Did you mean 'train.lr'"):
        set_key(cfg, "train.lrr", "1")
    with pytest.raises(ConfigError, match="expected int"):
        set_key(cfg, "train.max_steps", "ten")
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["train.lr"])
    set_key(cfg, "train.grouping", "sorted")
    with pytest.raises(ConfigError, match="train.grouping"):
        validate(cfg)


def test_yaml_mapping_nested():
    cfg = RunConfig()
    apply_mapping(cfg, {"model": "tiny-codebert", "train": {"epochs": 2, "seed": 7}})
    assert (cfg.model, cfg.train.epochs, cfg.train.seed) == ("tiny-codebert", 2.0, 7)


def test_builtin_cards_and_unknown_task():
    cards = all_cards()
    assert {"summarization", "clone-detection", "clone-retrieval"} <= set(cards)
    assert cards["summarization"].select_by == "smoothed_bleu"
    with pytest.raises(UnknownNameError, match="Did you mean 'clone-detection'"):
        load_task("clone-detect")


def test_user_card_without_python(tmp_path):
    card = tmp_path / "my.yaml"
    card.write_text("name: my-sum\ntype: summarization\ndata: data\nsource_len: 64\nmetrics: [rouge_l]\n"
                    "defaults: {train: {epochs: 1}}\n")
    c = load_task(str(card))
    assert c.select_by == "rouge_l" and c.data == str(tmp_path / "data") and c.source_len == 64
    card.write_text("name: x\ntype: summarization\nmetrics: [map_at_r]\n")
    with pytest.raises(UnknownNameError, match="metric"):
        load_task(str(card))


# ---------------------------------------------------------------- stdlib corpus


def test_first_sentence():
    assert first_sentence("Return the sum.  More text here.\n\nArgs: x") == "Return the sum."
    assert first_sentence("\n    Compute x\n    over lines.\n") == "Compute x over lines."


def test_strip_docstring_removes_only_the_docstring():
    import ast

    src = 'def f(a):\n    """Doc\n    string."""\n    return a\n'
    fn = ast.parse(src).body[0]
    assert _strip_docstring(src.splitlines(), fn) == "def f(a):\n    return a"


def test_stdlib_dataset_is_deterministic_and_clean():
    a, b = build_stdlib_dataset(), build_stdlib_dataset()
    assert [r["id"] for r in a["test"]] == [r["id"] for r in b["test"]]
    assert len(a["train"]) > 1000 and len(a["valid"]) > 100 and len(a["test"]) > 100
    modules = {s: {r["path"] for r in a[s]} for s in a}
    assert not (modules["train"] & modules["test"])  # split by module: no module straddles two splits
    codes = [r["code"] for s in a.values() for r in s]
    assert len(codes) == len(set(codes))
    for r in a["train"][:200]:
        assert r["summary"] not in r["code"] or len(r["summary"]) < 20
        assert split_of(r["path"]) == "train"


# ---------------------------------------------------------------- loaders


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_malformed_jsonl_names_file_and_line(tmp_path):
    f = _write(tmp_path / "d.jsonl", [json.dumps({"code": "x", "docstring": "do x"}), "{broken"])
    with pytest.raises(DataError, match=r"d.jsonl:2: malformed JSON.*skip_bad_lines"):
        loaders.read_jsonl(f)
    report = loaders.LoadReport()
    rows = loaders.read_jsonl(f, skip_bad=True, report=report)
    assert len(rows) == 1 and report.skipped_lines == 1


def test_missing_field_and_empty_split(tmp_path):
    f = _write(tmp_path / "d.jsonl", [json.dumps({"text": "x"})])
    with pytest.raises(DataError, match=r"d.jsonl:1: missing field.*'code'"):
        loaders.load_summarization([str(f)])
    f = _write(tmp_path / "e.jsonl", [json.dumps({"code": "def f(): pass", "docstring": "Do f."})])
    with pytest.raises(DataError, match="split is empty"):
        loaders.load_summarization([str(f)])
    empty = _write(tmp_path / "z.jsonl", [])
    with pytest.raises(DataError, match="empty"):
        loaders.load_summarization([str(empty)])


def test_codexglue_code_text_format(tmp_path):
    rows = [{"code_tokens": ["def", "f", "(", ")"], "docstring_tokens": ["Do", "f", "."], "code": "def f():",
             "docstring": "Do f. Long."} for _ in range(3)]
    d = tmp_path / "cxg"
    d.mkdir()
    for s in ("train", "valid", "test"):
        _write(d / f"{s}.jsonl", [json.dumps(r) for r in rows])
    splits = loaders.load_summarization([str(d)])
    assert splits["test"][0]["source"] == "def f ( )" and splits["test"][0]["target"] == "Do f ."


def test_clone_pairs_unknown_program(tmp_path):
    progs = _write(tmp_path / "data.jsonl", [json.dumps({"idx": str(i), "func": f"int f{i}();"}) for i in range(3)])
    pairs = _write(tmp_path / "pairs.txt", ["0\t1\t1", "0\t7\t0"])
    with pytest.raises(DataError, match=r"pairs.txt:2: program '7' is not in the programs file"):
        loaders.load_clone_detection([str(progs), str(pairs)])
    with pytest.raises(DataError, match="one programs .jsonl"):
        loaders.load_clone_detection([str(pairs)])


def test_clone_retrieval_split_by_label(shared_data):
    splits = loaders.load_clone_retrieval([str(shared_data / "clone" / "poj104_dev.jsonl")])
    labels = {s: {r["label"] for r in splits[s]} for s in splits}
    assert labels == {"train": {"1", "2", "3", "4"}, "valid": {"5", "6"}, "test": {"7", "8"}}


def test_gcj_pairs_split_deterministically(shared_data):
    paths = [str(shared_data / "clone" / "gcj_programs.jsonl"), str(shared_data / "clone" / "gcj_pairs.txt")]
    a, b = loaders.load_clone_detection(paths), loaders.load_clone_detection(paths)
    assert a.pairs == b.pairs
    assert sum(len(v) for v in a.pairs.values()) == 2000
    assert not set(a.pairs["train"]) & set(a.pairs["test"])


# ---------------------------------------------------------------- caching and batching


def test_tokenization_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEINTEL_CACHE", str(tmp_path))
    from codeintel.backbones.loading import shipped_tokenizer
    from codeintel.data.cache import tokenize_cached

    tok = shipped_tokenizer("code-bpe-8k")
    texts = ["def f(x): return x", "int main() { return 0; }"]
    first = tokenize_cached(texts, tok, 16)
    files = list((tmp_path / "tokenized").glob("*.arrow"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    second = tokenize_cached(texts, tok, 16)
    assert second["input_ids"] == first["input_ids"]
    assert files[0].stat().st_mtime_ns == mtime  # read back, not rewritten
    assert first["input_ids"][0][0] == tok.bos_token_id and first["input_ids"][0][-1] == tok.eos_token_id
    tokenize_cached(texts, tok, 8)
    assert len(list((tmp_path / "tokenized").glob("*.arrow"))) == 2


def test_shipped_tokenizer_round_trips_code():
    from codeintel.backbones.loading import shipped_tokenizer

    tok = shipped_tokenizer("code-bpe-8k")
    code = "def añadir(x, y):\n\treturn x + y  # ∑\n"
    ids = tok(code, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == code
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [0, 1, 2, 3, 4]


def test_length_grouped_batches_cover_once_respect_budget_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 300, size=2000)
    batches = make_batches(lengths, batch_tokens=2048, max_batch_size=64, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(2000))
    assert all(len(b) * lengths[b].max() <= 2048 or len(b) == 1 for b in batches)
    assert batches == make_batches(lengths, 2048, 64, seed=1)
    assert batches != make_batches(lengths, 2048, 64, seed=2)
    random = make_batches(lengths, 2048, 16, grouping="random", seed=1)
    assert padding_fraction(batches, lengths) < 0.1 < padding_fraction(random, lengths)


def test_bigclonebench_directory_layout(tmp_path):
    """CodeXGLUE BigCloneBench: data.jsonl + train.txt/valid.txt/test.txt, labels 0/1 (others are refused:
    tests/test_data_formats.py)."""
    d = tmp_path / "bcb"
    d.mkdir()
    _write(d / "data.jsonl", [json.dumps({"idx": str(i), "func": f"void f{i}() {{}}"}) for i in range(4)])
    _write(d / "train.txt", ["0\t1\t1", "2\t3\t0"])
    _write(d / "valid.txt", ["0\t2\t0"])
    _write(d / "test.txt", ["1\t3\t1", "1\t2\t0"])
    data = loaders.load_clone_detection([str(d)])
    assert data.pairs["train"] == [("0", "1", 1), ("2", "3", 0)]
    assert data.pairs["valid"] == [("0", "2", 0)]
    assert data.pairs["test"] == [("1", "3", 1), ("1", "2", 0)]
    assert data.programs["3"] == "void f3() {}"


def test_bpe_recipe_trains_a_tokenizer_with_roberta_specials(tmp_path):
    from codeintel.tokenization.bpe import SPECIALS, train_code_bpe

    tok = train_code_bpe(["def f(x):\n    return x + 1\n"] * 50, vocab_size=300, min_frequency=1)
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3, 4]
    enc = tok.encode("return x")
    assert enc.ids[0] == 0 and enc.ids[-1] == 2  # <s> ... </s>, as RoBERTa and CodeT5 tokenizers
    assert tok.decode(enc.ids, skip_special_tokens=True) == "return x"


def test_padding_fraction_counts_separately_padded_parts():
    """Source and target tensors pad each to their own longest: cells 2 x (5 + 3) = 16, real 5+1 + 2+3 = 11."""
    parts = np.array([[5, 1], [2, 3]])
    assert padding_fraction([[0, 1]], parts.sum(1), parts) == pytest.approx(1 - 11 / 16)
    assert padding_fraction([[0, 1]], parts.sum(1)) == pytest.approx(1 - 11 / 12)   # one tensor of s + t
    pairs = np.array([10, 6]), np.array([3 + 5, 1 + 2])              # clone pairs: 2 x the longer program each
    assert padding_fraction([[0, 1]], pairs[0], real=pairs[1]) == pytest.approx(1 - 11 / 20)
