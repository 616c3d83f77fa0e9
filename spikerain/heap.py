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
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_freed_memory() -> bool:
    """``malloc_trim(0)``: give the heap's free pages back; False where that is not available."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
