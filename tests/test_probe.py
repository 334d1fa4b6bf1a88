"""``codeintel probe`` (AST-Probe) end to end, on every family, on checkpoints, from Python, and on bad input."""

import json

import pytest
import torch

import codeintel
from codeintel.cli import main
from codeintel.recipes.probe import rank_loss

SMALL = ["data.max_train_examples=60", "data.max_eval_examples=20", "data.max_test_examples=20", "train.epochs=2"]


def test_rank_loss_by_hand():
    # pairs with d_i > d_j: (0,1): relu(1 - (0 - 0)) = 1; (0,2): relu(1 - (0 - 5)) = 6; (2,1): relu(1 - 5) = 0
    loss = rank_loss(torch.tensor([[0.0, 0.0, 5.0]]), torch.tensor([[3.0, 1.0, 2.0]]), torch.ones(1, 3))
    assert loss.item() == pytest.approx(7 / 3)


@pytest.mark.parametrize("model", ["tiny-codebert", "tiny-codet5", "tiny-codet5p-embedding"])
def test_probe_every_family(tmp_path, capsys, model):
    out = tmp_path / "p"
    json_flags = ["--json", "--no-progress"] if model == "tiny-codet5" else []
    assert main(["probe", "--model", model, "--out", str(out), *SMALL, *json_flags]) == 0
    res = json.loads((out / "probe.json").read_text())
    captured = capsys.readouterr()
    if json_flags:  # stdout is the result alone; no per-layer lines ("F1 ... (P ...") on stderr, the summary is
        printed = json.loads(captured.out)
        assert printed.pop("output_dir") == str(out) and printed == res
        assert "(P " not in captured.err and "best: layer" in captured.err
    else:
        assert "(P " in captured.out and "best: layer" in captured.out
    assert res["layers"] == [0, 1, 2] and res["dims"] == [64]            # tiny presets: hidden 128, 2 layers
    kinds = {(r["kind"], r["layer"]) for r in res["results"]}
    assert kinds == {("model", 0), ("model", 1), ("model", 2), ("random", 1), ("random", 2)}
    for r in res["results"]:
        assert 0.0 <= r["f1"] <= 1.0 and 0.0 <= r["accuracy_c"] <= 1.0 and r["epochs"] <= 2
    assert res["best"]["layer"] in res["layers"]
    assert res["functions"] == {"train": 60, "valid": 20, "test": 20}
    assert (out / "probe.png").stat().st_size > 10_000
    assert "| layer |" in (out / "probe.md").read_text()


def test_probe_learns_and_python_api_matches(tmp_path):
    """From Python; on a checkpoint directory; a trained probe beats an untrained one by far; the result is
    what probe.json holds."""
    loaded = codeintel.load_model("tiny-codebert", "clone-retrieval")
    from codeintel.tasks.models import save_model

    ckpt = save_model(loaded, tmp_path / "ckpt")
    common = dict(model=str(ckpt), layers="0", dims=[32], random_baseline=False,
                  data={"max_eval_examples": 50, "max_test_examples": 50}, echo=lambda *_: None)
    res = codeintel.probe(**common, train={"epochs": 5}, output_dir=str(tmp_path / "out"))
    shuffled = codeintel.probe(**common, train={"epochs": 5, "grouping": "random"}, write=False)
    assert shuffled["best"]["f1"] > 0.1 and shuffled["best"]["f1"] != res["best"]["f1"]   # another weighting
    assert res["baselines"]["root_chain"]["labels"] == ["function_definition", "module"]
    # the free part of every tree scores more than this small probe: the number a reader must see beside it
    assert 0 < res["baselines"]["root_chain"]["f1"] < 1
    assert f"F1 {res['baselines']['root_chain']['f1']:.3f}" in (tmp_path / "out" / "probe.md").read_text()
    untrained = codeintel.probe(**common, **{"train.epochs": 1, "train.lr": 1e-9}, write=False)
    assert res["best"]["f1"] > 0.1 > untrained["best"]["f1"]
    saved = json.loads((tmp_path / "out" / "probe.json").read_text())
    assert saved["best"] == res["best"] and [r["f1"] for r in saved["results"]] == [r["f1"] for r in res["results"]]


def test_trivial_baselines_by_hand():
    from codeintel.recipes.probe import Sample, trivial_baselines

    def sm(n, constituents, c, u):
        return Sample([], [], [], [0] * (n - 1), c, u, constituents)

    # train: module spans the whole function in both, function_definition in one of two (>= half: kept), x in none
    train = [sm(3, [("module", 0, 2), ("function_definition", 0, 2), ("x", 0, 1)], ["a", "a"], ["u", "v", "u"]),
             sm(2, [("module", 0, 1)], ["a"], ["v", "v"])]
    # test: 4 true constituents, the prediction (module, function_definition over 0..3) hits 2 of its 2
    test = [sm(4, [("module", 0, 3), ("function_definition", 0, 3), ("y", 1, 2), ("z", 2, 3)], ["a", "b", "b"],
               ["u", "v", "v", "v"])]
    out = trivial_baselines({"train": train, "valid": [], "test": test})
    rc = out["root_chain"]
    assert rc["labels"] == ["function_definition", "module"]
    assert (rc["precision"], rc["recall"]) == (1.0, 0.5) and rc["f1"] == pytest.approx(2 / 3)
    assert out["majority_c"] == {"label": "a", "accuracy": 1 / 3}          # a is 3 of 3 train c labels
    assert out["majority_u"] == {"label": "v", "accuracy": 3 / 4}          # v: 3 of 5 train u labels


def test_own_data_and_cache(tmp_path):
    from codeintel.config import ProbeConfig
    from codeintel.recipes.probe import load_samples
    from codeintel.tasks.models import load_model

    rows = [{"code": f"def f{i}(a, b):\n    c = a * {i} + b\n    return [c, a, b]\n"} for i in range(40)]
    rows.append({"code": "def broken(:\n"})
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tok = load_model("tiny-codebert", "clone-retrieval").tokenizer
    cfg = ProbeConfig()
    cfg.data.paths = [str(path)]
    first, skipped = load_samples(cfg, tok, 512)
    again, _ = load_samples(cfg, tok, 512)          # read back from the cache
    assert first == again and sum(len(v) for v in first.values()) == 40
    assert sum(s["syntax_errors_or_too_small"] for s in skipped.values()) == 1
    # train.seed (what --seeds changes) does not pick the functions; data.sample_seed does
    cfg.data.max_train_examples = 10
    cfg.train.seed = 1
    one, _ = load_samples(cfg, tok, 512)
    cfg.train.seed = 2
    assert load_samples(cfg, tok, 512)[0] == one
    cfg.data.sample_seed = 7
    assert load_samples(cfg, tok, 512)[0]["train"] != one["train"]
