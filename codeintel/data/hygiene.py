"""Exact and near-duplicate code, and leakage between splits, at the scale of real corpora.

Every document becomes a *fingerprint* (:func:`fingerprint`):

- an **exact key**: a 64-bit BLAKE2b digest of its token sequence after removing comments (tree-sitter comment
  nodes; directive comments such as Fortran's ``!$omp`` are kept, they are code) and all whitespace. Tokens are
  runs of word characters and single punctuation marks; a string literal is one token. So reformatting and
  re-commenting do not change the key, while ``a b`` and ``ab`` differ.
- an **identifier multiset**: the tokens outside strings and comments that are identifiers (a word that does not
  start with a digit: ``0xFF``, ``1e-9``, ``1_000`` and ``2j`` are numbers, not the identifiers ``xFF``, ``e``,
  ``_000``, ``j``), minus the language's keywords as Allamanis' duplicate detector (dpu-utils'
  ``DuplicateDetector``, after "The Adverse Effects of Code Duplication in Machine Learning Models of Code", 2019)
  lists them: :data:`DETECTOR_KEYWORDS`. That list keeps literal words as identifiers (``true``, ``false``,
  ``null``/``nil`` where the language's list does not name them, Python's ``True``/``False``, and Python's soft
  keywords and builtins ``print``, ``exec``, ``match``, ``case``, ``type``, ``_``, ``super``, ``__future__``);
  languages it has no list for (Fortran, Rust, …) drop the grammar's anonymous word tokens and literal words.
  One difference, on purpose: string literals are never identifiers here, where the detector's prefix match
  counts a prefixed string token (``f"…"``, ``b'…'``, ``u"…"``) as one.

Two documents are **near-duplicates** when, as in that detector, the Jaccard similarity of their identifier
*sets* is at least ``threshold`` (default 0.8) and that of their identifier *multisets* (sum of minimum counts
over sum of maximum counts) at least ``multiset_threshold`` (default 0.7); documents with fewer than
``min_tokens`` identifiers (default 20, as the detector) are compared only exactly, since tiny functions are
near-identical by chance. Candidates come from MinHash signatures (``datasketch``, 128 permutations) indexed by
locality-sensitive hashing with ``bands x rows`` chosen so that a pair exactly at the threshold becomes a
candidate with probability >= 0.98; every candidate is then verified exactly, so LSH only costs recall, never
precision. The banding is done here on a numpy matrix instead of ``datasketch.MinHashLSH``, whose index costs
about 3 KB per document at 9 bands (measured), 6 GB at a million functions with the bands this recall needs.

Exact duplicates collapse first: one representative per exact key enters the LSH index. Clusters are the
connected components of exact and near edges (similarity assumed transitive, as the detector does); leakage is
counted over *direct* edges only: a test document leaks when it has itself an exact or verified near
duplicate in train.
"""

from __future__ import annotations

import hashlib
import keyword
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from codeintel.structure.parsing import COMMENT_TYPES, STRING_TYPES, canonical, language, parse, utf8_safe

# Literal and receiver words that some grammars make named nodes (so they are not among the anonymous keyword
# tokens) but that are no identifiers either (for the languages without a detector keyword list)
WORD_LITERALS = frozenset({b"this", b"super", b"true", b"false", b"null", b"nil", b"True", b"False", b"None",
                           b"NULL", b"nullptr"})
KEEP_COMMENT_PREFIX = b"!$"   # Fortran OpenMP directives are comments to the grammar, code to the compiler

_TOKEN = re.compile(rb"[A-Za-z0-9_$\x80-\xff]+|[^A-Za-z0-9_$\x80-\xff\s]")
_WORD_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$") | frozenset(range(0x80, 0x100))

# The keyword lists of dpu-utils' duplicate detector (``codeutils/keywords``): each language's reserved words as
# that detector lists them; Python's is ``keyword.kwlist`` without True and False.
_C = "auto break case char const continue default do double else enum extern float for goto if int long register " \
     "return short signed sizeof static struct switch typedef union unsigned void volatile while"
DETECTOR_KEYWORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "c": _C,
    "cpp": _C + " alignas alignof and and_eq asm atomic_cancel atomic_commit atomic_noexcept bitand bitor bool catch "
                "char8_t char16_t char32_t class compl concept consteval constexpr const_cast co_await co_return "
                "co_yield decltype delete dynamic_cast explicit export false friend inline mutable namespace new "
                "noexcept not not_eq nullptr operator or or_eq private protected public reflexpr reinterpret_cast "
                "requires static_assert static_cast synchronized template this thread_local throw true try typeid "
                "typename using virtual wchar_t xor xor_eq",
    "c_sharp": "abstract as base bool break byte case catch char checked class const continue decimal default "
               "delegate do double else enum event explicit extern finally fixed float for foreach goto if implicit "
               "in int interface internal is lock long namespace new null object operator out override params "
               "private protected public readonly ref return sbyte sealed short sizeof stackalloc static string "
               "struct switch this throw try typeof uint ulong unchecked unsafe ushort using virtual void volatile "
               "while",
    "go": "break default func interface select case defer go map struct chan else goto package switch const "
          "fallthrough if range type continue for import return var",
    "java": "abstract assert boolean break byte case catch char class continue default do double else enum extends "
            "final finally float for if implements import instanceof int interface long native new package private "
            "protected public return short static strictfp super switch synchronized this throw throws transient "
            "try void volatile while var const goto",
    "javascript": "break case catch class const continue debugger default delete do else export extends finally for "
                  "function if import in instanceof new return super switch this throw try typeof var void while "
                  "with yield enum implements interface let package private protected public static",
    "php": "abstract and array break callable case catch class clone const continue declare default do echo else "
           "elseif enddeclare endfor endforeach endif endswitch endwhile extends final finally for foreach function "
           "global goto if implements include include_once instanceof insteadof interface namespace new or print "
           "private protected public require require_once return static switch throw trait try unset use var while "
           "xor yield",
    "ruby": "alias and begin break case class def defined? do else elsif end ensure for if in module next nil not or "
            "redo rescue retry return self super then undef unless until when while yield",
    "typescript": "abstract any as async await boolean break case catch class const constructor continue debugger "
                  "declare default delete do else enum export extends finally for from function get if implements "
                  "import in instanceof interface is let module namespace new null number of package private "
                  "protected public require return set static string super switch symbol this throw try type typeof "
                  "var void while with yield",
    "python": " ".join(k for k in keyword.kwlist if k not in ("True", "False")),
}.items()}
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Settings:
    """What counts as a near-duplicate, and how candidates are found."""

    threshold: float = 0.8
    """Jaccard similarity of the identifier sets at or above which two documents are near-duplicates."""
    multiset_threshold: float = 0.7
    """... and the Jaccard similarity of the identifier multisets they must also reach."""
    min_tokens: int = 20
    """Documents with fewer identifiers are compared exactly only."""
    num_perm: int = 128
    """MinHash permutations."""
    seed: int = 1
    """MinHash seed (the permutations; the result is the same set of verified pairs up to LSH misses)."""
    window: int = 64
    """In an LSH bucket of more documents, each is compared with the next ``window`` ones and the first."""

    def bands(self) -> tuple[int, int]:
        """(bands, rows): the most rows per band for which a pair at ``threshold`` is a candidate with
        probability >= 0.98 (fewer false candidates to verify, recall kept)."""
        for rows in range(self.num_perm, 0, -1):
            b = self.num_perm // rows
            if 1.0 - (1.0 - self.threshold ** rows) ** b >= 0.98:
                return b, rows
        return self.num_perm, 1


@cache
def _lang_tables(lang: str):
    """(query for comments and strings, keyword bytes) of a grammar."""
    import tree_sitter

    lang_obj = language(lang)
    kinds = [(lang_obj.node_kind_for_id(i), lang_obj.node_kind_is_named(i), lang_obj.node_kind_is_visible(i))
             for i in range(lang_obj.node_kind_count)]
    named = {k for k, is_named, visible in kinds if k and is_named and visible}
    if lang in DETECTOR_KEYWORDS:
        keywords = frozenset(k.encode() for k in DETECTOR_KEYWORDS[lang])
    else:
        keywords = WORD_LITERALS | frozenset(k.encode() for k, is_named, visible in kinds
                                             if k and not is_named and visible and re.fullmatch(r"[A-Za-z_]\w*", k))
    patterns = ([f"({t}) @c" for t in sorted(COMMENT_TYPES) if t in named]
                + [f"({t}) @s" for t in sorted(STRING_TYPES) if t in named])
    query = tree_sitter.Query(lang_obj, "\n".join(patterns)) if patterns else None
    return query, keywords


def _segments(data: bytes, lang: str | None) -> tuple[list[bytes], list[bytes], frozenset]:
    """(code pieces between strings and comments, string literals, keywords)."""
    if not lang:
        return [data], [], frozenset()
    import tree_sitter

    query, keywords = _lang_tables(lang)
    if query is None:
        return [data], [], keywords
    caps = tree_sitter.QueryCursor(query).captures(parse(data, lang).root_node)
    spans = sorted([(n.start_byte, n.end_byte, "c") for n in caps.get("c", ())]
                   + [(n.start_byte, n.end_byte, "s") for n in caps.get("s", ())])
    code, strings, last = [], [], 0
    for start, end, kind in spans:
        if start < last:  # inside an outer string or comment already taken
            continue
        code.append(data[last:start])
        text = data[start:end]
        if kind == "s":
            strings.append(text)
            code.append(b"\x00")  # the string's place in the token sequence
        elif text.startswith(KEEP_COMMENT_PREFIX) and lang == "fortran":
            code.append(text)
        last = end
    code.append(data[last:])
    return code, strings, keywords


def fingerprint(code: str, lang: str | None, identifiers: bool = True) -> tuple[int, dict[int, int]]:
    """(exact key, identifier multiset as {64-bit identifier hash: count}) of one document.

    ``lang``: a grammar name (comments and strings found by tree-sitter, keywords dropped), or None for plain
    text (nothing removed but whitespace). ``identifiers=False`` skips the multiset (returned empty).
    """
    data = utf8_safe(code).encode("utf-8")
    pieces, strings, keywords = _segments(data, canonical(lang) if lang else None)
    tokens, idents = [], []
    it = iter(strings)
    for piece in pieces:
        if piece == b"\x00":
            tokens.append(next(it))
            continue
        found = _TOKEN.findall(piece)
        tokens.extend(found)
        if identifiers:   # word tokens that do not start with a digit (a number), minus the keywords
            idents.extend(t for t in found if t[0] in _WORD_START and t not in keywords)
    key = int.from_bytes(hashlib.blake2b(b"\x00".join(tokens), digest_size=8).digest(), "little")
    counts = Counter(idents)
    return key, {int.from_bytes(hashlib.blake2b(t, digest_size=8).digest(), "little"): c for t, c in counts.items()}


def exact_key(code: str, lang: str | None) -> int:
    """The exact key alone (what ``codeintel train``'s leakage check compares)."""
    return fingerprint(code, lang, identifiers=False)[0]


# --------------------------------------------------------------------------- fingerprints of a corpus

@dataclass
class Fingerprints:
    """A corpus' fingerprints: exact keys, identifier multisets (CSR: sorted ids, counts, row offsets) and MinHash
    signatures of the documents with at least ``min_tokens`` identifiers (``signed``: their row in ``sig``)."""

    keys: np.ndarray          # (N,) uint64
    ids: np.ndarray           # (nnz,) uint64, sorted within each document
    counts: np.ndarray        # (nnz,) uint32
    offsets: np.ndarray       # (N + 1,) int64
    signed: np.ndarray        # (N,) int64: row in sig, or -1
    sig: np.ndarray           # (S, num_perm) uint32

    def __len__(self) -> int:
        return len(self.keys)


def _chunk_fingerprints(job: tuple[list[str], list[str | None], Settings]) -> Fingerprints:
    from datasketch import MinHash

    codes, langs, settings = job
    keys, ids, counts, lengths, to_sign, signed = [], [], [], [], [], []
    for code, lang in zip(codes, langs, strict=True):
        key, multiset = fingerprint(code, lang)
        keys.append(key)
        order = sorted(multiset)
        ids.extend(order)
        counts.extend(multiset[i] for i in order)
        lengths.append(len(order))
        if sum(multiset.values()) >= settings.min_tokens:
            signed.append(len(to_sign))
            to_sign.append([i & _MASK32 for i in order])
        else:
            signed.append(-1)
    sig = np.zeros((len(to_sign), settings.num_perm), dtype=np.uint32)
    for row, mh in enumerate(MinHash.generator(to_sign, num_perm=settings.num_perm, seed=settings.seed,
                                               hashfunc=_identity)):
        sig[row] = mh.hashvalues
    return Fingerprints(np.array(keys, dtype=np.uint64), np.array(ids, dtype=np.uint64),
                        np.array(counts, dtype=np.uint32), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                        np.array(signed, dtype=np.int64), sig)


def _identity(value: int) -> int:
    return value


def _concat(parts: list[Fingerprints]) -> Fingerprints:
    shift_rows = np.cumsum([0] + [len(p.sig) for p in parts])
    shift_nnz = np.cumsum([0] + [len(p.ids) for p in parts])
    signed = [np.where(p.signed >= 0, p.signed + s, -1) for p, s in zip(parts, shift_rows, strict=False)]
    offsets = [p.offsets[:-1] + s for p, s in zip(parts, shift_nnz, strict=False)] + [np.array([shift_nnz[-1]])]
    return Fingerprints(np.concatenate([p.keys for p in parts]), np.concatenate([p.ids for p in parts]),
                        np.concatenate([p.counts for p in parts]), np.concatenate(offsets).astype(np.int64),
                        np.concatenate(signed), np.concatenate([p.sig for p in parts]))


def fingerprint_corpus(codes: Sequence[str], langs: Sequence[str | None], settings: Settings = Settings(),
                       workers: int = 0, progress: bool = False, chunk: int = 2000) -> Fingerprints:
    """Fingerprints of every document, in ``workers`` processes (0: one per CPU, at most 8; small corpora
    stay in this process)."""
    from codeintel.progress import progress as progress_bar

    jobs = [(list(codes[i:i + chunk]), list(langs[i:i + chunk]), settings) for i in range(0, len(codes), chunk)]
    workers = workers or min(8, os.cpu_count() or 1)
    bar = progress_bar(total=len(codes), desc="fingerprints", unit="doc", enabled=progress, leave=False)
    parts = []
    if workers <= 1 or len(codes) <= chunk:
        for job in jobs:
            parts.append(_chunk_fingerprints(job))
            bar.update(len(job[0]))
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for part in pool.imap(_chunk_fingerprints, jobs):
                parts.append(part)
                bar.update(len(part))
    bar.close()
    if not parts:
        return _chunk_fingerprints(([], [], settings))
    return _concat(parts)


# --------------------------------------------------------------------------- exact groups, LSH, verification

@dataclass
class Duplicates:
    """``group[i]``: the exact group of document i (its representative is ``rep[group[i]]``, the first
    document with that key); ``near``: verified near-duplicate pairs of groups (g1 < g2); ``candidates``: how
    many LSH candidate pairs were verified."""

    group: np.ndarray
    rep: np.ndarray
    near: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    candidates: int = 0

    @property
    def groups(self) -> int:
        return len(self.rep)

    def clusters(self) -> np.ndarray:
        """Connected component of every document over exact and near edges."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = self.groups
        graph = coo_matrix((np.ones(len(self.near)), (self.near[:, 0], self.near[:, 1])), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        return comp[self.group]


def candidate_pairs(sig: np.ndarray, settings: Settings) -> np.ndarray:
    """Pairs of signature rows (i < j) that share at least one LSH band, as an (P, 2) array."""
    bands, rows = settings.bands()
    n = len(sig)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    rng = np.random.default_rng(0x5EED)
    mult = rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    found = []
    for b in range(bands):
        block = sig[:, b * rows:(b + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            h = (block * mult).sum(axis=1, dtype=np.uint64)  # (n,) a hash of the band; collisions are verified
        order = np.argsort(h, kind="stable")
        hs = h[order]
        starts = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
        sizes = np.diff(np.r_[starts, n])
        first = np.repeat(starts, sizes)  # (n,) position of each sorted row's bucket start
        end = np.repeat(starts + sizes, sizes)
        pos = np.arange(n)
        keep = pos != first  # star: every member with the bucket's first
        found.append(np.stack([order[first[keep]], order[pos[keep]]], 1))
        for d in range(1, min(settings.window, int(sizes.max()) - 1) + 1):  # and with the next `window` members
            ok = (pos + d < end) & (pos != first)
            if not ok.any():
                break
            found.append(np.stack([order[pos[ok]], order[pos[ok] + d]], 1))
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], 1)


def _rows(fp: Fingerprints, docs: np.ndarray):
    """CSR matrix of the identifier counts of ``docs`` over a compact vocabulary of their identifiers."""
    from scipy.sparse import csr_matrix

    starts, ends = fp.offsets[docs], fp.offsets[docs + 1]
    lengths = ends - starts
    take = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
    vocab, cols = np.unique(fp.ids[take], return_inverse=True)
    indptr = np.r_[0, np.cumsum(lengths)]
    return csr_matrix((fp.counts[take].astype(np.float64), cols, indptr), shape=(len(docs), len(vocab)))


def similarities(fp: Fingerprints, a: np.ndarray, b: np.ndarray, batch: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Exact set and multiset Jaccard similarity of the identifier multisets of documents ``a[k]`` and ``b[k]``."""
    set_sim, multi_sim = np.zeros(len(a)), np.zeros(len(a))
    sizes = np.diff(fp.offsets)
    totals = np.add.reduceat(fp.counts.astype(np.int64), fp.offsets[:-1]) if len(fp.counts) else np.zeros(len(fp))
    totals = np.where(sizes > 0, totals, 0)
    for s in range(0, len(a), batch):
        ia, ib = a[s:s + batch], b[s:s + batch]
        both = _rows(fp, np.concatenate([ia, ib]))
        ma, mb = both[: len(ia)], both[len(ia):]
        inter_set = np.asarray((ma > 0).multiply(mb > 0).sum(axis=1)).ravel()
        inter_min = np.asarray(ma.minimum(mb).sum(axis=1)).ravel()
        union_set = sizes[ia] + sizes[ib] - inter_set
        union_multi = totals[ia] + totals[ib] - inter_min
        set_sim[s:s + batch] = np.divide(inter_set, union_set, out=np.zeros(len(ia)), where=union_set > 0)
        multi_sim[s:s + batch] = np.divide(inter_min, union_multi, out=np.zeros(len(ia)), where=union_multi > 0)
    return set_sim, multi_sim


def find_duplicates(fp: Fingerprints, settings: Settings = Settings(), near: bool = True) -> Duplicates:
    """Exact groups, then near-duplicate pairs among the groups' representatives (LSH, verified exactly)."""
    _, rep, group = np.unique(fp.keys, return_index=True, return_inverse=True)
    order = np.argsort(rep, kind="stable")        # number groups by first appearance
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    rep, group = rep[order], renumber[group]
    dup = Duplicates(group.astype(np.int64), rep.astype(np.int64))
    if not near:
        return dup
    rep_rows = fp.signed[rep]
    live = np.flatnonzero(rep_rows >= 0)           # groups whose representative has a signature
    if len(live) < 2:
        return dup
    cand = candidate_pairs(fp.sig[rep_rows[live]], settings)
    g1, g2 = live[cand[:, 0]], live[cand[:, 1]]
    s, m = similarities(fp, rep[g1], rep[g2])
    ok = (s >= settings.threshold) & (m >= settings.multiset_threshold)
    dup.near = np.stack([g1[ok], g2[ok]], 1).astype(np.int64)
    dup.candidates = len(cand)
    return dup


def all_pairs_near(fp: Fingerprints, settings: Settings = Settings()) -> set[tuple[int, int]]:
    """Every near-duplicate pair of group representatives by exhaustive comparison (for small corpora: the
    reference the LSH recall is measured against)."""
    dup = find_duplicates(fp, settings, near=False)
    live = np.flatnonzero(fp.signed[dup.rep] >= 0)
    ii, jj = np.triu_indices(len(live), 1)
    g1, g2 = live[ii], live[jj]
    s, m = similarities(fp, dup.rep[g1], dup.rep[g2])
    ok = (s >= settings.threshold) & (m >= settings.multiset_threshold)
    return set(zip(g1[ok].tolist(), g2[ok].tolist(), strict=True))


# --------------------------------------------------------------------------- leakage between splits

def split_masks(dup: Duplicates, split_ids: np.ndarray, n_splits: int) -> tuple[np.ndarray, np.ndarray]:
    """(exact, near) bit masks per group: bit s is set when a member (exact) or a member or a near-duplicate
    group's member (near) is in split s."""
    exact = np.zeros(dup.groups, dtype=np.int64)
    np.bitwise_or.at(exact, dup.group, 1 << split_ids.astype(np.int64))
    near = exact.copy()
    if len(dup.near):
        np.bitwise_or.at(near, dup.near[:, 0], exact[dup.near[:, 1]])
        np.bitwise_or.at(near, dup.near[:, 1], exact[dup.near[:, 0]])
    return exact, near


def within_split(dup: Duplicates, split_ids: np.ndarray, n_splits: int) -> tuple[np.ndarray, np.ndarray]:
    """(exact, near) per document: does it have a duplicate in its own split?"""
    counts = np.bincount(dup.group * n_splits + split_ids, minlength=dup.groups * n_splits)
    exact = counts[dup.group * n_splits + split_ids] > 1
    near_other = np.zeros(dup.groups * n_splits, dtype=bool)
    if len(dup.near):
        present = counts.reshape(dup.groups, n_splits) > 0
        hit = np.zeros((dup.groups, n_splits), dtype=bool)
        np.logical_or.at(hit, dup.near[:, 0], present[dup.near[:, 1]])
        np.logical_or.at(hit, dup.near[:, 1], present[dup.near[:, 0]])
        near_other = hit.ravel()
    return exact, exact | near_other[dup.group * n_splits + split_ids]
