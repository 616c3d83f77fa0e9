"""Quantized IR: the same graph vocabulary, spoken in hardware terms (integers, exponents, bit widths).

Every edge carries integers q with a power-of-two scale: real = q * 2**-frac. ``bits`` is the payload width:
1 for binary spikes, 3 for NI-LIF levels (0..4 with frac 2), ``payload_bits`` (default 16, signed) for graded
spikes. Integer semantics of each op, including rounding, are defined once in
``spikerain.hardware.kernels.reference`` and documented in ``docs/quantization.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikerain.converter.ir import loihi
from spikerain.converter.ir.node import Node, Shape, register_op
from spikerain.converter.ir.synapse import Conv2d, Dense, TemporalConv
from spikerain.converter.ir.tensor import (
    Concat,
    DepthToSpace,
    MaxPool2d,
    PatchToTime,
    Reduce,
    RepeatT,
    Reshape,
    TimeToPatch,
    Upsample,
    _broadcast,
)


@dataclass(frozen=True, kw_only=True, eq=False)
class QNode(Node):
    frac: int = 0  # output fractional bits: real = q * 2**-frac
    bits: int = 16  # output payload width (1 = binary spike)


def _int(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QInput(QNode):
    """Pixels in [0, 1] -> q = round_half_even(x * 2**frac), clipped to [0, 2**frac] ([-2**frac, 2**frac] if
    ``signed``: imported netx networks take signed integer inputs, given as q / 2**frac)."""

    channels: int = 3
    signed: bool = False
    op = "q_input"
    role = "routing"
    arity = 0

    def out_shape(self, *ins: Shape) -> Shape:
        raise ValueError("the input shape is given, not inferred")


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QOutput(QNode):
    """Graph output; real = q * 2**-frac."""

    op = "q_output"
    role = "routing"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QConv2d(QNode):
    """Lava Conv semantics (integer weights, accumulator wrapped to signed 24 bit), then requantization:
    out = clip(rshift_round(acc + (bias_mant << bias_exp), shift)).

    weight_mant: int8-valued mantissas ``[Co, Ci, kh, kw]``; real weight = weight_mant * 2**weight_exp.
    """

    weight_mant: np.ndarray
    weight_exp: int = 0
    bias_mant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bias_exp: int = 0
    stride: int | tuple[int, int] = 1  # int or (H, W)
    padding: int | tuple[int, int] = 0
    shift: int = 0
    delay: int = 0  # 1: output frame t comes from input frame t-1 (Lava's synapse delay, kept by netx networks)
    op = "q_conv2d"
    role = "synapse"

    @property
    def identity_requant(self) -> bool:
        """No bias, shift or clipping: the 24-bit wrapped accumulator is the output (netx conv layers)."""
        return self.shift == 0 and not self.bias_mant.size and self.bits >= 32

    def out_shape(self, x: Shape) -> Shape:
        return Conv2d.out_shape(self, x)  # type: ignore[arg-type]

    def fan_in(self):
        return Conv2d.fan_in(self)  # type: ignore[arg-type]

    @property
    def weight(self) -> np.ndarray:  # for the shared shape rule
        return self.weight_mant


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QTemporalConv(QNode):
    weight_mant: np.ndarray  # [Co, Ci, k]
    weight_exp: int = 0
    shift: int = 0
    op = "q_temporal_conv"
    role = "synapse"
    time_mixing = True

    @property
    def weight(self) -> np.ndarray:
        return self.weight_mant

    def out_shape(self, x: Shape) -> Shape:
        return TemporalConv.out_shape(self, x)  # type: ignore[arg-type]

    def fan_in(self):
        return TemporalConv.fan_in(self)  # type: ignore[arg-type]

    def frames_needed(self, j: int, t_in: int) -> int:
        return TemporalConv.frames_needed(self, j, t_in)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QDense(QNode):
    weight_mant: np.ndarray  # [out, in]
    weight_exp: int = 0
    axis: int = 1
    shift: int = 0
    op = "q_dense"
    role = "synapse"
    placement = "host"

    @property
    def weight(self) -> np.ndarray:
        return self.weight_mant

    def out_shape(self, x: Shape) -> Shape:
        return Dense.out_shape(self, x)  # type: ignore[arg-type]

    def mixes_time(self):
        return Dense.mixes_time(self)  # type: ignore[arg-type]

    def fan_in(self):
        return Dense.fan_in(self)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QUpsample2x(QNode):
    """Bilinear x2 as a fixed-weight layer: per axis 3*q[i] + q[neighbour], then rshift_round(., 4)."""

    op = "q_upsample2x"
    role = "synapse"

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        return (T, C, 2 * H, 2 * W)

    def fan_in(self) -> int:
        return 4  # each output blends up to 4 inputs of its own channel


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QLIF(QNode):
    """Lava's stock fixed-point LIF (``PyLifModelBitAcc``): a_in = input q; see ``docs/quantization.md``.

    ``bias_map`` (per channel ``[C]`` or per neuron ``[C, H, W]``) adds to ``bias_mant``; with
    ``reset_interval`` > 0, u and v are zeroed before frame t when t % reset_interval == reset_offset
    (Lava's ``LIFReset``)."""

    du: int = loihi.DU_MAX  # the current holds only this step's input
    dv: int = loihi.DECAY_UNITY // 2  # v halves every step
    vth: int = 0  # mantissa; effective threshold vth << VTH_SHIFT, strict '>'
    bias_mant: int = 0
    bias_exp: int = 0
    bias_map: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reset_interval: int = 0
    reset_offset: int = 0
    op = "q_lif"
    role = "neuron"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QNILIF(QNode):
    """Integer NI-LIF on input frac f: u = rshift_round(u - (k << (f - log2 D)), decay_shift) + x;
    k = clip(round_half_even(u / 2**f), 0, D). Output k with frac log2(D)."""

    in_frac: int = 8
    levels: int = 4
    decay_shift: int = 2
    op = "q_nilif"
    role = "neuron"
    time_mixing = True

    def frames_needed(self, j: int, t_in: int) -> int:
        return j + 1  # its state carries every earlier frame


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QAdd(QNode):
    """a +/- b aligned to max(frac_a, frac_b), one rounding to ``frac``, clipped."""

    frac_a: int = 0
    frac_b: int = 0
    subtract: bool = False
    op = "q_add"
    role = "elementwise"
    arity = 2

    def out_shape(self, a: Shape, b: Shape) -> Shape:
        return _broadcast(a, b)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QMul(QNode):
    """clip(rshift_round(a * b, frac_a + frac_b - frac))."""

    frac_a: int = 0
    frac_b: int = 0
    op = "q_mul"
    role = "elementwise"
    placement = "host"
    arity = 2

    def out_shape(self, a: Shape, b: Shape) -> Shape:
        return _broadcast(a, b)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QScale(QNode):
    """clip(rshift_round(q * mant, shift)); factor * 2**(frac - in_frac) ~ mant * 2**-shift."""

    mant: int = 1
    shift: int = 0
    op = "q_scale"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QConcat(QNode):
    """Channel concat after aligning every input to ``frac`` (rshift_round)."""

    fracs: tuple[int, ...] = ()
    op = "q_concat"
    role = "routing"
    arity = None

    def out_shape(self, *ins: Shape) -> Shape:
        return Concat.out_shape(self, *ins)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QReduce(QNode):
    """max: max of q, aligned; mean: round_div(sum aligned to frac, N), rounding half up."""

    mode: str = "mean"
    axes: tuple[int, ...] = (2, 3)
    in_frac: int = 0
    op = "q_reduce"
    role = "host"
    placement = "host"

    def out_shape(self, x: Shape) -> Shape:
        return Reduce.out_shape(self, x)  # type: ignore[arg-type]

    def mixes_time(self):
        return Reduce.mixes_time(self)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QSigmoid(QNode):
    """LUT: i = clip(rshift_round(q, in_frac - lut_frac), -lut_half, lut_half); out = lut[i + lut_half]."""

    lut: np.ndarray
    in_frac: int = 0
    lut_frac: int = 6
    op = "q_sigmoid"
    role = "host"
    placement = "host"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QReLU(QNode):
    op = "q_relu"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QMeanT(QNode):
    """round_div(sum over T aligned to frac, T)."""

    in_frac: int = 0
    op = "q_mean_t"
    role = "host"
    time_mixing = True
    placement = "host"

    def out_shape(self, x: Shape) -> Shape:
        return (1, *x[1:])


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QRepeatT(QNode):
    T: int = 4
    op = "q_repeat_t"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        return RepeatT.out_shape(self, x)  # type: ignore[arg-type]

    def frames_needed(self, j: int, t_in: int) -> int:
        return RepeatT.frames_needed(self, j, t_in)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QPatchToTime(QNode):
    r: int = 2
    op = "q_patch_to_time"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        return PatchToTime.out_shape(self, x)  # type: ignore[arg-type]

    def frames_needed(self, j: int, t_in: int) -> int:
        return PatchToTime.frames_needed(self, j, t_in)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QTimeToPatch(QNode):
    r: int = 2
    op = "q_time_to_patch"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        return TimeToPatch.out_shape(self, x)  # type: ignore[arg-type]

    def frames_needed(self, j: int, t_in: int) -> int:
        return TimeToPatch.frames_needed(self, j, t_in)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QDenseSynapse(QNode):
    """Lava's bit-accurate ``Dense``: the input is flattened in C, H, W order; acc = W . s; out = acc << weight_exp
    (or >> -weight_exp, flooring). ``weight_mant`` holds the effective weights (after Lava's clip and truncation),
    ``[out, in]``. Output ``[T, out, 1, 1]``.

    ``delays`` (``[out, in]``, 0..62; Lava's ``DelayDense``): synapse (o, i) adds its input ``delay + delays[o, i]``
    frames later; the shift by ``weight_exp`` applies to each delay's sum separately, as Lava does."""

    weight_mant: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    delay: int = 0
    delays: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    op = "q_dense_synapse"
    role = "synapse"

    @property
    def weight(self) -> np.ndarray:
        return self.weight_mant

    def out_shape(self, x: Shape) -> Shape:
        n_in = x[1] * x[2] * x[3]
        if n_in != self.weight_mant.shape[1]:
            raise ValueError(f"dense synapse expects {self.weight_mant.shape[1]} inputs, got {x}")
        return (x[0], self.weight_mant.shape[0], 1, 1)

    def fan_in(self) -> int:
        return int(self.weight_mant.shape[1])  # every input reaches every output


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QDelta(QNode):
    """Lava's fixed-point ``Delta`` (sigma-delta encoder): a = x << (spike_exp + state_exp); delta = a - act +
    residue; s = delta if |delta| >= vth << (spike_exp + state_exp) else 0; residue = delta - s; out = s >>
    state_exp."""

    vth: int = 0
    spike_exp: int = 6
    state_exp: int = 6
    op = "q_delta"
    role = "neuron"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QSigmaDelta(QNode):
    """Lava's fixed-point ``SigmaDelta`` with ReLU: sigma += x; act = relu(sigma + bias << (spike_exp +
    state_exp)); delta coding as :class:`QDelta`. ``bias_map``: per channel ``[C]`` or per neuron."""

    vth: int = 0
    spike_exp: int = 6
    state_exp: int = 6
    bias_map: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    op = "q_sigma_delta"
    role = "neuron"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QSigma(QNode):
    """Lava's ``Sigma`` decoder: sigma += x; out = sigma."""

    op = "q_sigma"
    role = "neuron"


# ---- bring-your-own SNNs (converter/frontends/fx_frontend.py) -------------------------------------------------

@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QTensorInput(QNode):
    """A module's input ``[T, B, C, H, W]`` (float) -> q = round_half_even(x * 2**frac), clipped to the signed
    ``bits`` payload."""

    channels: int = 1
    op = "q_tensor_input"
    role = "routing"
    arity = 0

    def out_shape(self, *ins: Shape) -> Shape:
        raise ValueError("the input shape is given, not inferred")


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QMaxPool2d(QNode):
    """Per-step max over windows (padding never wins: it is the most negative integer)."""

    kernel: int = 2
    stride: int = 2
    padding: int = 0
    op = "q_maxpool2d"
    role = "host"  # a max over a window: comparisons, which neurocores do not do
    placement = "host"

    def fan_in(self) -> int:
        return MaxPool2d.fan_in(self)  # type: ignore[arg-type]

    def out_shape(self, x: Shape) -> Shape:
        return MaxPool2d.out_shape(self, x)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QReshape(QNode):
    shape: tuple[int, int, int] = (1, 1, 1)
    op = "q_reshape"
    role = "routing"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def out_shape(self, x: Shape) -> Shape:
        return Reshape.out_shape(self, x)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QUpsampleNearest(QNode):
    factor: int = 2
    op = "q_upsample_nearest"
    role = "routing"  # every value sent to factor**2 places: fan-out, no arithmetic

    def out_shape(self, x: Shape) -> Shape:
        return Upsample.out_shape(self, x)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QDepthToSpace(QNode):
    r: int = 2
    op = "q_depth_to_space"
    role = "routing"

    def out_shape(self, x: Shape) -> Shape:
        return DepthToSpace.out_shape(self, x)  # type: ignore[arg-type]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class QNeuron(QNode):
    """The general neuron (``ir.Neuron``) in integers: state and thresholds in units 2**-in_frac of v / gain.
    Per step (D = loihi.DECAY_SHIFT, 12): i = rshift_round(i * syn_mant, D) + x (syn_mant < 0: i = x); c = i (or
    last step's i if current_lag); h = v_rest + rshift_round((v - v_rest) * leak_mant, D) + c - carry;
    s = h > th (strict) or h >= th, or floor(h / th) where h >= th (multi); reset as the float node;
    v = max(v, min_v) if has_min_v. Output s (frac 0) or v (frac in_frac)."""

    in_frac: int = 0
    leak_mant: int = loihi.DECAY_UNITY
    v_rest: int = 0
    threshold: int = 1
    strict: bool = False
    reset: str = "zero"
    v_reset: int = 0
    reset_next: bool = False
    multi: bool = False
    has_min_v: bool = False
    min_v: int = 0
    syn_mant: int = -1
    current_lag: bool = False
    emit: str = "spike"
    op = "q_neuron"
    role = "neuron"
    time_mixing = True  # its state carries every earlier frame

    def frames_needed(self, j: int, t_in: int) -> int:
        return j + 1
