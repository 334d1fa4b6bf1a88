"""Progress for long work: a tqdm bar on a terminal, a few plain log lines (start, every 10 %, end) when
stderr is a file or a pipe, nothing when disabled. Same interface either way (``update``, ``set_postfix``,
``write``, ``close``, iteration), so callers never branch on where their output goes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any


class PlainProgress:
    """tqdm's interface, as at most a dozen lines on stderr (``write`` goes to stdout, as tqdm's)."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, silent: bool = False) -> None:
        self.iterable, self.desc, self.unit, self.silent = iterable, desc or "progress", unit, silent
        if total is None and iterable is not None:
            try:
                total = len(iterable)
            except TypeError:  # a generator: no total, only start and end lines
                total = None
        self.total, self.n, self.postfix = total, initial, ""
        self._t0, self._next = time.perf_counter(), 0.1
        self._log(f"start ({total} {unit})" if total else "start")

    def _log(self, what: str) -> None:
        if not self.silent:
            print(f"{self.desc}: {what}", file=sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total and self.n / self.total >= self._next and self.n < self.total:
            rate = self.n / max(time.perf_counter() - self._t0, 1e-9)
            self._log(f"{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f} %, {rate:.3g} "
                      f"{self.unit}/s){'  ' + self.postfix if self.postfix else ''}")
            while self._next <= self.n / self.total:
                self._next += 0.1

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def write(self, line: str, file=None) -> None:
        print(line, file=file, flush=True)

    def close(self) -> None:
        if self.silent or self._t0 is None:
            return
        self._log(f"done, {self.n} {self.unit} in {time.perf_counter() - self._t0:.1f}s"
                  + (f"  {self.postfix}" if self.postfix else ""))
        self._t0 = None  # closed: a second close says nothing

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             initial: int = 0, enabled: bool = True, leave: bool = True):
    """A tqdm bar when stderr is a terminal, :class:`PlainProgress` lines otherwise, silent when not ``enabled``."""
    if not enabled:
        return PlainProgress(iterable, total, desc, unit, initial, silent=True)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave, dynamic_ncols=True)
    return PlainProgress(iterable, total, desc, unit, initial)
