"""The run-directory contract: what a command may do to the directory it writes into.

- A command writes only into an output directory it *claims*: a new or empty directory, or (``overwrite``)
  an earlier codeintel output that is first moved aside to ``NAME.replaced-<time>``, never deleted. A
  directory holding anything else (a user's notes, another program's files) is refused.
- One lock per directory (``.lock``, created exclusively, holding the pid, host and command). A second
  command on the same directory is refused; a lock left by a process that no longer runs (killed) is
  reported and taken over.
- Checkpoints are versioned: ``checkpoints/best-000007/`` is written completely, then the ``best`` link is
  replaced atomically (``os.replace`` of a symlink), then the version it pointed to is removed. At every
  instant ``best`` is a complete, loadable checkpoint.
- Training states (for ``--resume``) are written to ``states/.partial-<step>/``, synced, marked ``COMPLETE``
  and renamed to ``states/state-<step>/``; only the last ``keep_last`` are kept. A half-written state never
  has the final name, so it is never picked up.
- ``resume``: the directory must hold a complete state; it is locked and continued in place (nothing moved).

Nothing here deletes or renames a file the current command did not create, apart from the explicit
``overwrite`` move and a stale lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeintel.errors import ConfigError
from codeintel.log import say

LOCK = ".lock"
# files that mark a directory as a codeintel output: train/evaluate, pretrain, NER, probe, continual and data check
# results, a run's internals (a resumable run), the lock; older layouts included
MARKERS = ("config.yaml", "metrics.json", "best", "pretrain.json", "ner.json", "probe.json", "continual.json",
           "hygiene.json", "codeintel.json", "checkpoints", "states", LOCK)
STATES, COMPLETE = "states", "COMPLETE"


def is_output_dir(path: Path) -> bool:
    return any((path / m).exists() or (path / m).is_symlink() for m in MARKERS)


# files that make a directory a checkpoint (a task or pre-training checkpoint, a NER adapter, an adapter)
CHECKPOINT_FILES = ("codeintel.json", "codeintel-adapter.json", "adapter_config.json")
RUN_INTERNALS = ("checkpoints", STATES)


def inside_checkpoint(path: str | Path) -> Path | None:
    """The checkpoint (or a run's ``checkpoints/`` / ``states/``) that ``path`` would lie inside, following links
    as the filesystem will (``RUN/best/x`` is inside ``RUN/checkpoints/best-N``), else ``None``. An output there
    would be replaced or deleted with the checkpoint by the next resume or ``--overwrite``."""
    p = Path(path).absolute().resolve()
    for anc in [p, *p.parents]:
        if anc != p and any((anc / f).is_file() for f in CHECKPOINT_FILES):
            return anc
        if anc.name in RUN_INTERNALS and _run_internal(anc):
            return anc
    return None


def _run_internal(d: Path) -> bool:
    """Whether ``d`` is a codeintel run's ``checkpoints/`` (versions ``NAME-NNNNNN``, or the run's ``best``
    links into it) or ``states/`` (``state-N`` / ``.partial-N`` entries) — not a user's folder of that name."""
    if not d.is_dir():
        return False
    if d.name == "checkpoints":
        return (d.parent / "best").is_symlink() or any(e.name.rsplit("-", 1)[-1].isdigit() for e in d.iterdir())
    return any(e.name.startswith(("state-", ".partial-")) for e in d.iterdir())


def refuse_linked_internals(run: Path) -> None:
    """A resumed run reads its states and removes old checkpoint versions and states: refuse when
    ``checkpoints/``, ``states/`` or an entry in them is a link (it could lead outside the run, and a run only
    reads and removes what it wrote)."""
    for sub in RUN_INTERNALS:
        d = run / sub
        links = [d] if d.is_symlink() else [e for e in d.iterdir() if e.is_symlink()] if d.is_dir() else []
        if links:
            raise ConfigError(f"--resume {run}: {links[0]} is a link (to {os.readlink(links[0])}); a run only "
                              f"removes what it wrote inside itself. Replace the link with a directory of this "
                              f"run, or start a new run.")


def refuse_inside_checkpoint(path: str | Path, what: str = "--out") -> None:
    """One ConfigError if ``path`` lies inside a checkpoint or a run's internals (:func:`inside_checkpoint`)."""
    holder = inside_checkpoint(path)
    if holder is not None:
        raise ConfigError(f"{what} {path} is inside {holder}, a checkpoint or a run's own directory, which the "
                          "next resume or --overwrite replaces; choose a directory outside it.")


def fresh(path: str | Path) -> Path:
    """``path`` if it is free (absent or an empty directory), else the first free ``path-2``, ``path-3``, ...:
    for default output directories, so that running the same command twice keeps both results."""
    path = Path(path)

    def free(p: Path) -> bool:
        return not p.exists() and not p.is_symlink() or p.is_dir() and not any(p.iterdir())

    if free(path):
        return path
    n = 2
    while not free(path.with_name(f"{path.name}-{n}")):
        n += 1
    return path.with_name(f"{path.name}-{n}")


def aside_path(path: Path) -> Path:
    """A free sibling name to move an earlier output to: ``NAME.replaced-<time>`` (``-1``, ``-2`` ... if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        candidate = path.with_name(f"{path.name}.replaced-{stamp}" + (f"-{i}" if i else ""))
        if not candidate.exists():
            return candidate
    raise ConfigError(f"too many replaced copies of {path}; clean them up.")


def _alive(pid: int) -> bool:
    """Is process ``pid`` running? A zombie (exited, not yet reaped: a torchrun rank whose launcher was killed,
    in a container whose init does not reap) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True   # no /proc (not Linux): signal 0 reached it


class RunDir:
    """An output directory claimed by this process: ``check()`` early (changes nothing), ``claim()`` before the
    first write, ``release()`` at the end (``abandon()`` after a failure); ``with RunDir(...):`` claims and
    releases. Recipes hold the claim for the whole run through :func:`codeintel.recipes.kit.claimed`.

    Args:
        path: the directory.
        overwrite: move an earlier codeintel output at ``path`` aside instead of refusing it.
        what: how the error messages name the directory (``--out``).
        echo: where notices go (a moved run, a stale lock).
        resume: continue the run in ``path`` (it must hold a complete state) instead of claiming it anew.
        ours: recognises an earlier output of the command (default: :func:`is_output_dir`); anything else in
            a non-empty directory is refused, even with ``overwrite``.
        needs_state: with ``resume``, the directory must hold a complete state (a multi-seed directory, which
            continues from its own ``seeds.json``, need not).
    """

    def __init__(self, path: str | Path, overwrite: bool = False, what: str = "--out", echo=say,
                 resume: bool = False, ours=None, needs_state: bool = True) -> None:
        self.path, self.overwrite, self.what, self.echo = Path(path), overwrite, what, echo
        self.resume, self.ours, self.needs_state = resume, ours or is_output_dir, needs_state
        self.moved_to: Path | None = None
        self._locked = False
        self._created: Path | None = None  # the topmost directory this claim created (the path or an ancestor)

    # ---- claiming
    def __enter__(self) -> RunDir:
        self.claim()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def check(self) -> None:
        """Raise now if :meth:`claim` would refuse the directory (creates and changes nothing)."""
        path = self.path
        refuse_inside_checkpoint(path, self.what if not self.resume else "--resume")
        if self.resume:
            self.check_own_tree()
            if self.needs_state and latest_state(path) is None:
                raise ConfigError(f"--resume {path}: no complete saved training state there (states/state-*); "
                                  "only runs started with train.save_every=N can be resumed. Start a new run "
                                  "instead.")
            self._check_lock(take_over=False)
            return
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{self.what} {path} is a file, not a directory; choose a new directory.")
        if not path.exists():
            ancestor = path.absolute().parent
            while not ancestor.exists():
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise ConfigError(f"cannot create {self.what} {path}: {ancestor} is a file, not a directory; choose "
                                  "another directory.")
            if not os.access(ancestor, os.W_OK):
                raise ConfigError(f"cannot create {self.what} {path}: {ancestor} is not writable; choose a writable "
                                  "directory.")
        if path.is_dir() and any(path.iterdir()):
            self._check_lock(take_over=False)  # a live run's directory: "in use", whatever it holds yet
            if not (self.ours(path) or (path / LOCK).exists()):
                raise ConfigError(f"{self.what} {path} already holds files that codeintel did not write; choose a "
                                  "new or empty directory (nothing there was changed).")
            if not self.overwrite:
                raise ConfigError(f"{self.what} {path} already holds an earlier run; pass --overwrite to move it "
                                  f"aside (to {path.name}.replaced-<time>, nothing is deleted) or choose another "
                                  "directory.")

    def check_own_tree(self) -> None:
        refuse_linked_internals(self.path)

    def _own(self, p: Path) -> bool:
        """Whether ``p`` is a real directory entry of this run (no link, inside the run once resolved)."""
        root = self.path.absolute().resolve()
        return not p.is_symlink() and (p.absolute().resolve() == root or root in p.absolute().resolve().parents)

    def claim(self) -> None:
        """Create (or, with ``overwrite``, move the earlier output aside and re-create) and lock the directory."""
        path = self.path
        self.check()
        if self.resume:
            self._lock()
            self._remove_leftovers()
            return
        if path.is_dir() and any(path.iterdir()):
            self._check_lock()
            self.moved_to = aside_path(path)
            path.rename(self.moved_to)
            self.echo(f"moved the earlier run in {path} to {self.moved_to}")
        self._created = None
        if not path.exists():
            top = path.absolute()
            while not top.parent.exists():
                top = top.parent
            self._created = top
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.what} {path}: {exc.strerror}; choose a writable "
                              "directory.") from None
        self._lock()

    def _remove_leftovers(self) -> None:
        """What an earlier, killed process of this run left half-written, by the hub's own temporary names only:
        ``.NAME.tmp-<pid>`` files and directories of processes that no longer run (at the top, in its
        first-level folders such as ``checkpoints/`` or ``models/``, and in a checkpoint version),
        ``.best.link-tmp`` and ``states/.partial-*``."""
        import re

        tmp_name = re.compile(r"^\..+\.tmp-(\d+)$")
        places = [self.path, *(d for d in self.path.iterdir() if d.is_dir() and d.name != STATES),
                  *(self.path / "checkpoints").glob("*-[0-9]*")]
        removed = []
        for place in (p for p in places if p.is_dir() and self._own(p)):
            for entry in place.iterdir():
                m = tmp_name.match(entry.name)
                stale = (m and not _alive(int(m.group(1)))) or (place == self.path and entry.name.endswith(".link-tmp"))
                if stale and not entry.is_symlink() and entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                elif stale:
                    entry.unlink(missing_ok=True)
                if stale:
                    removed.append(entry)
        for partial in (self.path / STATES).glob(".partial-*"):
            if self._own(partial):
                shutil.rmtree(partial, ignore_errors=True)
                removed.append(partial)
        if removed:
            self.echo(f"removed what an earlier, interrupted process of this run left half-written: "
                      f"{', '.join(str(p.relative_to(self.path)) for p in removed)}")

    # ---- the lock
    def _lock_info(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / LOCK).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _check_lock(self, take_over: bool = True) -> None:
        """Refuse a directory another live process holds; take over a lock whose process is gone."""
        info = self._lock_info()
        if info is None:
            return
        pid, host = info.get("pid"), info.get("host")
        if not isinstance(pid, int):
            raise ConfigError(f"{self.path}/{LOCK} names no process (another command is taking the directory this "
                              f"instant, or the file is damaged); if no codeintel command runs on {self.path}, "
                              "remove that file.")
        if isinstance(pid, int) and host == socket.gethostname() and not _alive(pid):
            if not take_over:
                return
            self.echo(f"warning: {self.path}/{LOCK} was left by pid {pid} ({info.get('command', '?')}), which no "
                      "longer runs (killed?); taking it over.")
            (self.path / LOCK).unlink(missing_ok=True)
            return
        raise ConfigError(f"{self.path} is in use by pid {pid} on {host} ({info.get('command', '?')}, since "
                          f"{info.get('started', '?')}); wait for it to finish or choose another {self.what}. If "
                          f"no such process runs, remove {self.path}/{LOCK}.")

    def _lock(self) -> None:
        self._check_lock()
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv[:3]),
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            fd = os.open(self.path / LOCK, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:  # another process won the race between the check and here
            self._check_lock()
            raise ConfigError(f"{self.path} was claimed by another process just now; choose another "
                              f"{self.what}.") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh)
        self._locked = True

    def release(self) -> None:
        if self._locked:
            (self.path / LOCK).unlink(missing_ok=True)
            self._locked = False

    def abandon(self) -> None:
        """Release the lock of a run that failed; if it wrote nothing into the directory, also undo the claim:
        a directory the claim created is removed, an earlier run it moved aside is moved back. A directory
        holding anything else is left as it is (what the failed run wrote is its own, and kept)."""
        was_locked = self._locked
        self.release()
        path = self.path
        if not was_locked or self.resume or not path.is_dir() or any(path.iterdir()):
            return
        if self.moved_to is not None:
            path.rmdir()
            self.moved_to.rename(path)
            self.echo(f"moved the earlier run back to {path} (this run failed before writing anything)")
            self.moved_to = None
        elif self._created is not None:
            path.rmdir()
            here = path.absolute().parent
            while self._created in here.parents or here == self._created:  # the parents this claim made, if empty
                if any(here.iterdir()):
                    break
                here.rmdir()
                here = here.parent

    # ---- versioned checkpoints
    def publish(self, name: str, write) -> Path:
        """Write a checkpoint version with ``write(dir)`` and point the link ``name`` at it, crash-safely.

        The version goes to ``checkpoints/<name>-<n>/`` (a fresh directory), the link is replaced with one
        atomic rename, and only then is the version it pointed to before removed (it was this run's).
        """
        versions = self.path / "checkpoints"
        versions.mkdir(exist_ok=True)
        if not self._own(versions):
            raise ConfigError(f"{versions} is a link; a run writes and removes checkpoints inside itself only.")
        n = 1 + max((int(p.name.rsplit("-", 1)[1]) for p in versions.glob(f"{name}-*")
                     if p.name.rsplit("-", 1)[1].isdigit()), default=0)
        target = versions / f"{name}-{n:06d}"
        write(target)
        link = self.path / name
        previous = link.resolve() if link.is_symlink() else None
        tmp = self.path / f".{name}.link-tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path("checkpoints") / target.name, target_is_directory=True)
        os.replace(tmp, link)  # atomic: `name` is the old complete version or the new complete one
        if previous is not None and previous.parent == versions.resolve() and previous != target.resolve() \
                and self._own(previous):
            shutil.rmtree(previous, ignore_errors=True)
        return link

    def publish_dir(self, name: str, write) -> Path:
        """``write(tmp)`` fills a temporary directory, synced, then renamed to ``name`` (a path relative to the
        run, e.g. ``models/naive``) in the run: a directory
        appears whole or not at all. One already there (a killed earlier process of this run had published it
        before the run's last file) is replaced: moved to a temporary name, the new one renamed in, the old one
        removed (killed in between: the next ``--resume`` removes the temporary names)."""
        dest = self.path / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
        old = dest.parent / f".{dest.name}.old.tmp-{os.getpid()}"
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        tmp.mkdir()
        write(tmp)
        _sync_tree(tmp)
        if dest.exists() and self._own(dest) and dest.is_dir():
            os.rename(dest, old)
        os.rename(tmp, dest)
        _sync_dir(dest.parent)
        shutil.rmtree(old, ignore_errors=True)
        return dest

    def drop_unlinked(self, name: str) -> None:
        """Remove this run's versions of ``name`` that the link does not point to (left by a killed write)."""
        link = self.path / name
        current = link.resolve() if link.is_symlink() else None
        if not self._own(self.path / "checkpoints"):
            return
        for version in (self.path / "checkpoints").glob(f"{name}-*"):
            if version.resolve() != current and self._own(version):
                shutil.rmtree(version, ignore_errors=True)

    # ---- resumable training states
    def save_state(self, step: int, write, keep_last: int) -> Path:
        """Write a training state with ``write(dir)`` crash-safely; keep the newest ``keep_last`` states."""
        states = self.path / STATES
        states.mkdir(exist_ok=True)
        if not self._own(states):
            raise ConfigError(f"{states} is a link; a run writes and removes states inside itself only.")
        partial = states / f".partial-{step:08d}"
        if partial.exists():  # begun by an earlier, killed process of this run
            shutil.rmtree(partial)
        partial.mkdir()
        write(partial)
        (partial / COMPLETE).write_text(json.dumps({"step": step, "written": time.strftime("%Y-%m-%d %H:%M:%S")}))
        _sync_tree(partial)
        final = states / f"state-{step:08d}"
        if final.exists():
            shutil.rmtree(final)
        os.rename(partial, final)
        _sync_dir(states)
        for old in complete_states(self.path)[:-keep_last]:
            if self._own(old):
                shutil.rmtree(old, ignore_errors=True)
        for stale in states.glob(".partial-*"):
            if self._own(stale):
                shutil.rmtree(stale, ignore_errors=True)
        return final


@contextlib.contextmanager
def output_file(path: str | Path, *, overwrite: bool = False, echo=say, what: str = "--out") -> Iterator[Path]:
    """Claim a single output file for the ``with`` block, as :class:`RunDir` claims a directory; yields the
    temporary sibling to write (``.NAME.tmp-<pid>``), published as ``path`` when the block ends cleanly.

    Checked before any work: ``path`` names a file (not a directory, no trailing slash) in an existing, writable
    directory and not inside a checkpoint; an existing file is refused unless ``overwrite``. A lock
    (``.NAME.lock``, created exclusively) refuses a second command on the same output while this one runs. On
    publishing, an earlier file (``overwrite``) is moved aside to ``NAME.replaced-<time>``, never deleted, and the
    new file appears complete (a hard link, which cannot replace a file that appeared meanwhile); on an error the
    temporary file is removed and ``path`` is as it was."""
    raw, path = str(path), Path(path)
    if raw.endswith(("/", os.sep)) or path.is_dir():
        raise ConfigError(f"{what} {raw} names a directory; name a file.")
    refuse_inside_checkpoint(path, what)
    if not path.parent.is_dir():
        raise ConfigError(f"{what} {path}: the directory {path.parent} does not exist; create it or choose another.")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ConfigError(f"{what} {path} already exists; pass --overwrite to move it aside (nothing is deleted) or "
                          "name another file.")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with sibling_lock(path, what, "name another file"):
        try:
            tmp.touch()
        except OSError as exc:
            raise ConfigError(f"cannot write {what} {path}: {exc.strerror}; choose a writable place.") from None
        try:
            yield tmp
            if path.exists() or path.is_symlink():
                if not overwrite:
                    raise ConfigError(f"{what} {path} appeared while this command ran; its output is not published "
                                      "(name another file).")
                aside = aside_path(path)
                path.rename(aside)
                echo(f"moved the earlier {path} to {aside}")
            try:
                os.link(tmp, path)                        # fails, rather than replaces, if `path` exists now
                tmp.unlink()
            except FileExistsError:
                raise ConfigError(f"{what} {path} appeared while this command ran; its output is not published "
                                  "(name another file).") from None
            except OSError:                               # a file system without hard links
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def sibling_lock(path: Path, what: str = "--out", instead: str = "choose another") -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``path`` (created exclusively, holding this pid and command) for the ``with``
    block: a second codeintel command on the same output is refused at once, naming the process; a lock left by
    a process that no longer runs is taken over. For outputs published whole at the end (a file, a directory
    renamed into place), where the output itself cannot hold the lock."""
    lock = path.with_name(f".{path.name}.lock")
    for attempt in (0, 1):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(json.loads(lock.read_text()).get("pid"))
            except (OSError, ValueError, TypeError, AttributeError):
                pid = None
            if attempt == 0 and pid is not None and not _alive(pid):
                lock.unlink(missing_ok=True)          # left by a process that no longer runs
                continue
            raise ConfigError(f"{what} {path} is being written by another codeintel command (pid {pid or '?'}); "
                              f"wait for it or {instead}. If none runs, remove {lock}.") from None
        except OSError as exc:
            raise ConfigError(f"cannot write {what} {path}: {exc.strerror}; choose a writable place.") from None
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "command": " ".join(sys.argv[:3])}, fh)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def new_output_dir(out: Path, check, what: str = "--out") -> Iterator[None]:
    """An output directory that is written beside itself and renamed into place at the end (``data dedup``,
    ``index build``), held for the whole command: ``check(out)`` (the command's own rule: absent, or empty) and
    not inside a checkpoint, its missing parents created, and a lock beside it (:func:`sibling_lock`) so that a
    second command on the same output is refused at once; on a failure the parents this made are removed again
    (when still empty)."""
    refuse_inside_checkpoint(out, what)
    check(out)
    parent = out.absolute().parent
    missing = [d for d in [parent, *parent.parents] if not d.exists()]   # the deepest first
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write {what} {out}: {exc.strerror}; choose a writable directory.") from None
    try:
        with sibling_lock(out, what, "choose another directory"):
            check(out)
            yield
    except BaseException:
        for d in missing:
            with contextlib.suppress(OSError):
                d.rmdir()                                  # only an empty directory goes
        raise


def complete_states(path: Path) -> list[Path]:
    """The complete training states in run directory ``path``, oldest first."""
    states = Path(path) / STATES
    found = [p for p in states.glob("state-*") if p.name[6:].isdigit() and (p / COMPLETE).is_file()]
    return sorted(found, key=lambda p: int(p.name[6:]))


def latest_state(path: Path) -> Path | None:
    """The newest complete training state in ``path`` (``None`` if there is none); a ``states/`` or state that is
    a link is refused (:func:`refuse_linked_internals`): a run reads and removes only its own states."""
    refuse_linked_internals(Path(path))
    found = complete_states(path)
    return found[-1] if found else None


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(path: Path) -> None:
    """fsync every file under ``path`` and the directory itself, so a rename after it publishes durable data."""
    for f in path.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    _sync_dir(path)
