"""``codeintel pretrain`` (MLM and contrastive) against the reliability campaign's cases, one row each: exit 2,
one ``error:`` line, no traceback, nothing new or changed where it writes (``refused``). The values are refused
by the recipe kit's shared key rules before any work (``contrastive.variants=1000000000`` used to hang)."""

import json

import pytest

from codeintel.cli import main

MLM = ["pretrain", "mlm", "--out", "{t}/pt"]
CON = ["pretrain", "contrastive", "--out", "{t}/pt"]
VALUES = [(MLM, "train.lr=nan", "train.lr must be a finite number"),
          (MLM, "train.lr=-1", "train.lr must be a positive number"),
          (MLM, "train.lr=inf", "train.lr must be a finite number"),
          (MLM, "train.threads=-1", "train.threads must be >= 0"),
          (MLM, "train.seed=4294967296", "train.seed must be in [0, 2^32)"),
          (MLM, "train.seed=-1", "train.seed must be in [0, 2^32)"),
          (MLM, "train.max_steps=1e400", "train.max_steps='1e400': expected int"),
          (MLM, "source_len=100000", "source_len=100000 is beyond tiny-codebert's 512 positions"),
          (CON, "source_len=100000", "source_len=100000 is beyond tiny-codebert's 512 positions"),
          (CON, "contrastive.variants=1000000000", "contrastive.variants must be in [1, 64]"),
          (CON, "contrastive.op_probability=5", "op_probability"),
          (CON, "contrastive.proj_dim=-1", "contrastive.proj_dim must be >= 0"),
          (CON, "contrastive.ops=rename_variables:k=abc", "not a whole number"),
          (CON, "contrastive.ops=rename_variables:k=-1", "out of range"),
          (CON, "contrastive.ops=rename_variables:k=100000000", "out of range")]
CASES = {
    **{f"{cmd[1]}: {kv}": ([*cmd, kv], expected) for cmd, kv, expected in VALUES},
    "mlm: a fine-tuned task checkpoint as the model": ([*MLM, "--model", "{ck}"],
                                                       "fine-tuned clone-detection checkpoint"),
    "mlm: a 100k-deep --config": ([*MLM, "--config", "{t}/deep.yaml"], "nested too deeply"),
    "mlm: a 100k-deep JSON line in --data": ([*MLM, "--data", "{t}/deep.jsonl", "--lang", "python"],
                                             "nested too deeply"),
    "mlm: a NUL right after a string in --data": ([*MLM, "--data", "{t}/nul.jsonl", "--lang", "python"],
                                                  "<tmp>/nul.jsonl:1: malformed JSON line"),
    "mlm: --out inside a checkpoint": (["pretrain", "mlm", "--out", "{R}/best/x"],
                                       "is inside <tmp>/R/checkpoints/best-000001"),
    "contrastive: --out two levels inside": (["pretrain", "contrastive", "--out", "{R}/best/a/b"],
                                             "is inside <tmp>/R/checkpoints/best-000001"),
    "mlm: --out in use by another command": (["pretrain", "mlm", "--out", "{t}/busy"], "<tmp>/busy is in use by pid"),
    "mlm: --resume with states linked outside the run": (["pretrain", "mlm", "--resume", "{linked}"],
                                                         "is a link (to <tmp>/other/states)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pretrain_refuses(case, hostile_inputs, refused):
    argv, expected = CASES[case]
    err = refused(argv, expected, hostile_inputs)
    assert "pass --task" not in err                  # pretrain has no --task option


def test_bytes_that_are_not_utf8_are_read_with_a_warning(tmp_path, capsys):
    """The campaign found invalid UTF-8 accepted silently by pretrain: each bad byte becomes U+FFFD, and one warning
    names the file and the first line."""
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"".join(json.dumps({"code": f"def f{i}(a):\n    return a + {i}\n"}).encode() + b"\n"
                              for i in range(20)) + b'{"code": "def g(a):\\n    return \xff\xfe"}\n')
    assert main(["pretrain", "mlm", "--data", str(data), "--lang", "python", "--out", str(tmp_path / "pt"),
                 "train.max_steps=1", "source_len=32", "train.batch_size=2", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert f"warning: {data}: 1 line(s) hold bytes that are not UTF-8 (first: line 21)" in out.out + out.err
