"""Quantization rules (entries of ``quantize.RULES``) for the ops the bring-your-own frontend adds (torch-free;
see docs/bring-your-own.md).

* ``tensor_input``: a module's input, any range: signed ``payload_bits`` integers, scale from calibration.
* ``maxpool2d``, ``reshape``, ``upsample_nearest``, ``depth_to_space``: integer data movement, scale unchanged.
* ``neuron``: onto Lava's stock LIF (``q_lif``) where that is the same dynamics (no synaptic current, hard reset
  to 0, rest 0, binary spikes, a leak < 1: SpikingJelly LIFNode with v_reset=0, snnTorch Leaky with reset to
  zero, norse LIFBoxCell, sinabs LIF with SingleSpike/MembraneReset): :func:`as_lif`; otherwise onto the general
  integer neuron ``q_neuron``: state in units of v / gain at the input's scale, leaks as 12-bit mantissas.
"""

from __future__ import annotations

import math

from spikerain.converter import ir
from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.quantize import RULES, _Edge, _lif
from spikerain.errors import UnsupportedOpError


def lif_compatible(n: ir.Neuron) -> bool:
    return (n.syn_decay is None and n.reset == "zero" and n.v_reset == 0.0 and n.v_rest == 0.0 and not n.multi
            and n.min_v is None and n.emit == "spike" and 0.0 < n.leak < 1.0 and n.gain > 0)


def as_lif(n: ir.Neuron) -> ir.LIF:
    """The same neuron as the IR's LIF (state divided by gain: the threshold becomes threshold / gain).
    Lava's LIF fires on '>'; a '>=' neuron differs only where v lands exactly on the quantized threshold."""
    return ir.LIF(name=n.name, inputs=n.inputs, tau=1.0 / (1.0 - n.leak), v_threshold=n.threshold / n.gain,
                  v_reset=0.0)


@RULES.register(ir.TensorInput)
def _tensor_input(n, ins, common, info, ctx):
    e = ctx.graded(n.name)
    return q.QTensorInput(**common, channels=n.channels, frac=e.frac, bits=ctx.cfg.payload_bits), e


_MOVES = {ir.MaxPool2d: q.QMaxPool2d, ir.Reshape: q.QReshape, ir.Upsample: q.QUpsampleNearest,
          ir.DepthToSpace: q.QDepthToSpace}


@RULES.register(*_MOVES)
def _same_scale(n, ins, common, info, ctx):
    e = ins[0]
    return _MOVES[type(n)](**common, **n.params(), frac=e.frac, bits=e.bits), e


@RULES.register(ir.Neuron)
def _neuron_rule(n, ins, common, info, ctx):
    if lif_compatible(n):  # Lava's stock LIF is the same dynamics
        info["op"] = "lif"
        return _lif(as_lif(n), ins, common, info, ctx)
    nodes, e, more = _neuron(n, ins[0], common, _Edge, ctx.cfg, ctx.graded)
    info.update(more)
    ctx.nodes.extend(nodes[:-1])  # the emit-v state node goes before the scale that is the node's value
    return nodes[-1], e


def _neuron(n: ir.Neuron, e_in, common: dict, edge_cls, cfg, graded):
    if n.gain <= 0 or not math.isfinite(n.gain):
        raise UnsupportedOpError(f"neuron {n.name}: gain {n.gain} cannot be folded into the threshold")
    f = e_in.frac
    scale = 2.0**f / n.gain  # state units: v / gain at the input's scale

    def iq(v: float) -> int:
        return int(round(v * scale))

    emit_v = n.emit == "v"
    if not emit_v and (not math.isfinite(n.threshold) or n.threshold <= 0):
        raise UnsupportedOpError(f"neuron {n.name}: threshold {n.threshold} (must be > 0 and finite)")
    th = iq(n.threshold) if math.isfinite(n.threshold) else (1 << 62)
    if not emit_v and th < 1:
        raise UnsupportedOpError(f"neuron {n.name}: threshold {n.threshold} rounds to 0 at input scale 2**-{f}")
    syn = -1 if n.syn_decay is None else int(round(n.syn_decay * loihi.DECAY_UNITY))
    fields = dict(in_frac=f, leak_mant=int(round(n.leak * loihi.DECAY_UNITY)), v_rest=iq(n.v_rest), threshold=th,
                  strict=n.strict, reset=n.reset, v_reset=iq(n.v_reset), reset_next=n.reset_next, multi=n.multi,
                  has_min_v=n.min_v is not None, min_v=iq(n.min_v) if n.min_v is not None else 0, syn_mant=syn,
                  current_lag=n.current_lag, emit=n.emit)
    info = {"threshold_q": th, "leak_mant": fields["leak_mant"], "syn_mant": syn}
    if not emit_v:
        bits = cfg.payload_bits if n.multi else 1
        e = edge_cls(0, bits, "graded" if n.multi else "spike")
        return [q.QNeuron(**common, **fields, frac=0, bits=bits)], e, info
    # emit v: the state is v / gain at the input's scale, wide (48 bits: a leaky integrator's state grows to
    # about 1/(1 - leak) times its input); one scale node restores v at the calibrated output scale
    state = q.QNeuron(**{**common, "name": f"{n.name}.state"}, **fields, frac=f, bits=48)
    e = graded(n.name)
    val = n.gain * 2.0 ** (e.frac - f)
    sh = 14 - math.floor(math.log2(abs(val)))
    out = q.QScale(name=n.name, inputs=(state.name,), mant=int(round(val * 2.0**sh)), shift=sh, frac=e.frac,
                   bits=e.bits)
    return [state, out], e, info
