"""Neuron ops. Float nodes speak physics (tau, thresholds); see ``models/neurons.py`` for the dynamics."""

from __future__ import annotations

from dataclasses import dataclass

from spikerain.converter.ir.node import Node, register_op


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class LIF(Node):
    """Binary LIF over the T axis from rest: H = V - (V - v_reset)/tau + X; S = H >= v_threshold; hard reset."""

    tau: float = 2.0
    v_threshold: float = 0.15
    v_reset: float = 0.0
    op = "lif"
    role = "neuron"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class NILIF(Node):
    """NI-LIF over the T axis: u = decay*(u - s) + x; s = round(clamp(u, 0, levels))/levels (half to even)."""

    decay: float = 0.25
    levels: int = 4

    def frames_needed(self, j: int, t_in: int) -> int:
        return j + 1  # its state carries every earlier frame
    op = "nilif"
    role = "neuron"
    time_mixing = True
