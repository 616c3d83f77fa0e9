"""Fan-out geometry of synaptic layers, torch-free: the basis of exact synaptic-operation counts.

A synaptic operation (SOP) is one (input event, target synapse) pair: an event at input position p of a layer
costs fan_out(p) operations, where the fan-out honours padding, stride and borders (the papers' approximation
charges rate x FLOPs instead). :mod:`spikerain.counting.plan` applies these maps to every frame.

The fan-out of a 2-D conv is separable: fan_out(c, i, j) = C_out * f_h(i) * f_w(j), where f_h(i) counts the
output rows whose receptive field covers input row i. Bilinear x2 (align_corners=False) is a fixed-weight,
depthwise layer whose per-axis fan-out is 4 inside and 3 at the borders (the clamped taps merge).
"""

from __future__ import annotations

import numpy as np


def axis_fanout(n_in: int, k: int, stride: int, padding: int) -> np.ndarray:
    """For each input index along one axis, how many output indices of a (k, stride, padding) conv read it."""
    n_out = (n_in + 2 * padding - k) // stride + 1
    o = np.arange(n_out)[:, None]
    i = np.arange(n_in)[None, :]
    start = o * stride - padding
    return ((i >= start) & (i < start + k)).sum(axis=0)


def upsample2x_axis_fanout(n_in: int) -> np.ndarray:
    """Distinct outputs of bilinear x2 (align_corners=False) that each input index feeds along one axis."""
    out = np.full(n_in, 4)
    if n_in == 1:
        return np.array([2])
    out[0] = out[-1] = 3
    return out
