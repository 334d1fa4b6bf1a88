"""Continual learning over API streams: the call extractor, streams, the two tasks, each strategy's mechanism,
the forgetting metrics, and the command end to end (with its bad-input errors)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from codeintel.cli import main
from codeintel.config import AgemConfig, EwcConfig, LwfConfig, ReplayConfig, RwalkConfig, SiConfig
from codeintel.continual import strategies as S
from codeintel.continual import tasks as T
from codeintel.continual.apis import extract_samples
from codeintel.continual.streams import StreamDefinition, build, definition_from, extract_all, load_stream, read_units
from codeintel.errors import ConfigError, DataError
from codeintel.eval.bleu import corpus_bleu
from codeintel.recipes.continual import summarize

# --------------------------------------------------------------------------- API calls


def calls_of(code: str, lang: str) -> list[tuple[str, str]]:
    return [(c.api, c.kind) for s in extract_samples(code, lang, "u") for c in s.calls]


def test_python_calls_resolve_aliases_from_imports_typed_locals_and_shadowing():
    code = (
        "import os.path as p, re\n"
        "import threading\n"
        "from json import dumps as d, loads\n"
        "def f(x, re2):\n"
        "    y = re.compile('a')\n"                 # module call
        "    p.join(x).upper()\n"                   # alias; the chained .upper() has no known receiver
        "    t = threading.Thread(target=x)\n"      # a class call (a constructor, not an API call) types t
        "    t.start()\n"
        "    loads(d(x))\n"                         # from-imports, bare calls, nested
        "    os.getcwd()\n"                         # `os` is not bound by `import os.path as p`
        "    return y.match(x)\n"                   # y came from a function call: unknown type
        "def g(re):\n"
        "    return re.compile(x)\n"                # a parameter shadows the import
    )
    assert calls_of(code, "python") == [
        ("re.compile", "static"), ("os.path.join", "static"), ("threading.Thread.start", "instance"),
        ("json.loads", "bare"), ("json.dumps", "bare")]


def test_python_offsets_give_the_two_task_inputs():
    code = "import os\ndef f(a, b):\n    x = os.path.join(a,\n        b)\n    return x\n"
    (sample,) = extract_samples(code, "python", "u")
    (call,) = sample.calls
    assert sample.code[: call.name_start].endswith("x = os.path.")
    assert sample.code[call.usage_start : call.end] == "os.path.join(a,\n        b)"
    (call_ex,) = T.examples([sample], ["os"], "api-call")
    assert call_ex.context.endswith("os.path.") and call_ex.target == "join" and call_ex.trained == "join("
    (usage,) = T.examples([sample], ["os"], "api-usage")
    assert usage.context.endswith("x =") and usage.target == " os.path.join(a,\n        b)"
    assert T.collapse(usage.target) == "os.path.join(a, b)"


def test_java_calls_resolve_imports_wildcards_statics_and_declared_types():
    code = (
        "import java.util.*; import static java.lang.Math.max; import java.math.BigInteger;\n"
        "class A { private Map<String, List<Integer>> m; int[] arr;\n"
        " void f(Scanner sc, String s) { List<Integer> xs = new ArrayList<>(); BigInteger b = BigInteger.valueOf(3);\n"
        " xs.add(sc.nextInt()); System.out.println(max(1, 2)); new StringBuilder().append(s);\n"
        " java.util.Arrays.sort(arr); m.get(s).size(); unknown.call(); } }\n"
    )
    assert calls_of(code, "java") == [
        ("java.math.BigInteger.valueOf", "static"), ("java.util.List.add", "instance"),
        ("java.util.Scanner.nextInt", "instance"), ("java.io.PrintStream.println", "instance"),
        ("java.lang.Math.max", "bare"), ("java.lang.StringBuilder.append", "instance"),
        ("java.util.Arrays.sort", "static"), ("java.util.Map.get", "instance")]
    (sample,) = extract_samples(code, "java", "u")
    static = next(c for c in sample.calls if c.method == "valueOf")
    instance = next(c for c in sample.calls if c.method == "nextInt")
    assert sample.code[static.usage_start : static.end] == "BigInteger.valueOf(3)"   # Class. included
    assert sample.code[instance.usage_start : instance.end] == "nextInt()"          # variable excluded
    assert sample.code[: instance.name_start].endswith("sc.")


def test_bare_calls_are_api_call_sites_and_a_static_wildcard_resolves_unqualified_calls():
    code = "from os.path import join\ndef f(a):\n    return join(a, 'b')\n"
    (sample,) = extract_samples(code, "python", "u")
    (ex,) = T.examples([sample], ["os.path"], "api-call")     # no `receiver.`: the input ends before the name
    assert ex.context.endswith("return ") and ex.target == "join" and ex.api == "os.path.join"
    java = ("import static org.junit.Assert.*;\nclass T { void helper() {}\n"
            " void t() { assertEquals(1, 2); helper(); assertTrue(true); } }\n")
    assert [c for c in calls_of(java, "java")] == [("org.junit.Assert.assertEquals", "bare"),
                                                   ("org.junit.Assert.assertTrue", "bare")]  # helper(): its own
    two = "import static a.B.*;\nimport static c.D.*;\nclass T { void t() { f(); } }\n"
    assert calls_of(two, "java") == []                          # two static wildcards: f is either's, unknown


def test_build_stream_from_a_source_folder_leaves_out_tests_and_the_own_package(tmp_path, capsys):
    import yaml

    repo = tmp_path / "repo"
    (repo / "mypkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "mypkg" / "__init__.py").write_text("")
    units = synthetic_units(24)
    for row in units:                                           # every unit a module of the package
        (repo / "mypkg" / f"{row['id'].replace('-', '_')}.py").write_text(row["code"])
    own = "".join(f"from mypkg import util\ndef g{i}(x):\n    return util.helper(x)\n" for i in range(30))
    (repo / "mypkg" / "uses_own.py").write_text(own)
    (repo / "tests" / "test_all.py").write_text(
        "import pytest\n" + "".join(f"def test_{i}():\n    pytest.raises(ValueError)\n" for i in range(40)))
    out = tmp_path / "s.yaml"
    assert main(["continual", "build-stream", "--lang", "python", "--data", str(repo), "--num-domains", "4",
                 "--min-samples", "5", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "left out: 1 test files" in printed and "never automatic domains: mypkg, pytest" in printed
    written = yaml.safe_load(out.read_text())
    assert sorted(d["name"] for d in written["domains"]) == ["json", "math", "os.path", "re"]  # no mypkg, pytest
    assert written["exclude_tests"] is True and written["excluded_apis"][0] == "mypkg"
    stream = load_stream(str(out))                              # rebuilt the same way: the counts check passes
    assert [e.name for e in stream.experiences] == [d["name"] for d in written["domains"]]
    # --keep-own --keep-tests: pytest (40 test functions) and the own package (30) are the top domains
    out2 = tmp_path / "s2.yaml"
    assert main(["continual", "build-stream", "--lang", "python", "--data", str(repo), "--num-domains", "2",
                 "--min-samples", "5", "--keep-own", "--keep-tests", "--out", str(out2), "--no-progress"]) == 0
    assert [d["name"] for d in yaml.safe_load(out2.read_text())["domains"]] == ["pytest", "mypkg.util"]
    # the wrong language: no such files in the folder, or code that does not parse as it
    assert main(["continual", "build-stream", "--lang", "java", "--data", str(repo), "--out",
                 str(tmp_path / "j.yaml"), "--no-progress"]) == 2
    assert "holds no java source files (source files found: 99 python)" in capsys.readouterr().err
    data = write_jsonl(tmp_path / "py.jsonl", units)
    assert main(["continual", "build-stream", "--lang", "java", "--data", str(data), "--out",
                 str(tmp_path / "j.yaml"), "--no-progress"]) == 2
    assert "do not parse as java; is the code java?" in capsys.readouterr().err
    assert not (tmp_path / "j.yaml").exists()


def test_an_automatic_domain_never_sits_under_an_earlier_one():
    from codeintel.continual.apis import ApiCall, Sample
    from codeintel.continual.streams import auto_domains

    def sample(i, owner):
        return Sample(f"s{i}", "x", "python", [ApiCall(f"{owner}.f", owner, owner, "f", "static", 0, 0, 1)])

    samples = [sample(i, "torch") for i in range(10)] + [sample(10 + i, "torch.cuda") for i in range(5)] + \
        [sample(20 + i, "json") for i in range(3)]
    assert [d.name for d in auto_domains(samples, "module", "python", 3, 1)] == ["torch", "json"]


def test_gcj_java_stream_on_the_shipped_sample(shared_data):
    data = shared_data / "clone" / "gcj_programs.jsonl"
    if not data.is_file():
        pytest.skip("no GCJ sample")
    from codeintel.continual.streams import load_stream

    stream = load_stream("gcj-java", data=str(data), progress_enabled=False)
    assert [e.name for e in stream.experiences] == ["collections", "math", "strings", "io"]
    for e in stream.experiences:
        assert len(e.test) >= 10 and len(e.train) > 5 * len(e.test)
        assert not {s.id for s in e.train} & {s.id for s in e.test}
        calls = T.examples(e.test, e.apis, "api-call")
        assert calls and all(any(x.api.startswith(a) for a in e.apis) for x in calls)
    io = stream.experiences[3]
    assert any(x.api == "java.util.Scanner.nextInt" for x in T.examples(io.train, io.apis, "api-call"))


# --------------------------------------------------------------------------- streams


def synthetic_units(n: int = 36, seed: int = 0) -> list[dict]:
    """Python files whose functions call os.path (domain 1), json (2), re (3), or only math (in-distribution)."""
    rng = random.Random(seed)
    bodies = {
        "os": ["p = os.path.join({a}, {b})", "ok = os.path.exists({a})", "n = os.path.basename({b})"],
        "json": ["s = json.dumps({a})", "d = json.loads({b})", "json.dump({a}, {b})"],
        "re": ["r = re.compile({a})", "m = re.match({a}, {b})", "t = re.sub({a}, {b}, s)"],
        "math": ["v = math.sqrt({a})", "w = math.floor({b})"],
    }
    rows = []
    for mod, lines in bodies.items():
        for i in range(n):
            names = [f"{w}{rng.randrange(100)}" for w in ("path", "data", "item", "value")]
            body = "\n".join("    " + rng.choice(lines).format(a=names[0], b=names[1]) for _ in range(3))
            code = (f"import {mod}\n\ndef {mod}_helper_{i}({names[0]}, {names[1]}):\n    s = str({names[0]})\n{body}\n"
                    f"    return {names[1]}\n")
            rows.append({"id": f"{mod}-{i}", "code": code})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


DEFINITION = {"name": "toy", "lang": "python", "by": "module", "seed": 0, "test_fraction": 0.2,
              "domains": [{"name": "paths", "apis": ["os.path"]}, {"name": "serial", "apis": ["json"]},
                          {"name": "regex", "apis": ["re"]}]}


def test_stream_assigns_domains_in_order_and_holds_out_each_api(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", synthetic_units())
    defn = definition_from(dict(DEFINITION), tmp_path / "toy.yaml")
    samples = extract_all(read_units(str(data), "python"), "python", False)
    stream = build(defn, samples)
    counts = stream.counts()
    assert [e.name for e in stream.experiences] == ["paths", "serial", "regex"]
    assert {k: (v["train"], v["test"]) for k, v in counts.items()} == {
        "paths": (29, 7), "serial": (29, 7), "regex": (29, 7), "id": (29, 7)}
    assert build(defn, samples).counts() == counts                       # seeded: the same split again
    defn.domains[0].apis.append("shutil")
    with pytest.raises(DataError, match="shutil never occur"):
        build(defn, samples)


@pytest.mark.parametrize("raw,message", [
    ({**DEFINITION, "lang": "rust"}, "lang must be"),
    ({**DEFINITION, "domains": []}, "non-empty list"),
    ({**DEFINITION, "domains": [{"name": "a", "apis": []}]}, "at least one API"),
    ({**DEFINITION, "colour": 1}, "unknown key"),
    ({**DEFINITION, "test_fraction": 1.5}, "test_fraction"),
])
def test_bad_stream_definitions(tmp_path, raw, message):
    with pytest.raises(ConfigError, match=message):
        definition_from(raw, tmp_path / "s.yaml")


# --------------------------------------------------------------------------- tasks and metrics


def test_cut_usage_and_leading_name_follow_the_papers_rules():
    assert T.cut_usage("os.path.join(a, b)) + 1\nfoo") == "os.path.join(a, b)"
    assert T.cut_usage("dumps(x, f(y)).strip()") == "dumps(x, f(y))"
    assert T.cut_usage("compile(a,\n    b);\nmore") == "compile(a, b)"
    assert T.cut_usage("get(a\nif x") == "get(a"                      # a stop string before the balance
    assert T.leading_name("join(a)") == "join" and T.leading_name("is_dir2 x") == "is_dir2"
    assert T.leading_name("(x") == ""


def test_corpus_bleu_by_hand():
    assert corpus_bleu(["a b c d e"], ["a b c d e"]) == pytest.approx(100.0)
    # every n-gram precision is 1; brevity penalty exp(1 - 5/4)
    assert corpus_bleu(["a b c d"], ["a b c d e"]) == pytest.approx(100 * np.exp(-0.25))
    assert corpus_bleu(["x y"], ["a b"]) == 0.0
    # corpus sums: p1 = 7/8, p2 = 5/6, p3 = 3/4, p4 = 1/2 over the two hypotheses (lengths 4 + 4 = refs 4 + 4)
    score = corpus_bleu(["a b c d", "e f g x"], ["a b c d", "e f g h"])
    assert score == pytest.approx(100 * (7 / 8 * 5 / 6 * 3 / 4 * 1 / 2) ** 0.25)
    # CodeXGLUE's code-to-code `_bleu` smooths every order: (m + 1) / (p + 1); "x y" vs "a b": 1/3, 1/2, 1, 1
    assert corpus_bleu(["x y"], ["a b"], smooth=True) == pytest.approx(100 * (1 / 3 * 1 / 2) ** 0.25)
    assert corpus_bleu(["a b c d", "e f g x"], ["a b c d", "e f g h"], smooth=True) == \
        pytest.approx(100 * (8 / 9 * 6 / 7 * 4 / 5 * 2 / 3) ** 0.25)


def test_api_usage_bleu_is_codexglues_smoothed_bleu_rounded():
    exs = [T.Example("c", "os.path.join(a, c)", "os.path", "s")]
    # whitespace tokens "os.path.join(a," "c)" vs "...b)": unigrams 1/2, bigrams 0/1, no 3- or 4-grams; smoothed
    # (m + 1) / (p + 1): 2/3, 1/2, 1, 1; equal lengths (no brevity penalty) -> (1/3) ** 0.25 = 75.98 (unsmoothed: 0)
    out = T.score("api-usage", exs, [["os.path.join(a, b)"]], "sample", 1)
    assert out == {"exact_match": 0.0, "bleu": 75.98}
    assert T.score("api-usage", exs, [["os.path.join(a, c)"]], "sample", 1) == {"exact_match": 100.0, "bleu": 100.0}
    # the per-example statistics give the same corpus scores back (what `compare` resamples)
    exs2 = exs + [T.Example("c", "json.dumps(x)", "json", "s")]
    preds = [["os.path.join(a, b)"], ["json.dumps(x)"]]
    got = T.per_example("api-usage", exs2, preds, "sample", 1)
    assert {m: d.value() for m, d in got.items()} == T.score("api-usage", exs2, preds, "sample", 1)
    call = [T.Example("c", "join", "os.path", "s"), T.Example("c", "dumps", "json", "s")]
    got = T.per_example("api-call", call, [["x", "join"], ["dumps"]], "sample", 2)
    assert {m: d.value() for m, d in got.items()} == T.score("api-call", call, [["x", "join"], ["dumps"]], "sample", 2)


def test_summary_metrics_by_hand():
    R = [[60.0, 5.0, 0.0],
         [40.0, 50.0, 10.0],
         [30.0, 45.0, 70.0]]
    out = summarize(R, b=[0.0, 2.0, 4.0], id_before=20.0, id_after=15.0)
    assert out["average"] == pytest.approx((30 + 45 + 70) / 3)
    assert out["forgetting"] == pytest.approx(((60 - 30) + (50 - 45)) / 2)
    # rows from before a domain was trained do not count: a 4 x 4 case where the three definitions differ
    R4 = [[10.0, 50.0, 0.0, 0.0],
          [30.0, 20.0, 5.0, 0.0],
          [25.0, 40.0, 60.0, 10.0],
          [20.0, 30.0, 45.0, 70.0]]
    # domain 0: max(10, 30, 25) - 20 = 10; domain 1: max(20, 40) - 30 = 10 (not 50, its zero-shot row 0);
    # domain 2: 60 - 45 = 15
    assert summarize(R4, [0.0] * 4, None, None)["forgetting"] == pytest.approx(35 / 3)
    # (Chaudhry's max over every earlier row: (10 + 20 + 15) / 3 = 15; Avalanche's R[j][j] - last: -5 / 3 = -BWT)
    assert summarize(R4, [0.0] * 4, None, None)["bwt"] == pytest.approx(5 / 3)
    assert out["bwt"] == pytest.approx(((30 - 60) + (45 - 50)) / 2)
    assert out["fwt"] == pytest.approx(((5 - 2) + (10 - 4)) / 2)
    assert out["id_before"] == 20.0 and out["id_after"] == 15.0


# --------------------------------------------------------------------------- strategies on a toy model


@pytest.fixture
def toy():
    """A 1-layer GPT-2 on the shipped tokenizer, its encoder, and LM items of random code-like text."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from codeintel.backbones.loading import shipped_tokenizer

    torch.manual_seed(0)
    tok = shipped_tokenizer("code-bpe-8k")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=64,
                                       resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, loss_type="ForCausalLM"))
    enc = T.Encoder(tok, "gpt2", 32)
    return model, enc


def lm_items(enc, n_rows: int, start: int = 0) -> T.Data:
    text = " ".join(f"v{start}_{i} = f{i % 7}(y{i % 11})" for i in range(n_rows * 4))
    from codeintel.continual.apis import Sample

    data = enc.lm_items([Sample("s", text, "python")], 0)
    return T.take(data, slice(0, n_rows))


def context(enc, own, seen=(), index=0, batch_size=4) -> S.Context:
    return S.Context(index, f"exp{index}", own, list(seen), batch_size, lambda m, b: enc.forward(m, b),
                     np.random.default_rng(0))


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_with_fisher_weighted_distance(toy):
    model, enc = toy
    own = lm_items(enc, 8)
    ewc = S.EWC(EwcConfig(lam=0.3))
    ctx = context(enc, own)
    assert ewc.loss_penalty(ctx, model, {}, None) is None              # nothing learnt before: no penalty
    ewc.after_experience(ctx, model)
    fisher, anchor = ewc.anchors[0]
    assert float(ewc.loss_penalty(ctx, model, {}, None)) == 0.0
    weight = model.transformer.wte.weight
    with torch.no_grad():
        weight[5] += 0.1
    expected = 0.3 * float((fisher["transformer.wte.weight"][5] * 0.01).sum())
    assert float(ewc.loss_penalty(ctx, model, {}, None)) == pytest.approx(expected, rel=1e-4)
    with torch.no_grad():
        weight[5] += 0.1                                                # twice the distance: four times
    assert float(ewc.loss_penalty(ctx, model, {}, None)) == pytest.approx(4 * expected, rel=1e-4)
    ewc.after_experience(ctx, model)                                    # one penalty per earlier experience
    assert len(ewc.anchors) == 2 and float(ewc.loss_penalty(ctx, model, {}, None)) == pytest.approx(4 * expected,
                                                                                                    rel=1e-4)


def test_fisher_is_the_mean_of_squared_batch_gradients(toy):
    model, enc = toy
    own = lm_items(enc, 6)
    fisher = S.fisher(model, own, 4, lambda m, b: enc.forward(m, b)[0])
    manual = torch.zeros_like(model.lm_head.weight)
    for batch in (T.take(own, slice(0, 4)), T.take(own, slice(4, 6))):
        model.zero_grad()
        enc.forward(model, batch)[0].backward()
        manual += model.lm_head.weight.grad ** 2
    assert torch.allclose(fisher["transformer.wte.weight"], manual / 2, atol=1e-9)


def test_replay_mixes_new_and_old_items_in_the_stated_ratio_and_its_reservoir_is_uniform(toy):
    model, enc = toy
    first, second = lm_items(enc, 40, 0), lm_items(enc, 40, 1000)
    replay = S.Replay(ReplayConfig(memory=10, batch_new=2, batch_mem=3), seed=0)
    ctx = context(enc, first)
    assert all(T.rows(b) == 4 for b in list(replay.batches(ctx))[:-1])   # empty buffer: plain batches
    replay.after_experience(ctx, model)
    assert len(replay.buffer) == 10
    old = {tuple(r.tolist()) for r in first["input_ids"]}
    ctx2 = context(enc, second, [first], 1)
    batches = list(replay.batches(ctx2))
    assert len(batches) == 20 == replay.steps(ctx2)
    for b in batches:
        from_old = sum(tuple(r.tolist()) in old for r in b["input_ids"])
        assert T.rows(b) == 5 and from_old == 3
    # reservoir: after 3 experiences of 60 items, each is in a 30-item buffer with probability 1/6
    share = np.zeros(3)
    for seed in range(150):
        rep = S.Replay(ReplayConfig(memory=30), seed=seed)
        for e in range(3):
            items = {"input_ids": torch.full((60, 1), e)}
            rep.after_experience(S.Context(e, "e", items, [], 4, None, None), None)
        share += np.bincount([int(b["input_ids"][0, 0]) for b in rep.buffer], minlength=3) / 30
    assert np.allclose(share / 150, 1 / 3, atol=0.03)


def test_agem_never_applies_a_gradient_against_the_reference_gradient(toy):
    model, enc = toy
    agem = S.AGEM(AgemConfig(patterns=8, sample_size=4))
    old = lm_items(enc, 12, 0)
    agem.after_experience(context(enc, old), model)
    assert T.rows(agem.buffers[0]) == 8
    new = lm_items(enc, 12, 5000)
    projected = 0
    for step in range(6):
        ctx = context(enc, new, [old], 1)
        ctx.rng = np.random.default_rng(step)
        model.zero_grad()
        enc.forward(model, T.take(new, slice(2 * step, 2 * step + 2)))[0].backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone()
        agem.after_backward(ctx, model)
        applied = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        ref = agem.reference_batch(np.random.default_rng(step))           # the same draw again
        model.zero_grad()
        enc.forward(model, ref)[0].backward()
        g_ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        assert float(applied @ g_ref) >= -1e-6 * float(g_ref.norm() * applied.norm())
        if float(g @ g_ref) >= 0:
            assert torch.allclose(applied, g)                               # no conflict: left alone
        else:
            projected += 1
        with torch.no_grad():                                              # move, so the next step differs
            for p, d in zip(model.parameters(), applied.split([p.numel() for p in model.parameters()]), strict=True):
                p -= 0.5 * d.view_as(p)
    assert agem.projected == projected


class Vec(torch.nn.Module):
    """θ ∈ R², float64: the loss Σ (θ − t)² of a batch's target t has gradient 2 (θ − t), worked out by hand."""

    def __init__(self, init):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(init, dtype=torch.float64))


def vec_forward(model, batch):
    return ((model.theta - batch["t"]) ** 2).sum(), None, None


TARGETS = [[[1.0, -2.0], [0.5, 3.0], [2.0, 0.0]],       # experience 1: one target per step
           [[-1.0, 1.0], [0.0, 2.0], [-2.0, 0.5]]]      # experience 2


def vec_stream(strategy, lr: float = 0.1) -> Vec:
    """Two experiences of three SGD steps through every hook, as the continual loop calls them."""
    model = Vec([0.5, -0.5])
    for e, targets in enumerate(TARGETS):
        ctx = S.Context(e, f"e{e}", {}, [], 1, vec_forward, np.random.default_rng(0))
        strategy.before_experience(ctx, model)
        for t in targets:
            batch = {"t": torch.tensor(t, dtype=torch.float64)}
            strategy.before_forward(ctx, model, batch)
            out = vec_forward(model, batch)
            penalty = strategy.loss_penalty(ctx, model, batch, out)
            model.zero_grad()
            (out[0] + (penalty if penalty is not None else 0)).backward()
            strategy.after_backward(ctx, model)
            with torch.no_grad():
                model.theta -= lr * model.theta.grad
            strategy.after_step(ctx, model)
        strategy.after_experience(ctx, model)
    return model


def test_si_matches_avalanches_synaptic_intelligence_worked_by_hand():
    lam, eps, lr = 2.0, 0.1, 0.1
    # Avalanche's formulas, step by step: trajectory += g · Δθ with g the stepped gradient (penalty included);
    # C += −trajectory / (Δ² + ε) per experience; Ω = min(C, clip_to); penalty (λ/2) Σ Ω (θ − θ*)²
    for clip_to in (0.001, 100.0):
        theta, C, omega, star = np.array([0.5, -0.5]), np.zeros(2), np.zeros(2), None
        for targets in TARGETS:
            start, traj = theta.copy(), np.zeros(2)
            for t in targets:
                g = 2 * (theta - np.array(t))
                if star is not None:
                    g = g + lam * omega * (theta - star)          # d/dθ of (λ/2) Ω (θ − θ*)²
                new = theta - lr * g
                traj += g * (new - theta)
                theta = new
            C += -traj / ((theta - start) ** 2 + eps)
            omega, star = np.minimum(C, clip_to), theta.copy()
        si = S.SI(SiConfig(lam=lam, eps=eps, clip_to=clip_to))
        model = vec_stream(si, lr)
        assert np.allclose(si.omega["theta"].numpy(), omega, atol=1e-12)
        assert np.allclose(model.theta.detach().numpy(), theta, atol=1e-12)
        if clip_to == 0.001:
            assert np.allclose(omega, 0.001)                       # both capped: the cap is what Avalanche uses
        else:
            assert (C > 0.001).any()
        probe = {"t": None}
        with torch.no_grad():
            model.theta += torch.tensor([0.3, -0.2], dtype=torch.float64)
        assert float(si.loss_penalty(None, model, probe, None)) == pytest.approx(
            lam / 2 * float((omega * np.array([0.3, -0.2]) ** 2).sum()), abs=1e-12)
    # no floor at 0: a path that raised the loss gives a negative importance, kept as Avalanche keeps it
    si = S.SI(SiConfig(lam=lam, eps=eps))
    model = Vec([0.0, 0.0])
    si.before_experience(None, model)
    si.path["theta"] = torch.tensor([-0.5, 0.2], dtype=torch.float64)
    with torch.no_grad():
        model.theta += torch.tensor([1.0, 1.0], dtype=torch.float64)
    si.after_experience(None, model)
    assert np.allclose(si.omega["theta"].numpy(), [-0.5 / 1.1, 0.001])


def test_rwalk_matches_avalanches_rwalk_worked_by_hand():
    lam, alpha, delta_t, lr = 0.5, 0.9, 2, 0.1
    eps = np.finfo(np.float64).eps
    theta, F, star, imp, exp_scores, it = np.array([0.5, -0.5]), None, None, None, None, 0
    for targets in TARGETS:
        window_start, window, scores = theta.copy(), np.zeros(2), np.zeros(2)    # Avalanche's before_training
        for t in targets:
            g = 2 * (theta - np.array(t))                        # the clean loss's gradient, before the step
            F = g ** 2 if F is None else alpha * g ** 2 + (1 - alpha) * F
            total = g if star is None else g + 2 * lam * imp * (theta - star)
            new = theta - lr * total
            window -= g * (new - theta)                          # the path uses the clean gradient
            theta = new
            it += 1
            if it % delta_t == 0:                                # the stream's step counter, across experiences
                scores += window / (0.5 * F * (theta - window_start) ** 2 + eps)
                window, window_start = np.zeros(2), theta.copy()
        exp_scores = scores.copy() if exp_scores is None else 0.5 * (exp_scores + scores)
        imp = F / F.max() + np.maximum(exp_scores, 0) / exp_scores.max()
        star = theta.copy()
    rw = S.RWalk(RwalkConfig(lam=lam, alpha=alpha, delta_t=delta_t))
    model = vec_stream(rw, lr)
    assert rw.iterations == 6
    assert np.allclose(rw.fisher["theta"].numpy(), F, atol=1e-12)
    assert np.allclose(rw.exp_scores["theta"].numpy(), exp_scores, rtol=1e-9)
    assert np.allclose(rw.importance["theta"].numpy(), imp, rtol=1e-9)
    assert np.allclose(model.theta.detach().numpy(), theta, atol=1e-12)
    assert float(rw.importance["theta"].max()) <= 2.0                     # both terms normalised to [0, 1]
    with torch.no_grad():
        model.theta += torch.tensor([0.3, -0.2], dtype=torch.float64)
    assert float(rw.loss_penalty(None, model, {}, None)) == pytest.approx(
        lam * float((imp * np.array([0.3, -0.2]) ** 2).sum()), rel=1e-9)


def test_lwf_distillation_is_zero_at_the_snapshot_and_positive_after_a_change(toy):
    model, enc = toy
    lwf = S.LwF(LwfConfig(alpha=["0", "2"], temperature=2.0))
    own = lm_items(enc, 4)
    lwf.before_experience(context(enc, own, index=0), model)
    assert lwf.old is None                                              # first experience: nothing to keep
    ctx = context(enc, own, [own], index=1)
    lwf.before_experience(ctx, model)
    batch = T.take(own, slice(0, 2))
    assert lwf.alpha == 2.0
    assert float(lwf.loss_penalty(ctx, model, batch, enc.forward(model, batch))) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        model.lm_head.weight.mul_(1.5)
    assert float(lwf.loss_penalty(ctx, model, batch, enc.forward(model, batch))) > 1e-4


def test_lwf_distillation_is_avalanches_kl_worked_by_hand():
    import math
    # Avalanche's LwF: kl_div(log_softmax(new / T), softmax(old / T), "batchmean") over the counted positions;
    # position 1 is masked out. p = softmax([2, 0] / 2), q = softmax([0, 0] / 2) = [0.5, 0.5]
    new = torch.tensor([[[0.0, 0.0], [5.0, -5.0]]])
    old = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    p1 = math.e / (math.e + 1)
    kl = p1 * math.log(p1 / 0.5) + (1 - p1) * math.log((1 - p1) / 0.5)
    assert float(S.distillation(new, old, torch.tensor([[1.0, 0.0]]), 2.0)) == pytest.approx(kl, rel=1e-6)
    assert kl == pytest.approx(0.110944, abs=1e-6)


def test_cumulative_trains_on_every_earlier_experience(toy):
    model, enc = toy
    a, b, c = lm_items(enc, 5, 0), lm_items(enc, 6, 100), lm_items(enc, 7, 200)
    ctx = context(enc, c, [a, b], index=2)
    S.Cumulative().before_experience(ctx, model)
    assert T.rows(ctx.train) == 18
    naive = context(enc, c, [a, b], index=2)
    S.Strategy().before_experience(naive, model)
    assert T.rows(naive.train) == 7                                     # naive: only its own


def test_target_items_loss_equals_the_full_models_loss_on_the_same_tokens(toy):
    """The left-padded, head-on-the-targets-only forward gives the plain forward's loss (GPT-2 and RoBERTa)."""
    from codeintel.tasks.models import load_model

    exs = [T.Example("def f(a):\n    return os.path.", "join", "os.path.join", "s", "("),
           T.Example("x = re.", "compile", "re.compile", "s", "("),
           T.Example("import json\nv = json.", "dumps", "json.dumps", "s", "(")]
    for name in ("tiny-codegpt", "tiny-codebert"):
        torch.manual_seed(0)
        loaded = load_model(name, "causal-lm")
        model = loaded.model.eval()
        enc = T.Encoder(loaded.tokenizer, loaded.family, 64)
        loss, _, mask = enc.forward(model, enc.target_items(exs))
        total, count = 0.0, 0
        for ex in exs:  # one unpadded row at a time, the model's own loss
            ctx, tgt = enc.ids(ex.context), enc.ids(ex.trained)
            ids = torch.tensor([ctx + tgt])
            labels = torch.tensor([[-100] * len(ctx) + tgt])
            total += float(model(input_ids=ids, labels=labels).loss) * len(tgt)
            count += len(tgt)
        assert int(mask.sum()) == count
        assert float(loss) == pytest.approx(total / count, rel=1e-4), name


def test_cached_sampler_matches_greedy_generate():
    from codeintel.tasks.models import load_model

    torch.manual_seed(1)
    loaded = load_model("tiny-codegpt", "causal-lm")
    model = loaded.model.eval()
    with torch.no_grad():  # sharpen a random model so that greedy paths differ between prompts
        model.lm_head.weight.mul_(20)
    for prompt in ("def f(x):\n    return os.path.", "import re\nr = re.", "x = 1\n"):
        ids = torch.tensor([loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        greedy = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=5,
                                pad_token_id=1)[:, ids.shape[1]:]
        sampled = T.sample_decoder(model, ids, 3, 5, temperature=1e-6, top_p=1.0)
        assert torch.equal(sampled, greedy.expand(3, -1)), prompt


@pytest.mark.parametrize("name", ["tiny-codet5", "tiny-codebert"])
def test_the_other_families_train_and_predict_both_tasks(name):
    """T5 as a prefix LM and RoBERTa as a decoder: items, a training step, every decoding."""
    from codeintel.continual.apis import Sample
    from codeintel.tasks.models import load_model

    torch.manual_seed(0)
    loaded = load_model(name, "causal-lm")
    model = loaded.model
    enc = T.Encoder(loaded.tokenizer, loaded.family, 64, target_len=16)
    code = "import os\ndef f(a, b):\n    x = os.path.join(a, b)\n    return os.path.exists(x)\n"
    samples = extract_samples(code, "python", "u") + [Sample("v", "def g(y):\n    return y * 2\n" * 4, "python")]
    lm = enc.lm_items(samples, seed=0)
    assert T.rows(lm) >= 1
    for task in ("api-call", "api-usage"):
        exs = T.examples(samples, ["os"], task)
        assert len(exs) == 2
        items = enc.target_items(exs)
        for data in (lm, items):
            loss, logits, mask = enc.forward(model, data)
            assert torch.isfinite(loss) and logits.shape[:2] == mask.shape
            loss.backward()
        for decoding, n in (("greedy", 1), ("beam", 2), ("sample", 3)):
            preds = T.predict(model, enc, exs, task, decoding=decoding, num_samples=n, max_new_tokens=4,
                              temperature=1.0, top_p=0.95, batch_size=4, seed=0, device="cpu")
            assert len(preds) == 2 and all(1 <= len(p) <= n for p in preds)
            assert set(T.score(task, exs, preds, decoding, n)) == set(T.metric_names(task, decoding, n))


# --------------------------------------------------------------------------- the command


@pytest.fixture
def toy_stream(tmp_path):
    data = write_jsonl(tmp_path / "code.jsonl", synthetic_units())
    stream = tmp_path / "toy.yaml"
    import yaml

    (tmp_path / "def.yaml").write_text(yaml.safe_dump(DEFINITION))
    assert main(["continual", "build-stream", "--domains", str(tmp_path / "def.yaml"), "--data", str(data),
                 "--out", str(stream), "--no-progress"]) == 0
    return stream


FAST = ["objective=api", "train.epochs=2", "train.lr=3e-3", "train.batch_size=8", "source_len=64",
        "data.max_test_examples=12",
        "eval.decoding=beam", "eval.n_samples=2", "train.threads=2", "min_test_examples=5"]


def test_build_stream_writes_the_definition_with_its_counts(toy_stream, capsys):
    import yaml

    written = yaml.safe_load(toy_stream.read_text())
    assert [d["name"] for d in written["domains"]] == ["paths", "serial", "regex"]
    assert written["counts"]["paths"]["train"] == 29 and written["counts"]["id"]["test"] == 7
    assert written["counts"]["serial"]["apis"] == {"json": 36}
    # auto domains: the most called modules
    out = toy_stream.parent / "auto.yaml"
    assert main(["continual", "build-stream", "--lang", "python", "--data", str(toy_stream.parent / "code.jsonl"),
                 "--num-domains", "2", "--out", str(out), "--no-progress"]) == 0
    assert len(yaml.safe_load(out.read_text())["domains"]) == 2


def test_continual_run_end_to_end(toy_stream, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["continual", "run", "--stream", str(toy_stream), "--strategy", "naive", "--strategy", "ewc",
                 "--strategy", "joint", "--out", str(out), "--no-progress", *FAST]) == 0
    result = json.loads((out / "continual.json").read_text())
    assert result["stream"]["domains"] == ["paths", "serial", "regex"]
    assert np.array(result["R_mean"]["naive"]).shape == (3, 3) and np.array(result["R_mean"]["joint"]).shape == (1, 3)
    seed = result["per_seed"][0]
    epochs = [len(h) for h in seed["strategies"]["ewc"]["history"]]
    assert len(epochs) == 3 and all(1 <= n <= 2 for n in epochs)       # one history per experience, max_epochs=2
    for name in ("naive", "ewc", "joint"):
        assert (out / f"heatmap-{name}.png").is_file() and (out / "models" / name / "config.json").is_file()
    assert (out / "domains.png").is_file() and "| naive |" in (out / "continual.md").read_text()
    printed = capsys.readouterr().out
    assert "forgetting" in printed and "wrote" in printed
    # per-call-site statistics after the last experience: they give back R's last row, and `compare` pairs them
    from codeintel.eval import resample

    naive = resample.load(out / "per-example" / "naive" / f"seed-{seed['seed']}" / "per_example.json")
    last = seed["strategies"]["naive"]["scores"][-1]
    metric = result["metric"]
    for j, dom in enumerate(result["stream"]["domains"]):
        assert naive["metrics"][f"{metric}[{dom}]"].value() == pytest.approx(last[j][metric])
    assert len(naive["ids"]) == sum(result["test_examples"][d] for d in result["stream"]["domains"])
    assert "per_example" not in seed["strategies"]["naive"]              # moved out of continual.json
    capsys.readouterr()
    assert main(["compare", str(out / "per-example" / "naive"), str(out / "per-example" / "ewc"), "--format",
                 "json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in compared["rows"]} >= {metric, f"{metric}[paths]"}
    # the saved model loads back as a plain causal LM
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out / "models" / "naive").config.model_type == "gpt2"
    # a second run into the same directory is refused
    assert main(["continual", "run", "--stream", str(toy_stream), "--out", str(out), *FAST]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # the usage task, from Python, without writing anything
    import codeintel.continual

    usage = codeintel.continual.run(stream=str(toy_stream), task="api-usage", strategies=["replay"], write=False,
                                    show_progress=False, echo=lambda *a: None,
                                    **dict(kv.split("=") for kv in FAST), **{"replay.memory": 20})
    assert usage["metric"] == "exact_match" and set(usage["per_seed"][0]["strategies"]["replay"]["scores"][0][0]) == {
        "exact_match", "bleu"}
    assert "output_dir" not in usage


@pytest.mark.parametrize("args,message", [
    (["--strategy", "ewcc"], "Did you mean 'ewc'"),
    (["colour=blue"], "unknown config key"),
    (["ewc.lamda=1"], "ewc.lam"),
    (["--model", "tiny-codet5p-embedding"], "has no head for 'causal-lm'"),
    (["min_test_examples=50"], "fewer than min_test_examples=50"),
    (["--task", "api-usage", "eval.metric=pass@1"], "eval.metric='pass@1' is not"),
    (["--stream", "nowhere.yaml"], "neither a file nor a shipped stream"),
    (["--strategy", "naive", "--strategy", "naive"], "repeat"),
    (["eval.max_new_tokens=1000000"], "leaves no room for a context in blocks of 64 tokens"),
    (["source_len=100000"], "source_len=100000 is beyond tiny-codegpt's 1024 positions"),
])
def test_bad_input_is_one_error_line_before_training(toy_stream, tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    argv = ["continual", "run", "--stream", str(toy_stream), "--out", str(out), "--no-progress", *FAST, *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert not out.exists()


def test_changed_data_is_refused(toy_stream, capsys):
    rows = synthetic_units()[:-10]
    write_jsonl(toy_stream.parent / "code.jsonl", rows)
    assert main(["continual", "run", "--stream", str(toy_stream), "--out", str(toy_stream.parent / "r"), *FAST]) == 2
    assert "the data changed" in capsys.readouterr().err


def test_a_domain_whose_api_never_occurs(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", synthetic_units(8))
    import yaml

    (tmp_path / "def.yaml").write_text(yaml.safe_dump({**DEFINITION, "domains": [
        *DEFINITION["domains"], {"name": "net", "apis": ["socket"]}]}))
    out = tmp_path / "s.yaml"
    assert main(["continual", "build-stream", "--domains", str(tmp_path / "def.yaml"), "--data", str(data),
                 "--out", str(out), "--no-progress"]) == 2
    assert "socket never occur" in capsys.readouterr().err and not out.exists()


def test_streams_are_listed_and_the_default_definition_loads(capsys):
    from codeintel.continual.streams import load_definition

    assert main(["continual", "streams"]) == 0
    printed = capsys.readouterr().out
    assert "stdlib" in printed and "gcj-java" in printed
    defn = load_definition("default")
    assert isinstance(defn, StreamDefinition) and defn.lang == "python"
    assert [d.name for d in defn.domains][0] == "filesystem"


def test_the_readme_continual_example_runs(monkeypatch, tmp_path):
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "codeintel.continual.run(" in b)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    result = scope["result"]
    assert set(result["summary"]) == {"naive", "ewc"} and np.array(result["R_mean"]["ewc"]).shape == (5, 5)
    assert not any(tmp_path.iterdir())                                   # write=False wrote nothing


def test_fast_kernels_in_the_continual_recipe_are_seeded_and_change_the_dropout_stream(toy_stream):
    """``fast_kernels=true`` routes the training forwards' dropout through the fast noise: the same seed gives the
    same training losses, and they differ from the plain run's (RoBERTa as a decoder has dropout 0.1)."""
    import codeintel.continual

    def losses(fast: bool) -> list[float]:
        settings = {**dict(kv.split("=") for kv in FAST), "train.epochs": "1", "eval.decoding": "greedy",
                    "eval.n_samples": "1", "data.max_test_examples": "5", "save_models": "false",
                    "train.fast_kernels": str(fast).lower()}
        result = codeintel.continual.run(stream=str(toy_stream), model="tiny-codebert", strategies=["naive"],
                                         write=False, show_progress=False, echo=lambda *a: None, **settings)
        return [h["train_loss"] for h in result["per_seed"][0]["strategies"]["naive"]["history"][0]]

    fast = losses(True)
    assert fast == losses(True) and fast != losses(False)


def _strategy_names() -> list[str]:
    from codeintel.continual.strategies import STRATEGIES

    return sorted(STRATEGIES)


@pytest.mark.parametrize("strategy", _strategy_names())
def test_every_registered_strategy_runs_end_to_end(strategy, toy_stream, tmp_path):
    """Every registered strategy through `continual run` (the command), not only its hooks: a strategy whose
    hooks crash mid-experience (rwalk once shadowed its own `steps` hook) fails here."""
    out = tmp_path / strategy
    small = [kv for kv in FAST if not kv.startswith(("train.epochs", "data.max_test_examples"))]
    assert main(["continual", "run", "--stream", str(toy_stream), "--strategy", strategy, "--out", str(out),
                 "--no-progress", *small, "train.epochs=1", "data.max_test_examples=6"]) == 0
    result = json.loads((out / "continual.json").read_text())
    rows = 1 if strategy == "joint" else 3
    r = np.array(result["R_mean"][strategy])
    assert r.shape == (rows, 3) and np.isfinite(r).all()
    assert (out / "models" / strategy / "config.json").is_file()


def test_automatic_domains_count_only_the_samples_left_to_them(shared_data, tmp_path, capsys):
    """A sample goes to the first domain it calls: an API is chosen only if enough of its samples are left after
    the domains before it (on GCJ, `Map` is called mostly by programs an earlier domain took: it once ended a
    domain with 0 samples and the default command failed)."""
    data = shared_data / "clone" / "gcj_programs.jsonl"
    if not data.is_file():
        pytest.skip("no GCJ sample")
    import yaml

    out = tmp_path / "gcj.yaml"
    assert main(["continual", "build-stream", "--data", str(data), "--lang", "java", "--out", str(out),
                 "--no-progress"]) == 0
    defn = yaml.safe_load(out.read_text())
    assert all(c["train"] > 0 and c["test"] > 0 for c in defn["counts"].values()), defn["counts"]
    from codeintel.continual.streams import auto_domains

    class S:   # a sample calling the given owners
        def __init__(self, *owners):
            self.calls = [type("C", (), {"owner": o, "name": "f", "kind": "method"})() for o in owners]

    samples = [S("a", "b") for _ in range(6)] + [S("a") for _ in range(4)] + [S("c") for _ in range(3)]
    import codeintel.continual.streams as st

    real = st.api_key
    st.api_key = lambda call, by, lang: call.owner
    try:
        got = [d.name for d in auto_domains(samples, "module", "python", 3, 3)]
    finally:
        st.api_key = real
    assert got == ["a", "c"]      # b (6 samples in all) has none left after a took them; c has its 3
