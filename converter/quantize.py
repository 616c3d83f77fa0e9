"""Quantization of a float IR graph to Loihi-style fixed point (torch-free).

Recipe :class:`QuantConfig` (versioned); :func:`quantize` needs per-node calibration maxima (from
``spikerain.hardware.fastsim.calibrate``) and returns the quantized graph plus a per-layer report.

* Weights: 8-bit signed mantissas (|m| <= 127) with a per-layer power-of-two exponent.
* Bias: 13-bit signed mantissa with an exponent, in accumulator units.
* Graded tensors: ``payload_bits``-bit signed integers with a power-of-two scale chosen from the calibration
  maximum (times ``headroom``); binary spikes stay 1 bit; NI-LIF levels travel as 3-bit payloads (k/4).
* LIF: Lava's fixed-point LIF with du=4095 (current = this step's input), dv=2048 (halving, rounding toward
  zero), vth = round(v_th * 2**frac_in), strict '>' on vth << 6.
* Host ops (sigmoid LUT, products, global pooling, mean over T, attention MLPs) get the integer semantics of
  ``spikerain.hardware.kernels.reference``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.errors import UnsupportedOpError


@dataclass(frozen=True, kw_only=True)
class QuantConfig:
    VERSION = 1
    payload_bits: int = 16  # graded-spike payload width (signed)
    weight_bits: int = 8  # weight mantissa width (signed)
    input_frac: int = 8  # pixels: q = round(x * 2**8)
    headroom: float = 1.25  # calibration max is multiplied by this before picking a scale
    sigmoid_lut_frac: int = 8  # sigmoid input resolution 1/256 over [-8, 8]
    sigmoid_out_frac: int = 12  # sigmoid output resolution 1/4096
    max_frac: int = 24

    def to_dict(self) -> dict:
        return {"version": self.VERSION, **asdict(self)}


#: the signed 24-bit accumulator of a Loihi synapse group (Lava's Conv wraps there)
ACC_LIMIT = float(1 << (loihi.CONV_ACC_BITS - 1))
#: Lava's LIF threshold mantissa (17 bits, unsigned)
VTH_MAX = loihi.VTH_MANT_MAX


def choose_frac(max_abs: float, bits: int, cfg: QuantConfig) -> int:
    if not np.isfinite(max_abs) or max_abs <= 0:
        return min(bits - 2, cfg.max_frac)  # never active in calibration: keep small values resolvable
    f = math.floor(math.log2(((1 << (bits - 1)) - 1) / (max_abs * cfg.headroom)))
    return int(min(max(f, 0), cfg.max_frac))


def quantize_weights(w: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(mantissas, exponent) with |mantissa| <= 2**(bits-1) - 1 and w ~ mantissa * 2**exponent."""
    lim = (1 << (bits - 1)) - 1
    m = float(np.max(np.abs(w))) if w.size else 0.0
    if m == 0:
        return np.zeros(w.shape, np.int32), 0
    e = math.ceil(math.log2(m / lim))
    mant = np.clip(np.round(w.astype(np.float64) / 2.0**e), -lim, lim).astype(np.int32)
    return mant, e


def quantize_bias(b_acc: np.ndarray, mant_bits: int = 13) -> tuple[np.ndarray, int]:
    lim = (1 << (mant_bits - 1)) - 1
    m = float(np.max(np.abs(b_acc))) if b_acc.size else 0.0
    e = max(0, math.ceil(math.log2(m / lim))) if m > lim else 0
    return np.clip(np.round(b_acc / 2.0**e), -lim, lim).astype(np.int64), e


def sigmoid_lut(cfg: QuantConfig) -> np.ndarray:
    half = 8 << cfg.sigmoid_lut_frac
    x = (np.arange(-half, half + 1, dtype=np.float64)) / (1 << cfg.sigmoid_lut_frac)
    return np.round(1.0 / (1.0 + np.exp(-x)) * (1 << cfg.sigmoid_out_frac)).astype(np.int32)


@dataclass
class _Edge:
    frac: int
    bits: int
    kind: str  # "spike", "level", "graded"


class _Context:
    """What the rules share while one graph is quantized: the recipe, the maxima and the graph built so far."""

    def __init__(self, cfg: QuantConfig, max_abs: dict[str, float]) -> None:
        self.cfg, self.max_abs = cfg, max_abs
        self.edges: dict[str, _Edge] = {}
        self.nodes: list[ir.Node] = []
        self.layers: dict[str, dict] = {}

    def graded(self, name: str) -> _Edge:
        return _Edge(choose_frac(self.max_abs.get(name, 0.0), self.cfg.payload_bits, self.cfg),
                     self.cfg.payload_bits, "graded")

    def rescale(self, owner: str, src: str, k: int, why: str) -> str:
        """Insert a graded-spike rescale (>> k, rounding half up) of ``src`` in front of ``owner``."""
        name = f"{owner}.input_rescale"
        e_in = self.edges[src]
        self.nodes.append(q.QScale(name=name, inputs=(src,), mant=1, shift=k, frac=e_in.frac - k, bits=e_in.bits))
        self.edges[name] = _Edge(e_in.frac - k, e_in.bits, "graded")
        self.layers[name] = {"op": "scale", "frac": e_in.frac - k, "bits": e_in.bits, "kind": "graded",
                             "placement": "on-chip", "inserted": why}
        return name


#: float op class -> its rule ``(node, ins, common, info, ctx) -> (quantized node, output edge)``. ``common``
#: holds the node's name and inputs (a rule that inserts a rescale rewires them); ``info`` is its report row.
RULES: OpRegistry = OpRegistry("quantize", what="quantization rule")

_SAME_SCALE = {ir.RepeatT: q.QRepeatT, ir.PatchToTime: q.QPatchToTime, ir.TimeToPatch: q.QTimeToPatch,
               ir.ReLU: q.QReLU, ir.Upsample2x: q.QUpsample2x, ir.Output: q.QOutput}


@RULES.register(ir.Input)
def _input(n, ins, common, info, ctx):
    e = _Edge(ctx.cfg.input_frac, ctx.cfg.payload_bits, "graded")
    return q.QInput(**common, channels=n.channels, frac=e.frac, bits=e.bits), e


@RULES.register(*_SAME_SCALE)
def _same_scale(n, ins, common, info, ctx):
    e = ins[0]
    return _SAME_SCALE[type(n)](**common, **n.params(), frac=e.frac, bits=e.bits), e


@RULES.register(ir.Conv2d, ir.TemporalConv, ir.Dense)
def _synapse(n, ins, common, info, ctx):
    cfg = ctx.cfg
    e = ctx.graded(n.name)
    mant, ew = quantize_weights(n.weight, cfg.weight_bits)
    # Keep the 24-bit accumulator from wrapping: bound it by the calibrated input magnitude times the
    # largest per-output sum of |weights|; if it could overflow, drop input precision first (a
    # graded-spike rescale in front of the synapses).
    src = n.inputs[0]
    in_max = ctx.max_abs.get(src, 0.0) * cfg.headroom * 2.0 ** ins[0].frac
    fan = float(np.abs(mant).reshape(mant.shape[0], -1).sum(axis=1).max()) if mant.size else 0.0
    if ins[0].kind == "graded" and in_max * fan >= ACC_LIMIT:
        k = math.ceil(math.log2(in_max * fan / ACC_LIMIT))
        pre = ctx.rescale(n.name, src, k, "keeps the 24-bit accumulator from wrapping")
        common["inputs"] = (pre,)
        ins = [ctx.edges[pre]]
    shift = ins[0].frac - ew - e.frac
    info.update(weight_exp=ew, weight_sqnr_db=_sqnr(n.weight, mant * 2.0**ew))
    if isinstance(n, ir.Conv2d):
        bias = np.zeros(0, np.int64)
        bexp = 0
        if n.bias.size:
            bias, bexp = quantize_bias(np.round(n.bias.astype(np.float64) * 2.0 ** (ins[0].frac - ew)))
        return q.QConv2d(**common, weight_mant=mant, weight_exp=ew, bias_mant=bias, bias_exp=bexp,
                         stride=n.stride, padding=n.padding, shift=shift, frac=e.frac, bits=e.bits), e
    if isinstance(n, ir.TemporalConv):
        return q.QTemporalConv(**common, weight_mant=mant, weight_exp=ew, shift=shift, frac=e.frac,
                               bits=e.bits), e
    return q.QDense(**common, weight_mant=mant, weight_exp=ew, axis=n.axis, shift=shift, frac=e.frac,
                    bits=e.bits), e


@RULES.register(ir.LIF)
def _lif(n, ins, common, info, ctx):
    if n.v_reset != 0.0 or n.tau <= 1.0:
        raise UnsupportedOpError(f"LIF {n.name}: only v_reset=0, tau>1 map onto Lava's LIF")
    over = math.ceil(math.log2(max(1.0, n.v_threshold * 2.0 ** ins[0].frac / VTH_MAX)))
    if over > 0:  # the threshold mantissa has 17 bits: coarsen a very fine input scale first
        pre = ctx.rescale(n.name, n.inputs[0], over, "keeps the 17-bit threshold mantissa in range")
        common["inputs"] = (pre,)
        ins = [ctx.edges[pre]]
    f = ins[0].frac
    vth = int(round(n.v_threshold * 2.0**f))
    dv = int(round(loihi.DECAY_UNITY * (1.0 - 1.0 / n.tau)))
    info.update(vth=vth, threshold_error=vth / 2.0**f - n.v_threshold)
    return q.QLIF(**common, du=loihi.DU_MAX, dv=dv, vth=vth, frac=0, bits=1), _Edge(0, 1, "spike")


@RULES.register(ir.NILIF)
def _nilif(n, ins, common, info, ctx):
    lb = int(round(math.log2(n.levels)))
    if 1 << lb != n.levels or n.decay != 0.25:
        raise UnsupportedOpError(f"NI-LIF {n.name}: only D a power of two and decay 1/4 are supported")
    e = _Edge(lb, lb + 1, "level")
    return q.QNILIF(**common, in_frac=ins[0].frac, levels=n.levels, decay_shift=2, frac=lb, bits=lb + 1), e


@RULES.register(ir.Add, ir.Sub)
def _add(n, ins, common, info, ctx):
    e = ctx.graded(n.name)
    return q.QAdd(**common, frac_a=ins[0].frac, frac_b=ins[1].frac, subtract=isinstance(n, ir.Sub),
                  frac=e.frac, bits=e.bits), e


@RULES.register(ir.Mul)
def _mul(n, ins, common, info, ctx):
    e = ctx.graded(n.name)
    return q.QMul(**common, frac_a=ins[0].frac, frac_b=ins[1].frac, frac=e.frac, bits=e.bits), e


@RULES.register(ir.Scale)
def _scale(n, ins, common, info, ctx):
    e = ctx.graded(n.name)
    val = n.factor * 2.0 ** (e.frac - ins[0].frac)
    if val == 0:
        mant, sh = 0, 0
    else:
        sh = 14 - math.floor(math.log2(abs(val)))
        mant = int(round(val * 2.0**sh))
    return q.QScale(**common, mant=mant, shift=sh, frac=e.frac, bits=e.bits), e


@RULES.register(ir.Concat)
def _concat(n, ins, common, info, ctx):
    f = min(i.frac for i in ins)
    if any(i.kind == "graded" for i in ins) and any(i.kind != "graded" for i in ins):
        # spikes beside graded values: spikes shift up exactly, so keep the graded inputs' precision
        f = min([i.frac for i in ins if i.kind == "graded"] + [ctx.cfg.payload_bits - 2])
    bits = max(i.bits for i in ins) if all(i.kind != "graded" for i in ins) else ctx.cfg.payload_bits
    e = _Edge(f, bits, "graded")
    return q.QConcat(**common, fracs=tuple(i.frac for i in ins), frac=f, bits=e.bits), e


@RULES.register(ir.Reduce)
def _reduce(n, ins, common, info, ctx):
    e = _Edge(ins[0].frac, ins[0].bits, "graded")
    return q.QReduce(**common, mode=n.mode, axes=n.axes, in_frac=ins[0].frac, frac=e.frac, bits=e.bits), e


@RULES.register(ir.Sigmoid)
def _sigmoid(n, ins, common, info, ctx):
    cfg = ctx.cfg
    e = _Edge(cfg.sigmoid_out_frac, cfg.sigmoid_out_frac + 2, "graded")
    return q.QSigmoid(**common, lut=sigmoid_lut(cfg), in_frac=ins[0].frac, lut_frac=cfg.sigmoid_lut_frac,
                      frac=e.frac, bits=e.bits), e


@RULES.register(ir.MeanT)
def _mean_t(n, ins, common, info, ctx):
    e = _Edge(ins[0].frac, ctx.cfg.payload_bits, "graded")
    if ins[0].kind != "graded":  # a spike rate: keep fractions (k/T), at the calibrated scale
        e = ctx.graded(n.name)
    return q.QMeanT(**common, in_frac=ins[0].frac, frac=e.frac, bits=e.bits), e


def quantize(graph: ir.Graph, max_abs: dict[str, float], cfg: QuantConfig | None = None) -> tuple[ir.Graph, dict]:
    """Quantize a float graph (BatchNorm already folded). Returns (quantized graph, report)."""
    cfg = cfg or QuantConfig()
    ir.validate(graph)
    ctx = _Context(cfg, max_abs)
    for n in graph.nodes:
        rule = RULES.lookup(n, hint=" (run the fold_batchnorm pass first)" if n.op == "batchnorm" else "")
        info: dict = {"op": n.op}
        new, e = rule(n, [ctx.edges[i] for i in n.inputs], {"name": n.name, "inputs": n.inputs}, info, ctx)
        ctx.edges[n.name] = e
        info.update(frac=e.frac, bits=e.bits, kind=e.kind, placement=new.placement,
                    calib_max=float(max_abs.get(n.name, float("nan"))))
        ctx.layers[n.name] = info
        ctx.nodes.append(new)
    meta = dict(graph.meta)
    meta["quantization"] = cfg.to_dict()
    qg = ir.Graph(nodes=ctx.nodes, outputs=graph.outputs, input_shape=graph.input_shape, meta=meta)
    return ir.validate(qg), {"config": cfg.to_dict(), "layers": ctx.layers}


# the bring-your-own ops' rules live in their own module and register into RULES here (after RULES exists)
from spikerain.converter import quantize_byo  # noqa: E402,F401

#: the float ops :func:`quantize` handles (the keys of :data:`RULES`)
SUPPORTED = RULES.ops()


def _sqnr(ref: np.ndarray, approx: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - approx) ** 2))
    sig = float(np.sum(ref.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * math.log10(sig / noise) if sig > 0 else float("-inf")


def dequantize(q_values: np.ndarray, frac: int) -> np.ndarray:
    return np.asarray(q_values, dtype=np.float64) * 2.0**-frac
