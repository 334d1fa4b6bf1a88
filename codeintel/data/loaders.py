"""Loaders for the standard local formats. Every error names the file, the line and the fix.

- summarization: CodeXGLUE Code-Text jsonl (``code_tokens``/``docstring_tokens``), or jsonl with
  ``code`` and ``summary`` / ``docstring``;
- clone detection: a programs jsonl (``idx``+``func`` as BigCloneBench's ``data.jsonl``, or
  ``index``+``code``) plus ``idx1 idx2 label`` pair lists;
- clone retrieval: POJ-104 jsonl (``index``, ``label``, ``code``).

A directory holds ``train``/``valid`` (or ``dev``)/``test`` files; a single file is split
deterministically (by a hash of each example's id, or by label for retrieval).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codeintel.data.stdlib import SPLITS, first_sentence
from codeintel.errors import DataError
from codeintel.io import parse_json

_SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "dev", "validation"), "test": ("test",)}
SPLIT_OF_NAME = {alias: split for split, aliases in _SPLIT_ALIASES.items() for alias in aliases}
"""A split file's or a ``DatasetDict`` key's name -> the split it holds (``validation`` -> ``valid``)."""


@dataclass
class LoadReport:
    """What loading skipped, so the CLI can say it."""

    skipped_lines: int = 0
    messages: list[str] = field(default_factory=list)
    origins: bool = False
    """Record where each example came from: ``example["__origin"] = (file, line)`` (``codeintel data dedup``
    copies the surviving lines)."""
    columns: dict[str, str] = field(default_factory=dict)
    """Column mapping, ``{the file's column: the name the task reads}`` (``data.code_field`` and friends): each
    row read gets the mapped column under the task's name (replacing a column of that name)."""


def read_jsonl(path: Path, skip_bad: bool = False, report: LoadReport | None = None) -> list[dict]:
    """Parse a jsonl file; a malformed line stops with its file:line, or is skipped and counted."""
    check_file(path)
    rows = []
    not_utf8: list[int] = []   # lines whose bytes are not UTF-8: read with U+FFFD for each bad byte, and said
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                not_utf8.append(lineno)
            if not line.strip():
                continue
            try:
                row = parse_json(line)
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                if "\\ud" in line.lower():  # a \ud800-\udfff escape: a lone surrogate cannot become UTF-8
                    try:
                        json.dumps(row, ensure_ascii=False).encode("utf-8")
                    except UnicodeEncodeError:
                        raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
            except ValueError as exc:
                if not skip_bad:
                    raise DataError(f"{path}:{lineno}: malformed JSON line ({exc}). Fix it, or pass "
                                    "data.skip_bad_lines=true to skip and count bad lines.") from None
                if report is not None:
                    report.skipped_lines += 1
                continue
            row["__line"] = lineno
            rows.append(row)
    if not_utf8:
        from codeintel.log import say

        say(f"warning: {path}: {len(not_utf8)} line(s) hold bytes that are not UTF-8 (first: line {not_utf8[0]}); "
            "each bad byte was read as U+FFFD. Re-encode the file as UTF-8 to keep the text as written.")
    return rows


RECORD_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
"""The table formats ``datasets.load_dataset`` reads from local files, which every task's loader reads too."""


def read_records(path: Path, skip_bad: bool = False, report: LoadReport | None = None) -> list[dict]:
    """Rows of a table file, by its suffix: ``.jsonl`` (one JSON object a line), ``.json`` (a JSON array of
    objects, or JSON lines), ``.csv``/``.tsv`` (a header row; quoted values may span lines) or ``.parquet``; each
    row's ``__line`` says where it is (a line number, or ``row N``), and ``report.columns`` renames columns."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".parquet"):
        rows = _read_table(path, suffix)
    elif suffix == ".json" and _starts_with(path, "["):
        from codeintel.io import read_json

        table = read_json(path)
        if not isinstance(table, list) or not all(isinstance(r, dict) for r in table):
            raise DataError(f"{path}: a .json file must hold a JSON array of objects (or one object a line).")
        rows = [{**r, "__line": f"row {i}"} for i, r in enumerate(table)]
    else:
        rows = read_jsonl(path, skip_bad, report)
    if report is not None and report.columns:
        rows = [_rename(r, report.columns, path) for r in rows]
    return rows


def _starts_with(path: Path, char: str) -> bool:
    check_file(path)
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == char.encode()


def _read_table(path: Path, suffix: str) -> list[dict]:
    """A CSV/TSV or Parquet file through pyarrow (what ``datasets`` reads them with): typed columns."""
    check_file(path)
    import pyarrow as pa

    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table, first = pq.read_table(path), 0   # parquet rows from 0, CSV data rows (after the header) from 1
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(
                delimiter="\t" if suffix == ".tsv" else ",", newlines_in_values=True))
            first = 1
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable {suffix[1:].upper()} file ({str(exc).splitlines()[0][:160]}).") \
            from None
    rows = table.to_pylist()   # (a quoted CSV value may span lines: rows are named by number, not by line)
    return [{**r, "__line": f"row {i}"} for i, r in enumerate(rows, first)]


def _rename(row: dict, columns: dict[str, str], path: Path) -> dict:
    for theirs, ours in columns.items():
        if theirs not in row:
            raise DataError(f"{path}:{row.get('__line', '?')}: no column {theirs!r} (the column mapping names it); "
                            f"found {sorted(k for k in row if k != '__line')}.")
        if theirs != ours:
            row[ours] = row.pop(theirs)
        for other in _READ_BEFORE.get(ours, ()):   # a column the loader would read first gives way
            row.pop(other, None)
    return row


_READ_BEFORE = {"code": ("code_tokens",), "summary": ("docstring_tokens",)}


def check_file(path: Path) -> None:
    """A readable regular file, or a DataError that says what ``path`` is instead."""
    if path.is_dir():
        raise DataError(f"data path {path} is a directory; pass a file (or a directory holding train/valid/test "
                        "files where the task takes one).")
    if not path.exists():
        raise DataError(f"data file {path} does not exist.")
    if not path.is_file():
        raise DataError(f"data path {path} is not a regular file (a device or pipe); pass a file.")


CODE_FIELDS = ("code", "func", "original_string", "function")   # where jsonl rows keep code
NL_FIELDS = ("docstring", "nl", "summary", "comment")           # ... and natural language


def first_text(row: dict, names: Sequence[str]) -> str | None:
    """The first of ``names`` whose value in ``row`` is a string, else None."""
    return next((row[k] for k in names if isinstance(row.get(k), str)), None)


def read_code_rows(path: Path, lang: str = "", default_lang: str = "") -> list[dict]:
    """Rows of ``{"code", "nl", "lang"}`` from a jsonl file with a code field (and optionally a comment):
    the language is ``lang``, else the row's ``lang``/``language``, else ``default_lang``."""
    from codeintel.errors import ConfigError

    rows = []
    for row in read_jsonl(path):
        code = first_text(row, CODE_FIELDS)
        if code is None:
            raise DataError(f"{path}:{row['__line']}: no code field; expected one of {list(CODE_FIELDS)}.")
        row_lang = lang or row.get("lang") or row.get("language") or default_lang
        if not row_lang:
            raise ConfigError(f"{path}: which language is the code? Pass lang=python|java|c (or --lang).")
        nl = first_text(row, NL_FIELDS) or ""
        rows.append({"code": code, "nl": " ".join(nl.split()), "lang": row_lang})
    return rows


def field(row: dict, names: Sequence[str], path: Path) -> str:
    """The text of the first of ``names`` present in ``row``; a clear error naming the file and line otherwise
    (also for a value that is null or not a string: ``code: 12345`` is refused, not trained on as text)."""
    for name in names:
        if name in row:
            value = row[name]
            if isinstance(value, str):
                return value
            what = "null" if value is None else f"a {type(value).__name__} ({json.dumps(value)[:40]})"
            raise DataError(f"{path}:{row.get('__line', '?')}: field {name!r} is {what}; expected a string.")
    raise DataError(f"{path}:{row.get('__line', '?')}: missing field; expected one of {list(names)}, "
                    f"found {sorted(k for k in row if k != '__line')}.")


def key_field(row: dict, names: Sequence[str], path: Path, default: str | None = None) -> str:
    """An id or label: the first of ``names`` present, a string or an integer without tabs or line breaks
    (they would split the ``id<TAB>text`` lines of the official evaluators' files)."""
    for name in names:
        if name in row:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise DataError(f"{path}:{row.get('__line', '?')}: {name!r} is "
                                f"{'null' if value is None else 'a ' + type(value).__name__}; expected a string or "
                                "an integer.")
            text = str(value)
            if any(c in text for c in "\t\n\r"):
                raise DataError(f"{path}:{row.get('__line', '?')}: {name} {text!r} holds a tab or line break; "
                                "ids are written as id<TAB>text lines, so remove them.")
            return text
    if default is None:
        raise DataError(f"{path}:{row.get('__line', '?')}: missing field; expected one of {list(names)}, "
                        f"found {sorted(k for k in row if k != '__line')}.")
    return default


def tokens_field(row: dict, name: str, path: Path) -> str:
    """A CodeXGLUE token list (``code_tokens``, ``docstring_tokens``) joined by spaces; refused if not strings."""
    value = row[name]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(f"{path}:{row.get('__line', '?')}: {name!r} must be a list of strings.")
    return " ".join(value)


def _hash_split(key: str, ratios: tuple[int, int] = (8, 9)) -> str:
    bucket = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 10
    return "train" if bucket < ratios[0] else ("valid" if bucket < ratios[1] else "test")


def _split_files(directory: Path, suffix: str) -> dict[str, Path]:
    """``train``/``valid`` (``dev``, ``validation``)/``test`` files in ``directory``: with ``suffix`` ``.jsonl``
    (a table) any of :data:`RECORD_SUFFIXES`, the first found in that order."""
    suffixes = RECORD_SUFFIXES if suffix in RECORD_SUFFIXES else (suffix,)
    found = {}
    for split, aliases in _SPLIT_ALIASES.items():
        hit = next((directory / f"{a}{x}" for a in aliases for x in suffixes if (directory / f"{a}{x}").is_file()),
                   None)
        if hit is not None:
            found[split] = hit
    return found


def _check_nonempty(splits: dict[str, list], what: str) -> dict[str, list]:
    empty = [s for s in SPLITS if not splits.get(s)]
    if empty:
        sizes = ", ".join(f"{s}={len(splits.get(s, []))}" for s in SPLITS)
        raise DataError(f"{what}: the {'/'.join(empty)} split is empty ({sizes}). Provide more examples or "
                        "train/valid/test files.")
    return splits


# --------------------------------------------------------------------------- summarization

def _summarization_row(row: dict, path: Path, idx: int) -> dict:
    if "code_tokens" in row:
        source = tokens_field(row, "code_tokens", path)
    else:
        source = " ".join(field(row, ("code", "func", "original_string"), path).split())
    if "summary" in row:
        target = field(row, ("summary",), path)
    elif "docstring_tokens" in row:
        target = tokens_field(row, "docstring_tokens", path)
    else:
        target = first_sentence(field(row, ("docstring", "nl", "summary"), path))
    rid = key_field(row, ("id", "idx"), path, f"{path.stem}-{idx}")
    out = {"id": rid, "source": source, "target": " ".join(target.split())}
    raw = first_text(row, ("code", "func", "original_string"))
    if raw is not None:
        out["code"] = raw  # unnormalised, for operators that parse it (robustness evaluation)
    return out


def load_rows(paths: Sequence[str], convert: Callable[[dict, Path, int], dict], skip_bad: bool = False,
              report: LoadReport | None = None, suffix: str = ".jsonl") -> dict[str, list[dict]]:
    """Splits of ``convert(row, path, line_index)`` (a dict with an ``id``) from a directory of train/valid/test
    files (``suffix``; one JSON object a line), ``split=file`` arguments, or one file split 80/10/10 by a hash of
    each example's id."""
    files = _resolve_split_files(paths, suffix)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for split, path in files.items():
        for i, row in enumerate(read_records(path, skip_bad, report)):
            ex = convert(row, path, i)
            if report is not None and report.origins:
                ex["__origin"] = (str(path), row["__line"])
            splits[_hash_split(ex["id"]) if split == "all" else split].append(ex)
    return _check_nonempty(splits, ", ".join(map(str, files.values())))


def load_summarization(paths: Sequence[str], skip_bad: bool = False,
                       report: LoadReport | None = None) -> dict[str, list[dict]]:
    """Splits of ``{id, source, target}``."""
    return load_rows(paths, _summarization_row, skip_bad, report)


def _resolve_split_files(paths: Sequence[str], suffix: str) -> dict[str, Path]:
    if not paths:
        raise DataError("no data given: pass --data PATH (a directory with train/valid/test files, or one file).")
    named = [p for p in paths if "=" in p and p.split("=", 1)[0] in ("train", "valid", "test")]
    if named:
        return {p.split("=", 1)[0]: Path(p.split("=", 1)[1]) for p in named}
    if len(paths) == 1 and Path(paths[0]).is_dir():
        found = _split_files(Path(paths[0]), suffix)
        if set(found) != set(SPLITS):
            raise DataError(f"{paths[0]} must hold train{suffix}, valid{suffix} (or dev{suffix}) and test{suffix}; "
                            f"found {sorted(p.name for p in found.values()) or 'none'}.")
        return found
    if len(paths) == 1:
        return {"all": Path(paths[0])}
    missing = [p for p in paths if not Path(p).exists()]
    keys = [p for p in missing if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", p)]
    if keys:
        raise DataError(f"--data got {keys[0]!r}, which is no file: a config override needs a value, e.g. "
                        f"{keys[0]}=... (overrides are key=value).")
    if missing:
        raise DataError(f"data path {missing[0]} does not exist.")
    raise DataError(f"got {len(paths)} data paths; pass one file, one directory, or train=/valid=/test= files.")


# --------------------------------------------------------------------------- clone detection

@dataclass
class CloneDetectionData:
    programs: dict[str, str]
    pairs: dict[str, list[tuple[str, str, int]]]
    programs_file: Path | None = None
    pair_files: tuple[Path, ...] = ()


def _read_programs(path: Path, skip_bad: bool, report: LoadReport | None) -> dict[str, str]:
    programs = {}
    for row in read_records(path, skip_bad, report):
        key = key_field(row, ("idx", "index", "id"), path)
        programs[key] = field(row, ("func", "code"), path)
    if not programs:
        raise DataError(f"{path} holds no programs.")
    return programs


def _read_pairs(path: Path, programs: dict[str, str], skip_bad: bool, report: LoadReport | None) -> list:
    check_file(path)
    pairs = []
    with path.open(encoding="utf-8", errors="replace") as fh:  # undecodable bytes name no program: reported below
        for lineno, line in enumerate(fh, 1):
            cols = line.split()
            if not cols:
                continue
            problem = None
            if len(cols) != 3:
                problem = f"expected 'idx1 idx2 label', got {len(cols)} columns"
            elif cols[0] not in programs or cols[1] not in programs:
                missing = cols[0] if cols[0] not in programs else cols[1]
                problem = f"program {missing!r} is not in the programs file"
            elif cols[2] not in ("0", "1"):
                problem = (f"label {cols[2]!r} is not 0 or 1 (1: a clone pair, 0: not); a file of -1/1 labels "
                           "needs -1 written as 0")
            if problem:
                if not skip_bad:
                    raise DataError(f"{path}:{lineno}: {problem}. Fix it, or pass data.skip_bad_lines=true.")
                if report is not None:
                    report.skipped_lines += 1
                continue
            pairs.append((cols[0], cols[1], int(cols[2])))
    return pairs


def load_clone_detection(paths: Sequence[str], skip_bad: bool = False,
                         report: LoadReport | None = None) -> CloneDetectionData:
    """Programs + pair lists: a BigCloneBench directory, or a programs jsonl and one or more pair files."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        d = Path(paths[0])
        jsonl = [p for p in sorted(d.glob("*.jsonl"))]
        pair_files = [str(p) for p in sorted(d.glob("*.txt"))]
        paths = [str(p) for p in jsonl] + pair_files
    jsonls = [Path(p) for p in paths if Path(p).suffix.lower() in RECORD_SUFFIXES]
    others = [Path(p) for p in paths if Path(p).suffix.lower() not in RECORD_SUFFIXES]
    if len(jsonls) != 1 or not others:
        raise DataError("clone detection needs one programs .jsonl and pair list(s) (idx1 idx2 label), e.g. "
                        "--data data.jsonl train.txt valid.txt test.txt, or a directory holding them.")
    programs = _read_programs(jsonls[0], skip_bad, report)
    pairs: dict[str, list] = {s: [] for s in SPLITS}
    for p, split in pair_file_splits(others).items():
        for pair in _read_pairs(p, programs, skip_bad, report):
            pairs[split or pair_split(pair[0], pair[1])].append(pair)
    _check_nonempty(pairs, ", ".join(map(str, others)))
    return CloneDetectionData(programs, pairs, jsonls[0], tuple(others))


def pair_file_splits(pair_files: Sequence[Path]) -> dict[Path, str | None]:
    """The split of each pair list: by its name (train.txt, valid.txt or dev.txt, test.txt) when the names cover
    every split, else None for all (each pair is then split by :func:`pair_split`)."""
    named = {p: next((s for s, al in _SPLIT_ALIASES.items() if p.stem in al), None) for p in pair_files}
    if set(named.values()) >= set(SPLITS):
        return {p: s for p, s in named.items() if s}  # other lists beside train/valid/test are not read
    return {p: None for p in pair_files}


def pair_split(idx1: str, idx2: str) -> str:
    """The split of a pair in a single (unnamed) pair list: 80/10/10 by a hash of the two ids."""
    return _hash_split(f"{idx1}\t{idx2}")


# --------------------------------------------------------------------------- clone retrieval

def load_clone_retrieval(paths: Sequence[str], skip_bad: bool = False,
                         report: LoadReport | None = None) -> dict[str, list[dict]]:
    """Splits of ``{id, code, label}``; a single file is split by label (50/25/25 of the sorted labels)."""
    files = _resolve_split_files(paths, ".jsonl")
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for split, path in files.items():
        rows = []
        for i, row in enumerate(read_records(path, skip_bad, report)):
            rows.append({"id": key_field(row, ("index", "idx"), path, str(i)),
                         "code": field(row, ("code", "func"), path),
                         "label": key_field(row, ("label",), path)})
            if report is not None and report.origins:
                rows[-1]["__origin"] = (str(path), row["__line"])
        if split != "all":
            splits[split].extend(rows)
            continue
        labels = sorted({r["label"] for r in rows}, key=lambda x: (len(x), x))
        if len(labels) < 3:
            raise DataError(f"{path}: clone retrieval needs at least 3 labels to split by label; found {len(labels)}.")
        n_train, n_valid = max(1, len(labels) // 2), max(1, len(labels) // 4)
        assign = {lab: "train" if i < n_train else ("valid" if i < n_train + n_valid else "test")
                  for i, lab in enumerate(labels)}
        for r in rows:
            splits[assign[r["label"]]].append(r)
    return _check_nonempty(splits, ", ".join(map(str, files.values())))


# --------------------------------------------------------------------------- code-to-code (line-aligned files)

_SPLIT_WORD = re.compile(r"(?:^|[._-])(train|valid|dev|validation|test)(?=[._-])")


def _line_split(name: str) -> str | None:
    m = _SPLIT_WORD.search(name)
    return None if m is None else next(s for s, al in _SPLIT_ALIASES.items() if m.group(1) in al)


def _read_lines(path: Path) -> list[str]:
    check_file(path)
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        text = fh.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _carve(splits: dict[str, list[dict]], files: str, report: LoadReport | None) -> dict[str, list[dict]]:
    """Splits a directory lacks, taken from the others by a hash of each example's id (so the choice is stable):
    a missing test or valid split is 10 % of train; with train missing too, everything is split 80/10/10."""
    missing = [s for s in SPLITS if not splits[s]]
    if not missing:
        return splits
    if "train" in missing:
        pool = [r for s in SPLITS for r in splits[s]]
        splits = {s: [] for s in SPLITS}
        for r in pool:
            splits[_hash_split(r["id"])].append(r)
        note = f"{files}: no train/valid/test files; the examples were split 80/10/10 by a hash of their ids"
    else:
        keep = []
        for r in splits["train"]:
            bucket = int(hashlib.sha1(r["id"].encode()).hexdigest(), 16) % 10
            if bucket == 9 and "test" in missing:
                splits["test"].append(r)
            elif bucket == 8 and "valid" in missing:
                splits["valid"].append(r)
            else:
                keep.append(r)
        splits["train"] = keep
        note = f"{files}: no {'/'.join(missing)} file; 10 % of train (by a hash of the ids) is each missing split"
    if report is not None:
        report.messages.append(note)
    return splits


def load_parallel(paths: Sequence[str], source_suffix: str, target_suffix: str, skip_bad: bool = False,
                  report: LoadReport | None = None) -> dict[str, list[dict]]:
    """Splits of ``{id, source, target}`` from CodeXGLUE's line-aligned files: line i of the source file is the
    input of line i of the target file (translation ``train.java-cs.txt.java`` / ``.cs``, refinement
    ``train.buggy-fixed.buggy`` / ``.fixed``). ``--data`` is a directory whose file names carry the split (``train``,
    ``valid``/``dev``, ``test`` as a dot-, dash- or underscore-separated word) and end with the two suffixes, or
    ``SOURCE TARGET`` (two files, split 80/10/10), or ``train=SRC,TGT valid=... test=...``. Empty lines are data
    (an empty method); a different number of lines in the two files is an error."""
    by_split: dict[str, tuple[Path, Path]] = {}
    if len(paths) == 1 and Path(paths[0]).is_dir():
        d = Path(paths[0])
        found: dict[str, dict[str, Path]] = {}
        for f in sorted(d.iterdir()):
            side = "source" if f.name.endswith(source_suffix) else "target" if f.name.endswith(target_suffix) else None
            split = _line_split(f.name)
            if side and split and f.is_file():
                if side in found.setdefault(split, {}):
                    raise DataError(f"{d} holds two {split} {side} files ({found[split][side].name}, {f.name}); "
                                    "keep one, or pass train=SRC,TGT valid=... test=... with --data.")
                found[split][side] = f
        for split, sides in found.items():
            if len(sides) == 1:
                have = next(iter(sides.values()))
                raise DataError(f"{have} has no partner: a {split} file ending in "
                                f"{target_suffix if 'source' in sides else source_suffix} is needed beside it.")
            by_split[split] = (sides["source"], sides["target"])
        if not by_split:
            raise DataError(f"{d} holds no line-aligned files: expected names such as train.*{source_suffix} and "
                            f"train.*{target_suffix} (valid/dev, test likewise).")
    elif any("=" in p for p in paths):
        for p in paths:
            split, _, rest = p.partition("=")
            files = rest.split(",")
            if split not in SPLITS or len(files) != 2:
                raise DataError(f"--data {p!r}: expected split=SOURCE,TARGET with split train, valid or test.")
            by_split[split] = (Path(files[0]), Path(files[1]))
    elif len(paths) == 2:
        by_split["all"] = (Path(paths[0]), Path(paths[1]))
    else:
        raise DataError(f"code-to-code data: pass a directory of line-aligned files, SOURCE TARGET files, or "
                        f"train=SRC,TGT valid=... test=...; got {len(paths)} path(s).")
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for split, (src, tgt) in by_split.items():
        a, b = _read_lines(src), _read_lines(tgt)
        if len(a) != len(b):
            raise DataError(f"{src} has {len(a)} lines but {tgt} has {len(b)}: line i of one must be the partner "
                            "of line i of the other.")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            row = {"id": f"{split}-{i}" if split != "all" else str(i), "source": x.strip(), "target": y.strip()}
            if report is not None and report.origins:
                row["__origin"] = (str(src), i + 1)
            splits[_hash_split(row["id"]) if split == "all" else split].append(row)
    where = ", ".join(str(p) for pair in by_split.values() for p in pair)
    return _check_nonempty(_carve(splits, where, report), where)


def _concode_row(row: dict, path: Path, idx: int) -> dict:
    nl = field(row, ("nl",), path)
    code = field(row, ("code",), path)
    return {"id": key_field(row, ("id", "idx"), path, f"{path.stem}-{idx}"), "source": nl.strip(),
            "target": code.strip()}


def load_concode(paths: Sequence[str], skip_bad: bool = False,
                 report: LoadReport | None = None) -> dict[str, list[dict]]:
    """CONCODE (CodeXGLUE text-to-code): ``train.json`` / ``dev.json`` / ``test.json``, one ``{"nl", "code"}``
    object a line (``nl`` is the docstring, then the class's fields and methods after ``concode_field_sep`` /
    ``concode_elem_sep``); ``.jsonl`` files are read the same way. Splits of ``{id, source: nl, target: code}``."""
    suffix = ".json"
    if len(paths) == 1 and Path(paths[0]).is_dir() and not any(p.is_file() for p in Path(paths[0]).glob("*.json")):
        suffix = ".jsonl"
    return load_rows(paths, _concode_row, skip_bad, report, suffix)


# --------------------------------------------------------------------------- defect detection

DEFECT_LABELS = ("target", "race", "label")


def _defect_row(row: dict, path: Path, rid: str) -> dict:
    code = field(row, ("func", "code"), path)
    name = next((k for k in DEFECT_LABELS if k in row), None)
    if name is None:
        raise DataError(f"{path}:{row.get('__line', '?')}: no label; expected one of {list(DEFECT_LABELS)} (0 or 1).")
    value = row[name]
    if isinstance(value, bool) or value not in (0, 1, "0", "1"):
        raise DataError(f"{path}:{row.get('__line', '?')}: {name} is {json.dumps(value)[:40]}; defect detection "
                        "labels are 0 (no defect) or 1 (defect).")
    lang = row.get("language") or row.get("lang")
    return {"id": rid, "code": code, "label": int(value), **({"lang": str(lang)} if isinstance(lang, str) else {})}


def load_defect(paths: Sequence[str], skip_bad: bool = False,
                report: LoadReport | None = None) -> dict[str, list[dict]]:
    """Splits of ``{id, code, label}`` for defect detection, from

    - CodeXGLUE's Devign layout: a directory holding ``function.json`` (a JSON array of ``{project, commit_id,
      target, func}``) and ``train.txt`` / ``valid.txt`` / ``test.txt``, each line an index into the array (the
      row's id is that index, as the evaluator's ``idx``);
    - jsonl files (a directory of train/valid/test ``.jsonl``, or one file split 80/10/10 by id) whose rows hold
      ``func``/``code`` and a 0/1 ``target``/``race``/``label`` (Devign's preprocessed files, DataRaceBench)."""
    if len(paths) == 1 and (Path(paths[0]) / "function.json").is_file():
        d = Path(paths[0])
        from codeintel.io import read_json

        table = read_json(d / "function.json")
        if not isinstance(table, list) or not all(isinstance(r, dict) for r in table):
            raise DataError(f"{d / 'function.json'}: expected a JSON array of objects (Devign's function.json).")
        splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
        for split in SPLITS:
            index_file = _split_files(d, ".txt").get(split)
            if index_file is None:
                raise DataError(f"{d} has function.json but no {split}.txt index list; Devign's layout has "
                                "train.txt, valid.txt and test.txt.")
            for lineno, line in enumerate(_read_lines(index_file), 1):
                if not line.strip():
                    continue
                text = line.strip()
                if not text.isdigit() or int(text) >= len(table):
                    raise DataError(f"{index_file}:{lineno}: {text!r} names no row of function.json (it has "
                                    f"{len(table)} rows, indices 0-{len(table) - 1}).")
                row = {**table[int(text)], "__line": f"row {text}"}
                ex = _defect_row(row, d / "function.json", text)
                if report is not None and report.origins:
                    ex["__origin"] = (str(index_file), lineno)
                splits[split].append(ex)
        return _check_nonempty(splits, str(d))

    def convert(row: dict, path: Path, idx: int) -> dict:
        return _defect_row(row, path, key_field(row, ("idx", "id", "index"), path, f"{path.stem}-{idx}"))

    return load_rows(paths, convert, skip_bad, report)


# --------------------------------------------------------------------------- datasets objects and hub ids

def dataset_files(data) -> list[str] | None:
    """``data`` as the file paths the loaders read: paths as they are; a ``datasets.Dataset`` (one table, split
    80/10/10 by id as one file is) or ``DatasetDict`` (train / validation|valid|dev / test), and ``hf:NAME`` or
    ``hf:NAME:CONFIG`` hub ids (through ``datasets.load_dataset``), exported once as jsonl into the cache
    (``$CODEINTEL_CACHE/datasets/<fingerprint>/``, named by the data's own fingerprint, so a run's
    ``config.yaml`` names files that resume and evaluate read again)."""
    if data is None:
        return None
    if _is_dataset(data):
        return [_export(data)]
    items = [data] if isinstance(data, str | Path) else list(data)
    out = []
    for item in items:
        if _is_dataset(item):
            out.append(_export(item))
        elif isinstance(item, str) and item.startswith("hf:"):
            out.append(_export(_load_hub_dataset(item)))
        else:
            out.append(str(item))
    return out


def _is_dataset(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "datasets" and type(obj).__name__ in ("Dataset", "DatasetDict")


def _load_hub_dataset(ref: str):
    import datasets

    name, _, config = ref[3:].partition(":")
    try:
        return datasets.load_dataset(name, config or None)
    except Exception as exc:  # noqa: BLE001 - any failure of the hub or the dataset's files: one clear line
        raise DataError(f"--data {ref}: datasets.load_dataset({name!r}{', ' + repr(config) if config else ''}) "
                        f"failed ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}); check the "
                        "name and the network (HF_DATASETS_OFFLINE reads only the local cache).") from None


def _export(ds) -> str:
    """Write ``ds`` (Dataset or DatasetDict) once into the cache as jsonl; the file (one Dataset) or directory."""
    import os

    from codeintel.hub import cache_dir

    if type(ds).__name__ == "DatasetDict":
        unknown = [k for k in ds if k not in SPLIT_OF_NAME]
        if unknown:
            raise DataError(f"the DatasetDict's split {unknown[0]!r} is not train, validation (valid, dev) or test; "
                            "rename it (DatasetDict({'train': ..., 'validation': ..., 'test': ...})).")
        parts = {SPLIT_OF_NAME[k]: v for k, v in ds.items()}
        key = hashlib.sha1(json.dumps(sorted((k, v._fingerprint) for k, v in parts.items())).encode()).hexdigest()
    else:
        parts, key = {"all": ds}, ds._fingerprint
    root = cache_dir() / "datasets" / key[:16]
    if not root.is_dir():
        tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        for split, part in parts.items():
            part.to_json(str(tmp / f"{split}.jsonl"), lines=True, force_ascii=False)
        try:
            tmp.rename(root)
        except OSError:   # another process exported the same data first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return str(root / "all.jsonl") if "all" in parts else str(root)
