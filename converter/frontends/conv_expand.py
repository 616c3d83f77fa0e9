"""Grouped and dilated convolutions as the equivalent dense convolution (torch-free; NIR import uses it too)."""

from __future__ import annotations

import numpy as np


def expand_groups_dilation(w: np.ndarray, groups: int, dilation: tuple[int, int]) -> np.ndarray:
    """Block-diagonal over the groups, zero-stuffed for the dilation: exactly the same cross-correlation."""
    co, cig, kh, kw = w.shape
    if groups > 1:
        full = np.zeros((co, cig * groups, kh, kw), np.float32)
        per = co // groups
        for g in range(groups):
            full[g * per:(g + 1) * per, g * cig:(g + 1) * cig] = w[g * per:(g + 1) * per]
        w = full
    dh, dw = dilation
    if (dh, dw) != (1, 1):
        out = np.zeros((w.shape[0], w.shape[1], (kh - 1) * dh + 1, (kw - 1) * dw + 1), np.float32)
        out[:, :, ::dh, ::dw] = w
        w = out
    return w
