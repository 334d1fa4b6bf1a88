"""Data as `datasets` reads it: jsonl, json arrays, csv/tsv, parquet and split folders give the same rows; column
mapping (data.code_field ...) for one's own field names; Dataset/DatasetDict objects from Python; strict labels."""

import json

import pytest

from codeintel.cli import main
from codeintel.data.loaders import LoadReport, load_clone_detection, load_clone_retrieval, load_summarization
from codeintel.errors import DataError


def _rows(n=40):
    return [{"id": f"r{i}", "code": f"def f{i}(x):\n    return x + {i}",
             "summary": f"Add {i}, with \"quotes\", a comma."} for i in range(n)]


def _write(path, rows, fmt):
    import pandas as pd

    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path.write_text(json.dumps(rows, indent=1))
    elif fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif fmt == "tsv":
        pd.DataFrame(rows).to_csv(path, index=False, sep="\t")
    else:
        pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def _clean(splits):
    return {s: [{k: v for k, v in r.items() if k != "__line"} for r in rows] for s, rows in splits.items()}


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "parquet"])
def test_every_table_format_gives_the_rows_of_the_jsonl(tmp_path, fmt):
    rows = _rows()
    want = _clean(load_summarization([str(_write(tmp_path / "d.jsonl", rows, "jsonl"))]))
    got = _clean(load_summarization([str(_write(tmp_path / f"d.{fmt}", rows, fmt))]))
    assert got == want and sum(map(len, got.values())) == 40
    assert "\n" in got["train"][0]["code"]            # a quoted CSV value spanning lines stays one value


def test_a_folder_of_split_files_in_any_format(tmp_path):
    rows = _rows(30)
    d = tmp_path / "data"
    d.mkdir()
    _write(d / "train.parquet", rows[:20], "parquet")
    _write(d / "validation.csv", rows[20:25], "csv")   # datasets' split name
    _write(d / "test.json", rows[25:], "json")
    got = load_summarization([str(d)])
    assert [len(got[s]) for s in ("train", "valid", "test")] == [20, 5, 5]
    assert [r["id"] for r in got["test"]] == [f"r{i}" for i in range(25, 30)]


def test_column_mapping_renames_and_names_a_missing_column(tmp_path):
    rows = [{"uid": r["id"], "body": r["code"], "title": r["summary"], "code_tokens": ["ignored"]} for r in _rows()]
    path = _write(tmp_path / "mine.csv", rows, "csv")
    mapped = load_summarization([str(path)], report=LoadReport(columns={"body": "code", "title": "summary",
                                                                        "uid": "id"}))
    plain = load_summarization([str(_write(tmp_path / "d.jsonl", _rows(), "jsonl"))])
    assert [(r["id"], r["source"], r["target"]) for r in mapped["train"]] == \
        [(r["id"], r["source"], r["target"]) for r in plain["train"]]
    with pytest.raises(DataError, match=r"mine.csv:row 1: no column 'text'"):
        load_summarization([str(path)], report=LoadReport(columns={"text": "code"}))


def test_column_mapping_through_the_cli_and_a_key_that_does_not_apply(tmp_path, capsys):
    rows = [{"body": r["code"], "title": r["summary"]} for r in _rows(60)]
    path = _write(tmp_path / "mine.parquet", rows, "parquet")
    assert main(["train", "--model", "tiny-codet5", "--data", str(path), "--out", str(tmp_path / "run"),
                 "data.code_field=body", "data.nl_field=title", "train.max_steps=1", "source_len=32", "target_len=8",
                 "data.max_eval_examples=4", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "--model", "tiny-codet5", "--data", str(path), "--out", str(tmp_path / "run2"),
                 "data.label_field=title", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "data.label_field does not apply to summarization" in err
    assert main(["tasks", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["summarization"]["columns"] == {"data.code_field": "code", "data.nl_field": "summary",
                                                  "data.id_field": "id"}


def test_clone_retrieval_from_parquet_with_a_label_column(tmp_path):
    rows = [{"index": str(i), "problem": f"p{i % 6}", "src": f"int main() {{ return {i}; }}"} for i in range(36)]
    path = _write(tmp_path / "poj.parquet", rows, "parquet")
    got = load_clone_retrieval([str(path)], report=LoadReport(columns={"problem": "label", "src": "code"}))
    assert sorted({r["label"] for s in got.values() for r in s}) == [f"p{i}" for i in range(6)]


def test_clone_labels_other_than_0_and_1_are_refused_with_the_line(tmp_path):
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"idx": str(i), "func": f"int f{i};"}) + "\n"
                                                 for i in range(4)))
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("0 1 1\n2 3 -1\n")
    with pytest.raises(DataError, match=r"(train|valid|test).txt:2: label .-1. is not 0 or 1"):
        load_clone_detection([str(tmp_path)])


def test_datasets_objects_from_python(tmp_path, monkeypatch):
    """A DatasetDict trains as a folder of split files would; it is exported once, by its fingerprint."""
    from datasets import Dataset, DatasetDict

    import codeintel

    monkeypatch.setenv("CODEINTEL_CACHE", str(tmp_path / "cache"))
    rows = _rows(60)
    dd = DatasetDict({"train": Dataset.from_list(rows[:40]), "validation": Dataset.from_list(rows[40:50]),
                      "test": Dataset.from_list(rows[50:])})
    res = codeintel.train(model="tiny-codet5", data=dd, out=tmp_path / "run", echo=lambda *a, **k: None,
                          overrides={"train.max_steps": 1, "source_len": 32, "target_len": 8})
    assert res["train"]["examples"] == 40 and json.loads((tmp_path / "run" / "metrics.json").read_text())
    import yaml

    paths = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["paths"]
    assert len(paths) == 1 and paths[0].startswith(str(tmp_path / "cache" / "datasets"))
    exported = sorted(p.name for p in (tmp_path / "cache" / "datasets").iterdir())
    codeintel.train_config(model="tiny-codet5", data=dd)               # the same data: not exported again
    assert sorted(p.name for p in (tmp_path / "cache" / "datasets").iterdir()) == exported
    with pytest.raises(DataError, match="split 'extra'"):
        codeintel.train_config(model="tiny-codet5", data=DatasetDict({"extra": Dataset.from_list(rows)}))


def test_hf_dataset_references_go_through_load_dataset(tmp_path, monkeypatch):
    """`hf:NAME` is datasets.load_dataset(NAME): here a local folder of split files (offline), exported once into
    the cache as the loaders' jsonl; a name that cannot load is one DataError naming it."""
    from codeintel.data.loaders import dataset_files

    monkeypatch.setenv("CODEINTEL_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "mydata"
    folder.mkdir()
    rows = _rows(30)
    _write(folder / "train.csv", rows[:20], "csv")
    _write(folder / "validation.csv", rows[20:25], "csv")
    _write(folder / "test.csv", rows[25:], "csv")
    (exported,) = dataset_files([f"hf:{folder}"])
    got = load_summarization([exported])
    assert [len(got[s]) for s in ("train", "valid", "test")] == [20, 5, 5]
    assert got["test"][0]["target"] == rows[25]["summary"]
    assert dataset_files([f"hf:{folder}"]) == [exported]                     # the same data: the same export
    with pytest.raises(DataError, match="hf:no/such-dataset-here"):
        dataset_files(["hf:no/such-dataset-here"])
