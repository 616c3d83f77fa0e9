"""Shared integer helpers (numpy): rounding shifts, clipping, wrap/saturate, as Loihi and Lava define them."""

from __future__ import annotations

import numpy as np

from spikerain.converter.ir.loihi import CONV_ACC_BITS


def rshift_round(x: np.ndarray, s: int) -> np.ndarray:
    """x * 2**-s rounded half up (arithmetic shift of x + 2**(s-1)); a left shift when s < 0."""
    x = np.asarray(x, dtype=np.int64)
    if s > 0:
        return (x + (1 << (s - 1))) >> s
    if s < 0:
        return x << (-s)
    return x


def round_div(num: np.ndarray, den: int) -> np.ndarray:
    """num / den rounded half up, for den > 0 (floor((2*num + den) / (2*den)))."""
    return np.floor_divide(2 * np.asarray(num, dtype=np.int64) + den, 2 * den)


def round_half_even_shift(x: np.ndarray, s: int) -> np.ndarray:
    """x * 2**-s rounded half to even (as ``torch.round``), s >= 1."""
    x = np.asarray(x, dtype=np.int64)
    q = x >> s
    r = x - (q << s)
    half = 1 << (s - 1)
    return q + ((r > half) | ((r == half) & ((q & 1) == 1)))


def payload_limit(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def clip_count(x: np.ndarray, bits: int, stats: dict | None, key: str) -> np.ndarray:
    """Clip to the signed payload range; count clipped elements in ``stats[key]``."""
    lim = payload_limit(bits)
    if stats is not None:
        n = int(np.count_nonzero((x > lim) | (x < -lim)))
        stats[key] = stats.get(key, 0) + n
    return np.clip(x, -lim, lim)


def wrap(x: np.ndarray, bits: int = CONV_ACC_BITS) -> np.ndarray:
    """Two's-complement wrap to ``bits`` (Lava's ``signed_clamp`` for Conv outputs)."""
    half = 1 << (bits - 1)
    return ((np.asarray(x, dtype=np.int64) + half) % (1 << bits)) - half
