"""Dataset hygiene on any dataset a task card loads: ``codeintel data check`` (a duplicates and leakage report),
``codeintel data dedup`` (a cleaned copy) and the exact-duplicate leakage warning of ``codeintel train``.

A *document* is one example of a split (one function; for clone detection, one program referenced by the
split's pairs, so a program used by train and test pairs is a train document and a test document with the same
code). Splits are ordered train < valid < test; leakage is counted from a later split into an earlier one.
The similarity rules are those of :mod:`codeintel.data.hygiene`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codeintel.data import hygiene as hy
from codeintel.data.loaders import (
    CODE_FIELDS,
    RECORD_SUFFIXES,
    SPLIT_OF_NAME,
    LoadReport,
    check_file,
    read_records,
)
from codeintel.data.stdlib import SPLITS
from codeintel.errors import ConfigError, DataError
from codeintel.io import parse_json, save_figure, write_text

EMBEDDED_CARDS = {"stdlib": "summarization", "stdlib-clones": "clone-detection-stdlib"}
SPLIT_PAIRS = (("valid", "train"), ("test", "train"), ("test", "valid"))   # (later, earlier)


@dataclass
class Corpus:
    """The documents of a dataset, in split order (train, valid, test; file order within a split)."""

    card: Any
    paths: list[str]
    docs: list[dict] = field(default_factory=list)     # {split, id, code, lang, target, origin}
    pairs: dict[str, list[tuple[str, str, int]]] | None = None   # clone detection: each split's pairs
    programs_file: Path | None = None
    pair_files: tuple[Path, ...] = ()
    skipped_lines: int = 0

    def split_ids(self) -> np.ndarray:
        return np.array([SPLITS.index(d["split"]) for d in self.docs], dtype=np.int64)


# --------------------------------------------------------------------------- reading a dataset

def resolve_card(paths: list[str], task: str | None):
    """The task card whose format ``paths`` are read in: ``task``, the embedded set's, or inferred from the
    files (pair lists = clone detection; rows with a ``label`` = clone retrieval; with a summary or docstring
    = summarization; with a ``language`` = language modelling)."""
    from codeintel.tasks.cards import load_task
    from codeintel.tasks.types import TASK_TYPES, task_type

    if task:
        return load_task(task)
    if len(paths) == 1 and paths[0] in EMBEDDED_CARDS:
        return load_task(EMBEDDED_CARDS[paths[0]])
    if not paths:
        raise ConfigError("no data given: pass PATH... (files or a directory), or stdlib / stdlib-clones for an "
                          "embedded set.")
    files = []
    for p in map(Path, paths):
        if "=" in str(p) and str(p).split("=", 1)[0] in SPLITS:
            p = Path(str(p).split("=", 1)[1])
        if not p.exists():
            raise DataError(f"data path {p} does not exist.")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and _data_file(f))
            if not found:
                raise DataError(f"{p} is a directory without data files (jsonl, json, csv, tsv, parquet, or txt "
                                "pair lists); pass the files, or a directory holding them.")
            files += found
        else:
            check_file(p)
            files.append(p)
    jsonl = next((f for f in files if f.suffix.lower() in RECORD_SUFFIXES), None)
    row = _first_row(jsonl) if jsonl else None
    for name in TASK_TYPES:   # a type's default card carries its name, unless it names another
        if task_type(name).recognises(files, row):
            return load_task(task_type(name).default_card or name)
    if row is None:
        what = f"{jsonl} holds no rows" if jsonl else f"{paths[0]} is no table (jsonl, json, csv, tsv, parquet)"
        raise DataError(f"cannot tell the format of the data: {what}; pass --task CARD.")
    raise DataError(f"cannot tell which task's format {jsonl} is (fields {sorted(k for k in row if k != '__line')}; "
                    f"code is read from one of {list(CODE_FIELDS)}); pass --task CARD.")


def _data_file(f: Path) -> bool:
    """A file of a data directory: any jsonl or txt (pair lists), and json/csv/tsv/parquet tables named by their
    split (``train.csv``; a report such as ``dedup.json`` beside them is not data)."""
    suffix = f.suffix.lower()
    return suffix in (".jsonl", ".txt") or (suffix in RECORD_SUFFIXES and f.stem.lower() in SPLIT_OF_NAME)


def _first_row(path: Path) -> dict | None:
    """The first JSON object of a jsonl file (the format is told from it; the file is read whole only once,
    by the loader)."""
    check_file(path)
    if path.suffix.lower() != ".jsonl":   # a JSON array, CSV/TSV or Parquet table: its first record
        rows = read_records(path)
        return rows[0] if rows else None
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = parse_json(line)
                except ValueError as exc:
                    raise DataError(f"{path}:{lineno}: malformed JSON line ({exc}).") from None
                return row if isinstance(row, dict) else None
    return None


def load_corpus(paths: list[str], task: str | None = None, lang: str | None = None,
                skip_bad: bool = False) -> Corpus:
    """Every split of a dataset as documents, read the way ``codeintel train --task CARD --data PATHS`` reads it."""
    from codeintel.structure.parsing import canonical
    from codeintel.tasks.types import make_task

    card = resolve_card(paths, task)
    if paths and paths[0] in EMBEDDED_CARDS:
        paths = []
    lang = canonical(lang) if lang else None
    corpus = Corpus(card, list(paths))
    report = LoadReport(origins=True)
    task = make_task(card, None, 0, 0)
    splits = task.load(list(paths), skip_bad, report)
    corpus.docs = task.documents(splits, lang)
    pairs = task.pair_data()
    if pairs is not None:  # rows are pairs over a program table: the pair checks and the pair-list rewrite
        corpus.pairs, corpus.programs_file, corpus.pair_files = pairs.pairs, pairs.programs_file, pairs.pair_files
    corpus.skipped_lines = report.skipped_lines
    return corpus


# --------------------------------------------------------------------------- the analysis

@dataclass
class Analysis:
    corpus: Corpus
    settings: hy.Settings
    dup: hy.Duplicates
    report: dict


def analyse(corpus: Corpus, settings: hy.Settings | None = None, workers: int = 0, progress: bool = False,
            near: bool = True) -> Analysis:
    """Fingerprints, exact groups, near pairs, clusters and the leakage numbers of a corpus."""
    settings = settings or hy.Settings()
    t0 = time.perf_counter()
    docs = corpus.docs
    fp = hy.fingerprint_corpus([d["code"] for d in docs], [d["lang"] for d in docs], settings, workers, progress)
    t1 = time.perf_counter()
    dup = hy.find_duplicates(fp, settings, near=near)
    t2 = time.perf_counter()
    split_ids = corpus.split_ids()
    n_splits = len(SPLITS)
    exact_mask, near_mask = hy.split_masks(dup, split_ids, n_splits)
    in_exact, in_near = hy.within_split(dup, split_ids, n_splits)
    bands, rows = settings.bands()
    langs = sorted({d["lang"] or "none" for d in docs})
    report: dict[str, Any] = {
        "task": corpus.card.name, "type": corpus.card.type, "data": corpus.paths or [corpus.card.data],
        "languages": langs,
        "settings": {**asdict(settings), "bands": bands, "rows": rows},
        "documents": len(docs),
        "compared_exactly_only": int((fp.signed < 0).sum()),
        "splits": {}, "leakage": {},
    }
    if "none" in langs:
        report["note"] = ("some documents have no language: comments and strings were not recognised (pass "
                          "--lang)")
    for s, split in enumerate(SPLITS):
        sel = split_ids == s
        n = int(sel.sum())
        report["splits"][split] = {"documents": n, **_counts(in_exact[sel], in_near[sel], n)}
    doc_exact, doc_near = exact_mask[dup.group], near_mask[dup.group]
    for later, earlier in SPLIT_PAIRS:
        sel = split_ids == SPLITS.index(later)
        bit = 1 << SPLITS.index(earlier)
        n = int(sel.sum())
        report["leakage"][f"{later}_in_{earlier}"] = {"documents": n, **_counts(
            (doc_exact[sel] & bit) > 0, (doc_near[sel] & bit) > 0, n)}
    report["clusters"] = _clusters(corpus, dup)
    if corpus.pairs is not None:
        report["pairs"] = _pair_leakage(corpus, doc_exact, doc_near)
    if any(d.get("target") for d in docs):
        report["targets"] = _target_leakage(corpus)
    report["seconds"] = {"fingerprints": round(t1 - t0, 2), "duplicates": round(t2 - t1, 2)}
    report["near_pairs"], report["lsh_candidates"] = len(dup.near), dup.candidates
    return Analysis(corpus, settings, dup, report)


def _counts(exact: np.ndarray, near: np.ndarray, n: int) -> dict:
    pct = (lambda k: round(100.0 * k / n, 2)) if n else (lambda k: 0.0)
    return {"exact": int(exact.sum()), "exact_pct": pct(int(exact.sum())),
            "near": int(near.sum()), "near_pct": pct(int(near.sum()))}


def _clusters(corpus: Corpus, dup: hy.Duplicates, largest: int = 10) -> dict:
    """Cluster statistics (exact groups, and near clusters = components of exact and near edges), as
    Allamanis reports them: documents in clusters and the duplication ratio (documents a deduplication removes,
    over all)."""
    n = len(corpus.docs)
    out = {}
    for kind, labels in (("exact", dup.group), ("near", dup.clusters())):
        sizes = np.bincount(labels) if n else np.zeros(0, dtype=np.int64)
        multi = sizes[sizes > 1]
        out[kind] = {"clusters": int(len(multi)), "documents": int(multi.sum()),
                     "duplication_ratio": round(float((multi.sum() - len(multi)) / n), 4) if n else 0.0,
                     "size_histogram": {int(k): int(v) for k, v in zip(*np.unique(multi, return_counts=True),
                                                                        strict=True)}}
        if kind == "near":
            order = np.argsort(-sizes, kind="stable")[:largest]
            members = {int(c): [] for c in order if sizes[c] > 1}
            for i in np.flatnonzero(np.isin(labels, list(members))):
                members[int(labels[i])].append(int(i))
            out["largest"] = [_cluster_entry(corpus, idx) for idx in members.values()]
    return out


def _cluster_entry(corpus: Corpus, idx: list[int]) -> dict:
    splits = {s: 0 for s in SPLITS}
    for i in idx:
        splits[corpus.docs[i]["split"]] += 1
    examples = []
    for i in idx[:3]:
        d = corpus.docs[i]
        lines = [line for line in d["code"].splitlines() if line.strip()][:3]
        examples.append({"split": d["split"], "id": str(d["id"]), "code": "\n".join(lines)[:240]})
    return {"size": len(idx), "splits": splits, "examples": examples}


def _pair_leakage(corpus: Corpus, doc_exact: np.ndarray, doc_near: np.ndarray) -> dict:
    """Clone pairs of valid/test whose programs also appear (by id, exactly, or nearly) among training pairs."""
    index = {(d["split"], d["id"]): i for i, d in enumerate(corpus.docs)}
    train_pairs = {frozenset(p[:2]) for p in corpus.pairs["train"]}
    bit = 1
    out = {}
    for split in ("valid", "test"):
        pairs = corpus.pairs[split]
        if not pairs:
            continue
        ia = np.array([index[(split, a)] for a, _, _ in pairs])
        ib = np.array([index[(split, b)] for _, b, _ in pairs])
        ea, eb = (doc_exact[ia] & bit) > 0, (doc_exact[ib] & bit) > 0
        na, nb = (doc_near[ia] & bit) > 0, (doc_near[ib] & bit) > 0
        same = np.array([frozenset(p[:2]) in train_pairs for p in pairs])
        entry: dict[str, int | float] = {"pairs": len(pairs)}
        for name, hit in (("identical_pair", same), ("both_programs_exact", ea & eb),
                          ("both_programs_near", na & nb), ("either_program_exact", ea | eb)):
            entry[name], entry[f"{name}_pct"] = int(hit.sum()), round(100.0 * float(hit.mean()), 2)
        out[f"{split}_in_train"] = entry
    return out


def _target_leakage(corpus: Corpus) -> dict:
    """Valid/test examples whose target text (whitespace-normalised) is also a training target."""
    targets = {s: [" ".join((d.get("target") or "").split()) for d in corpus.docs if d["split"] == s] for s in SPLITS}
    train = set(targets["train"]) - {""}
    out = {}
    for split in ("valid", "test"):
        n = len(targets[split])
        k = sum(t in train for t in targets[split])
        out[f"{split}_in_train"] = {"documents": n, "identical_target": k,
                                    "identical_target_pct": round(100.0 * k / n, 2) if n else 0.0}
    return out


# --------------------------------------------------------------------------- the report

def write_report(analysis: Analysis, out: Path) -> list[Path]:
    """``hygiene.json``, ``hygiene.md`` and ``hygiene.png`` in ``out``, a directory the caller has claimed
    (:class:`~codeintel.recipes.rundir.RunDir`)."""
    from codeintel.io import write_json

    written = [out / "hygiene.md", out / "hygiene.png", out / "hygiene.json"]
    write_text(written[0], markdown(analysis.report))
    plot(analysis.report, written[1])
    write_json(written[2], analysis.report)   # last: its presence marks a complete report
    return written


def summary_lines(report: dict) -> list[str]:
    """The report in a few lines for the terminal."""
    sizes = ", ".join(f"{s}={v['documents']}" for s, v in report["splits"].items())
    lines = [f"{report['documents']} documents ({sizes}), read as {report['task']}; languages: "
             f"{', '.join(report['languages'])}"]
    for split, v in report["splits"].items():
        if v["documents"]:
            lines.append(f"  {split:5s}: {v['exact']} ({v['exact_pct']}%) have an exact duplicate in {split}, "
                         f"{v['near']} ({v['near_pct']}%) an exact or near duplicate")
    for key, v in report["leakage"].items():
        if v["documents"]:
            later, earlier = key.split("_in_")
            lines.append(f"  {later} -> {earlier}: {v['exact']} ({v['exact_pct']}%) exact, {v['near']} "
                         f"({v['near_pct']}%) exact or near")
    for key, v in report.get("pairs", {}).items():
        lines.append(f"  {key.split('_')[0]} pairs: {v['identical_pair']} ({v['identical_pair_pct']}%) also a train "
                     f"pair; both programs in train pairs: {v['both_programs_exact']} "
                     f"({v['both_programs_exact_pct']}%) exact, {v['both_programs_near']} "
                     f"({v['both_programs_near_pct']}%) exact or near")
    for key, v in report.get("targets", {}).items():
        lines.append(f"  {key.split('_')[0]} targets identical to a train target: {v['identical_target']} "
                     f"({v['identical_target_pct']}%)")
    c = report["clusters"]
    lines.append(f"  clusters: {c['exact']['clusters']} exact ({c['exact']['documents']} documents, duplication ratio "
                 f"{c['exact']['duplication_ratio']:.2%}), {c['near']['clusters']} near ({c['near']['documents']} "
                 f"documents, ratio {c['near']['duplication_ratio']:.2%})")
    return lines


def markdown(report: dict) -> str:
    s = report["settings"]
    out = [f"# Dataset hygiene: {', '.join(map(str, report['data']))}", "",
           f"Read as `{report['task']}` ({report['type']}); {report['documents']} documents; languages: "
           f"{', '.join(report['languages'])}.", "",
           f"Exact: same tokens after removing comments and whitespace. Near: identifier-set Jaccard >= "
           f"{s['threshold']} and multiset Jaccard >= {s['multiset_threshold']} (documents with >= {s['min_tokens']} "
           f"identifiers; {report['compared_exactly_only']} have fewer and are compared exactly only), found by "
           f"MinHash LSH ({s['num_perm']} permutations, {s['bands']} bands x {s['rows']} rows) and verified exactly.",
           "", "| split | documents | exact dup. within split | exact or near |", "|---|---:|---:|---:|"]
    for split, v in report["splits"].items():
        out.append(f"| {split} | {v['documents']} | {v['exact']} ({v['exact_pct']}%) | {v['near']} "
                   f"({v['near_pct']}%) |")
    out += ["", "| leakage | documents | exact | exact or near |", "|---|---:|---:|---:|"]
    for key, v in report["leakage"].items():
        out.append(f"| {key.replace('_in_', ' in ')} | {v['documents']} | {v['exact']} ({v['exact_pct']}%) | "
                   f"{v['near']} ({v['near_pct']}%) |")
    if report.get("pairs"):
        out += ["", "| pairs | pairs | same pair in train | both programs in train (exact) | (exact or near) | "
                "either program (exact) |", "|---|---:|---:|---:|---:|---:|"]
        for key, v in report["pairs"].items():
            out.append(f"| {key.replace('_in_', ' in ')} | {v['pairs']} | {v['identical_pair']} "
                       f"({v['identical_pair_pct']}%) | {v['both_programs_exact']} ({v['both_programs_exact_pct']}%) | "
                       f"{v['both_programs_near']} ({v['both_programs_near_pct']}%) | {v['either_program_exact']} "
                       f"({v['either_program_exact_pct']}%) |")
    if report.get("targets"):
        out += ["", "| targets | documents | identical to a train target |", "|---|---:|---:|"]
        for key, v in report["targets"].items():
            out.append(f"| {key.replace('_in_', ' in ')} | {v['documents']} | {v['identical_target']} "
                       f"({v['identical_target_pct']}%) |")
    c = report["clusters"]
    out += ["", f"Clusters: {c['exact']['clusters']} exact ({c['exact']['documents']} documents, duplication ratio "
            f"{c['exact']['duplication_ratio']:.2%}); {c['near']['clusters']} near ({c['near']['documents']} "
            f"documents, ratio {c['near']['duplication_ratio']:.2%}).", "", "## Largest clusters", ""]
    for k, cl in enumerate(c["largest"], 1):
        where = ", ".join(f"{s} {n}" for s, n in cl["splits"].items() if n)
        out.append(f"{k}. {cl['size']} documents ({where})")
        for ex in cl["examples"]:
            out += [f"   - {ex['split']} `{ex['id']}`:", "", "     ```",
                    *[f"     {line}" for line in ex["code"].splitlines()], "     ```"]
    return "\n".join(out) + "\n"


def plot(report: dict, path: Path) -> Path:
    """Cluster sizes (how many clusters of each size, exact and near) and leakage per split pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_c, ax_l) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    sizes = []
    for kind, color, style in (("exact", "tab:blue", dict(mfc="none", ms=8)), ("near", "tab:orange", dict(ms=4))):
        hist = report["clusters"][kind]["size_histogram"]
        if hist:
            sizes += list(map(int, hist))
            ax_c.plot(list(map(int, hist)), list(hist.values()), "o", color=color, label=f"{kind} clusters", **style)
    ax_c.set(yscale="log", xlabel="cluster size (documents)", ylabel="number of clusters", title="duplicate clusters")
    if sizes and max(sizes) > 20:
        ax_c.set_xscale("log")
    elif sizes:
        ax_c.set_xticks(range(2, max(sizes) + 1))
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax_c.xaxis, ax_c.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if any(report["clusters"][k]["size_histogram"] for k in ("exact", "near")):
        ax_c.legend(frameon=False)
    else:
        ax_c.text(0.5, 0.5, "no duplicates", ha="center", va="center", transform=ax_c.transAxes)
    keys = [k for k, v in report["leakage"].items() if v["documents"]]
    x = np.arange(len(keys))
    ex = [report["leakage"][k]["exact_pct"] for k in keys]
    nr = [report["leakage"][k]["near_pct"] for k in keys]
    ax_l.bar(x - 0.2, ex, 0.4, color="tab:blue", label="exact")
    ax_l.bar(x + 0.2, nr, 0.4, color="tab:orange", label="exact or near")
    for xi, v in zip(x, nr, strict=True):
        ax_l.text(xi + 0.2, v, f"{v:.1f}%" if v >= 1 else f"{v:.2f}%", ha="center", va="bottom", fontsize=8)
    ax_l.set_xticks(x, [k.replace("_in_", " in\n") for k in keys])
    ax_l.set(ylabel="% of the later split's documents", title="leakage between splits",
             ylim=(0, max([1.0, *nr]) * 1.2))
    ax_l.legend(frameon=False)
    fig.suptitle(f"{report['task']}: {report['documents']} documents", fontsize=10)
    save_figure(fig, path)
    return path


# --------------------------------------------------------------------------- dedup

def removals(analysis: Analysis, keep: str = "first", cross_split_only: bool = False) -> dict[int, dict]:
    """Documents to remove: {index: {reason, kept}}.

    Default: every cluster (exact and near edges, transitively) keeps one document — the first in split and
    file order (``keep="first"``, so training copies stay) or the longest — and loses the others.
    ``cross_split_only``: only valid/test documents with a direct exact or near duplicate in an earlier split
    go; duplicates within a split stay.
    """
    docs, dup = analysis.corpus.docs, analysis.dup
    split_ids = analysis.corpus.split_ids()
    out: dict[int, dict] = {}
    if cross_split_only:
        exact_mask, near_mask = hy.split_masks(dup, split_ids, len(SPLITS))
        earlier = (1 << split_ids) - 1                  # bits of the splits before each document's
        for i in np.flatnonzero((near_mask[dup.group] & earlier) > 0):
            reason = "exact" if exact_mask[dup.group[i]] & earlier[i] else "near"
            out[int(i)] = {"reason": reason, "kept": None}
        return out
    labels = dup.clusters()
    lengths = np.array([len(d["code"]) for d in docs])
    order = np.lexsort((np.arange(len(docs)), -lengths)) if keep == "longest" else np.arange(len(docs))
    kept: dict[int, int] = {}
    for i in order:
        c = int(labels[i])
        if c not in kept:
            kept[c] = int(i)
        else:
            k = kept[c]
            out[int(i)] = {"reason": "exact" if dup.group[i] == dup.group[k] else "near", "kept": k}
    return out


def dedup(analysis: Analysis, out: Path, keep: str = "first", cross_split_only: bool = False) -> dict:
    """Write a cleaned copy of the dataset's files into ``out`` (new or empty; written beside it, then renamed
    into place) with ``dedup.json`` (counts) and ``removed.json`` (every removed example or pair line, and what it
    duplicates)."""
    corpus = analysis.corpus
    gone = removals(analysis, keep, cross_split_only)
    docs = corpus.docs
    removed_rows = []
    for i, info in sorted(gone.items()):
        d = docs[i]
        entry = {"split": d["split"], "id": str(d["id"]), "reason": info["reason"]}
        if info["kept"] is not None:
            k = docs[info["kept"]]
            entry["duplicate_of"] = {"split": k["split"], "id": str(k["id"])}
        if d.get("origin"):
            entry["file"], entry["line"] = d["origin"]
        removed_rows.append(entry)
    files: dict[str, bytes] = {}
    if corpus.pairs is not None:
        files.update(_clean_pair_files(corpus, gone, removed_rows))
    else:
        files.update(_clean_jsonl_files(corpus, gone))
    per_split = {s: {"documents": sum(d["split"] == s for d in docs),
                     "removed": sum(docs[i]["split"] == s for i in gone)} for s in SPLITS}
    summary = {"data": corpus.paths or [corpus.card.data], "task": corpus.card.name, "keep": keep,
               "cross_split_only": cross_split_only, "settings": analysis.report["settings"],
               "removed": len(gone), "splits": per_split, "files": sorted(files)}
    # not .jsonl: a directory of the cleaned files must load as the dataset again (clone detection reads *.jsonl)
    files["removed.json"] = ("[\n" + ",\n".join(json.dumps(r) for r in removed_rows) + "\n]\n").encode()
    files["dedup.json"] = (json.dumps(summary, indent=2) + "\n").encode()
    _publish(out, files)
    return summary


def _read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _clean_jsonl_files(corpus: Corpus, gone: dict[int, dict]) -> dict[str, bytes]:
    drop: dict[str, set[int]] = {}
    sources = {d["origin"][0] for d in corpus.docs if d.get("origin")}
    for i in gone:
        origin = corpus.docs[i].get("origin")
        if origin is None:
            raise ConfigError("this dataset's rows do not say which file and line they came from; dedup cannot "
                              "write a cleaned copy of it.")
        drop.setdefault(origin[0], set()).add(origin[1])
    return _copy_without(sorted(sources), drop)


def _copy_without(sources: list[str], drop: dict[str, set[int]]) -> dict[str, bytes]:
    names = [Path(s).name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"two input files share a name ({sorted(n for n in names if names.count(n) > 1)[0]}); "
                          "dedup writes each under its own name, so pass files with distinct names.")
    out = {}
    for src, name in zip(sources, names, strict=True):
        lines = _read_lines(Path(src))
        skip = drop.get(src, set())
        out[name] = b"".join(line for n, line in enumerate(lines, 1) if n not in skip)
    return out


def _clean_pair_files(corpus: Corpus, gone: dict[int, dict], removed_rows: list[dict]) -> dict[str, bytes]:
    """Clone detection: the programs file unchanged; each pair list without the pairs of its split that use a
    removed program of that split."""
    from codeintel.data.loaders import pair_file_splits, pair_split

    dropped = {(corpus.docs[i]["split"], corpus.docs[i]["id"]) for i in gone}
    sources = [str(corpus.programs_file)]
    drop: dict[str, set[int]] = {}
    for pf, split in pair_file_splits(corpus.pair_files).items():
        sources.append(str(pf))
        for n, line in enumerate(_read_lines(pf), 1):
            cols = line.split()
            if len(cols) != 3:
                continue
            a, b = cols[0].decode(errors="replace"), cols[1].decode(errors="replace")
            s = split or pair_split(a, b)
            if (s, a) in dropped or (s, b) in dropped:
                drop.setdefault(str(pf), set()).add(n)
                removed_rows.append({"split": s, "pair": [a, b], "reason": "uses a removed program",
                                     "file": str(pf), "line": n})
    return _copy_without(sources, drop)


def check_new_dir(out: Path) -> None:
    """``dedup --out``: absent or an empty directory (a cleaned copy never mixes with other files)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} exists and is not an empty directory; dedup writes a new copy, so choose "
                          "a new directory (nothing was changed).")


def _publish(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``out`` all at once: into a hidden sibling directory that is renamed to ``out``
    (or whose files are moved into an empty ``out``), so a killed run leaves no half-written copy."""
    check_new_dir(out)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{out.name}.partial-{os.getpid()}"
        tmp.mkdir()
    except OSError as exc:
        raise ConfigError(f"cannot write --out {out}: {exc.strerror}; choose a writable directory.") from None
    for name, data in files.items():
        with open(tmp / name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    if out.is_dir():
        for name in files:
            os.replace(tmp / name, out / name)
        tmp.rmdir()
    else:
        tmp.rename(out)


# --------------------------------------------------------------------------- codeintel train

def leakage_warning(card, splits: dict[str, Any], programs: dict[str, str] | None = None,
                    lang: str | None = None) -> str | None:
    """One warning line when test examples are exact duplicates (comments and whitespace aside) of training
    examples, else None. ``splits``: what the task's ``load`` returned; ``programs``: clone detection's."""
    def codes(split: str) -> list[str]:
        rows = splits.get(split) or []
        if programs is not None:
            return [programs[k] for k in dict.fromkeys(k for p in rows for k in p[:2])]
        return [r.get("code") or r.get("source") or "" for r in rows]

    lang = lang or card.lang or None
    train = {hy.exact_key(c, lang) for c in codes("train")}
    test = codes("test")
    leaks = sum(hy.exact_key(c, lang) in train for c in test)
    if not leaks:
        return None
    what = ("programs of test pairs", "programs of training pairs") if programs is not None else (
        "test examples", "training examples")
    return (f"warning: {leaks} of {len(test)} {what[0]} ({100.0 * leaks / len(test):.1f}%) are exact duplicates of "
            f"{what[1]} (comments and whitespace aside): test scores overstate generalisation. "
            "`codeintel data check` reports near-duplicates too, `codeintel data dedup` removes them; "
            "data.check_leakage=false silences this.")
