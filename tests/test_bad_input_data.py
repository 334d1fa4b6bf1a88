"""``codeintel data check`` and ``data dedup`` against the reliability campaign's cases, one row each: exit 2, one
``error:`` line, no traceback, nothing new or changed where they write (the ``refused`` fixture)."""

import json
import os

import pytest

from codeintel.cli import main

ROWS = [{"id": f"r{i}", "code": f"def f{i}(a, b):\n    c = a + b * {i}\n    return c\n", "summary": f"Add {i}."}
        for i in range(30)]


@pytest.fixture
def paths(hostile_inputs, live_lock):
    t = hostile_inputs["t"]
    (t / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (t / "rows.json").write_text(json.dumps([{"code": "def f(a): return a"}]))
    (t / "no-data").mkdir()
    (t / "mine").mkdir()
    (t / "mine" / "notes.md").write_text("mine\n")
    (t / "report").mkdir()
    (t / "report" / "hygiene.json").write_text("{}")
    live_lock(t / "busy-copy", beside=True)
    return hostile_inputs


CHECK = ["data", "check", "--task", "summarization"]
DEDUP = ["data", "dedup", "--task", "summarization", "--out", "{t}/clean"]
CASES = {
    # deeply nested input
    "check: a 100k-deep JSON line": ([*CHECK, "{t}/deep.jsonl"], "nested too deeply"),
    "dedup: a 100k-deep JSON line": ([*DEDUP, "{t}/deep.jsonl"], "nested too deeply"),
    # odd bytes
    "check: a NUL right after a string": ([*CHECK, "{t}/nul.jsonl"], "<tmp>/nul.jsonl:1: malformed JSON line"),
    "dedup: a NUL right after a string": ([*DEDUP, "{t}/nul.jsonl"], "<tmp>/nul.jsonl:1: malformed JSON line"),
    # misleading messages: a directory, a device, a JSON array
    "check: a directory without data": (["data", "check", "{t}/no-data"], "is a directory without data files"),
    "dedup: a directory without data": (["data", "dedup", "{t}/no-data", "--out", "{t}/clean"],
                                        "is a directory without data files"),
    "dedup: a directory without the card's files": ([*DEDUP, "{t}/no-data"], "must hold train.jsonl, valid.jsonl"),
    "check: /dev/null": (["data", "check", "/dev/null"], "/dev/null is not a regular file"),
    "dedup: /dev/null": ([*DEDUP, "/dev/null"], "/dev/null is not a regular file"),
    "check: a JSON array of an unknown format": (["data", "check", "{t}/rows.json"],
                                                 "cannot tell which task's format <tmp>/rows.json is"),
    "dedup: a JSON array of an unknown format": (["data", "dedup", "{t}/rows.json", "--out", "{t}/clean"],
                                                 "cannot tell which task's format <tmp>/rows.json is"),
    # --out inside a checkpoint, one and two levels deep, or in a run's states
    "check: --out inside a checkpoint": ([*CHECK, "{t}/good.jsonl", "--out", "{R}/best/hyg"],
                                         "is inside <tmp>/R/checkpoints/best-000001"),
    "check: --out two levels inside": ([*CHECK, "{t}/good.jsonl", "--out", "{R}/best/a/b"],
                                       "is inside <tmp>/R/checkpoints/best-000001"),
    "check: --out in a run's states": ([*CHECK, "{t}/good.jsonl", "--out", "{R}/states/x"],
                                       "is inside <tmp>/R/states"),
    "dedup: --out inside a checkpoint": (["data", "dedup", "{t}/good.jsonl", "--out", "{R}/best/hyg"],
                                         "is inside <tmp>/R/checkpoints/best-000001"),
    "dedup: --out two levels inside": (["data", "dedup", "{t}/good.jsonl", "--out", "{R}/best/a/b"],
                                       "is inside <tmp>/R/checkpoints/best-000001"),
    # races: a second command on the same --out is refused at once, naming the first
    "check: --out in use by another command": ([*CHECK, "{t}/good.jsonl", "--out", "{t}/busy"],
                                               "<tmp>/busy is in use by pid"),
    "dedup: --out being written by another command": (["data", "dedup", "{t}/good.jsonl", "--out", "{t}/busy-copy"],
                                                      "<tmp>/busy-copy is being written by another codeintel command"),
    # an earlier output, someone else's folder, a file
    "check: --threshold 2": ([*CHECK, "{t}/good.jsonl", "--threshold", "2"], "--threshold 2.0 must be in (0, 1]"),
    "check: --threshold nan": ([*CHECK, "{t}/good.jsonl", "--threshold", "nan"], "--threshold nan must be in (0, 1]"),
    "check: --workers -1": ([*CHECK, "{t}/good.jsonl", "--workers", "-1"], "--workers at least 0"),
    "dedup: --workers 100000": ([*DEDUP, "{t}/good.jsonl", "--workers", "100000"],
                                "--workers 100000 is more than 8 processes per CPU"),
    "check: --out holds an earlier report": ([*CHECK, "{t}/good.jsonl", "--out", "{t}/report"],
                                             "already holds an earlier run; pass --overwrite"),
    "check: --out holds the user's files": ([*CHECK, "{t}/good.jsonl", "--out", "{t}/mine", "--overwrite"],
                                            "holds files that codeintel did not write"),
    "check: --out is a file": ([*CHECK, "{t}/good.jsonl", "--out", "{t}/a-file"], "is a file, not a directory"),
    "dedup: --out is not empty": (["data", "dedup", "{t}/good.jsonl", "--out", "{t}/report"],
                                  "exists and is not an empty directory"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_data_commands_refuse(case, paths, refused):
    argv, expected = CASES[case]
    refused(argv, expected, paths)


@pytest.mark.parametrize("command", ["check", "dedup"])
def test_a_raw_surrogate_is_read_with_a_warning_not_silently(command, tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_bytes("".join(json.dumps(r) + "\n" for r in ROWS).encode()
                     + b'{"code": "def g(a):\\n    return \xed\xa0\x80", "summary": "s"}\n')
    out = ["--out", str(tmp_path / "out")] if command == "dedup" else []
    assert main(["data", command, str(data), "--task", "summarization", *out]) == 0
    captured = capsys.readouterr()
    assert f"warning: {data}: 1 line(s) hold bytes that are not UTF-8 (first: line 31)" in captured.out + captured.err


def test_dedup_holds_its_output_for_the_whole_run_and_leaves_nothing_on_failure(tmp_path, capsys):
    """The lock beside ``--out`` is taken before the analysis (a second dedup is refused at once) and released;
    parents dedup created for a run that then failed are removed again."""
    from codeintel.errors import ConfigError
    from codeintel.recipes.hygiene import check_new_dir
    from codeintel.recipes.rundir import new_output_dir

    out = tmp_path / "clean"
    with new_output_dir(out, check_new_dir):
        assert (tmp_path / ".clean.lock").is_file()
        with pytest.raises(ConfigError, match="being written by another codeintel command"):
            with new_output_dir(out, check_new_dir):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    deep_out = tmp_path / "new" / "dir" / "c"
    assert main(["data", "dedup", str(bad), "--task", "summarization", "--out", str(deep_out)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert main(["data", "dedup", str(data), "--task", "summarization", "--out", str(tmp_path / "n" / "c")]) == 0
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == ["c"]


def test_a_second_check_into_the_same_out_is_refused_while_the_first_works(tmp_path, capsys):
    """The campaign's race: the second ``data check --out`` was refused only after the first had finished. Now the
    first holds the directory from before the data is read; a second command started while it works (here: from
    inside its progress output) is refused at once, and the first's report is complete."""
    from codeintel.recipes.api import data_check

    data, out = tmp_path / "d.jsonl", tmp_path / "report"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    second = []

    def echo(*_):
        if not second:
            second.append(main(["data", "check", str(data), "--task", "summarization", "--out", str(out)]))

    data_check([str(data)], task="summarization", out=out, echo=echo)
    assert second == [2] and f"{out} is in use by pid {os.getpid()}" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["hygiene.json", "hygiene.md", "hygiene.png"]
