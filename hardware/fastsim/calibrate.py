"""Calibration: the largest magnitude each float-graph node produces on sample images."""

from __future__ import annotations

import numpy as np
import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.float_kernels import run_float


def calibration_maxima(graph: ir.Graph, images: list[np.ndarray]) -> dict[str, float]:
    """Per-node max |value| over ``images`` (float RGB ``H x W x 3``, each run on its own)."""
    maxima: dict[str, float] = {}

    def observe(node, value: torch.Tensor) -> None:
        m = float(value.abs().max()) if value.numel() else 0.0
        maxima[node.name] = max(maxima.get(node.name, 0.0), m)

    for img in images:
        x = img if isinstance(img, torch.Tensor) else \
            torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float()  # tensors: as is
        run_float(graph, x, observe=observe)
    return maxima
