"""Exact synaptic-operation counting, torch-free (the shared core of the energy estimator, issue #6).

A synaptic operation (SOP) is one (input event, target synapse) pair: an event at input position p of a layer
costs fan_out(p) operations, where the fan-out honours padding, stride and borders. The paper-style
approximation charges rate x FLOPs instead. Both, and the dense MAC count, are computed here from the per-step
non-zero masks of a layer's input.

The fan-out of a 2-D conv is separable: fan_out(c, i, j) = C_out * f_h(i) * f_w(j), where f_h(i) counts the
output rows whose receptive field covers input row i. Bilinear x2 (align_corners=False) is a fixed-weight,
depthwise layer whose per-axis fan-out is 4 inside and 3 at the borders (the clamped taps merge).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SynapticCounts:
    """Counts for one synaptic layer over all timesteps."""

    exact_sops: int  # sum over non-zero input events of their fan-out
    rate_flops: float  # firing rate of the input x T x dense FLOPs per step (the papers' approximation)
    dense_macs: int  # every synapse every step, as if all inputs were non-zero
    input_events: int  # non-zero input elements
    input_elements: int  # all input elements (T x C x H x W)
    binary_input: bool  # every input value in {0, 1} (-> accumulate-only); otherwise multiply-accumulate

    @property
    def firing_rate(self) -> float:
        return self.input_events / self.input_elements if self.input_elements else 0.0


def conv_counts(x: np.ndarray, out_channels: int, k: int, stride: int, padding: int) -> SynapticCounts:
    """``x``: the layer's input values ``[T, C, H, W]`` (only which are non-zero, and whether binary, matter)."""
    T, C, H, W = x.shape
    fh, fw = axis_fanout(H, k, stride, padding), axis_fanout(W, k, stride, padding)
    nz = x != 0
    per_pos = nz.sum(axis=(0, 1))  # events at each (i, j), over T and C
    exact = int(out_channels * (per_pos * np.outer(fh, fw)).sum())
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    flops = out_channels * Ho * Wo * C * k * k
    events = int(nz.sum())
    return SynapticCounts(exact_sops=exact, rate_flops=events / x.size * T * flops, dense_macs=T * flops,
                          input_events=events, input_elements=int(x.size), binary_input=_binary(x))


def upsample2x_counts(x: np.ndarray) -> SynapticCounts:
    T, C, H, W = x.shape
    fan = np.outer(upsample2x_axis_fanout(H), upsample2x_axis_fanout(W))
    nz = x != 0
    exact = int((nz.sum(axis=(0, 1)) * fan).sum())
    dense = int(T * C * fan.sum())
    events = int(nz.sum())
    return SynapticCounts(exact_sops=exact, rate_flops=events / x.size * dense, dense_macs=dense,
                          input_events=events, input_elements=int(x.size), binary_input=_binary(x))


def _binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0, 1)).all())
