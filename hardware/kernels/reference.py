"""Numpy reference kernels for the quantized IR, registered by op name. Tensors are int64 ``[T, B, C, H, W]``.

``stats`` (optional dict) collects, per node, ``clipped`` (payload clipping), ``wrapped`` (24-bit accumulator or
LIF current wrap) and ``saturated`` (LIF voltage saturation) counts, and ``elements`` (output elements).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.converter.ir.synapse import pair
from spikerain.hardware.kernels.fixed import (
    clip_count,
    round_div,
    round_half_even_shift,
    rshift_round,
    wrap,
)

Kernel = Callable[..., np.ndarray]
#: quantized op class -> its integer semantics (the one definition the fast simulator and Lava are held to)
REFERENCE: OpRegistry[Kernel] = OpRegistry("numpy reference", what="reference kernel")


def kernel(op: str):
    def deco(fn):
        return REFERENCE.add(op, fn)

    return deco


def _ax(a: int) -> int:
    return 0 if a == 0 else a + 1


def _count(stats, key, n):
    if stats is not None:
        stats[key] = stats.get(key, 0) + int(n)


@kernel("q_input")
def k_input(n: q.QInput, x: np.ndarray, stats=None) -> np.ndarray:
    """x: float image [B, C, H, W] in [0, 1], or a sequence of them [T, B, C, H, W] (a time-varying input)."""
    v = np.round(np.asarray(x, dtype=np.float64) * (1 << n.frac)).astype(np.int64)
    v = np.clip(v, -(1 << n.frac) if n.signed else 0, 1 << n.frac)
    return v if v.ndim == 5 else v[None]


@kernel("q_output")
def k_output(n, x, stats=None):
    return x


@kernel("q_repeat_t")
def k_repeat(n: q.QRepeatT, x, stats=None):
    if x.shape[0] == n.T and n.T > 1:  # a time-varying input already has its T frames
        return x
    if x.shape[0] != 1:
        raise ValueError(f"{n.name} runs {n.T} steps; the input has {x.shape[0]} frames")
    return np.repeat(x, n.T, axis=0)


def _conv2d_int(x: np.ndarray, w: np.ndarray, stride, padding) -> np.ndarray:
    """Exact integer cross-correlation, x [N, Ci, H, W], w [Co, Ci, kh, kw] -> [N, Co, Ho, Wo]; stride and
    padding are ints or (H, W) pairs."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    co, ci, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


@kernel("q_conv2d")
def k_conv(n: q.QConv2d, x, stats=None):
    T, B = x.shape[:2]
    acc = _conv2d_int(x.reshape(T * B, *x.shape[2:]), n.weight_mant.astype(np.int64), n.stride, n.padding)
    out = requantize(n, acc, stats)
    return delay(out.reshape(T, B, *out.shape[1:]), n.delay)


def delay(x: np.ndarray, d: int) -> np.ndarray:
    """Shift frames later by ``d`` (zeros first): Lava's one-step synapse delay, where a graph keeps it."""
    if d == 0:
        return x
    out = np.zeros_like(x)
    out[d:] = x[:-d]
    return out


def bias_frame(bias_map: np.ndarray, shape) -> np.ndarray:
    """A per-channel ``[C]`` or per-neuron ``[C, H, W]`` bias, broadcast to one frame ``[1, C, H, W]``."""
    b = np.asarray(bias_map, np.int64)
    if b.ndim == 1:
        b = b[:, None, None]
    return np.broadcast_to(b, shape[-3:])[None]


def requantize(n: q.QConv2d, acc: np.ndarray, stats=None) -> np.ndarray:
    """A conv's accumulator ``[N, Co, H, W]`` -> its output: 24-bit wrap, bias, rounding shift, clip. The Lava
    backend applies it to the (summed) outputs of stock ``Conv`` processes."""
    wrapped = wrap(acc, 24)
    _count(stats, "wrapped", np.count_nonzero(wrapped != acc))
    acc = wrapped
    if n.bias_mant.size:
        acc = acc + (n.bias_mant.astype(np.int64) << n.bias_exp)[None, :, None, None]
    return clip_count(rshift_round(acc, n.shift), n.bits, stats, "clipped")


@kernel("q_temporal_conv")
def k_tconv(n: q.QTemporalConv, x, stats=None):
    L, B, C, H, W = x.shape
    k = n.weight_mant.shape[2]
    xs = x.reshape(L // k, k, B, C, H, W)
    acc = np.einsum("ock,tkbchw->tbohw", n.weight_mant.astype(np.int64), xs, optimize=True)
    return clip_count(rshift_round(acc, n.shift), n.bits, stats, "clipped")


@kernel("q_dense")
def k_dense(n: q.QDense, x, stats=None):
    a = _ax(n.axis)
    acc = np.moveaxis(np.tensordot(np.moveaxis(x, a, -1), n.weight_mant.astype(np.int64).T, axes=1), -1, a)
    return clip_count(rshift_round(acc, n.shift), n.bits, stats, "clipped")


def _up_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Along ``axis``: out[2i] = 3 x[i] + x[i-1], out[2i+1] = 3 x[i] + x[i+1], indices clamped (x4 scale)."""
    n = x.shape[axis]
    prev = np.take(x, np.clip(np.arange(n) - 1, 0, n - 1), axis=axis)
    nxt = np.take(x, np.clip(np.arange(n) + 1, 0, n - 1), axis=axis)
    even, odd = 3 * x + prev, 3 * x + nxt
    out = np.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


@kernel("q_upsample2x")
def k_upsample(n: q.QUpsample2x, x, stats=None):
    return rshift_round(_up_axis(_up_axis(x, 3), 4), 4)


@kernel("q_lif")
def k_lif(n: q.QLIF, x, stats=None):
    """Lava ``PyLifModelBitAcc`` step by step over T (``lava/proc/lif/models.py``; constants in ``loihi``)."""
    return lif_states(n, x, stats)[0]


def lif_states(n: q.QLIF, x, stats=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The LIF's spikes, and its current u and voltage v after every step (v after the spike reset), each shaped
    like ``x``: the values Lava's LIF holds after each step."""
    u = np.zeros(x.shape[1:], np.int64)
    v = np.zeros(x.shape[1:], np.int64)
    out = np.zeros_like(x)
    us, vs = np.zeros_like(x), np.zeros_like(x)
    mant = n.bias_mant + (bias_frame(n.bias_map, x.shape) if n.bias_map.size else 0)
    bias = mant << n.bias_exp if n.bias_exp >= 0 else mant >> -n.bias_exp
    vth = n.vth << loihi.VTH_SHIFT
    for t in range(x.shape[0]):
        if n.reset_interval and t % n.reset_interval == n.reset_offset:
            u, v = np.zeros_like(u), np.zeros_like(v)
        # the int64 product cannot overflow (24-bit state x 12-bit decay); the shift rounds toward zero
        decay_u = loihi.DECAY_UNITY - (n.du + loihi.DS_OFFSET)
        u = np.sign(u) * ((np.abs(u) * decay_u) >> loihi.DECAY_SHIFT)
        u = u + (x[t] << loihi.ACT_SHIFT)
        _count(stats, "wrapped", np.count_nonzero((u > loihi.STATE_HALF) | (u <= -loihi.STATE_HALF)))
        u = loihi.wrap_state(u)
        decay_v = loihi.DECAY_UNITY - (n.dv + loihi.DM_OFFSET)
        v = np.sign(v) * ((np.abs(v) * decay_v) >> loihi.DECAY_SHIFT)
        v = v + u + bias
        lim = loihi.V_LIMIT
        _count(stats, "saturated", np.count_nonzero((v > lim) | (v < -lim)))
        v = np.clip(v, -lim, lim)
        s = v > vth
        v = np.where(s, 0, v)
        out[t], us[t], vs[t] = s, u, v
    return out, us, vs


@kernel("q_nilif")
def k_nilif(n: q.QNILIF, x, stats=None):
    f = n.in_frac
    lvl_shift = f - int(np.log2(n.levels))
    out = np.zeros_like(x)
    u = None
    for t in range(x.shape[0]):
        if u is None:
            u = x[t].copy()
        else:
            u = rshift_round(u - (out[t - 1] << lvl_shift), n.decay_shift) + x[t]
        out[t] = np.clip(round_half_even_shift(u, f), 0, n.levels)
    return out


def _align(x, f_from: int, f_to: int):
    return rshift_round(x, f_from - f_to)


@kernel("q_add")
def k_add(n: q.QAdd, a, b, stats=None):
    F = max(n.frac_a, n.frac_b)
    A, B = a << (F - n.frac_a), b << (F - n.frac_b)
    s = A - B if n.subtract else A + B
    return clip_count(rshift_round(s, F - n.frac), n.bits, stats, "clipped")


@kernel("q_mul")
def k_mul(n: q.QMul, a, b, stats=None):
    return clip_count(rshift_round(a * b, n.frac_a + n.frac_b - n.frac), n.bits, stats, "clipped")


@kernel("q_scale")
def k_scale(n: q.QScale, x, stats=None):
    return clip_count(rshift_round(x * n.mant, n.shift), n.bits, stats, "clipped")


@kernel("q_concat")
def k_concat(n: q.QConcat, *xs, stats=None):
    return np.concatenate([_align(x, f, n.frac) for x, f in zip(xs, n.fracs, strict=True)], axis=2)


@kernel("q_reduce")
def k_reduce(n: q.QReduce, x, stats=None):
    axes = tuple(_ax(a) for a in n.axes)
    if n.mode == "max":
        return _align(x.max(axis=axes, keepdims=True), n.in_frac, n.frac)
    count = int(np.prod([x.shape[a] for a in axes]))
    total = x.sum(axis=axes, keepdims=True)
    up, down = max(0, n.frac - n.in_frac), max(0, n.in_frac - n.frac)
    return round_div(total << up, count << down)


@kernel("q_sigmoid")
def k_sigmoid(n: q.QSigmoid, x, stats=None):
    half = (n.lut.shape[0] - 1) // 2
    idx = np.clip(_align(x, n.in_frac, n.lut_frac), -half, half) + half
    return n.lut.astype(np.int64)[idx]


@kernel("q_relu")
def k_relu(n, x, stats=None):
    return np.maximum(x, 0)


@kernel("q_mean_t")
def k_mean_t(n: q.QMeanT, x, stats=None):
    up, down = max(0, n.frac - n.in_frac), max(0, n.in_frac - n.frac)
    return round_div(x.sum(axis=0, keepdims=True) << up, x.shape[0] << down)


@kernel("q_patch_to_time")
def k_p2t(n: q.QPatchToTime, x, stats=None):
    T, B, C, H, W = x.shape
    r = n.r
    y = x.reshape(T, B, C, H // r, r, W // r, r).transpose(0, 4, 6, 1, 2, 3, 5)
    return y.reshape(T * r * r, B, C, H // r, W // r)


@kernel("q_time_to_patch")
def k_t2p(n: q.QTimeToPatch, x, stats=None):
    L, B, C, h, w = x.shape
    r2 = n.r * n.r
    return x.reshape(L // r2, r2, B, C, h, w).transpose(0, 2, 3, 1, 4, 5).reshape(L // r2, B, C * r2, h, w)


@kernel("q_dense_synapse")
def k_dense_synapse(n: q.QDenseSynapse, x, stats=None):
    T, B = x.shape[:2]
    w = n.weight_mant.astype(np.int64)
    if n.delays.size and np.all(n.delays == n.delays[:, :1]):
        return _axonal(x.reshape(T, B, -1) @ w.T, n)
    groups = [(0, w)] if not n.delays.size else [(int(k), np.where(n.delays == k, w, 0))
                                                  for k in np.unique(n.delays)]
    out = 0
    for k, wk in groups:
        acc = x.reshape(T, B, -1) @ wk.T
        acc = acc << n.weight_exp if n.weight_exp > 0 else acc >> -n.weight_exp
        out = out + delay(acc[..., None, None], n.delay + k)
    return out


def _axonal(acc: np.ndarray, n: q.QDenseSynapse) -> np.ndarray:
    """One delay per output (axonal delays, ntidigits): every output's sum has one delay, so one product, shifted
    by ``weight_exp``, then each output delayed by its own amount; the same as the general path, faster."""
    acc = acc << n.weight_exp if n.weight_exp > 0 else acc >> -n.weight_exp
    d = n.delays[:, 0]
    out = np.zeros_like(acc)
    for k in np.unique(d):
        cols = np.flatnonzero(d == k)
        out[..., cols] = delay(acc[..., cols], n.delay + int(k))
    return out[..., None, None]


def _delta_code(act_seq, vth: int, state_exp: int) -> np.ndarray:
    """Lava's delta encoding over T of an already scaled activation sequence."""
    act = np.zeros_like(act_seq[0])
    residue = np.zeros_like(act)
    out = np.zeros_like(act_seq)
    for t in range(act_seq.shape[0]):
        d = act_seq[t] - act + residue
        s = np.where(np.abs(d) >= vth, d, 0)
        residue = d - s
        act = act_seq[t]
        out[t] = s >> state_exp
    return out


@kernel("q_delta")
def k_delta(n: q.QDelta, x, stats=None):
    e = n.spike_exp + n.state_exp
    return _delta_code(x << e, n.vth << e, n.state_exp)


@kernel("q_sigma_delta")
def k_sigma_delta(n: q.QSigmaDelta, x, stats=None):
    e = n.spike_exp + n.state_exp
    bias = (bias_frame(n.bias_map, x.shape) << e) if n.bias_map.size else 0
    act = np.maximum(np.cumsum(x, axis=0) + bias, 0)
    return _delta_code(act, n.vth << e, n.state_exp)


@kernel("q_sigma")
def k_sigma(n: q.QSigma, x, stats=None):
    return np.cumsum(x, axis=0)


def reference_kernel(op) -> Kernel:
    """The kernel of a node (or op class or name); :class:`UnsupportedOpError` naming op, stage and node."""
    return REFERENCE.lookup(op)


def run_reference(graph, images: np.ndarray, *, keep: bool = False, stats: dict | None = None) -> dict:
    """Execute a quantized graph with the numpy kernels. Returns integer outputs (all nodes if ``keep``)."""
    values: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        args = [values[i] for i in node.inputs] if node.inputs else [images]
        node_stats = None if stats is None else stats.setdefault(node.name, {})
        values[node.name] = reference_kernel(node)(node, *args, stats=node_stats)
    return values if keep else {o: values[o] for o in graph.outputs}


# ---- bring-your-own SNNs -------------------------------------------------------------------------------------

@kernel("q_tensor_input")
def k_tensor_input(n: q.QTensorInput, x, stats=None):
    """x: float ``[T, B, C, H, W]``."""
    v = np.round(np.asarray(x, dtype=np.float64) * 2.0**n.frac).astype(np.int64)
    return clip_count(v, n.bits, stats, "clipped")


@kernel("q_maxpool2d")
def k_maxpool(n: q.QMaxPool2d, x, stats=None):
    T, B, C, H, W = x.shape
    p, k, s = n.padding, n.kernel, n.stride
    xp = np.pad(x, ((0, 0), (0, 0), (0, 0), (p, p), (p, p)), constant_values=np.iinfo(np.int64).min)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(3, 4))[:, :, :, ::s, ::s]
    return win.max(axis=(-2, -1))


@kernel("q_reshape")
def k_reshape(n: q.QReshape, x, stats=None):
    return x.reshape(*x.shape[:2], *n.shape)


@kernel("q_upsample_nearest")
def k_upsample_nearest(n: q.QUpsampleNearest, x, stats=None):
    return np.repeat(np.repeat(x, n.factor, axis=3), n.factor, axis=4)


@kernel("q_depth_to_space")
def k_depth_to_space(n: q.QDepthToSpace, x, stats=None):
    T, B, C, H, W = x.shape
    r = n.r
    y = x.reshape(T, B, C // (r * r), r, r, H, W).transpose(0, 1, 2, 5, 3, 6, 4)
    return y.reshape(T, B, C // (r * r), H * r, W * r)


@kernel("q_neuron")
def k_neuron(n: q.QNeuron, x, stats=None):
    v = np.full(x.shape[1:], n.v_rest, np.int64)
    i = np.zeros(x.shape[1:], np.int64)
    carry = np.zeros_like(i)
    fired = np.zeros_like(i)
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        if n.syn_mant < 0:
            c = x[t]
        else:
            i_new = rshift_round(i * n.syn_mant, loihi.DECAY_SHIFT) + x[t]
            c, i = (i if n.current_lag else i_new), i_new
        if n.reset_next and n.reset == "zero":
            v = np.where(fired > 0, 0, v)
        h = n.v_rest + rshift_round((v - n.v_rest) * n.leak_mant, loihi.DECAY_SHIFT) + c - carry
        if n.multi:
            s = np.where(h >= n.threshold, np.floor_divide(h, n.threshold), 0)
        else:
            s = (h > n.threshold) if n.strict else (h >= n.threshold)
            s = s.astype(np.int64)
        if n.reset_next or n.reset == "none":
            v, fired = h, s
            carry = s * n.threshold if n.reset == "subtract" else np.zeros_like(s)
        elif n.reset == "subtract":
            v = h - s * n.threshold
        else:
            v = np.where(s > 0, n.v_reset, h)
        if n.has_min_v:
            v = np.maximum(v, n.min_v)
        out[t] = clip_count(v, n.bits, stats, "clipped") if n.emit == "v" else s
    return out
