"""Integer kernels of the fast simulator (torch, vectorised over whole images and all T).

Each kernel reproduces ``spikerain.hardware.kernels.reference`` bit for bit: tensors are int64, or int32 where
``narrow.int32_nodes`` proves every value and intermediate of the node fits (kernels keep their input's integer
dtype; the executor casts); convolutions run in float32 where the bound on their sums proves it exact, else in
float64, which is exact while every partial sum stays below 2**53 (weights |w| <= 127 and 16-bit payloads
give sums far below that); the per-step neuron loops are the only loops over time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.converter.ir.synapse import pair

Kernel = Callable[..., torch.Tensor]
#: quantized op class -> its vectorised kernel, bit-exact with the numpy reference
INT_KERNELS: OpRegistry[Kernel] = OpRegistry("fast simulator (integer)", what="fast-simulator kernel")


def kernel(op: str):
    def deco(fn):
        return INT_KERNELS.add(op, fn)

    return deco


def rshift_round(x: torch.Tensor, s: int) -> torch.Tensor:
    if s > 0:
        return (x + (1 << (s - 1))) >> s
    if s < 0:
        return x << (-s)
    return x


def round_div(num: torch.Tensor, den: int) -> torch.Tensor:
    return torch.div(2 * num + den, 2 * den, rounding_mode="floor")


def _clip(x: torch.Tensor, bits: int, stats, key="clipped") -> torch.Tensor:
    lim = (1 << (bits - 1)) - 1
    if stats is not None:
        stats[key] = stats.get(key, 0) + int(((x > lim) | (x < -lim)).sum())
    return x.clamp(-lim, lim)


def _requant_(x: torch.Tensor, s: int, bits: int, stats) -> torch.Tensor:
    """``_clip(rshift_round(x, s), bits)`` in place on a temporary ``x`` the caller owns: three passes over one
    buffer instead of three new tensors; the same integers."""
    if s > 0:
        x.add_(1 << (s - 1)).bitwise_right_shift_(s)
    elif s < 0:
        x.bitwise_left_shift_(-s)
    lim = (1 << (bits - 1)) - 1
    if stats is not None:
        stats["clipped"] = stats.get("clipped", 0) + int(((x > lim) | (x < -lim)).sum())
    return x.clamp_(-lim, lim)


def _absmax(x: torch.Tensor) -> int:
    """max |x| without the temporary ``x.abs()`` would allocate (0 for an empty tensor)."""
    if not x.numel():
        return 0
    lo, hi = torch.aminmax(x)
    return max(-int(lo), int(hi))


_MAGIC = 12582912.0  # 1.5 * 2**23: v + _MAGIC has exponent 23 for |v| < 2**22, so its low bits are v
_MAGIC_BITS = 0x4B400000  # the bit pattern of _MAGIC


def _to_int(v: torch.Tensor, dtype: torch.dtype, bound: float) -> torch.Tensor:
    """Integer-valued float32 ``v`` (|v| <= bound) as ``dtype``. To int32 below 2**22 in place, reading the
    integer out of the float's bits (adding 1.5 * 2**23 puts v in the low mantissa bits exactly): no second
    buffer, which is what the conversion would cost in peak memory; else ``.to(dtype)``."""
    if dtype == torch.int32 and v.dtype == torch.float32 and bound < (1 << 22):
        return v.add_(_MAGIC).view(torch.int32).sub_(_MAGIC_BITS)
    return v.to(dtype)


def int32_to_float32_(v: torch.Tensor) -> torch.Tensor:
    """int32 ``v`` (|v| < 2**22) as float32 in place, the reverse of :func:`_to_int`: the same buffer."""
    return v.add_(_MAGIC_BITS).view(torch.float32).sub_(_MAGIC)


def _count(stats, key, n):
    if stats is not None:
        stats[key] = stats.get(key, 0) + int(n)


def _ax(a: int) -> int:
    return 0 if a == 0 else a + 1


def _wrap24(x: torch.Tensor, stats) -> torch.Tensor:
    half = 1 << (loihi.CONV_ACC_BITS - 1)
    if bool((x.abs() < half).all()):
        return x
    w = torch.remainder(x + half, 2 * half) - half
    _count(stats, "wrapped", (w != x).sum())
    return w


@kernel("q_input")
def k_input(n: q.QInput, x, stats=None):
    v = torch.round(x.to(torch.float64) * (1 << n.frac)).to(torch.int64)
    v = v.clamp(-(1 << n.frac) if n.signed else 0, 1 << n.frac)
    return v if v.dim() == 5 else v.unsqueeze(0)  # [T, B, C, H, W]: a time-varying input


@kernel("q_output")
def k_output(n, x, stats=None):
    return x


@kernel("q_repeat_t")
def k_repeat(n: q.QRepeatT, x, stats=None):
    if x.shape[0] == n.T and n.T > 1:  # a time-varying input already has its T frames
        return x
    if x.shape[0] != 1:
        raise ValueError(f"{n.name} runs {n.T} steps; the input has {x.shape[0]} frames")
    return x.expand(n.T, *x.shape[1:]).contiguous()


def _w(a) -> torch.Tensor:
    return torch.from_numpy(a.astype("float64"))


F32_EXACT = 1 << 24  # float32 represents every integer below 2**24 exactly


def exact_int_conv(x: torch.Tensor, w: np.ndarray, stride, padding) -> tuple[torch.Tensor, float]:
    """Integer cross-correlation, exact, and a bound on |result|. In float32 when every partial sum stays below
    2**24 (then any summation order is exact); else split x = hi * 2**s + lo into two float32 convolutions that
    each stay below it; else float64 (exact below 2**53)."""
    wf = torch.from_numpy(w.astype(np.float32))
    w_sum = float(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max()) if w.size else 0.0
    x_max = _absmax(x)
    bound = x_max * w_sum
    if w_sum == 0 or bound < F32_EXACT:
        return F.conv2d(x.to(torch.float32), wf, stride=stride, padding=padding).to(torch.int64), bound
    s = int(math.floor(math.log2(F32_EXACT / w_sum)))  # lo in [0, 2**s): lo * w_sum < 2**24
    if s > 0 and (x_max // (1 << s) + 1) * w_sum < F32_EXACT:
        hi = torch.div(x, 1 << s, rounding_mode="floor")
        lo = x - hi * (1 << s)
        a = F.conv2d(hi.to(torch.float32), wf, stride=stride, padding=padding).to(torch.int64)
        b = F.conv2d(lo.to(torch.float32), wf, stride=stride, padding=padding).to(torch.int64)
        return a * (1 << s) + b, bound
    return F.conv2d(x.to(torch.float64), _w(w), stride=stride, padding=padding).to(torch.int64), bound


def _f32_requant_conv(n: q.QConv2d, x: torch.Tensor, stats) -> torch.Tensor | None:
    """Convolution and requantization (bias, round, shift, clip) in float32: one convolution whose weights and
    bias carry the shift, then floor and clip in place; or None where that is not provably exact.

    Exact when |x| * sum|w| < 2**23 (no 24-bit wrap) and |x| * sum|w| + |bias << bias_exp| + 2**(shift-1) <
    2**24: every partial sum, the biased accumulator and the rounding constant are integers float32 holds
    exactly; multiplying by 2**-shift is exact and floor() of it is the reference's arithmetic shift (for a
    left shift, shift < 0, the product is the shifted integer itself).
    """
    w = n.weight_mant
    if not w.size or not x.numel():
        return None
    w_sum = float(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max())
    bias = n.bias_mant.astype(np.int64) << n.bias_exp if n.bias_mant.size else np.zeros(w.shape[0], np.int64)
    half = (1 << (n.shift - 1)) if n.shift > 0 else 0  # a left shift (shift < 0) has no rounding constant
    offset = bias + half
    bound = _absmax(x) * w_sum
    if bound >= (1 << (loihi.CONV_ACC_BITS - 1)) or bound + float(np.abs(offset).max()) >= F32_EXACT:
        return None
    # The shift folded into the weights and the offset into the convolution's bias: scaling by 2**-shift is
    # exact in float32, so every partial sum is the integer one times 2**-shift, and one floor is the shift.
    # A left shift (shift < 0, 2**-shift > 1) scales integers below 2**24 by a power of two: still exact, and
    # already integers, so no floor; the clip then bounds them as the reference's clip of x << -shift does.
    scale = 2.0**-n.shift
    bias = torch.from_numpy((offset * scale).astype(np.float32)) if offset.any() else None
    acc = F.conv2d(x.to(torch.float32), torch.from_numpy((w * scale).astype(np.float32)), bias,
                   stride=pair(n.stride), padding=pair(n.padding))
    if n.shift > 0:
        acc.floor_()
    lim = float((1 << (n.bits - 1)) - 1)
    if stats is not None:
        _count(stats, "clipped", ((acc > lim) | (acc < -lim)).sum())
    # |result| < 2**24: int32 or int64 as the input; int32 for float32 input (integers held exactly in float32)
    return _to_int(acc.clamp_(-lim, lim), torch.int32 if x.is_floating_point() else x.dtype, lim)


@kernel("q_conv2d")
def k_conv(n: q.QConv2d, x, stats=None):
    T, B = x.shape[:2]
    fused = _f32_requant_conv(n, x.flatten(0, 1), stats)
    if fused is not None:
        return _delay(fused.unflatten(0, (T, B)), n.delay)
    if x.is_floating_point():  # integers below 2**22 held in float32 (narrow.float32_nodes): exact
        x = x.to(torch.int32)
    acc, bound = exact_int_conv(x.flatten(0, 1), n.weight_mant, pair(n.stride), pair(n.padding))
    if bound >= (1 << (loihi.CONV_ACC_BITS - 1)):  # below it no sum can wrap
        acc = _wrap24(acc, stats)
    if n.bias_mant.size:
        acc = acc + (torch.from_numpy(n.bias_mant.astype("int64")) << n.bias_exp).view(1, -1, 1, 1)
    out = _requant_(acc, n.shift, n.bits, stats)
    return _delay(out.unflatten(0, (T, B)), n.delay)


def _delay(x: torch.Tensor, d: int) -> torch.Tensor:
    return x if d == 0 else torch.cat([torch.zeros_like(x[:d]), x[:-d]])


def _bias(bias_map: np.ndarray, shape) -> torch.Tensor:
    b = torch.from_numpy(np.array(bias_map, np.int64))
    return (b.view(-1, 1, 1) if b.dim() == 1 else b).expand(shape[-3:]).unsqueeze(0)


@kernel("q_temporal_conv")
def k_tconv(n: q.QTemporalConv, x, stats=None):
    """One output step at a time: its k input frames as float channels of one 1x1 convolution (float32 where
    every partial sum and the rounding constant stay below 2**24, else float64, exact below 2**53), then the
    requantization on the float result (adding the rounding constant, scaling by 2**-shift and flooring are
    exact on those integers). So only one step's float copy exists, never a float64 copy of the whole input."""
    L, B, C, H, W = x.shape
    w = n.weight_mant
    O, k = w.shape[0], w.shape[2]
    w_sum = float(np.abs(w).reshape(O, -1).sum(axis=1).max()) if w.size else 0.0
    half = (1 << (n.shift - 1)) if n.shift > 0 else 0
    dt = torch.float32 if _absmax(x) * w_sum + half < F32_EXACT else torch.float64
    wk = torch.from_numpy(np.ascontiguousarray(w.transpose(0, 2, 1)).reshape(O, k * C, 1, 1)).to(dt)  # [o, kk*C+c]
    acc = torch.empty((L // k, B, O, H, W), dtype=dt)
    for t in range(L // k):
        frames = x[t * k:(t + 1) * k].to(dt).transpose(0, 1).reshape(B, k * C, H, W)
        acc[t] = F.conv2d(frames, wk)
        del frames
    if half:
        acc.add_(half)
    if n.shift:
        acc.mul_(2.0**-n.shift)
    if n.shift > 0:
        acc.floor_()
    lim = float((1 << (n.bits - 1)) - 1)
    if stats is not None:
        _count(stats, "clipped", ((acc > lim) | (acc < -lim)).sum())
    acc.clamp_(-lim, lim)
    return _to_int(acc, x.dtype, lim) if dt == torch.float32 else acc.to(x.dtype)


@kernel("q_dense")
def k_dense(n: q.QDense, x, stats=None):
    a = _ax(n.axis)
    y = torch.tensordot(x.movedim(a, -1).to(torch.float64), _w(n.weight_mant), dims=([x.dim() - 1], [1]))
    return _requant_(y.movedim(-1, a).to(torch.int64), n.shift, n.bits, stats)


@kernel("q_upsample2x")
def k_upsample(n, x, stats=None):
    """Bilinear x2 in float64 is exact here (weights are multiples of 1/16, |q| < 2**20), and equals
    sum(c * q) / 16; floor(v + 1/2) is then the reference's rshift_round(sum(c * q), 4)."""
    T, B = x.shape[:2]
    # float32 is exact too while |q| < 2**19 (values are multiples of 1/16 below 2**20: 24 bits). (A depthwise
    # transposed convolution computes the same sums but measured 1.5-3x slower than interpolate here.)
    x_max = _absmax(x)
    dt = torch.float32 if x_max < (1 << 19) else torch.float64
    v = F.interpolate(x.flatten(0, 1).to(dt), scale_factor=2, mode="bilinear", align_corners=False)
    return _to_int(v.add_(0.5).floor_(), x.dtype, x_max).unflatten(0, (T, B))  # never past max |x|


def _trunc_mul_shift(v: torch.Tensor, factor: int) -> torch.Tensor:
    """sign(v) * ((|v| * factor) >> 12): Lava's decay with rounding toward zero."""
    return torch.sign(v) * ((v.abs() * factor) >> loihi.DECAY_SHIFT)


def _lif_fast(n: q.QLIF, x: torch.Tensor) -> torch.Tensor:
    """du = 4095, dv = 2048, no bias, |x| < 2**16: u = x << 6 never wraps, and |v| <= |v|/2 + 2**22 stays below
    2**23, so neither wrap nor saturation can happen; v halves rounding toward zero."""
    out = torch.empty_like(x)
    vth = n.vth << loihi.VTH_SHIFT
    v = None
    T = x.shape[0]
    for t in range(T):
        if v is None:
            v = x[t] << loihi.ACT_SHIFT
        else:
            # v / 2 rounded toward zero as (v + (v < 0)) >> 1: integer division has no vector instruction
            # (2.5x the time of these three passes); v + 1 cannot overflow where v < 0
            sign = v.element_size() * 8 - 1
            v = torch.bitwise_right_shift(v, sign).bitwise_and_(1).add_(v).bitwise_right_shift_(1)
            v.add_(x[t], alpha=1 << loihi.ACT_SHIFT)
        s = v > vth
        out[t] = s
        if t + 1 < T:  # the last step's reset is never read
            v.mul_(~s)  # v * 0 or v * 1: masked_fill_(s, 0) in integers, at a sixth of its time on this CPU
    return out


@kernel("q_lif")
def k_lif(n: q.QLIF, x, stats=None):
    plain = n.bias_mant == 0 and not n.bias_map.size and not n.reset_interval
    halving = n.du == loihi.DU_MAX and n.dv == loihi.DECAY_UNITY // 2
    if halving and plain and _absmax(x) < (1 << 16):
        return _lif_fast(n, x)
    u = torch.zeros(x.shape[1:], dtype=torch.int64)
    v = torch.zeros_like(u)
    out = torch.empty_like(x)
    mant = n.bias_mant + (_bias(n.bias_map, x.shape) if n.bias_map.size else 0)
    bias = mant << n.bias_exp if n.bias_exp >= 0 else mant >> -n.bias_exp
    vth = n.vth << loihi.VTH_SHIFT
    lim = loihi.V_LIMIT
    for t in range(x.shape[0]):
        if n.reset_interval and t % n.reset_interval == n.reset_offset:
            u, v = torch.zeros_like(u), torch.zeros_like(v)
        decay_u = loihi.DECAY_UNITY - (n.du + loihi.DS_OFFSET)
        u = _trunc_mul_shift(u, decay_u) if decay_u else torch.zeros_like(u)
        u = u + (x[t] << loihi.ACT_SHIFT)
        if stats is not None or (u.abs() >= loihi.STATE_HALF).any():
            _count(stats, "wrapped", ((u > loihi.STATE_HALF) | (u <= -loihi.STATE_HALF)).sum())
            u = loihi.wrap_state(u)
        v = _trunc_mul_shift(v, loihi.DECAY_UNITY - (n.dv + loihi.DM_OFFSET)) + u + bias
        _count(stats, "saturated", ((v > lim) | (v < -lim)).sum())
        v = v.clamp(-lim, lim)
        s = v > vth
        v = v * ~s  # masked_fill(s, 0) in integers, several times faster
        out[t] = s
    return out


def _round_half_even_shift(x: torch.Tensor, s: int) -> torch.Tensor:
    qv = x >> s
    r = x - (qv << s)
    half = 1 << (s - 1)
    return qv + ((r > half) | ((r == half) & ((qv & 1) == 1))).to(torch.int64)


@kernel("q_nilif")
def k_nilif(n: q.QNILIF, x, stats=None):
    f = n.in_frac
    lvl_shift = f - (n.levels.bit_length() - 1)
    out = torch.empty_like(x)
    if f < 1 or n.decay_shift < 1:
        u = None
        for t in range(x.shape[0]):
            u = x[t].clone() if u is None else rshift_round(u - (out[t - 1] << lvl_shift), n.decay_shift) + x[t]
            out[t] = _round_half_even_shift(u, f).clamp(0, n.levels)
        return out
    # The same integers in place: with x = q * 2**f + r, (x + 2**(f-1) - 1 + (q & 1)) >> f rounds half to even.
    u = x[0]
    for t in range(x.shape[0]):
        if t:
            d = torch.bitwise_left_shift(out[t - 1], lvl_shift)
            u = torch.sub(u, d, out=d).add_(1 << (n.decay_shift - 1)).bitwise_right_shift_(n.decay_shift).add_(x[t])
        o = torch.bitwise_right_shift(u, f, out=out[t])
        o.bitwise_and_(1).add_(u).add_((1 << (f - 1)) - 1).bitwise_right_shift_(f).clamp_(0, n.levels)
    return out


def _lshift(x: torch.Tensor, s: int) -> torch.Tensor:
    return x << s if s else x


@kernel("q_add")
def k_add(n: q.QAdd, a, b, stats=None):
    Fm = max(n.frac_a, n.frac_b)
    A, B = _lshift(a, Fm - n.frac_a), _lshift(b, Fm - n.frac_b)
    return _requant_(A - B if n.subtract else A + B, Fm - n.frac, n.bits, stats)


@kernel("q_mul")
def k_mul(n: q.QMul, a, b, stats=None):
    return _requant_(a * b, n.frac_a + n.frac_b - n.frac, n.bits, stats)


@kernel("q_scale")
def k_scale(n: q.QScale, x, stats=None):
    return _requant_(x * n.mant, n.shift, n.bits, stats)


@kernel("q_concat")
def k_concat(n: q.QConcat, *xs, stats=None):
    return torch.cat([rshift_round(x, f - n.frac) for x, f in zip(xs, n.fracs, strict=True)], dim=2)


INT32_SUM = 1 << 31  # an int32 partial sum of n values of |v| <= m is exact while n * m stays below this


def _sum_exact(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """``x.sum(axes, keepdim=True)`` as exact integers without the int64 copy of ``x`` torch's widening integer
    sum makes: on int32 input, one axis at a time (innermost first) in int32 while the partial sums provably fit
    (count * max|x| < 2**31), widening to int64 only the already reduced tensor. Integer addition is exact in
    any order, so the sums are the same."""
    if x.dtype != torch.int32:
        return x.sum(dim=axes, keepdim=True)
    m, count, y = _absmax(x), 1, x
    for a in sorted(axes, reverse=True):
        count *= x.shape[a]
        if y.dtype == torch.int32 and m * count >= INT32_SUM:
            y = y.to(torch.int64)
        if a == 0 and y is x:  # over time: frame by frame in place (a strided reduction is slow here)
            y = x[0:1].clone()
            for t in range(1, x.shape[0]):
                y.add_(x[t:t + 1])
        else:
            y = y.sum(dim=a, keepdim=True, dtype=y.dtype)
    return y.to(torch.int64)


def _round_div_(num: torch.Tensor, up: int, den: int) -> torch.Tensor:
    """``round_div(num << up, den)`` in place on a temporary int64 ``num``: floor((num << (up + 1) + den) / 2den),
    the same integers."""
    return num.bitwise_left_shift_(up + 1).add_(den).div_(2 * den, rounding_mode="floor")


@kernel("q_reduce")
def k_reduce(n: q.QReduce, x, stats=None):
    axes = tuple(_ax(a) for a in n.axes)
    if n.mode == "max":
        return rshift_round(x.amax(dim=axes, keepdim=True), n.in_frac - n.frac)
    count = 1
    for a in axes:
        count *= x.shape[a]
    up, down = max(0, n.frac - n.in_frac), max(0, n.in_frac - n.frac)
    return _round_div_(_sum_exact(x, axes), up, count << down)


@kernel("q_sigmoid")
def k_sigmoid(n: q.QSigmoid, x, stats=None):
    half = (n.lut.shape[0] - 1) // 2
    idx = rshift_round(x, n.in_frac - n.lut_frac).clamp(-half, half) + half
    return torch.from_numpy(n.lut.astype("int64"))[idx]


@kernel("q_relu")
def k_relu(n, x, stats=None):
    return x.clamp_min(0)


@kernel("q_mean_t")
def k_mean_t(n: q.QMeanT, x, stats=None):
    up, down = max(0, n.frac - n.in_frac), max(0, n.in_frac - n.frac)
    return _round_div_(_sum_exact(x, (0,)), up, x.shape[0] << down)


@kernel("q_patch_to_time")
def k_p2t(n: q.QPatchToTime, x, stats=None):
    from spikerain.models.vlifnet import patch_to_time

    return patch_to_time(x, n.r)


@kernel("q_time_to_patch")
def k_t2p(n: q.QTimeToPatch, x, stats=None):
    from spikerain.models.vlifnet import time_to_patch_channels

    return time_to_patch_channels(x, n.r)


@kernel("q_dense_synapse")
def k_dense_synapse(n: q.QDenseSynapse, x, stats=None):
    w = torch.from_numpy(n.weight_mant.astype(np.int64))
    if n.delays.size and np.all(n.delays == n.delays[:, :1]):
        return _axonal(n, torch.einsum("tbi,oi->tbo", x.flatten(2), w))
    delays = torch.from_numpy(np.array(n.delays, np.int64)) if n.delays.size else None
    out = None
    for k in [0] if delays is None else sorted(set(n.delays.reshape(-1).tolist())):
        wk = w if delays is None else torch.where(delays == k, w, torch.zeros_like(w))
        acc = torch.einsum("tbi,oi->tbo", x.flatten(2), wk)
        acc = acc << n.weight_exp if n.weight_exp > 0 else acc >> -n.weight_exp
        part = _delay(acc[..., None, None], n.delay + k)
        out = part if out is None else out + part
    return out


def _axonal(n: q.QDenseSynapse, acc: torch.Tensor) -> torch.Tensor:
    """One delay per output (axonal delays): one product, each output delayed by its own amount (as the
    reference's ``_axonal``)."""
    acc = acc << n.weight_exp if n.weight_exp > 0 else acc >> -n.weight_exp
    d = n.delays[:, 0]
    out = torch.zeros_like(acc)
    for k in np.unique(d):
        cols = torch.from_numpy(np.flatnonzero(d == k))
        out[..., cols] = _delay(acc[..., cols], n.delay + int(k))
    return out[..., None, None]


def _sigma_delta(act: torch.Tensor, vth: int, state_exp: int) -> torch.Tensor:
    prev = torch.zeros_like(act[0])
    residue = torch.zeros_like(prev)
    out = torch.empty_like(act)
    for t in range(act.shape[0]):
        d = act[t] - prev + residue
        s = torch.where(d.abs() >= vth, d, torch.zeros_like(d))
        residue = d - s
        prev = act[t]
        out[t] = s >> state_exp
    return out


@kernel("q_delta")
def k_delta(n: q.QDelta, x, stats=None):
    e = n.spike_exp + n.state_exp
    return _sigma_delta(x << e, n.vth << e, n.state_exp)


@kernel("q_sigma_delta")
def k_sigma_delta(n: q.QSigmaDelta, x, stats=None):
    e = n.spike_exp + n.state_exp
    act = torch.cumsum(x, dim=0)
    if n.bias_map.size:
        act = act + (_bias(n.bias_map, x.shape) << e)
    return _sigma_delta(act.clamp_min(0), n.vth << e, n.state_exp)


@kernel("q_sigma")
def k_sigma(n: q.QSigma, x, stats=None):
    return torch.cumsum(x, dim=0)


def int_kernel(op) -> Kernel:
    """The kernel of a node (or op class or name); :class:`UnsupportedOpError` naming op, stage and node."""
    return INT_KERNELS.lookup(op)


# ---- bring-your-own SNNs (the reference kernels define them; these vectorise over space) ---------------------

@kernel("q_tensor_input")
def k_tensor_input(n: q.QTensorInput, x, stats=None):
    v = torch.round(x.to(torch.float64) * 2.0**n.frac).to(torch.int64)
    return _clip(v, n.bits, stats)


@kernel("q_maxpool2d")
def k_maxpool(n: q.QMaxPool2d, x, stats=None):
    T, B = x.shape[:2]
    z = x.flatten(0, 1)
    if n.padding:
        z = F.pad(z, (n.padding,) * 4, value=torch.iinfo(torch.int64).min)
    win = z.unfold(2, n.kernel, n.stride).unfold(3, n.kernel, n.stride)
    return win.amax(dim=(-2, -1)).unflatten(0, (T, B))


@kernel("q_reshape")
def k_reshape(n: q.QReshape, x, stats=None):
    return x.reshape(*x.shape[:2], *n.shape)


@kernel("q_upsample_nearest")
def k_upsample_nearest(n: q.QUpsampleNearest, x, stats=None):
    return x.repeat_interleave(n.factor, dim=3).repeat_interleave(n.factor, dim=4)


@kernel("q_depth_to_space")
def k_depth_to_space(n: q.QDepthToSpace, x, stats=None):
    T, B = x.shape[:2]
    return F.pixel_shuffle(x.flatten(0, 1), n.r).unflatten(0, (T, B))


@kernel("q_neuron")
def k_neuron(n: q.QNeuron, x, stats=None):
    v = torch.full_like(x[0], n.v_rest)
    i = torch.zeros_like(x[0])
    carry = torch.zeros_like(x[0])
    fired = torch.zeros_like(x[0])
    out = torch.empty_like(x)
    zero = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        if n.syn_mant < 0:
            c = x[t]
        else:
            i_new = rshift_round(i * n.syn_mant, loihi.DECAY_SHIFT) + x[t]
            c, i = (i if n.current_lag else i_new), i_new
        if n.reset_next and n.reset == "zero":
            v = torch.where(fired > 0, zero, v)
        h = n.v_rest + rshift_round((v - n.v_rest) * n.leak_mant, loihi.DECAY_SHIFT) + c - carry
        if n.multi:
            s = torch.where(h >= n.threshold, torch.div(h, n.threshold, rounding_mode="floor"), zero)
        else:
            s = ((h > n.threshold) if n.strict else (h >= n.threshold)).to(torch.int64)
        if n.reset_next or n.reset == "none":
            v, fired = h, s
            carry = s * n.threshold if n.reset == "subtract" else zero
        elif n.reset == "subtract":
            v = h - s * n.threshold
        else:
            v = torch.where(s > 0, torch.full_like(h, n.v_reset), h)
        if n.has_min_v:
            v = v.clamp(min=n.min_v)
        out[t] = _clip(v, n.bits, stats) if n.emit == "v" else s
    return out
