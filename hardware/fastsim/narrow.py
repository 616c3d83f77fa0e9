"""Which values of a quantized graph the fast simulator may hold as int32 instead of int64.

A static bound on |value| for every node, from each op's integer semantics (``hardware/kernels/reference.py``)
and the bounds of its inputs: requantizing ops clip to ``bits``, neurons emit spikes or levels, routing ops move
values unchanged. A node runs on int32 when its inputs, its output and every intermediate its fast kernel
forms in the input's dtype stay below 2**31; then the same integer operations give the same integers in half
the memory traffic. Anything this module cannot bound (an op not listed, a shift it cannot see through) runs on
int64 as before, so the rule can only widen, never narrow wrongly.
"""

from __future__ import annotations

import math

from spikerain.converter import ir
from spikerain.converter.ir import loihi

INT32_LIMIT = 1 << 31  # |v| below this: int32 holds v
INF = math.inf


def _clip(n) -> float:
    return (1 << (n.bits - 1)) - 1


def _requant(acc: float, s: int) -> float:
    """The largest intermediate of ``rshift_round(acc, s)``: the rounding constant, or the left shift."""
    if s > 0:
        return acc + (1 << (s - 1))
    return acc * (1 << -s) if s < 0 else acc


def _same(n, b):
    return b[0], b[0]


def _input(n, b):
    return 1 << n.frac, 1 << n.frac


def _synapse(n, b):
    # conv / temporal conv / dense accumulate in float32/float64/int64 whatever the input dtype; only the
    # input itself and the clipped output meet int32
    return _clip(n), b[0]


def _upsample(n, b):
    return b[0], b[0]  # a convex blend, rounded: never past the largest input


def _lif(n, b):
    return 1, b[0] * (1 << loihi.ACT_SHIFT)  # x << ACT_SHIFT is formed in the input's dtype


def _nilif(n, b):
    f, ds = n.in_frac, n.decay_shift
    if f < 1 or ds < 1:
        return n.levels, INF  # without a decay the state is bounded only by the step count
    lvl = n.levels << max(0, f - (n.levels.bit_length() - 1))
    # u' = (u - k * 2**ls + 2**(ds-1)) >> ds + x, so |u| <= (|u| + lvl + 2**(ds-1)) / 2 + B: below
    # 2 * (lvl + 2**(ds-1) + B); the rounding of the level adds at most 2**(f-1)
    u = 2 * (lvl + (1 << (ds - 1)) + b[0])
    return n.levels, u + lvl + (1 << (f - 1))


def _add(n, b):
    fm = max(n.frac_a, n.frac_b)
    acc = b[0] * (1 << (fm - n.frac_a)) + b[1] * (1 << (fm - n.frac_b))
    return _clip(n), max(acc, _requant(acc, fm - n.frac))


def _mul(n, b):
    acc = b[0] * b[1]
    return _clip(n), max(acc, _requant(acc, n.frac_a + n.frac_b - n.frac))


def _scale(n, b):
    acc = b[0] * abs(n.mant)
    return _clip(n), max(acc, _requant(acc, n.shift))


def _concat(n, b):
    outs = [_requant(bi, f - n.frac) for bi, f in zip(b, n.fracs, strict=True)]
    return max(outs), max(outs)


def _reduce(n, b):
    s = n.in_frac - n.frac
    if n.mode == "max":
        return _requant(b[0], s), _requant(b[0], s)
    # the sums: int32 partial sums only where the kernel checks count * max|x| < 2**31 at run time, else int64
    return b[0] * (1 << max(0, -s)) + 1, b[0]


def _sigmoid(n, b):
    lut = float(abs(n.lut).max()) if n.lut.size else 0.0
    return lut, _requant(b[0], n.in_frac - n.lut_frac)


def _mean_t(n, b):
    return b[0] * (1 << max(0, n.frac - n.in_frac)) + 1, b[0]


#: op -> (output bound, largest intermediate formed in the input dtype), given the input bounds
RULES = {
    "q_input": _input,
    "q_output": _same,
    "q_repeat_t": _same,
    "q_patch_to_time": _same,
    "q_time_to_patch": _same,
    "q_relu": _same,
    "q_conv2d": _synapse,
    "q_temporal_conv": _synapse,
    "q_dense": _synapse,
    "q_upsample2x": _upsample,
    "q_lif": _lif,
    "q_nilif": _nilif,
    "q_add": _add,
    "q_mul": _mul,
    "q_scale": _scale,
    "q_concat": _concat,
    "q_reduce": _reduce,
    "q_sigmoid": _sigmoid,
    "q_mean_t": _mean_t,
}


def value_bounds(graph: ir.Graph) -> dict[str, tuple[float, float]]:
    """node name -> (bound on |output|, bound on every intermediate its kernel forms in the input dtype);
    ``inf`` where the op has no rule here."""
    out: dict[str, tuple[float, float]] = {}
    for n in graph.nodes:
        rule = RULES.get(n.op)
        b = [out[i][0] for i in n.inputs]
        out[n.name] = (INF, INF) if rule is None or any(v == INF for v in b) else rule(n, b)
    return out


def int32_nodes(graph: ir.Graph) -> frozenset[str]:
    """The nodes whose inputs, intermediates and output all stay below 2**31 (the executor runs them on
    int32)."""
    bounds = value_bounds(graph)
    return frozenset(
        n.name
        for n in graph.nodes
        if max(bounds[n.name]) < INT32_LIMIT and all(bounds[i][0] < INT32_LIMIT for i in n.inputs)
    )


#: ops whose fast kernel returns a buffer of its own (never a view of an input), so it may be converted in place
FRESH = frozenset({"q_upsample2x", "q_lif", "q_nilif", "q_conv2d"})
F32_LIMIT = 1 << 22  # the in-place int32 <-> float32 conversion is exact below this


def float32_nodes(graph: ir.Graph, int32: frozenset[str]) -> frozenset[str]:
    """Values the executor holds as float32 (exact integers) instead of int32: those read only by int32
    convolutions, which compute in float32 anyway, so they take them as they are instead of making a float32
    copy (at 256x256 VLIF-Net's largest such copy is 200 MB). Only values below 2**22 made by a kernel that
    returns its own buffer, and not graph outputs."""
    bounds = value_bounds(graph)
    cons = graph.consumers()
    ops = {n.name: n.op for n in graph.nodes}
    return frozenset(
        n.name
        for n in graph.nodes
        if n.op in FRESH and n.name in int32 and bounds[n.name][0] < F32_LIMIT and n.name not in graph.outputs
        and cons.get(n.name) and all(ops[c] == "q_conv2d" and c in int32 for c in cons[n.name])
    )
