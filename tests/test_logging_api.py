"""Output through the `codeintel` logger (silenced, routed, --quiet, --json to stderr) and one result shape
(.scores, .run_dir) across the Python API."""

import json
import logging

import pytest

import codeintel
from codeintel import log
from codeintel.cli import main


@pytest.fixture
def restore_logging():
    yield
    log.set_verbosity("info")
    log.to_stderr(False)
    if log.HANDLER not in log.LOGGER.handlers:
        log.LOGGER.addHandler(log.HANDLER)
    log.LOGGER.propagate = False


def _data(tmp_path):
    rows = [{"id": f"r{i}", "code": f"def f{i}(x):\n    return x + {i}", "summary": f"Add {i}."} for i in range(40)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


KEYS = {"train.max_steps": 1, "source_len": 24, "target_len": 6, "data.max_eval_examples": 4}


def test_the_api_logs_and_a_caller_can_silence_or_route_it(tmp_path, capsys, caplog, restore_logging):
    res = codeintel.train(model="tiny-codet5", data=[_data(tmp_path)], out=tmp_path / "a", overrides=KEYS)
    assert "== summarization | tiny-codet5 | test split" in capsys.readouterr().out   # INFO lines, on stdout
    assert res.scores == res["test"] and res.run_dir == tmp_path / "a"            # one result shape
    ev = codeintel.evaluate(str(tmp_path / "a"), out=tmp_path / "ev")
    assert set(ev.scores) == set(res.scores) and ev.run_dir == tmp_path / "ev"
    capsys.readouterr()

    codeintel.set_verbosity("warning")
    codeintel.train(model="tiny-codet5", data=[_data(tmp_path)], out=tmp_path / "b", overrides=KEYS)
    assert "test split" not in capsys.readouterr().out

    log.set_verbosity("info")
    log.route_to_root()
    with caplog.at_level(logging.INFO, logger="codeintel"):
        codeintel.train(model="tiny-codet5", data=[_data(tmp_path)], out=tmp_path / "c", overrides=KEYS)
    assert "test split" not in capsys.readouterr().out                             # not printed twice ...
    records = [r for r in caplog.records if r.name == "codeintel"]
    assert any("test split" in r.getMessage() for r in records)                    # ... routed to the root
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith("warning:") for r in records)


def test_cli_quiet_and_json_put_the_log_lines_where_they_belong(tmp_path, capsys, restore_logging):
    argv = ["train", "--model", "tiny-codet5", "--data", _data(tmp_path), "train.max_steps=1", "source_len=24",
            "target_len=6", "data.max_eval_examples=4", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "q"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "step" not in out.out and "test split" not in out.out and "warning:" in out.err + out.out
    assert main([*argv, "--out", str(tmp_path / "j"), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["test"] and "test split" in out.err


def test_only_the_adapters_message_about_inactive_adapters_is_dropped(restore_logging):
    log.quiet_adapters_library()
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    target = logging.getLogger("adapters.model_mixin")
    target.addHandler(handler)
    try:
        target.warning("There are adapters available but none are activated for the forward pass.")
        target.warning("Adapter 'x' was not found.")
    finally:
        target.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["Adapter 'x' was not found."]
