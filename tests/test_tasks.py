"""Task objectives on small hand-made batches."""

import math

import torch

from codeintel.tasks.cards import load_task
from codeintel.tasks.models import load_model
from codeintel.tasks.types import make_task


def test_retrieval_loss_does_not_collapse(shared_data):
    """All programs on one point gives loss log(B - 1). On a real POJ-104 batch (32 programs, 2 problems) a
    tanh pooler collapses there within a few steps; the retrieval head must go well below it."""
    from codeintel.data.loaders import load_clone_retrieval
    from codeintel.recipes.batching import make_batches

    rows = load_clone_retrieval([str(shared_data / "clone" / "poj104_dev.jsonl")])["train"]
    for model in ("tiny-graphcodebert", "tiny-codet5"):
        torch.manual_seed(0)
        loaded = load_model(model, "clone-retrieval")
        task = make_task(load_task("clone-retrieval"), loaded.tokenizer, 256, 0)
        prep = task.prepare(rows)
        batch = task.collate(prep, make_batches(prep.lengths, 8192, 64, seed=0)[0])
        optim = torch.optim.AdamW(loaded.model.parameters(), lr=1e-3)
        for _ in range(15):
            loss, _ = task.loss(loaded.model, batch)
            optim.zero_grad()
            loss.backward()
            optim.step()
        collapsed = math.log(len(batch["labels"]) - 1)
        assert loss.item() < collapsed - 0.3, (model, loss.item(), collapsed)


def test_pair_classifier_input_is_interleaved_pairs():
    loaded = load_model("tiny-codebert", "clone-detection")
    task = make_task(load_task("clone-detection"), loaded.tokenizer, 32, 0)
    task.programs = {"a": "int f() {}", "b": "void g(int x) { x++; }"}
    prep = task.prepare([("a", "b", 1), ("b", "a", 0)])
    batch = task.collate(prep, [0, 1])
    assert batch["input_ids"].shape[:2] == (2, 2)
    assert torch.equal(batch["input_ids"][0, 0], batch["input_ids"][1, 1])
    assert batch["labels"].tolist() == [1, 0]


def test_train_state_rng_round_trip(tmp_path):
    """A captured generator state, saved and loaded back with torch's safe loader (no pickle code), replays
    the same draws (Python, NumPy and torch)."""
    import random

    import numpy as np
    import torch

    from codeintel.recipes.kit import capture_rng, restore_rng

    torch.manual_seed(3)
    np.random.rand(7)  # a NumPy state that is not at the start of its key
    torch.save({"rng": [capture_rng()]}, tmp_path / "rng.pt")
    first = (random.random(), float(np.random.rand()), np.random.randn(), torch.rand(3).tolist())
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"][0])
    again = (random.random(), float(np.random.rand()), np.random.randn(), torch.rand(3).tolist())
    assert first == again
    assert (random.random(), float(np.random.rand()), np.random.randn(), torch.rand(3).tolist()) != first
