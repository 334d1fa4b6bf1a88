"""Checkpoints that try to make codeintel read outside them, or are damaged: one `error:` line, exit 2, no
traceback, nothing written — and (an audit hook on `open`) the file outside is never opened."""

import json
import os
import shutil
import sys

import pytest

from codeintel.cli import main

_OPENED: list[str] = []
_RECORD = [False]


def _hook(event, args):
    if _RECORD[0] and event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_hook)   # an audit hook cannot be removed: it records only while _RECORD is set


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    rows = [{"id": f"r{i}", "code": f"def f{i}(x):\n    return x + {i}", "summary": f"Add {i}."} for i in range(40)]
    data = root / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    keys = ["train.max_steps=1", "source_len=24", "target_len=6", "data.max_eval_examples=4", "--no-progress"]
    assert main(["train", "--model", "tiny-codet5", "--data", str(data), "--out", str(root / "full"), *keys]) == 0
    assert main(["train", "--model", "tiny-codet5", "--data", str(data), "--out", str(root / "lora"),
                 "--adapter", "lora-r8", *keys]) == 0
    return root, data


def _copy(src, dst):
    shutil.copytree(os.path.realpath(src), dst, symlinks=True)
    return dst


def _link_outside(ck, name, secret):
    (ck / name).unlink()
    (ck / name).symlink_to(secret)


def _edit_json(path, **changes):
    cfg = json.loads(path.read_text())
    for k, v in changes.items():
        cur = cfg
        *parents, leaf = k.split(".")
        for p in parents:
            cur = cur[p]
        cur[leaf] = v
    path.write_text(json.dumps(cfg))


CASES = {
    "tokenizer.json linked outside": ("full", lambda ck, s: _link_outside(ck, "tokenizer.json", s), "symbolic link"),
    "config.json linked outside": ("full", lambda ck, s: _link_outside(ck, "config.json", s), "symbolic link"),
    "adapter weights linked outside": (
        "lora", lambda ck, s: _link_outside(ck / "adapters" / "task", "adapter_model.safetensors", s), "symbolic link"),
    "adapter name with ../": (
        "lora", lambda ck, s: _edit_json(ck / "codeintel.json", **{"adapter_run.adapters": ["../../x"]}),
        "adapter_run.adapters must list adapter names"),
    "truncated tokenizer.json": (
        "full", lambda ck, s: (ck / "tokenizer.json").write_text((ck / "tokenizer.json").read_text()[:100]),
        "no usable tokenizer"),
    "adapter hidden_size not a number": (
        "lora", lambda ck, s: _edit_json(ck / "adapters" / "task" / "codeintel-adapter.json", hidden_size="abc"),
        "hidden_size \"abc\" is not a whole number"),
}


@pytest.mark.parametrize("command", ["evaluate", "train"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_or_damaged_checkpoint_is_one_error_and_nothing_outside_is_read(runs, tmp_path, capsys, case,
                                                                                   command):
    root, data = runs
    kind, tamper, message = CASES[case]
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:not a tokenizer\n")
    ck = _copy(root / kind / "best", tmp_path / "ck")
    tamper(ck, secret)
    out = tmp_path / "out"
    argv = (["evaluate", "--model", str(ck), "--out", str(out)] if command == "evaluate" else
            ["train", "--model", str(ck), "--data", str(data), "--out", str(out), "train.max_steps=1",
             "--no-progress"])
    capsys.readouterr()
    _OPENED.clear()
    _RECORD[0] = True
    try:
        code = main(argv)
    finally:
        _RECORD[0] = False
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("error:") == 1 and message in err and "Traceback" not in err
    assert not out.exists()
    assert str(secret.resolve()) not in _OPENED
    if command == "evaluate":   # the hook does see what is read: the checkpoint's own codeintel.json
        assert str((ck / "codeintel.json").resolve()) in _OPENED


def test_remote_code_in_a_config_is_named_and_not_run(runs, tmp_path, capsys):
    root, _ = runs
    ck = _copy(root / "full" / "best", tmp_path / "ck")
    _edit_json(ck / "config.json", auto_map={"AutoModel": "evil.Model"})
    assert main(["evaluate", "--model", str(ck), "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert f"warning: {ck}/config.json names remote code (auto_map" in out and "does not run it" in out


def test_adapters_show_refuses_a_linked_config(runs, tmp_path, capsys):
    root, _ = runs
    ck = _copy(root / "lora" / "best", tmp_path / "ck")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"peft_type": "LORA"}))
    _link_outside(ck / "adapters" / "task", "adapter_config.json", secret)
    assert main(["adapters", "show", str(ck / "adapters" / "task")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "symbolic link" in err and "outside the adapter directory" in err


def test_adapters_show_says_what_the_weights_are(runs, tmp_path, capsys):
    """Valid weights are counted; truncated or missing ones are one error; pickle-only ones are said to need
    allow_pickle."""
    root, _ = runs
    ck = _copy(root / "lora" / "best", tmp_path / "ck")
    task = ck / "adapters" / "task"
    capsys.readouterr()
    assert main(["adapters", "show", str(ck)]) == 0
    assert "adapter_model.safetensors: 24 tensors, 24,576 parameters" in capsys.readouterr().out
    (task / "adapter_model.safetensors").write_bytes((task / "adapter_model.safetensors").read_bytes()[:100])
    assert main(["adapters", "show", str(task)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "adapter_model.safetensors is damaged" in err
    (task / "adapter_model.safetensors").unlink()
    assert main(["adapters", "show", str(task)]) == 2
    assert "holds no adapter weights" in capsys.readouterr().err
    (task / "adapter_model.bin").write_bytes(b"not read")
    assert main(["adapters", "show", str(task)]) == 0
    assert "adapter_model.bin only (a pickle" in capsys.readouterr().out


def test_a_hugging_face_cache_snapshot_with_links_into_its_blobs_loads(runs, tmp_path):
    """huggingface-cli download without --local-dir: snapshot files are links into the repository's blobs/."""
    from codeintel.backbones.loading import guard_directory

    root, _ = runs
    repo = tmp_path / "models--me--tiny"
    snap, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir()
    for f in os.listdir(os.path.realpath(root / "full" / "best")):
        src = os.path.join(os.path.realpath(root / "full" / "best"), f)
        if os.path.isfile(src):
            shutil.copy(src, blobs / f"sha-{f}")
            (snap / f).symlink_to(os.path.relpath(blobs / f"sha-{f}", snap))
    guard_directory(snap)                                        # no error
    from codeintel.tasks.models import load_model

    assert load_model(str(snap)).task == "summarization"
    (snap / "extra.json").symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "elsewhere.json").write_text("{}")
    with pytest.raises(Exception, match="outside the checkpoint"):
        guard_directory(snap)
