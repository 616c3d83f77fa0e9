"""Calibration: how large each float-graph node's values get on sample images, and the range to quantize for.

A user's images are never the calibration images. What breaks a 16-bit graded payload on unfamiliar images is
not resolution (its rounding noise sits 90 dB below full scale) but range: a value beyond the calibrated maximum
clips. So the range rule looks at how much each node's maximum moves from one calibration image to the next and
keeps headroom in proportion: a node whose per-image maxima barely change (a convolution of bounded spikes) keeps
the plain maximum, one whose maxima swing with image content (global pooling, attention MLPs, the first layers)
gets ``SPREAD_SIGMAS`` standard deviations above the largest maximum seen. The standard deviation of non-negative
values is at most half their maximum, so the range never exceeds 2.5 times the maximum seen: at most two bits of a
16-bit payload's resolution traded for range.
"""

from __future__ import annotations

import numpy as np
import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.float_kernels import run_float

#: range rules for :func:`calibration_ranges`: "max" is the largest value seen; "spread" adds headroom per node
RANGE_RULES = ("spread", "max")
#: "spread": standard deviations of the per-image maxima kept above the largest maximum seen
SPREAD_SIGMAS = 3.0


def per_image_maxima(graph: ir.Graph, images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per node, max |value| on each of ``images`` (float RGB ``H x W x 3``, each run on its own)."""
    seen: dict[str, list[float]] = {}

    def observe(node, value: torch.Tensor) -> None:
        seen.setdefault(node.name, []).append(float(value.abs().max()) if value.numel() else 0.0)

    for img in images:
        x = img if isinstance(img, torch.Tensor) else \
            torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float()  # tensors: as is
        run_float(graph, x, observe=observe)
    return {k: np.asarray(v, np.float64) for k, v in seen.items()}


def ranges_from_maxima(maxima: dict[str, np.ndarray], rule: str = "spread") -> dict[str, float]:
    """The range each node is quantized for, from its per-image maxima (see the module docstring)."""
    if rule not in RANGE_RULES:
        raise ValueError(f"unknown range rule {rule!r}; known: {', '.join(RANGE_RULES)}")
    out = {}
    for name, m in maxima.items():
        hi = float(m.max()) if m.size else 0.0
        if rule == "spread" and m.size > 1:
            hi += SPREAD_SIGMAS * float(m.std())
        out[name] = hi
    return out


def calibration_maxima(graph: ir.Graph, images: list[np.ndarray]) -> dict[str, float]:
    """Per-node max |value| over ``images`` (the plain maximum, rule "max")."""
    return ranges_from_maxima(per_image_maxima(graph, images), "max")


def calibration_ranges(graph: ir.Graph, images: list[np.ndarray], rule: str = "spread") -> dict[str, float]:
    """Per-node range to quantize for, over ``images``, under ``rule``."""
    return ranges_from_maxima(per_image_maxima(graph, images), rule)
