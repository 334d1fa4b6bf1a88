"""``codeintel continual run`` and ``continual build-stream`` against the reliability campaign's cases, one row
each: exit 2, one ``error:`` line, no traceback, nothing new or changed where they write (``refused``). The values
are refused by the recipe kit's shared key rules (``codeintel.config.KEY_RULES``) before any work."""

import pytest
import yaml


@pytest.fixture(scope="module")
def stream(tmp_path_factory, toy_stream):
    return toy_stream(tmp_path_factory.mktemp("stream"))


@pytest.fixture
def paths(hostile_inputs, stream, live_lock):
    t = hostile_inputs["t"]
    impossible = yaml.safe_load(stream.read_text())
    impossible["counts"]["serial"]["samples"] = -5
    (t / "impossible.yaml").write_text(yaml.safe_dump(impossible))
    (t / "seed.yaml").write_text(yaml.safe_dump({**impossible, "seed": -1}))
    (t / "wrong-type.jsonl").write_text('{"code": 123}\n')
    (t / "taken.yaml").write_text("mine\n")
    (t / "dir").mkdir()
    (t / "done").mkdir()
    (t / "done" / "continual.json").write_text("{}")
    live_lock(t / "busy.yaml", beside=True)
    return {**hostile_inputs, "stream": stream}


RUN = ["continual", "run", "--out", "{t}/out"]
RUN_VALUES = [("train.weight_decay=-1", "train.weight_decay must be a number >= 0"),
              ("train.weight_decay=nan", "train.weight_decay must be a finite number"),
              ("train.seed=-1", "train.seed must be in [0, 2^32)"),
              ("train.threads=-1", "train.threads must be >= 0"),
              ("train.grad_clip=-1", "train.grad_clip must be a number >= 0 (0 = no clipping)"),
              ("train.grad_clip=nan", "train.grad_clip must be a finite number"),
              ("eval.temperature=inf", "eval.temperature must be a finite number"),
              ("ewc.lam=inf", "ewc.lam must be a finite number"),
              ("si.eps=inf", "si.eps must be a finite number"),
              ("lwf.alpha=inf", "lwf.alpha must be finite numbers >= 0"),
              ("lwf.temperature=inf", "lwf.temperature must be a finite number"),
              ("eval.max_new_tokens=1000000", "eval.max_new_tokens=1000000 leaves no room for a context")]
BUILD = ["continual", "build-stream", "--lang", "python"]
CASES = {
    **{f"run: {kv}": ([*RUN, kv], expected) for kv, expected in RUN_VALUES},
    "run: a stream file with impossible counts": (["continual", "run", "--stream", "{t}/impossible.yaml", "--out",
                                                   "{t}/out", "--model", "tiny-codebert"],
                                                  "the stream file recorded -5; the data changed"),
    "run: a 100k-deep stream YAML": (["continual", "run", "--stream", "{t}/deep.yaml", "--out", "{t}/out"],
                                     "nested too deeply"),
    "run: a 100k-deep --config": ([*RUN, "--config", "{t}/deep.yaml"], "nested too deeply"),
    "run: a task checkpoint as the model": ([*RUN, "--model", "{ck}"], "is a checkpoint fine-tuned for "
                                                                       "'clone-detection'"),
    "run: --out inside a checkpoint": (["continual", "run", "--out", "{R}/best/x"],
                                       "is inside <tmp>/R/checkpoints/best-000001"),
    "run: --out two levels inside": (["continual", "run", "--out", "{R}/best/a/b"],
                                     "is inside <tmp>/R/checkpoints/best-000001"),
    "run: --out in a run's states": (["continual", "run", "--out", "{R}/states/x"], "is inside <tmp>/R/states"),
    "run: --out in use by another command": (["continual", "run", "--out", "{t}/busy"], "<tmp>/busy is in use by pid"),
    "run: --out holds a garbage lock": (["continual", "run", "--out", "{t}/garbage"],
                                        "<tmp>/garbage/.lock names no process"),
    "run: --out is a file": (["continual", "run", "--out", "{t}/a-file"], "is a file, not a directory"),
    "run: --out holds a finished run": (["continual", "run", "--out", "{t}/done"],
                                        "<tmp>/done already holds an earlier run; pass --overwrite"),
    "run: --resume with states linked outside the run": (["continual", "run", "--resume", "{linked}"],
                                                         "is a link (to <tmp>/other/states)"),
    "build-stream: a 100k-deep --domains YAML": ([*BUILD, "--domains", "{t}/deep.yaml", "--out", "{t}/s.yaml"],
                                                 "nested too deeply"),
    "build-stream: --out /proc/bs.yaml": ([*BUILD, "--out", "/proc/bs.yaml"], "cannot write --out /proc/bs.yaml"),
    "build-stream: --out with a trailing slash": ([*BUILD, "--out", "{t}/x/"], "--out <tmp>/x/ names a directory"),
    "build-stream: --out a directory": ([*BUILD, "--out", "{t}/dir"], "--out <tmp>/dir names a directory"),
    "build-stream: --out in a missing directory": ([*BUILD, "--out", "{t}/no/such/s.yaml"], "does not exist"),
    "build-stream: --out inside a checkpoint": ([*BUILD, "--out", "{R}/best/s.yaml"],
                                                "is inside <tmp>/R/checkpoints/best-000001"),
    "build-stream: --out exists": ([*BUILD, "--out", "{t}/taken.yaml"], "already exists; pass --overwrite"),
    "build-stream: --out being written by another command": ([*BUILD, "--out", "{t}/busy.yaml"],
                                                             "<tmp>/busy.yaml is being written by another codeintel"),
    "build-stream: --seed -1": ([*BUILD, "--seed", "-1", "--out", "{t}/s.yaml"], "--seed must be in [0, 2^32)"),
    "build-stream: --test-fraction nan": ([*BUILD, "--test-fraction", "nan", "--out", "{t}/s.yaml"],
                                          "--test-fraction must be in (0, 1), got nan"),
    "build-stream: --num-domains 0": ([*BUILD, "--num-domains", "0", "--out", "{t}/s.yaml"],
                                      "--num-domains and --min-samples must be at least 1"),
    "run: a stream file with seed -1": (["continual", "run", "--stream", "{t}/seed.yaml", "--out", "{t}/out"],
                                        "seed must be in [0, 2^32), got -1"),
    "build-stream: code of the wrong type": ([*BUILD, "--data", "{t}/wrong-type.jsonl", "--out", "{t}/s.yaml"],
                                             "<tmp>/wrong-type.jsonl:1: field 'code' is 123 (int); expected the code "
                                             "as a string"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_continual_commands_refuse(case, paths, refused):
    argv, expected = CASES[case]
    refused(argv, expected, paths)
