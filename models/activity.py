"""Firing-rate recording with forward hooks. The recorder keeps its own books; nothing is stored on modules."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from spikerain.models.neurons import LIF, NILIF


class FiringRateRecorder:
    """Collects, per spiking layer (by module name), the fraction of non-zero outputs and the largest level.

    The rate of a binary LIF is its mean spike; the rate of an NI-LIF is the fraction of non-zero levels, which
    is how the authors' golden data counts it. ``<name>:max`` is the largest normalised level seen.
    """

    def __init__(self) -> None:
        self.nonzero: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.max_level: dict[str, float] = {}

    def _hook(self, name: str):
        def hook(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
            out = output.detach()
            self.nonzero[name] = self.nonzero.get(name, 0) + int(torch.count_nonzero(out))
            self.total[name] = self.total.get(name, 0) + out.numel()
            self.max_level[name] = max(self.max_level.get(name, 0.0), float(out.max()))

        return hook

    def rates(self) -> dict[str, float]:
        return {name: self.nonzero[name] / self.total[name] for name in self.nonzero}

    @contextmanager
    def attach(self, model: nn.Module):
        handles = [
            module.register_forward_hook(self._hook(name))
            for name, module in model.named_modules()
            if isinstance(module, (LIF, NILIF))
        ]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()
