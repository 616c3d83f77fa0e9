"""Any PyTorch SNN -> float IR, by tracing with torch.fx and converting the graph node by node.

The tracer keeps the SNN libraries' modules (SpikingJelly, snnTorch, norse, sinabs) and every module with a
registered converter as leaves; each fx node then goes through one registry: module types (by MRO), functions
and tensor methods alike (:data:`MODULES`, :data:`FUNCTIONS`, :data:`METHODS`). Anything without a converter is
refused with :class:`~spikerain.errors.UnsupportedOpError` naming its path, its type and what is supported, and
after conversion every parameter and buffer of the module must have been read by some converter.

Layouts. The IR is batch-free ``[T, C, H, W]``. A module tensor is ``lead + features``: ``lead`` is ``S``
(``[B, ...]``: a static input, or one step inside a time loop), ``TB`` (``[T, B, ...]``: SpikingJelly multi-step,
stacked records) or ``BT`` (``[B, T, ...]``: sinabs). Features are ``(C, H, W)`` or ``(N,)`` (``[N, 1, 1]`` in
the IR). Python time loops unroll under tracing; they are rolled back: the k-th call of a neuron module is step
k of one IR neuron over T steps, and an op on step-k values is the op already emitted for step 0 (checked: the
same target and the same sources, shifted by k). ``torch.stack`` of steps 0..T-1 is that IR value.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from spikerain.converter import ir
from spikerain.converter.frontends.conv_expand import expand_groups_dilation
from spikerain.errors import UnsupportedOpError

LIBRARIES = ("spikingjelly", "snntorch", "norse", "sinabs")


@dataclass(frozen=True)
class Value:
    """A module tensor as the IR sees it: node ``name``; ``lead`` layout; ``feat`` module feature shape; ``step``
    (None: the whole series or a static tensor; k: step k of the series ``name``)."""

    name: str
    lead: str
    feat: tuple[int, ...]
    step: int | None = None


@dataclass(frozen=True)
class State:
    """A neuron's returned state (membrane, current): only the same neuron's next call may read it."""

    module: str
    step: int


@dataclass
class Ctx:
    root: nn.Module
    T: int | None
    nodes: list = field(default_factory=list)
    names: set = field(default_factory=set)
    used: set = field(default_factory=set)  # ids of parameters/buffers read by a converter
    memo: dict = field(default_factory=dict)  # roll-back memo: key -> IR node name
    calls: dict = field(default_factory=dict)  # neuron module path -> calls so far
    neuron_node: dict = field(default_factory=dict)  # neuron module path -> (IR name, input key)

    def add(self, cls, name: str, inputs, **fields) -> str:
        base, k = name.replace(".", "_") or "node", 1
        name = base
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        self.nodes.append(cls(name=name, inputs=tuple(inputs), **fields))
        return name

    def np(self, t: torch.Tensor) -> np.ndarray:
        self.used.add(id(t))
        return t.detach().cpu().numpy().astype(np.float32)



Converter = Callable[..., object]
MODULES: dict[type, Converter] = {}
FUNCTIONS: dict[object, Converter] = {}
METHODS: dict[str, Converter] = {}


def module_converter(*types):
    def deco(fn):
        for t in types:
            MODULES[t] = fn
        return fn
    return deco


def function_converter(*fns):
    def deco(fn):
        for f in fns:
            FUNCTIONS[f] = fn
        return fn
    return deco


def method_converter(*names):
    def deco(fn):
        for n in names:
            METHODS[n] = fn
        return fn
    return deco


def supported() -> list[str]:
    return sorted({t.__name__ for t in MODULES} | {getattr(f, "__name__", str(f)) for f in FUNCTIONS}
                  | {f".{m}" for m in METHODS})


def _refuse(what: str, path: str, why: str = "") -> UnsupportedOpError:
    return UnsupportedOpError(f"{what} at {path or '<root>'}" + (f": {why}" if why else ""), supported=supported(),
                              path=path)


def find_module_converter(m: nn.Module) -> Converter | None:
    for t in type(m).__mro__:
        if t in MODULES:
            return MODULES[t]
    return BY_NAME.get((type(m).__module__.split(".")[0], type(m).__name__))


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__module__.split(".")[0] in LIBRARIES and not _is_container(m):
            return True
        if type(m) in MODULES:
            return True
        return super().is_leaf_module(m, qualname)


def _is_container(m: nn.Module) -> bool:
    return isinstance(m, nn.Sequential) and not hasattr(m, "step_mode") or type(m).__name__ == "SequentialState"


# ---- the IR graph under construction: shapes as we go -------------------------------------------------------

class Build:
    """Wraps :class:`Ctx` with shape inference as nodes are added."""

    def __init__(self, root: nn.Module, T: int | None):
        self.ctx = Ctx(root=root, T=T)
        self.shapes: dict[str, tuple] = {}

    def add(self, cls, name, inputs, **fields) -> str:
        n = self.ctx.add(cls, name, inputs, **fields)
        node = self.ctx.nodes[-1]
        if node.arity == 0:
            return n
        try:
            self.shapes[n] = tuple(int(d) for d in node.out_shape(*[self.shapes[i] for i in node.inputs]))
        except ValueError as e:
            raise UnsupportedOpError(f"shape error converting {name}: {e}", path=name) from None
        return n

    def np(self, t):
        return self.ctx.np(t)

    def T(self, name: str) -> int:
        return self.shapes[name][0]


def _ir_feat(feat: tuple[int, ...]) -> tuple[int, int, int]:
    if len(feat) == 1:
        return (feat[0], 1, 1)
    if len(feat) == 3:
        return tuple(feat)
    raise UnsupportedOpError(f"tensors of feature shape {feat}: only (N,) and (C, H, W) map onto the IR")


# ---- helpers for converters ---------------------------------------------------------------------------------

def _series_like(b: Build, v: Value, steps: int, path: str) -> Value:
    """``v`` as a T-step series (a static value is repeated; RepeatT makes the direct encoding)."""
    if b.T(v.name) == steps:
        return v
    if b.T(v.name) != 1:
        raise _refuse("a neuron", path, f"input has {b.T(v.name)} steps, the neuron runs {steps}")
    return Value(b.add(ir.RepeatT, f"{path}.repeat", [v.name], T=steps), v.lead, v.feat, v.step)


def _conv_weights(b: Build, m, path: str) -> tuple[np.ndarray, np.ndarray]:
    w = b.np(m.weight)
    bias = b.np(m.bias) if m.bias is not None else np.zeros(0, np.float32)
    return w, bias


# ---- module converters ---------------------------------------------------------------------------------------

@module_converter(nn.Conv2d)
def _conv2d(b: Build, m: nn.Conv2d, path: str, x: Value) -> Value:
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise _refuse(f"Conv2d (padding {m.padding!r}, mode {m.padding_mode})", path, "only numeric zero padding")
    w, bias = _conv_weights(b, m, path)
    w = expand_groups_dilation(w, m.groups, m.dilation)
    n = b.add(ir.Conv2d, path, [x.name], weight=w, bias=bias, stride=tuple(m.stride), padding=tuple(m.padding))
    return Value(n, x.lead, b.shapes[n][1:], x.step)


@module_converter(nn.Linear)
def _linear(b: Build, m: nn.Linear, path: str, x: Value) -> Value:
    if len(x.feat) != 1:
        raise _refuse("Linear", path, f"input features {x.feat}: flatten first")
    w, bias = _conv_weights(b, m, path)
    n = b.add(ir.Conv2d, path, [x.name], weight=w[:, :, None, None], bias=bias)
    return Value(n, x.lead, (m.out_features,), x.step)


@module_converter(nn.BatchNorm2d, nn.BatchNorm1d)
def _bn(b: Build, m, path: str, x: Value) -> Value:
    if not m.track_running_stats or m.running_mean is None:
        raise _refuse(type(m).__name__, path, "needs running statistics (eval mode)")
    C = m.num_features
    ones, zeros = np.ones(C, np.float32), np.zeros(C, np.float32)
    gamma = b.np(m.weight) if m.affine else ones
    beta = b.np(m.bias) if m.affine else zeros
    b.ctx.used.add(id(m.num_batches_tracked))
    n = b.add(ir.BatchNorm, path, [x.name], gamma=gamma, beta=beta, mean=b.np(m.running_mean),
              var=b.np(m.running_var), eps=float(m.eps))
    return Value(n, x.lead, x.feat, x.step)


def _unary(cls):
    def fn(b: Build, m, path: str, x: Value) -> Value:
        return Value(b.add(cls, path, [x.name]), x.lead, x.feat, x.step)
    return fn


MODULES[nn.ReLU] = _unary(ir.ReLU)
MODULES[nn.Sigmoid] = _unary(ir.Sigmoid)


@module_converter(nn.Dropout, nn.Identity, nn.Dropout2d)
def _identity(b: Build, m, path: str, x: Value) -> Value:
    return x


def _pool_args(m, path):
    def one(v, what):
        v = (v, v) if isinstance(v, int) else tuple(v)
        if v[0] != v[1]:
            raise _refuse(type(m).__name__, path, f"non-square {what} {v}")
        return v[0]
    k = one(m.kernel_size, "kernel")
    s = one(m.stride if m.stride is not None else m.kernel_size, "stride")
    p = one(m.padding, "padding")
    return k, s, p


@module_converter(nn.AvgPool2d)
def _avgpool(b: Build, m: nn.AvgPool2d, path: str, x: Value) -> Value:
    k, s, p = _pool_args(m, path)
    if m.ceil_mode or (p and m.count_include_pad is False) or m.divisor_override:
        raise _refuse("AvgPool2d", path, "ceil_mode, count_include_pad=False and divisor_override are not supported")
    return _avg_as_conv(b, path, x, k, s, p)


def _avg_as_conv(b: Build, path: str, x: Value, k: int, s: int, p: int) -> Value:
    """Average pooling is a fixed-weight conv (each channel onto itself, 1/k^2): the synapses Loihi has."""
    C = x.feat[0]
    w = np.zeros((C, C, k, k), np.float32)
    w[np.arange(C), np.arange(C)] = 1.0 / (k * k)
    n = b.add(ir.Conv2d, path, [x.name], weight=w, stride=s, padding=p)
    return Value(n, x.lead, b.shapes[n][1:], x.step)


@module_converter(nn.MaxPool2d)
def _maxpool(b: Build, m: nn.MaxPool2d, path: str, x: Value) -> Value:
    k, s, p = _pool_args(m, path)
    if m.ceil_mode or m.dilation not in (1, (1, 1)) or m.return_indices:
        raise _refuse("MaxPool2d", path, "ceil_mode, dilation and return_indices are not supported")
    n = b.add(ir.MaxPool2d, path, [x.name], kernel=k, stride=s, padding=p)
    return Value(n, x.lead, b.shapes[n][1:], x.step)


@module_converter(nn.AdaptiveAvgPool2d)
def _adaptive(b: Build, m, path: str, x: Value) -> Value:
    size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
    C, H, W = x.feat
    if size == (1, 1):
        n = b.add(ir.Reduce, path, [x.name], mode="mean", axes=(2, 3))
        return Value(n, x.lead, (C, 1, 1), x.step)
    if H % size[0] or W % size[1] or H // size[0] != W // size[1]:
        raise _refuse("AdaptiveAvgPool2d", path, f"{(H, W)} -> {size} is not an even square pooling")
    k = H // size[0]
    return _avg_as_conv(b, path, x, k, k, 0)


@module_converter(nn.Flatten)
def _flatten_mod(b: Build, m: nn.Flatten, path: str, x: Value) -> Value:
    return _flatten(b, path, x, m.start_dim, m.end_dim)


def _lead_n(v: Value) -> int:
    return 1 if v.lead in ("S", "(TB)", "(BT)") else 2


def _flatten(b: Build, path: str, x: Value, start: int, end: int) -> Value:
    nd = _lead_n(x) + len(x.feat)
    start, end = start % nd, end % nd
    if start == _lead_n(x) and end == nd - 1:
        if len(x.feat) == 1:
            return x
        N = int(np.prod(x.feat))
        return Value(b.add(ir.Reshape, path, [x.name], shape=(N, 1, 1)), x.lead, (N,), x.step)
    if x.lead in ("TB", "BT") and (start, end) == (0, 1):
        return Value(x.name, "(TB)" if x.lead == "TB" else "(BT)", x.feat, x.step)
    raise _refuse(f"flatten({start}, {end})", path, f"of a {x.lead} tensor with features {x.feat}: only the "
                  "feature dims, or time with batch, can be flattened")


@module_converter(nn.Upsample)
def _upsample_mod(b: Build, m: nn.Upsample, path: str, x: Value) -> Value:
    return _interp(b, path, x, m.size, m.scale_factor, m.mode, m.align_corners)


def _interp(b: Build, path, x: Value, size, scale, mode, align_corners) -> Value:
    C, H, W = x.feat
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        if size[0] % H or size[1] % W or size[0] // H != size[1] // W:
            raise _refuse("interpolate", path, f"size {size} from {(H, W)}: only an integer, equal factor")
        f = size[0] // H
    else:
        sc = scale if isinstance(scale, (int, float)) else scale[0]
        if isinstance(scale, (tuple, list)) and scale[0] != scale[1] or float(sc) != int(sc):
            raise _refuse("interpolate", path, f"scale {scale}: only an integer, equal factor")
        f = int(sc)
    if mode == "nearest":
        n = b.add(ir.Upsample, path, [x.name], factor=f)
    elif mode == "bilinear" and f == 2 and not align_corners:
        n = b.add(ir.Upsample2x, path, [x.name])
    else:
        raise _refuse(f"interpolate(mode={mode}, factor {f}, align_corners={align_corners})", path,
                      "nearest (any integer factor) or bilinear x2 with align_corners=False")
    return Value(n, x.lead, b.shapes[n][1:], x.step)


@module_converter(nn.PixelShuffle, nn.PixelUnshuffle)
def _pixel_shuffle_mod(b: Build, m, path: str, x: Value) -> Value:
    r = m.upscale_factor if isinstance(m, nn.PixelShuffle) else m.downscale_factor
    return _pixel_shuffle(b, path, x, r, isinstance(m, nn.PixelShuffle))


def _pixel_shuffle(b: Build, path, x: Value, r: int, up: bool) -> Value:
    """pixel_(un)shuffle is a fixed permutation: a conv whose weights are 0/1 (exact on every backend)."""
    C, H, W = x.feat
    if up:
        n = b.add(ir.DepthToSpace, path, [x.name], r=r)
        return Value(n, x.lead, b.shapes[n][1:], x.step)
    w = np.zeros((C * r * r, C, r, r), np.float32)
    for c in range(C):
        for i in range(r):
            for j in range(r):
                w[c * r * r + i * r + j, c, i, j] = 1.0
    n = b.add(ir.Conv2d, path, [x.name], weight=w, stride=r)
    return Value(n, x.lead, b.shapes[n][1:], x.step)


@module_converter(nn.ConvTranspose2d)
def _conv_t(b: Build, m: nn.ConvTranspose2d, path: str, x: Value) -> Value:
    """kernel == stride, no padding: every input pixel writes its own s x s block, so the layer is exactly a 1x1
    conv to Co*s*s channels followed by depth-to-space (pixel shuffle)."""
    (k, k2), (s, s2) = m.kernel_size, m.stride
    if m.groups != 1 or m.dilation != (1, 1) or (k, k2) != (s, s2) or k != k2 or m.padding != (0, 0) \
            or m.output_padding != (0, 0):
        raise _refuse("ConvTranspose2d", path, "only kernel == stride (square), no padding, groups 1, dilation 1")
    w, bias = _conv_weights(b, m, path)  # [Ci, Co, s, s]
    ci, co = w.shape[:2]
    w1 = w.transpose(1, 2, 3, 0).reshape(co * s * s, ci)[:, :, None, None]  # channel o*s*s + i*s + j
    b1 = np.repeat(bias, s * s) if bias.size else bias
    n = b.add(ir.Conv2d, f"{path}.phases", [x.name], weight=np.ascontiguousarray(w1), bias=b1)
    n = b.add(ir.DepthToSpace, path, [n], r=s)
    return Value(n, x.lead, b.shapes[n][1:], x.step)


# ---- neurons ------------------------------------------------------------------------------------------------

def _f(v) -> float:
    return float(v.detach().reshape(-1)[0]) if isinstance(v, torch.Tensor) else float(v)


def _scalar_param(b: Build, m, name: str, path: str) -> float:
    v = getattr(m, name)
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise _refuse(f"{type(m).__name__}.{name} per neuron", path, "only a scalar")
        b.ctx.used.add(id(v))
    return _f(v)


def neuron_fields(b: Build, m: nn.Module, path: str) -> dict:
    """The :class:`ir.Neuron` fields of a library neuron module (exact: see docs/bring-your-own.md)."""
    name = type(m).__name__
    lib = type(m).__module__.split(".")[0]
    if lib == "spikingjelly":
        vth, vr = float(m.v_threshold), m.v_reset
        reset = {"reset": "subtract"} if vr is None else {"reset": "zero", "v_reset": float(vr)}
        rest = 0.0 if vr is None else float(vr)
        if name == "IFNode":
            return dict(threshold=vth, v_rest=rest, **reset)
        if name == "LIFNode":
            tau = float(m.tau)
            gain = 1.0 / tau if m.decay_input else 1.0
            return dict(leak=1.0 - 1.0 / tau, gain=gain, threshold=vth, v_rest=rest, **reset)
        if name == "ParametricLIFNode":
            d = float(torch.sigmoid(m.w.detach()))
            b.ctx.used.add(id(m.w))
            return dict(leak=1.0 - d, gain=d if m.decay_input else 1.0, threshold=vth, v_rest=rest, **reset)
    if lib == "snntorch" and name in ("Leaky", "Synaptic"):
        if getattr(m, "inhibition", False) or getattr(m, "state_quant", False):
            raise _refuse(name, path, "inhibition and state_quant are not supported")
        if not m.reset_delay:
            raise _refuse(name, path, "reset_delay=False is not supported")
        gsf = _scalar_param(b, m, "graded_spikes_factor", path)
        if gsf != 1.0:
            raise _refuse(name, path, "graded_spikes_factor != 1 is not supported")
        beta = min(max(_scalar_param(b, m, "beta", path), 0.0), 1.0)
        thr = _scalar_param(b, m, "threshold", path)
        b.ctx.used.add(id(m.reset_mechanism_val))
        reset = {0: "subtract", 1: "zero", 2: "none"}[int(m.reset_mechanism_val)]
        out = dict(leak=beta, threshold=thr, strict=True, reset=reset, reset_next=reset != "none")
        if name == "Synaptic":
            out["syn_decay"] = min(max(_scalar_param(b, m, "alpha", path), 0.0), 1.0)
            if reset == "zero":
                raise _refuse(name, path, "Synaptic with reset to zero also zeroes the current: not supported")
        return out
    if lib == "norse" and name in ("LIFCell", "LIFBoxCell", "LICell"):
        p, dt = m.p, float(m.dt)
        k = dt * _f(p.tau_mem_inv)
        out = dict(leak=1.0 - k, gain=k, v_rest=_f(p.v_leak), strict=True)
        if name == "LICell":
            return dict(out, syn_decay=1.0 - dt * _f(p.tau_syn_inv), reset="none", emit="v", threshold=math.inf)
        out.update(threshold=_f(p.v_th), reset="zero", v_reset=_f(p.v_reset))
        if name == "LIFCell":
            out["syn_decay"] = 1.0 - dt * _f(p.tau_syn_inv)
        return out
    if lib == "sinabs" and name in ("IAF", "IAFSqueeze", "LIF", "LIFSqueeze"):
        if getattr(m, "tau_syn", None) is not None:
            raise _refuse(name, path, "sinabs synaptic currents (tau_syn) are not supported")
        spike = type(m.spike_fn).__name__ if not isinstance(m.spike_fn, type) else m.spike_fn.__name__
        reset_name = type(m.reset_fn).__name__
        if spike not in ("MultiSpike", "SingleSpike") or reset_name not in ("MembraneSubtract", "MembraneReset"):
            raise _refuse(name, path, f"spike_fn {spike} / reset_fn {reset_name}")
        if reset_name == "MembraneSubtract" and getattr(m.reset_fn, "subtract_value", None) is not None:
            raise _refuse(name, path, "MembraneSubtract(subtract_value) is not supported")
        thr = _scalar_param(b, m, "spike_threshold", path)
        min_v = None if m.min_v_mem is None else _scalar_param(b, m, "min_v_mem", path)
        out = dict(threshold=thr, multi=spike == "MultiSpike", min_v=min_v,
                   reset="subtract" if reset_name == "MembraneSubtract" else "zero")
        if name.startswith("LIF"):
            alpha = float(torch.exp(-1.0 / m.tau_mem.detach()))
            b.ctx.used.add(id(m.tau_mem))
            out.update(leak=alpha, gain=(1.0 - alpha) if m.norm_input else 1.0)
        return out
    raise _refuse(f"neuron {name} ({lib})", path, "no mapping for this neuron type")


def is_neuron(m: nn.Module) -> bool:
    lib = type(m).__module__.split(".")[0]
    return lib in LIBRARIES and type(m).__name__ in NEURON_TYPES


NEURON_TYPES = {"IFNode", "LIFNode", "ParametricLIFNode", "Leaky", "Synaptic", "LIFCell", "LIFBoxCell", "LICell",
                "IAF", "IAFSqueeze", "LIF", "LIFSqueeze"}


# ---- functions and tensor methods ---------------------------------------------------------------------------

def _binary(b: Build, path: str, a, c, cls, op: str):
    if isinstance(a, Value) and isinstance(c, Value):
        lead = a.lead if a.lead != "S" or a.step is not None else c.lead
        feat = a.feat if len(a.feat) >= len(c.feat) else c.feat
        return Value(b.add(cls, path, [a.name, c.name]), lead, feat, a.step if a.step is not None else c.step)
    x, k = (a, c) if isinstance(a, Value) else (c, a)
    if isinstance(k, torch.Tensor) and k.numel() == 1:
        k = float(k)
    if not isinstance(k, (int, float)):
        raise _refuse(f"{op} with a constant tensor", path, "only scalars or two traced tensors")
    if op == "mul":
        return Value(b.add(ir.Scale, path, [x.name], factor=float(k)), x.lead, x.feat, x.step)
    if op == "div" and x is a:
        return Value(b.add(ir.Scale, path, [x.name], factor=1.0 / float(k)), x.lead, x.feat, x.step)
    if op in ("add", "sub") and float(k) == 0.0:
        return x
    raise _refuse(f"{op} with the constant {k}", path, "adding constants has no IR op (fold it into a bias)")


def _fn_add(b, path, real, a, c, alpha=1):
    if alpha != 1:
        raise _refuse("add(alpha != 1)", path)
    return _binary(b, path, a, c, ir.Add, "add")


def _fn_sub(b, path, real, a, c, alpha=1):
    if alpha != 1:
        raise _refuse("sub(alpha != 1)", path)
    return _binary(b, path, a, c, ir.Sub, "sub")


def _fn_mul(b, path, real, a, c):
    return _binary(b, path, a, c, ir.Mul, "mul")


def _fn_div(b, path, real, a, c):
    return _binary(b, path, a, c, None, "div")


def _feat_axis(x: Value, dim: int) -> int:
    """Index into ``x.feat`` of a module dim (negative dims count from the end)."""
    nd = _lead_n(x) + len(x.feat)
    return dim % nd - _lead_n(x)


def _fn_cat(b, path, real, xs, dim=0):
    xs = list(xs)
    if not all(isinstance(x, Value) for x in xs) or _feat_axis(xs[0], dim) != 0:
        raise _refuse(f"cat(dim={dim})", path, "only along channels/features of traced tensors")
    n = b.add(ir.Concat, path, [x.name for x in xs])
    return Value(n, xs[0].lead, b.shapes[n][1:] if len(xs[0].feat) == 3 else (b.shapes[n][1],), xs[0].step)


def _fn_stack(b, path, real, xs, dim=0):
    xs = list(xs)
    ok = dim == 0 and all(isinstance(x, Value) and x.step == k and x.name == xs[0].name and x.lead == "S"
                          for k, x in enumerate(xs)) and b.T(xs[0].name) == len(xs)
    if not ok:
        raise _refuse(f"stack(dim={dim})", path, "only the steps 0..T-1 of one per-step value, along dim 0 (time)")
    return Value(xs[0].name, "TB", xs[0].feat)


def _unbind(b, path, real, x, dim=0):
    if x.step is not None or x.lead not in ("TB", "BT") or dim != (0 if x.lead == "TB" else 1):
        raise _refuse(f"unbind(dim={dim})", path, "only over the time axis of a time-major (or sinabs) series")
    return tuple(Value(x.name, "S", x.feat, k) for k in range(b.T(x.name)))


def _fn_flatten(b, path, real, x, start_dim=0, end_dim=-1):
    return _flatten(b, path, x, start_dim, end_dim)


def _time_mean(b, path, real, x, dim=None, keepdim=False, dtype=None, *, total=False):
    time_dim = {"TB": 0, "BT": 1}.get(x.lead)
    if time_dim is None or x.step is not None or dim is None or keepdim \
            or (dim if isinstance(dim, int) else tuple(dim)) not in (time_dim, (time_dim,)):
        raise _refuse("mean/sum" + f"(dim={dim})", path, "only over the time axis of a series, keepdim=False")
    n = b.add(ir.MeanT, path, [x.name])
    if total:
        n = b.add(ir.Scale, f"{path}.times_T", [n], factor=float(b.T(x.name)))
    return Value(n, "S", x.feat)


def _fn_relu(b, path, real, x, inplace=False):
    return Value(b.add(ir.ReLU, path, [x.name]), x.lead, x.feat, x.step)


def _fn_sigmoid(b, path, real, x):
    return Value(b.add(ir.Sigmoid, path, [x.name]), x.lead, x.feat, x.step)


def _fn_interpolate(b, path, real, x, size=None, scale_factor=None, mode="nearest", align_corners=None, **kw):
    return _interp(b, path, x, size, scale_factor, mode, align_corners)


def _fn_avgpool(b, path, real, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
    m = nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return _avgpool(b, m, path, x)


def _fn_maxpool(b, path, real, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    return _maxpool(b, nn.MaxPool2d(kernel_size, stride, padding, dilation, return_indices, ceil_mode), path, x)


def _fn_adaptive(b, path, real, x, output_size):
    return _adaptive(b, nn.AdaptiveAvgPool2d(output_size), path, x)


def _fn_pixel_shuffle(b, path, real, x, r):
    return _pixel_shuffle(b, path, x, r, True)


def _fn_pixel_unshuffle(b, path, real, x, r):
    return _pixel_shuffle(b, path, x, r, False)


def _identity_fn(b, path, real, x, *a, **k):
    return x


def _reshape(b, path, real, x, *shape):
    """A view/reshape, judged by its real result: moving only time and batch, or flattening the features."""
    out = tuple(real.shape)
    feat = x.feat
    for lead, ln in (("S", 1), ("TB", 2), ("BT", 2), ("(TB)", 1), ("(BT)", 1)):
        if out[ln:] == feat and len(out) == ln + len(feat):
            if lead == x.lead:
                return x
            pairs = {("TB", "(TB)"), ("(TB)", "TB"), ("BT", "(BT)"), ("(BT)", "BT")}
            if (x.lead, lead) in pairs and x.step is None:
                return Value(x.name, lead, feat)
    ln = _lead_n(x)
    if out[:ln] == tuple(real.shape[:ln]) and len(out) - ln in (1, 3) and int(np.prod(out[ln:])) == int(np.prod(feat)):
        new = out[ln:]
        if len(new) == 1 and len(feat) == 1:
            return x
        return Value(b.add(ir.Reshape, path, [x.name], shape=_ir_feat(new)), x.lead, new, x.step)
    raise _refuse(f"reshape {x.lead}{feat} -> {out}", path, "only reshapes that move time and batch, or that "
                  "flatten/unflatten the features")


def _unsqueeze(b, path, real, x, dim):
    """``x.unsqueeze(0)`` of a static tensor: a one-step time-major series (the IR value is already one step)."""
    if x.lead != "S" or x.step is not None or dim != 0:
        raise _refuse(f"unsqueeze({dim})", path, "only unsqueeze(0) of a static input, making a time axis")
    return Value(x.name, "TB", x.feat)


def _repeat(b, path, real, x, *sizes):
    """``x.repeat(T, 1, ...)`` of a one-step series: the direct encoding, the same input on every step."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if x.lead != "TB" or x.step is not None or b.T(x.name) != 1 or len(sizes) != 2 + len(x.feat) \
            or any(r != 1 for r in sizes[1:]):
        raise _refuse(f"repeat{sizes}", path, "only repeat(T, 1, ...) of a one-step series (direct encoding)")
    return Value(b.add(ir.RepeatT, path, [x.name], T=int(sizes[0])), "TB", x.feat)


def _getitem(b, path, real, x, idx):
    if not isinstance(x, Value):
        return x[idx]
    if isinstance(idx, int) and x.step is None and x.lead == "TB":
        return Value(x.name, "S", x.feat, idx % b.T(x.name))
    if isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], int) \
            and x.lead == "BT" and x.step is None:
        return Value(x.name, "S", x.feat, idx[1] % b.T(x.name))
    raise _refuse(f"indexing [{idx}]", path, "only x[t] over the time axis")


for _f_, _c_ in [(operator.add, _fn_add), (torch.add, _fn_add), (operator.iadd, _fn_add),
                 (operator.sub, _fn_sub), (torch.sub, _fn_sub), (operator.mul, _fn_mul), (torch.mul, _fn_mul),
                 (operator.truediv, _fn_div), (torch.cat, _fn_cat), (torch.concat, _fn_cat),
                 (torch.stack, _fn_stack), (torch.unbind, _unbind), (torch.flatten, _fn_flatten),
                 (torch.mean, _time_mean), (torch.relu, _fn_relu), (F.relu, _fn_relu),
                 (torch.sigmoid, _fn_sigmoid), (F.sigmoid, _fn_sigmoid), (F.interpolate, _fn_interpolate),
                 (F.avg_pool2d, _fn_avgpool), (F.max_pool2d, _fn_maxpool), (F.adaptive_avg_pool2d, _fn_adaptive),
                 (F.pixel_shuffle, _fn_pixel_shuffle), (F.pixel_unshuffle, _fn_pixel_unshuffle),
                 (F.dropout, _identity_fn), (operator.getitem, _getitem), (torch.reshape, _reshape)]:
    FUNCTIONS[_f_] = _c_
FUNCTIONS[torch.sum] = lambda b, path, real, x, dim=None, keepdim=False, dtype=None: _time_mean(
    b, path, real, x, dim, keepdim, total=True)

for _m_, _c_ in [("add", _fn_add), ("add_", _fn_add), ("sub", _fn_sub), ("mul", _fn_mul), ("div", _fn_div),
                 ("flatten", _fn_flatten), ("mean", _time_mean), ("relu", _fn_relu), ("sigmoid", _fn_sigmoid),
                 ("view", _reshape), ("reshape", _reshape), ("unbind", _unbind), ("contiguous", _identity_fn),
                 ("float", _identity_fn), ("detach", _identity_fn), ("clone", _identity_fn),
                 ("unsqueeze", _unsqueeze), ("repeat", _repeat)]:
    METHODS[_m_] = _c_
METHODS["sum"] = lambda b, path, real, x, dim=None, keepdim=False, dtype=None: _time_mean(
    b, path, real, x, dim, keepdim, total=True)


# ---- neurons as calls ----------------------------------------------------------------------------------------

def _neuron_call(b: Build, m: nn.Module, path: str, real, total_calls: int, x, *state, **kw) -> object:
    if not isinstance(x, Value):
        raise _refuse(type(m).__name__, path, "input is not a traced tensor")
    k = b.ctx.calls.get(path, 0)
    b.ctx.calls[path] = k + 1
    for s in list(state) + list(kw.values()):
        if isinstance(s, State):
            if s.module != path or s.step != k - 1:
                raise _refuse(type(m).__name__, path, "its state comes from another neuron or another step")
        elif isinstance(s, torch.Tensor) and s.numel() and bool(s.abs().max() > 0):
            raise _refuse(type(m).__name__, path, "a non-zero initial state is not supported")
        elif isinstance(s, Value):
            raise _refuse(type(m).__name__, path, "a traced tensor passed as its state")
    if total_calls == 1:
        if x.step is not None:
            raise _refuse(type(m).__name__, path, "called once on one step of a series")
        name = b.add(ir.Neuron, path, [x.name], **neuron_fields(b, m, path))
        out = Value(name, x.lead, x.feat)
    else:
        src = x if x.step is None else Value(x.name, x.lead, x.feat)
        if k == 0:
            if x.step not in (None, 0):
                raise _refuse(type(m).__name__, path, f"first call reads step {x.step}")
            src = _series_like(b, src, total_calls, path)
            name = b.add(ir.Neuron, path, [src.name], **neuron_fields(b, m, path))
            b.ctx.neuron_node[path] = (name, x.name, x.step)
        name, in_name, in_step = b.ctx.neuron_node[path]
        if x.name != in_name or (x.step is None) != (in_step is None) or (x.step is not None and x.step != k):
            raise _refuse(type(m).__name__, path, f"call {k} does not read step {k} of its first call's input")
        out = Value(name, "S", x.feat, k)
    return _neuron_result(m, out, State(path, k), real)


def _neuron_result(m, spikes: Value, state: State, real):
    if isinstance(real, tuple):
        return (spikes, *[state] * (len(real) - 1))
    return spikes


def _empty_placeholder_value(node):
    return node.args[0] if node.args else None


# ---- library containers and helpers, by (library, class name): the libraries stay optional imports ----------

def _step_container(b: Build, m: nn.Module, path: str, x: Value) -> Value:
    """SpikingJelly's SeqToANNContainer / MultiStepContainer: children in order, each on every step (neurons
    over the whole series)."""
    lead = x.lead
    cur = x
    for name, child in m.named_children():
        p = f"{path}.{name}"
        if is_neuron(child):
            if cur.step is not None:
                raise _refuse(type(child).__name__, p, "a multi-step neuron on one step")
            n = b.add(ir.Neuron, p, [cur.name], **neuron_fields(b, child, p))
            cur = Value(n, cur.lead, cur.feat)
            continue
        fn = find_module_converter(child)
        if fn is None:
            raise _refuse(f"module {type(child).__module__}.{type(child).__name__}", p, "no converter")
        cur = fn(b, child, p, Value(cur.name, "S", cur.feat, cur.step))
    return Value(cur.name, lead, cur.feat, cur.step)


def _flatten_time(b: Build, m, path: str, x: Value) -> Value:
    if x.lead != "BT":
        raise _refuse("FlattenTime", path, f"input layout {x.lead}, expected [B, T, ...]")
    return Value(x.name, "(BT)", x.feat, x.step)


def _unflatten_time(b: Build, m, path: str, x: Value) -> Value:
    if x.lead != "(BT)":
        raise _refuse("UnflattenTime", path, f"input layout {x.lead}, expected [B*T, ...]")
    return Value(x.name, "BT", x.feat, x.step)


BY_NAME: dict[tuple[str, str], Converter] = {
    ("spikingjelly", "SeqToANNContainer"): _step_container,
    ("spikingjelly", "MultiStepContainer"): _step_container,
    ("spikingjelly", "Dropout"): _identity,
    ("sinabs", "FlattenTime"): _flatten_time,
    ("sinabs", "UnflattenTime"): _unflatten_time,
}


def _getattr(b, path, real, x, name):
    if name in ("shape", "dtype", "device", "ndim"):
        return real
    raise _refuse(f"attribute .{name}", path)


def _real(b, path, real, *a, **k):
    return real


FUNCTIONS[getattr] = _getattr
METHODS["size"] = _real
METHODS["dim"] = _real


# ---- the driver ---------------------------------------------------------------------------------------------

def detect_lead(module: nn.Module, example: torch.Tensor, lead: str = "auto") -> str:
    """Where the example keeps time: ``S`` (no time axis), ``TB`` or ``BT`` (sinabs' non-squeeze layers)."""
    if lead != "auto":
        return lead
    kinds = {type(m).__name__ for m in module.modules()}
    sinabs = any(type(m).__module__.startswith("sinabs") for m in module.modules())
    if sinabs and kinds & {"IAFSqueeze", "LIFSqueeze"} and example.dim() in (2, 4):
        return "(BT)"  # sinabs' squeeze layers take batch and time flattened together (batch 1 here)
    if example.dim() in (3, 5):
        return "BT" if kinds & {"IAF", "LIF"} and any(type(m).__module__.startswith("sinabs")
                                                      for m in module.modules()) else "TB"
    if example.dim() in (2, 4):
        return "S"
    raise UnsupportedOpError(f"an example input of {example.dim()} dims: expected [B, N], [B, C, H, W], or with a "
                             "time axis [T, B, N] / [T, B, C, H, W]")


def example_features(example: torch.Tensor, lead: str) -> tuple[int, ...]:
    return tuple(example.shape[1 if lead in ("S", "(TB)", "(BT)") else 2:])


def module_to_ir(x: np.ndarray, lead: str, feat: tuple[int, ...]) -> np.ndarray:
    """A module tensor -> the IR's batched ``[T, B, C, H, W]``."""
    x = np.asarray(x, np.float32)
    irf = _ir_feat(feat)
    if lead == "S":
        return x.reshape(1, x.shape[0], *irf)
    if lead == "TB":
        return x.reshape(x.shape[0], x.shape[1], *irf)
    if lead == "BT":
        return np.ascontiguousarray(x.reshape(x.shape[0], x.shape[1], *irf).swapaxes(0, 1))
    return x.reshape(x.shape[0], 1, *irf)  # (TB)/(BT) with batch 1


def ir_to_module(y: np.ndarray, lead: str, feat: tuple[int, ...]) -> np.ndarray:
    """The IR's ``[T, B, C, H, W]`` -> the module's layout."""
    T, B = y.shape[:2]
    if lead == "S":
        return y.reshape(B, *feat)
    if lead == "TB":
        return y.reshape(T, B, *feat)
    if lead == "BT":
        return np.ascontiguousarray(y.swapaxes(0, 1)).reshape(B, T, *feat)
    return y.reshape(T * B, *feat)


def from_module(module: nn.Module, example: torch.Tensor, *, lead: str = "auto") -> ir.Graph:
    """Trace ``module(example)`` and convert it to a validated float IR graph (BatchNorm not yet folded)."""
    module = module.eval()
    _reset_state(module)
    try:
        graph = _Tracer().trace(module)
    except Exception as e:  # a tracing failure is the user's model meeting fx's limits: say so in one line
        raise UnsupportedOpError(f"torch.fx cannot trace this module: {type(e).__name__}: {str(e)[:200]}",
                                 supported=supported()) from None
    gm = fx.GraphModule(module, graph)
    real = _record(gm, example)
    _reset_state(module)
    lead = detect_lead(module, example, lead)
    feat = example_features(example, lead)
    T_in = {"S": 1, "TB": example.shape[0], "BT": example.shape[1]}.get(lead, example.shape[0])
    calls: dict[str, int] = {}
    for n in graph.nodes:
        if n.op == "call_module" and is_neuron(gm.get_submodule(n.target)):
            calls[n.target] = calls.get(n.target, 0) + 1
    b = Build(module, None)
    inp = b.add(ir.TensorInput, "input", [], channels=_ir_feat(feat)[0])
    b.shapes[inp] = (T_in, *_ir_feat(feat))
    env: dict = {}
    placeholder_seen = False
    out_value = None
    for n in graph.nodes:
        path = n.target if n.op == "call_module" else n.name

        def load(a):
            return fx.node.map_arg(a, lambda nd: env[nd])

        if n.op == "placeholder":
            env[n] = Value(inp, lead, feat) if not placeholder_seen else _empty_placeholder_value(n)
            placeholder_seen = True
            continue
        if n.op == "get_attr":
            t = _fetch_attr(gm, n.target)
            env[n] = t
            continue
        if n.op == "output":
            out_value = _first_tensor(load(n.args[0]))
            break
        args, kwargs = load(n.args), load(n.kwargs)
        if not _touches_traced(args, kwargs):
            env[n] = real[n]  # constant folding: shapes, sizes, initial states
            continue
        if n.op == "call_module":
            m = gm.get_submodule(n.target)
            if is_neuron(m):
                env[n] = _neuron_call(b, m, n.target, real[n], calls[n.target], *args, **kwargs)
                continue
            fn = find_module_converter(m)
            if fn is None:
                raise _refuse(f"module {type(m).__module__}.{type(m).__name__}", n.target, "no converter")
            multi = getattr(m, "step_mode", None) == "m" and args and isinstance(args[0], Value) \
                and args[0].lead == "TB"
            if multi:  # a SpikingJelly multi-step wrapper applies its torch layer to every step
                args = (Value(args[0].name, "S", args[0].feat, args[0].step), *args[1:])
            env[n] = _memo(b, ("module", n.target), args, kwargs, lambda a, k, fn=fn, m=m, p=path: fn(b, m, p, *a, **k))
            if multi and isinstance(env[n], Value):
                env[n] = Value(env[n].name, "TB", env[n].feat, env[n].step)
            _check_shape(b, env[n], real[n], path)
            continue
        if n.op == "call_function":
            fn = FUNCTIONS.get(n.target)
            what = getattr(n.target, "__name__", str(n.target))
        else:
            fn = METHODS.get(n.target)
            what = f"tensor method .{n.target}"
        if fn is None:
            raise _refuse(f"function {what}", path, "no converter")
        r = real[n]
        if n.target is operator.getitem and not isinstance(args[0], Value):
            env[n] = args[0][args[1]]  # unpacking a neuron's (spikes, state) tuple
            continue
        if n.target is torch.stack:  # gathers the steps of a loop: never memoised
            env[n] = fn(b, path, r, *args, **kwargs)
            continue
        env[n] = _memo(b, (n.op, n.target), args, kwargs, lambda a, k, fn=fn, p=path, r=r: fn(b, p, r, *a, **k))
        _check_shape(b, env[n], real[n], path)
    if not isinstance(out_value, Value) or out_value.step is not None:
        raise UnsupportedOpError("the module's (first) output is not a whole traced tensor (return the stacked "
                                 "record, not one step)", supported=supported())
    b.add(ir.Output, "output", [out_value.name])
    _check_all_used(module, b.ctx.used)
    out_T = b.shapes[out_value.name][0]
    meta = {"io": {"input": {"lead": lead, "feat": list(feat), "T": int(T_in)},
                   "output": {"lead": out_value.lead, "feat": list(out_value.feat), "T": int(out_T)}},
            "source": f"{type(module).__module__}.{type(module).__name__}"}
    g = ir.Graph(nodes=b.ctx.nodes, outputs=("output",), input_shape=b.shapes[inp], meta=meta)
    _check_weights_reach_output(g)
    return ir.validate(g)


def _check_weights_reach_output(g: ir.Graph) -> None:
    """Nothing dropped later either: a node with weights that the output does not depend on (an auxiliary head,
    a second returned tensor) would be removed by dead-node elimination, so it is refused here."""
    by, live, stack = g.by_name(), set(), list(g.outputs)
    while stack:
        n = stack.pop()
        if n not in live:
            live.add(n)
            stack.extend(by[n].inputs)
    dead = [n.name for n in g.nodes if n.name not in live and any(a.size for a in n.arrays().values())]
    if dead:
        raise UnsupportedOpError(f"layers with weights do not reach the (first) output and would be dropped: "
                                 f"{dead[:5]}", supported=["return the tensor that uses them first"])


def _memo(b: Build, target, args, kwargs, call):
    """Roll a time loop back: an op on step-k values is the op emitted for step 0 (or for the static value)."""
    flat = []

    def norm(a):
        if isinstance(a, Value):
            flat.append(a)
            return ("V", a.name, a.lead, a.feat, a.step is None)
        if isinstance(a, (list, tuple)):
            return tuple(norm(x) for x in a)
        if isinstance(a, torch.Tensor):
            return ("T", id(a))
        if isinstance(a, State):
            return ("S", a.module, a.step)
        return ("C", repr(a))

    key_args = (norm(args), norm(tuple(sorted(kwargs.items()))))
    steps = {v.step for v in flat if v.step is not None}
    if len(steps) > 1:
        raise UnsupportedOpError(f"{target[1]}: mixes steps {sorted(steps)} of a time loop")
    k = steps.pop() if steps else None
    key = (target, key_args)
    if key in b.ctx.memo:
        v = b.ctx.memo[key]
        return _with_step(v, k)
    if k not in (None, 0):
        raise UnsupportedOpError(f"{target[1]}: step {k} of a time loop does something step 0 did not",
                                 supported=supported())
    out = call(args, kwargs)
    b.ctx.memo[key] = _with_step(out, None)
    return out


def _with_step(v, k):
    if isinstance(v, Value):
        return Value(v.name, v.lead, v.feat, k if v.step is not None or k is not None else None)
    if isinstance(v, tuple):
        return tuple(_with_step(x, k) for x in v)
    return v


def _touches_traced(args, kwargs) -> bool:
    found = []
    fx.node.map_aggregate((args, kwargs), lambda a: found.append(a) if isinstance(a, (Value, State)) else None)
    return bool(found)


def _first_tensor(v):
    while isinstance(v, (tuple, list)):
        v = v[0]
    return v


def _fetch_attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _record(gm: fx.GraphModule, example: torch.Tensor) -> dict:
    real: dict = {}

    class Rec(fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            real[n] = r
            return r

    with torch.no_grad():
        try:
            Rec(gm).run(example)
        except Exception as e:  # the module rejects the example: the user's input, said in one line
            from spikerain.errors import InputError

            msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            raise InputError(f"the module fails on the example input of shape {tuple(example.shape)}: {msg}",
                             fix="pass one input exactly as module(x) takes it") from None
    return real


def _check_shape(b: Build, v, real, path: str) -> None:
    """The IR value must have the real tensor's feature shape (catches a wrong layout guess at once)."""
    if isinstance(v, Value) and isinstance(real, torch.Tensor):
        ln = 1 if v.lead in ("S", "(TB)", "(BT)") else 2
        if tuple(real.shape[ln:]) != tuple(v.feat):
            raise UnsupportedOpError(f"{path}: traced shape {tuple(real.shape)} does not match the IR's layout "
                                     f"{v.lead} + {v.feat}")


def _check_all_used(module: nn.Module, used: set) -> None:
    """Nothing dropped: every parameter and buffer with values must have been read by a converter."""
    missing = [n for n, p in list(module.named_parameters()) + list(module.named_buffers())
               if id(p) not in used and p.numel() > 0 and not _is_state_buffer(n)]
    if missing:
        raise UnsupportedOpError(f"parameters/buffers not used by any IR node: {missing[:5]}",
                                 supported=supported())


def _is_state_buffer(name: str) -> bool:
    """Neuron state kept as buffers (snnTorch's mem/syn, sinabs' v_mem, ...): runtime state, not weights."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf in {"mem", "syn", "spk", "v_mem", "i_syn", "activations", "v", "reset_mechanism_val"}


def _reset_state(module: nn.Module) -> None:
    """Clear the libraries' neuron states so tracing and recording start from rest."""
    for m in module.modules():
        lib = type(m).__module__.split(".")[0]
        if lib == "spikingjelly" and hasattr(m, "reset"):
            m.reset()
        elif lib == "sinabs" and hasattr(m, "reset_states"):
            m.reset_states()
        elif lib == "snntorch" and hasattr(m, "reset_hidden"):
            try:
                m.reset_hidden()
            except Exception:  # noqa: BLE001  (snnTorch raises for layers without hidden state)
                pass


# spikerain's own blocks (VLIF-Net's, ESDNet's) as leaf converters; imported last: it registers into MODULES
from spikerain.converter.frontends import seed_blocks as _seed_blocks  # noqa: E402,F401
