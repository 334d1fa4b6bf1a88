"""GraphCodeBERT's graph-guided input on a snippet worked out by hand, node embeddings, and the wiring."""

import json

import numpy as np
import pytest
import torch

from codeintel.backbones.graphcodebert import attention_mask, build_input, collate, encode
from codeintel.backbones.loading import shipped_tokenizer
from codeintel.tasks.models import load_model


@pytest.fixture(scope="module")
def tok():
    return shipped_tokenizer("code-bpe-8k")


def test_layout_positions_and_edges(tok):
    # tokens x0 =1 1 2 y3 =4 x5; DFG: x@0<-1@2, 1@2, y@3<-x@5, x@5<-x@0 -> nodes k0..k3
    g = build_input("x = 1\ny = x\n", "python", tok, 12, 4)
    assert tok.convert_ids_to_tokens(g.input_ids) == ["<s>", "x", "Ġ=", "Ġ1", "Ġy", "Ġ=", "Ġx", "</s>",
                                                      "<unk>", "<unk>", "<unk>", "<unk>", "<pad>", "<pad>", "<pad>",
                                                      "<pad>"]
    assert g.position_ids == [2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 1, 1, 1, 1]
    assert g.node_spans == [(1, 2), (3, 4), (4, 5), (6, 7)]  # sub-token spans, shifted by one for <s>
    assert g.node_sources == [[1], [], [3], [0]]


def test_attention_mask_by_hand(tok):
    m = attention_mask(build_input("x = 1\ny = x\n", "python", tok, 12, 4)).astype(int)
    assert (m[:8, :8] == 1).all()                               # code <-> code, specials included
    assert m[0, :12].all() and m[7, :12].all() and not m[0, 12:].any()  # <s>, </s> see all but padding
    expected_nodes = np.zeros((4, 16), dtype=int)
    for k, (span, srcs) in enumerate([((1, 2), [1]), ((3, 4), []), ((4, 5), [3]), ((6, 7), [0])]):
        expected_nodes[k, span[0]:span[1]] = 1
        for j in srcs:
            expected_nodes[k, 8 + j] = 1                         # directed, no self-loop
    assert (m[8:12] == expected_nodes).all()
    assert m[1, 8] == m[3, 9] == m[4, 10] == m[6, 11] == 1      # tokens see their own node
    assert m[2, 8:12].sum() == 0 and m[5, 8:12].sum() == 0      # '=' belongs to no node
    assert not m[12:].any() and not m[:, 12:].any()              # padding sees and is seen by nothing


def test_truncation_budget(tok):
    code = "a = b\n" * 50
    g = build_input(code, "python", tok, 16, 8)
    assert len(g.input_ids) == 24
    n_nodes = sum(p == 0 for p in g.position_ids)
    assert g.n_code == 24 - 3 - 8 + 2 and n_nodes == 24 - g.n_code  # C + D - 3 - min(|dfg|, D) code pieces


def test_node_embedding_is_the_average_of_its_tokens(tok):
    torch.manual_seed(0)
    roberta = load_model("tiny-graphcodebert", "clone-retrieval").model.backbone.eval()
    batch = collate([build_input("total = price + tax\n", "python", tok, 16, 8)])
    captured = {}
    hook = roberta.embeddings.register_forward_hook(lambda mod, args, kwargs, out: captured.update(kwargs),
                                                    with_kwargs=True)
    with torch.no_grad():
        encode(roberta, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
    hook.remove()
    embeds = captured["inputs_embeds"][0]
    words = roberta.embeddings.word_embeddings(batch["input_ids"])[0]
    first_node = batch["position_ids"][0].tolist().index(0)
    span = np.nonzero(batch["attention_mask"][0, first_node, :first_node].numpy())[0]
    assert torch.allclose(embeds[first_node], words[span].mean(0), atol=1e-6)
    assert torch.equal(embeds[1], words[1])  # code tokens keep their word embedding


def test_graph_mode_trains_and_reloads(shared_data, tmp_path):
    from codeintel.cli import main

    d = shared_data / "clone"
    run = tmp_path / "g"
    argv = ["train", "--model", "tiny-graphcodebert", "--task", "clone-detection", "--data",
            str(d / "gcj_programs.jsonl"), str(d / "gcj_pairs.txt"), "--out", str(run), "--no-progress",
            "graph=true", "source_len=64", "dfg_length=16", "train.max_steps=3"]
    assert main(argv) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert json.loads((run / "best" / "codeintel.json").read_text())["graph"] is True
    assert main(["evaluate", "--model", str(run / "best")]) == 0
    assert json.loads((run / "eval-test" / "metrics.json").read_text())["scores"] == m["test"]


def test_graph_needs_roberta(capsys):
    from codeintel.cli import main

    assert main(["train", "--model", "tiny-codet5", "--task", "clone-retrieval", "--data", "x.jsonl",
                 "graph=true"]) == 2
    assert "RoBERTa-family" in capsys.readouterr().err


def test_code_search_with_and_without_graph(tmp_path):
    """NL -> code on a small set: the run writes MRR and per-query ranks; reload gives the same MRR."""
    from codeintel.cli import main

    rows = []
    words = ["sum", "max", "min", "len", "sort", "join", "split", "upper", "lower", "strip", "count", "index"]
    for i in range(60):
        w = words[i % len(words)]
        code = f"def {w}_{i}(values):\n    result = {w}(values)\n    return result\n"
        rows.append({"id": f"r{i}", "code": code, "summary": f"Compute the {w} of the values."})
    data = tmp_path / "search.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for graph in ("false", "true"):
        run = tmp_path / f"cs-{graph}"
        assert main(["train", "--model", "tiny-graphcodebert", "--task", "code-search", "--data", str(data),
                     "--out", str(run), "--no-progress", f"graph={graph}", "source_len=48", "dfg_length=16",
                     "target_len=16", "train.max_steps=3"]) == 0
        m = json.loads((run / "metrics.json").read_text())
        assert 0 < m["test"]["mrr"] <= 1
        ranks = [json.loads(x)["rank"] for x in (run / "predictions.jsonl").read_text().splitlines()]
        assert np.mean([1 / r for r in ranks]) == pytest.approx(m["test"]["mrr"])
        assert main(["evaluate", "--model", str(run / "best")]) == 0
        assert json.loads((run / "eval-test" / "metrics.json").read_text())["scores"] == m["test"]


def test_chance_mrr_is_the_harmonic_mean():
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.search import CodeSearchTask

    task = CodeSearchTask(load_task("code-search"), None, 8, 8)
    chance = task.baselines({"test": [{}] * 4})["chance_random_ranking"]["mrr"]
    assert chance == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_batches_cut_to_the_longest_real_input_give_the_same_states_and_gradients(tok):
    """collate cuts the padding after the batch's longest code + nodes: the real positions' states, the loss on
    them and every gradient equal those of the full C + D layout (GraphCodeBERT's), to float tolerance."""
    torch.manual_seed(0)
    roberta = load_model("tiny-graphcodebert", "clone-retrieval").model.backbone.eval()
    inputs = [build_input(code, "python", tok, 64, 16) for code in
              ("x = 1\ny = x\n", "def f(a, b):\n    c = a + b\n    return c * a\n", "total = price + tax\n")]
    cut = collate(inputs)
    n = max(g.n_real for g in inputs)
    assert cut["input_ids"].shape == (3, n) and n < 64 + 16
    full = {"input_ids": torch.tensor([g.input_ids for g in inputs]),
            "position_ids": torch.tensor([g.position_ids for g in inputs]),
            "attention_mask": torch.from_numpy(np.stack([attention_mask(g) for g in inputs]))}
    assert torch.equal(full["attention_mask"][:, :n, :n], cut["attention_mask"])
    assert not full["attention_mask"][:, :, n:].any()             # nothing attends to what is cut

    def run(batch):
        roberta.zero_grad()
        hidden = encode(roberta, batch["input_ids"], batch["position_ids"], batch["attention_mask"])
        real = batch["position_ids"].ne(1)
        loss = (hidden[real] ** 2).sum()
        loss.backward()
        return hidden[real].detach(), {k: p.grad.clone() for k, p in roberta.named_parameters() if p.grad is not None}

    h_full, g_full = run(full)
    h_cut, g_cut = run(cut)
    assert torch.allclose(h_full, h_cut, atol=1e-5)
    assert g_full.keys() == g_cut.keys() and len(g_full) > 10
    for k in g_full:
        assert torch.allclose(g_full[k], g_cut[k], atol=1e-4, rtol=1e-4), k
