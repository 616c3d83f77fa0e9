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


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Neuron(Node):
    """A general discrete-time spiking neuron over the T axis, from rest (v = v_rest, every other state 0, before
    t = 0); it expresses the neurons of SpikingJelly, snnTorch, norse and sinabs exactly (docs/bring-your-own.md
    has the mapping).
    Per step t, with input x_t::

        i_t = syn_decay * i_{t-1} + x_t                 (syn_decay None: no current state, i_t = x_t)
        c_t = i_{t-1} if current_lag else i_t           (norse: the membrane sees last step's current)
        h_t = v_rest + leak * (v_{t-1} - v_rest) + gain * c_t - carry_{t-1}
        s_t = h_t > threshold (strict) or h_t >= threshold;   multi: s_t = floor(h_t / threshold) if h_t >= threshold
        v_t = h_t - s_t * threshold  (reset "subtract"),  v_reset where s_t (reset "zero"),  h_t (reset "none")
        v_t = max(v_t, min_v) if min_v is not None

    ``reset_next`` (snnTorch): the reset is not applied to v_t but at the next step, undecayed: for "subtract",
    carry_t = s_t * threshold and v_t = h_t; for "zero", v_t = h_t and h_{t+1} ignores v_t (the decay of 0).
    The output is s_t, or v_t when ``emit`` is "v" (leaky integrators: norse LICell, NIR LI).
    """

    leak: float = 1.0
    v_rest: float = 0.0
    gain: float = 1.0
    threshold: float = 1.0
    strict: bool = False
    reset: str = "zero"
    v_reset: float = 0.0
    reset_next: bool = False
    multi: bool = False
    min_v: float | None = None
    syn_decay: float | None = None
    current_lag: bool = False
    emit: str = "spike"
    op = "neuron"
    role = "neuron"
    time_mixing = True  # its state carries every earlier frame

    def frames_needed(self, j: int, t_in: int) -> int:
        return j + 1

    def __post_init__(self):
        super().__post_init__()
        if self.reset not in ("zero", "subtract", "none"):
            raise ValueError(f"neuron reset {self.reset!r}")
        if self.emit not in ("spike", "v"):
            raise ValueError(f"neuron emit {self.emit!r}")
