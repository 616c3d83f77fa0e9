"""Handing freed heap memory back to the system, where the C library allows it (glibc ``malloc_trim``).

Torch's CPU tensors come from malloc. glibc serves a request below its mmap threshold from the heap, and that
threshold rises to the largest block freed so far (up to 32 MiB); freed heap pages stay resident for reuse. A
pass that allocates and frees many buffers of a few MiB to a few tens of MiB (the fast simulator's step-wise
chains, the float forward at 128x128) therefore keeps far more resident than it holds live:
``bench/memory.py`` found 400-500 MB of freed pages beside 100-200 MB of live values in the fast simulator at
256x256. :func:`release_freed_memory` returns them; reusing a returned page later costs a page fault, as a fresh
mmap'd buffer does. Imports nothing but ctypes (the runtime side stays torch-free).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _libc_function(name: str):
    """A function of the C library, or None where it has none (glibc extensions on musl, macOS, Windows)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError, TypeError):
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    return _libc_function("malloc_trim")


def release_freed_memory() -> bool:
    """``malloc_trim(0)``: give the heap's free pages back; False where that is not available."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (2.33+): every field a size_t
    _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


@cache
def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    fn = _libc_function("mallinfo2")
    if fn is None:
        return None
    fn.restype = _MallInfo2
    return fn


@cache
def _page_size() -> int:
    import os

    return os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int | None:
    """The process's resident set size (``/proc/self/statm``), or None where there is none."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _page_size()
    except (OSError, ValueError, IndexError):
        return None


def idle_resident_bytes() -> int | None:
    """Resident bytes that malloc does not hold for live blocks: the process's RSS less the bytes malloc has
    handed out (heap chunks in use, in every arena, plus mmap'd chunks). What is left is what the process holds
    outside malloc (code, Python's own arenas: about constant while a forward runs) plus the freed heap pages
    glibc keeps resident. None where glibc's ``mallinfo2`` or ``/proc/self/statm`` is missing."""
    info = _mallinfo2()
    rss = resident_bytes() if info is not None else None
    if rss is None:
        return None
    m = info()
    return rss - m.uordblks - m.hblkhd


class SlackRelease:
    """Hands freed heap pages back only when they amount to more than ``slack`` bytes beyond what was idle at
    the first :meth:`check` (or after the last release): a bounded resident overhead for the price of a few
    releases, where releasing at fixed points costs a page fault on every reused page each time.

    Call :meth:`check` between large steps of work. Without ``live`` it reads the RSS and malloc's counters
    (``mallinfo2`` walks malloc's free lists: up to milliseconds on a fragmented heap); a caller that knows
    the bytes its live values hold passes them as ``live``, and idle is then the RSS less those (one read of
    ``/proc/self/statm``, microseconds), relative to the first check as before."""

    def __init__(self, slack: int):
        self.slack = slack
        self.limit: int | None = None
        self.releases = 0

    def _idle(self, live: int | None) -> int | None:
        if live is None:
            return idle_resident_bytes()
        rss = resident_bytes()
        return None if rss is None else rss - live

    def check(self, live: int | None = None) -> bool:
        """Release if over the limit; True if it did. ``live``: the bytes the caller's live values hold (pass
        it at every check or at none)."""
        idle = self._idle(live)
        if idle is None:
            return False
        if self.limit is None:
            self.limit = idle + self.slack
            return False
        if idle <= self.limit:
            return False
        release_freed_memory()
        self.releases += 1
        after = self._idle(live)
        self.limit = (after if after is not None else idle) + self.slack
        return True
