"""API streams: functions grouped into an ordered sequence of experiences (domains) by the APIs they call.

A stream *definition* (YAML, ``tasks/continual/*.yaml``) names the language, the data, how APIs are keyed
(``by: module|package|class``) and the domains in order, each with its target APIs (prefixes of the call's
owner: ``os.path`` matches ``os.path.join``; ``java.util.Scanner`` matches ``Scanner.nextInt``). Building it:

1. every function of the data (a jsonl of code, or the source files of a folder, test files left out by
   default) becomes a sample with its resolved API calls (:mod:`codeintel.continual.apis`), deduplicated on its
   code without whitespace (the paper's MD5 rule);
2. a sample that calls a target API of some domain is out-of-distribution (OOD) and belongs to the first such
   domain in stream order; its *API* is the key of its first target call; every other sample is
   in-distribution (ID);
3. ``test_fraction`` (10 %) of each API's samples is held out for testing, seeded (the paper's split); ID
   samples are held out at the same rate.

``build-stream`` writes the definition back with the counts, so a later run on changed data is refused.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeintel.config import check_option
from codeintel.continual.apis import ApiCall, Sample, extract_samples
from codeintel.errors import ConfigError, DataError
from codeintel.io import read_yaml, write_text

BY = ("module", "package", "class")
LANGS = ("python", "java")
DEFINITION_KEYS = {"name", "lang", "by", "data", "seed", "test_fraction", "domains", "counts", "description",
                   "exclude_tests", "excluded_apis"}
# APIs that are never chosen as automatic domains unless asked (build-stream --keep-own): test frameworks ...
TEST_FRAMEWORKS = {"python": ("pytest", "_pytest", "unittest", "mock", "nose", "hypothesis"),
                   "java": ("org.junit", "junit", "org.hamcrest", "org.mockito", "org.assertj", "org.testng",
                            "org.easymock")}
# ... and test code, by file path relative to the source folder (build-stream --keep-tests keeps it)
TEST_PATHS = {"python": re.compile(r"(^|/)(tests?|testing)/|(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$"),
              "java": re.compile(r"(^|/)(src/test|tests?)/|(^|/)(Test[^/]*|[^/]*Tests?)\.java$")}


@dataclass
class Domain:
    name: str
    apis: list[str]


@dataclass
class StreamDefinition:
    """What a stream YAML holds; ``base`` is its directory (a relative ``data`` path is relative to it)."""

    name: str
    lang: str
    domains: list[Domain]
    by: str = "module"
    data: str = ""
    seed: int = 0
    test_fraction: float = 0.1
    counts: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    base: Path = field(default_factory=Path.cwd)
    exclude_tests: bool = False
    """A source folder's test files (:data:`TEST_PATHS`) are no samples."""
    excluded_apis: list[str] = field(default_factory=list)
    """APIs that were not candidates for automatic domains (the repository's own packages, test frameworks)."""

    def data_path(self) -> str:
        if not self.data or self.data == "stdlib":
            return self.data
        path = Path(self.data).expanduser()
        return str(path if path.is_absolute() else (self.base / path))


@dataclass
class Experience:
    name: str
    apis: list[str]
    train: list[Sample]
    test: list[Sample]
    api_counts: dict[str, int]


@dataclass
class Stream:
    definition: StreamDefinition
    experiences: list[Experience]
    id_train: list[Sample]
    id_test: list[Sample]

    def counts(self) -> dict[str, Any]:
        out = {e.name: {"samples": len(e.train) + len(e.test), "train": len(e.train), "test": len(e.test),
                        "apis": dict(sorted(e.api_counts.items(), key=lambda kv: -kv[1]))} for e in self.experiences}
        out["id"] = {"samples": len(self.id_train) + len(self.id_test), "train": len(self.id_train),
                     "test": len(self.id_test)}
        return out


# --------------------------------------------------------------------------- definitions

def shipped_streams() -> dict[str, Path]:
    from codeintel.hub import hub_path

    root = hub_path("tasks", "continual")
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def load_definition(ref: str) -> StreamDefinition:
    """A stream definition from a YAML file or a shipped name (``default`` = ``stdlib``)."""

    shipped = shipped_streams()
    name = "stdlib" if ref == "default" else ref
    path = shipped[name] if name in shipped and not Path(ref).is_file() else Path(ref)
    if not path.is_file():
        names = ", ".join(["default", *shipped])
        raise ConfigError(f"stream {ref!r} is neither a file nor a shipped stream ({names}); "
                          "build one with `codeintel continual build-stream`.")
    return definition_from(read_yaml(path, ConfigError), path)


def definition_from(raw: Any, path: Path) -> StreamDefinition:
    """Validate a parsed stream YAML; every problem is one ConfigError naming the file and the fix."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a stream file holds a mapping (name, lang, domains, ...).")
    unknown = sorted(set(raw) - DEFINITION_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; a stream has "
                          f"{', '.join(sorted(DEFINITION_KEYS))}.")
    lang, by = raw.get("lang"), raw.get("by", "module")
    if lang not in LANGS:
        raise ConfigError(f"{path}: lang must be one of {', '.join(LANGS)}, got {lang!r}.")
    if by not in BY:
        raise ConfigError(f"{path}: by must be one of {', '.join(BY)}, got {by!r}.")
    domains = raw.get("domains")
    if not isinstance(domains, list) or not domains:
        raise ConfigError(f"{path}: domains must be a non-empty list of {{name, apis}}.")
    out, seen = [], set()
    for i, d in enumerate(domains):
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not isinstance(d.get("apis"), list) \
                or not d["apis"] or not all(isinstance(a, str) and a for a in d["apis"]):
            raise ConfigError(f"{path}: domain {i + 1} must be {{name: NAME, apis: [API, ...]}} with at least one API.")
        if d["name"] in seen or d["name"] == "id":
            raise ConfigError(f"{path}: domain name {d['name']!r} is repeated or reserved ('id').")
        seen.add(d["name"])
        out.append(Domain(d["name"], list(d["apis"])))
    frac = raw.get("test_fraction", 0.1)
    if not isinstance(frac, int | float) or not 0 < frac < 1:
        raise ConfigError(f"{path}: test_fraction must be in (0, 1), got {frac!r}.")
    seed = raw.get("seed", 0)
    check_option(f"{path}: seed", "seed", seed)
    excluded = raw.get("excluded_apis") or []
    if not isinstance(excluded, list) or not all(isinstance(a, str) for a in excluded):
        raise ConfigError(f"{path}: excluded_apis must be a list of API names, got {excluded!r}.")
    return StreamDefinition(str(raw.get("name") or path.stem), lang, out, by, str(raw.get("data") or ""), seed,
                            float(frac), raw.get("counts") or {}, str(raw.get("description") or ""),
                            path.resolve().parent, bool(raw.get("exclude_tests", False)), list(excluded))


def write_definition(defn: StreamDefinition, stream: Stream, out: Path) -> None:
    """The definition with its counts, as YAML (written to a temporary sibling, then renamed)."""
    import yaml

    data = {"name": defn.name, "description": defn.description, "lang": defn.lang, "by": defn.by,
            "data": defn.data_path() if defn.data != "stdlib" else "stdlib", "seed": defn.seed,
            "test_fraction": defn.test_fraction, "domains": [{"name": d.name, "apis": d.apis} for d in defn.domains],
            "exclude_tests": defn.exclude_tests, "excluded_apis": defn.excluded_apis, "counts": stream.counts()}
    if not data["description"]:
        del data["description"]
    write_text(out, yaml.safe_dump(data, sort_keys=False, width=110))


# --------------------------------------------------------------------------- data -> samples

@dataclass
class Units:
    """What :func:`read_units` read: (unit id, code) pairs, and what a source folder told about itself."""

    units: list[tuple[str, str]]
    test_files: int = 0                                   # test files left out
    own_packages: list[str] = field(default_factory=list)  # the folder's own top-level packages


def read_units(data: str, lang: str, exclude_tests: bool = False) -> Units:
    """(unit id, code) pairs: the stdlib's files (``stdlib``, Python only), the ``lang`` source files of a folder
    (walked as ``codeintel predict`` walks one: ``.gitignore``, vendored and generated files skipped; test files
    left out with ``exclude_tests``), or the rows of a jsonl file. Code that is not ``lang`` is refused."""
    if data == "stdlib":
        if lang != "python":
            raise ConfigError("data 'stdlib' is Python code; pass --lang python or a jsonl of Java code.")
        from codeintel.data.stdlib import stdlib_dir, stdlib_files

        root, units = stdlib_dir(), []
        for path in stdlib_files(root):
            try:
                units.append((str(path.relative_to(root)), path.read_text(encoding="utf-8")))
            except (UnicodeDecodeError, OSError):
                continue
        return Units(units)
    path = Path(data)
    if path.is_dir():
        return _folder_units(path, lang, exclude_tests)
    from codeintel.data.loaders import CODE_FIELDS, read_jsonl

    units = []
    for row in read_jsonl(path):
        code = next((row[k] for k in (*CODE_FIELDS, "source_code") if isinstance(row.get(k), str)), None)
        if code is None:
            present = next((k for k in (*CODE_FIELDS, "source_code") if k in row), None)
            if present is not None:
                value = row[present]
                what = "null" if value is None else f"{json.dumps(value)[:40]} ({type(value).__name__})"
                raise DataError(f"{path}:{row['__line']}: field {present!r} is {what}; expected the code as a string.")
            raise DataError(f"{path}:{row['__line']}: no code field ({', '.join((*CODE_FIELDS, 'source_code'))}).")
        units.append((str(row.get("id", row.get("idx", f"{path.stem}-{row['__line']}"))), code))
    if not units:
        raise DataError(f"{path} holds no rows.")
    _check_language(units, lang, str(path))
    return Units(units)


def _check_language(units: list[tuple[str, str]], lang: str, where: str, sample: int = 200) -> None:
    """Refuse code that is not ``lang``: most of (a sample of) the units have syntax errors."""
    from codeintel.structure.parsing import parse

    picked = units[:: max(1, len(units) // sample)][:sample]
    broken = sum(parse(code.encode("utf-8", "replace"), lang).root_node.has_error for _, code in picked)
    if broken > len(picked) / 2:
        raise DataError(f"{where}: {broken} of {len(picked)} units checked do not parse as {lang}; is the code "
                        f"{lang}? Pass the right --lang.")


def _folder_units(root: Path, lang: str, exclude_tests: bool) -> Units:
    from codeintel.data.sources import source_files

    walk = source_files([root])
    mine = [p for p, language in walk.files if language == lang]
    if not mine:
        others = Counter(language for _, language in walk.files).most_common(2)
        found = ", ".join(f"{n} {language}" for language, n in others) if others else "none"
        raise DataError(f"{root} holds no {lang} source files (source files found: {found}); pass the folder's "
                        "language with --lang.")
    out = Units([])
    for p in mine:
        rel = p.relative_to(root).as_posix()
        if exclude_tests and TEST_PATHS[lang].search(rel):
            out.test_files += 1
            continue
        out.units.append((rel, p.read_text(encoding="utf-8", errors="replace")))
    out.own_packages = own_packages(root, lang, mine, [code for _, code in out.units])
    if not out.units:
        raise DataError(f"{root}: all {out.test_files} {lang} files are test files; pass --keep-tests to use them.")
    return out


_JAVA_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.M)


def own_packages(root: Path, lang: str, files: list[Path], codes: list[str]) -> list[str]:
    """The source folder's own packages: Python's top-level packages (a folder with ``__init__.py`` whose parent
    has none; the folder itself when it is one, site-packages/requests), Java's ``package`` names declared in
    ``codes``."""
    if lang == "python":
        out = {p.parent.name for p in files if p.name == "__init__.py"
               and (p.parent == root or not (p.parent.parent / "__init__.py").exists())}
    else:
        out = {m.group(1) for code in codes if (m := _JAVA_PACKAGE.search(code[:4000]))}
    return sorted(out)


def extract_all(units: list[tuple[str, str]] | Units, lang: str, progress_enabled: bool = True) -> list[Sample]:
    """Samples of every unit, deduplicated on their whitespace-free code (first occurrence kept)."""
    from codeintel.progress import progress

    seen, out = set(), []
    units = units.units if isinstance(units, Units) else units
    for uid, code in progress(units, desc="extracting API calls", unit="file", enabled=progress_enabled):
        for s in extract_samples(code, lang, uid):
            key = hashlib.md5(re.sub(r"\s+", "", s.code).encode("utf-8", "replace")).hexdigest()
            if key not in seen:
                seen.add(key)
                out.append(s)
    return out


def api_key(call: ApiCall, by: str, lang: str) -> str:
    """The call's API at the stream's granularity: its class/module owner, its module, or its top package."""
    if by == "class":
        return call.owner
    if by == "module" or lang == "java":  # Java's module is its package
        return call.module
    return call.module.split(".")[0]


def matches(owner: str, prefix: str) -> bool:
    return owner == prefix or owner.startswith(prefix + ".")


def target_calls(sample: Sample, apis: list[str]) -> list[ApiCall]:
    """The sample's calls to one of ``apis`` (prefixes of the owner)."""
    return [c for c in sample.calls if any(matches(c.owner, a) for a in apis)]


def build(defn: StreamDefinition, samples: list[Sample]) -> Stream:
    """Assign samples to domains, hold out each API's test share, and check every domain is usable."""
    owners = {c.owner for s in samples for c in s.calls}
    for d in defn.domains:
        never = [a for a in d.apis if not any(matches(o, a) for o in owners)]
        if never:
            raise DataError(f"domain {d.name!r}: API(s) {', '.join(never)} never occur in the data; remove them or "
                            "check the spelling (`codeintel continual build-stream` without --domains lists the APIs "
                            "the data calls).")
    by_domain: dict[str, dict[str, list[Sample]]] = {d.name: {} for d in defn.domains}
    id_samples: list[Sample] = []
    for s in samples:
        for d in defn.domains:
            calls = target_calls(s, d.apis)
            if calls:
                by_domain[d.name].setdefault(api_key(calls[0], defn.by, defn.lang), []).append(s)
                break
        else:
            id_samples.append(s)
    experiences = []
    for d in defn.domains:
        train, test, counts = [], [], {}
        for api, group in sorted(by_domain[d.name].items()):
            rng = random.Random(f"{defn.seed}:{d.name}:{api}")
            group = sorted(group, key=lambda s: s.id)
            rng.shuffle(group)
            n_test = max(1, round(len(group) * defn.test_fraction)) if len(group) >= 2 else 0
            test += group[:n_test]
            train += group[n_test:]
            counts[api] = len(group)
        if not train or not test:
            raise DataError(f"domain {d.name!r} has {len(train)} training and {len(test)} test samples; each domain "
                            "needs both. Add APIs to it, merge it with another, or use more data.")
        experiences.append(Experience(d.name, d.apis, train, test, counts))
    rng = random.Random(f"{defn.seed}:id")
    id_samples = sorted(id_samples, key=lambda s: s.id)
    rng.shuffle(id_samples)
    n_test = round(len(id_samples) * defn.test_fraction)
    return Stream(defn, experiences, id_samples[n_test:], id_samples[:n_test])


def check_counts(defn: StreamDefinition, stream: Stream) -> None:
    """A stream file written by ``build-stream`` must give the same counts on today's data."""
    if not defn.counts:
        return
    now = stream.counts()
    for name, c in defn.counts.items():
        if not isinstance(c, dict) or now.get(name, {}).get("samples") != c.get("samples"):
            raise DataError(f"the data now gives {now.get(name, {}).get('samples')} samples for {name!r} where the "
                            f"stream file recorded {c.get('samples') if isinstance(c, dict) else c}; the data changed. "
                            "Rebuild the stream with `codeintel continual build-stream`.")


def api_table(samples: list[Sample], by: str, lang: str) -> list[tuple[str, int]]:
    """(API, samples calling it), most called first."""
    counts: Counter = Counter()
    for s in samples:
        counts.update({api_key(c, by, lang) for c in s.calls})
    return counts.most_common()


def auto_domains(samples: list[Sample], by: str, lang: str, k: int, min_samples: int,
                 exclude: list[str] = ()) -> list[Domain]:
    """The ``k`` most used APIs, one domain each, in the order :func:`build` assigns samples (a sample goes to
    the first domain it calls): an API is chosen only if at least ``min_samples`` samples calling it are left
    after the domains chosen before it took theirs (GCJ's ``Map`` is called mostly by programs that also call
    an earlier ``Scanner``: chosen on its total it ended with no samples). APIs under an ``exclude`` prefix are
    never chosen."""
    chosen: list[str] = []
    taken: set[int] = set()
    for api, n in api_table(samples, by, lang):
        if len(chosen) == k:
            break
        # not under an exclusion, and not under an API chosen before it (`torch` before `torch.cuda`)
        if n < min_samples or any(matches(api, e) for e in [*exclude, *chosen]):
            continue
        mine = [i for i, s in enumerate(samples) if i not in taken and target_calls(s, [api])]
        if len(mine) >= min_samples:
            chosen.append(api)
            taken.update(mine)
    if not chosen:
        raise DataError(f"no API is called by {min_samples} or more samples"
                        + (f" outside {', '.join(exclude)}" if exclude else "")
                        + "; lower --min-samples or add data.")
    return [Domain(api, [api]) for api in chosen]


def load_stream(ref: str, data: str | None = None, progress_enabled: bool = True) -> Stream:
    """Definition + data -> the built stream (``data`` overrides the file's own)."""
    defn = load_definition(ref)
    source = data or defn.data_path()
    if not source:
        raise ConfigError(f"stream {ref!r} names no data; pass --data FILE.jsonl (its own data is not shipped).")
    stream = build(defn, extract_all(read_units(source, defn.lang, defn.exclude_tests), defn.lang, progress_enabled))
    if data is None:
        check_counts(defn, stream)
    return stream
