#!/usr/bin/env python3
"""The two quickstart commands. Needs only Python 3.11 and pip.

    python3 dev.py demo    # create/reuse .venv, install, run `codeintel train` on the embedded default
    python3 dev.py test    # create/reuse .venv, install, run the test suite

Extra arguments are passed on (`python3 dev.py demo train.epochs=1`, `python3 dev.py test -k metrics`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CODEINTEL_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# torch is named first and pinned so pip takes the CPU wheel, not a multi-GB CUDA build.
INSTALL = ["torch==2.13.0", "-e", f"{ROOT}[dev]"]


def ensure_env() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"codeintel needs Python 3.11; this is {sys.version.split()[0]}. Run it with python3.11.")
    stamp = VENV / ".codeintel-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and (BIN / "codeintel").exists():
        return
    if not (BIN / "python").exists():
        print(f"creating virtual environment {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing codeintel and its pinned dependencies (first run only) ...", flush=True)
    subprocess.run([BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q", *INSTALL],
                   check=True)
    stamp.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_env()
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TOKENIZERS_PARALLELISM="false")
    if argv[0] == "demo":
        cmd = [BIN / "codeintel", "train", *argv[1:]]
    else:
        cmd = [BIN / "python", "-m", "pytest", *argv[1:]]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
