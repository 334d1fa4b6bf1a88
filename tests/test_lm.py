"""Language modeling: normalized perplexity by hand, comment stripping, windows that cover every token."""

import json
import math

import pytest

from codeintel.errors import ConfigError
from codeintel.eval.metrics import lexer_rule_count, lexer_token_count, normalized_perplexity
from codeintel.structure.parsing import strip_comments


def test_normalized_perplexity_by_hand():
    # 4 nats * ln 2 over 4 lexer tokens -> exp(ln 2) = 2; the same NLL over 8 model tokens is sqrt(2) per token
    assert normalized_perplexity(4 * math.log(2), 4) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        normalized_perplexity(1.0, 0)


def test_lexer_counts_every_pygments_token():
    # "int" "  " "x" ";" "\n" (pygments appends the final newline)
    assert lexer_token_count("int x;", "c") == 5
    assert lexer_rule_count("c") > 10


def test_strip_comments_keeps_openmp_sentinels():
    c = "int x; // note\n/* block\n comment */\nint y;\n"
    assert strip_comments(c, "c") == "int x; \nint y;\n"
    f = "program p\n! a comment\n!$omp parallel\nx = 1 ! trailing\n!$omp end parallel\nend program\n"
    assert strip_comments(f, "fortran") == "program p\n!$omp parallel\nx = 1 \n!$omp end parallel\nend program\n"


def test_tokenizer_override_needs_a_config_built_model():
    from codeintel.tasks.models import load_model

    with pytest.raises(ConfigError, match="tokenizer override needs a model built from its config"):
        load_model("codet5-small", "language-modeling", tokenizer="tokompiler")
    with pytest.raises(ConfigError, match="no head for .language-modeling"):
        load_model("tiny-codebert", "language-modeling")
    loaded = load_model("tiny-codet5", "language-modeling", tokenizer="tokompiler")
    assert loaded.model.config.vocab_size == len(loaded.tokenizer) == 1564
    assert loaded.model.config.decoder_start_token_id == loaded.tokenizer.pad_token_id == 0


def test_language_modeling_with_tokompiler_end_to_end(shared_data, tmp_path):
    from codeintel.cli import main

    run = tmp_path / "lm"
    data = str(shared_data / "hpc" / "dataracebench.jsonl")
    assert main(["train", "--model", "tiny-codet5", "--task", "language-modeling", "--data", data, "--tokenizer",
                 "tokompiler", "--out", str(run), "--no-progress", "train.max_steps=3", "target_len=128",
                 "eval.ppl_compat=true"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["test"]) == {"normalized_ppl", "token_ppl", "normalized_ppl_compat"}
    assert m["test"]["normalized_ppl"] < m["baselines"]["uniform_over_vocabulary"]["normalized_ppl"]
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    total_nll = sum(r["nll"] for r in rows)
    assert math.exp(total_nll / sum(r["lexer_tokens"] for r in rows)) == pytest.approx(m["test"]["normalized_ppl"])
    assert math.exp(total_nll / sum(r["model_tokens"] for r in rows)) == pytest.approx(m["test"]["token_ppl"])
    assert main(["evaluate", "--model", str(run / "best")]) == 0
    again = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert again["scores"] == m["test"]


def test_windows_cover_every_token(shared_data):
    from codeintel.data.loaders import LoadReport
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.models import load_model
    from codeintel.tasks.types import make_task

    loaded = load_model("tiny-codet5", "language-modeling")
    task = make_task(load_task("language-modeling"), loaded.tokenizer, 0, 64)
    rows = task.load([str(shared_data / "hpc" / "dataracebench.jsonl")], False, LoadReport())["test"][:5]
    prep = task.prepare(rows)
    assert sum(len(c) for c in prep.items["chunks"]) == sum(prep.items["model_tokens"])
    assert max(len(c) for c in prep.items["chunks"]) == 64
