"""PyTorch -> IR: the network's forward traced with torch.fx, its leaf modules through a registry keyed on type.

The tracer (the generic fx frontend's) reads the network's own ``forward`` (direct encoding, skip joins, time mean,
global residual) and the blocks that only chain modules (``PatchEmbed``, the down/up samplers, ``nn.Sequential``);
every module type with a converter is a leaf. Each converter is a function
``(module, builder, inputs, path) -> output node name``; the blocks whose IR nodes carry authored names (SDEM,
SMU, SRB, FRB, VLIF, the attention blocks) wire their children explicitly, leaves emit IR nodes. The same
converters are the seed blocks' leaf converters in the generic fx frontend (``seed_blocks.py``). A module type with no
converter raises :class:`~spikerain.errors.UnsupportedOpError` naming its path and the supported types, and
after conversion every module that owns parameters or buffers must have been visited, so nothing is dropped
silently.

The frontend also records which IR nodes come from modules that are plain ``torch.nn`` types in the authors' code
(``graph.meta["thop_visible"]``: node -> torch.nn type name). ``thop``, which the authors used for their FLOPs,
hooks only exact ``torch.nn`` types, so these are the only operations their counts saw; SpikingJelly's layers
(here :class:`SeqConv2d`, :class:`TdBN`, the neurons) are invisible to it. :mod:`spikerain.energy.thop` counts them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from spikerain.converter import ir
from spikerain.errors import UnsupportedOpError
from spikerain.models.esdnet import FeatureRefinementBlock, SpikingResidualBlock
from spikerain.models.layers import (
    MultiDimensionalAttention,
    SeqConv2d,
    SeqUpsample2x,
    TdBN,
    TimeAttention,
)
from spikerain.models.neurons import LIF, NILIF
from spikerain.models.vlifnet import SDEM, SMU, VLIF

Converter = Callable[[nn.Module, "Builder", list[str], str], str]
CONVERTERS: dict[type, Converter] = {}


def converter(*types: type):
    def deco(fn: Converter) -> Converter:
        for t in types:
            if t in CONVERTERS:
                raise ValueError(f"converter for {t.__name__} registered twice")
            CONVERTERS[t] = fn
        return fn

    return deco


def supported_types() -> list[str]:
    return sorted(t.__name__ for t in CONVERTERS)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


class Builder:
    """Collects nodes in topological order; hands out unique names; dispatches child modules."""

    def __init__(self) -> None:
        self.nodes: list[ir.Node] = []
        self.names: set[str] = set()
        self.visited: set[int] = set()
        self.thop_visible: dict[str, str] = {}  # node -> the plain torch.nn type it comes from in the authors' code

    def mark(self, node: str, torch_type: str) -> str:
        """Record that ``node`` comes from a plain ``torch.nn.<torch_type>`` module of the authors' code."""
        self.thop_visible[node] = torch_type
        return node

    def add(self, cls, name: str, inputs: list[str], **fields) -> str:
        base, k = name, 1
        while name in self.names:
            k += 1
            name = f"{base}#{k}"
        self.names.add(name)
        self.nodes.append(cls(name=name, inputs=tuple(inputs), **fields))
        return name

    def convert(self, module: nn.Module, inputs: list[str], path: str) -> str:
        fn = CONVERTERS.get(type(module))
        if fn is None:
            raise UnsupportedOpError(f"no converter for module {path or '<root>'} of type {type(module).__name__}",
                                     supported=supported_types(), path=path)
        self.visited.add(id(module))
        before = len(self.nodes)
        out = fn(module, self, inputs, path)
        if _plain_torch_leaf(module):
            for n in self.nodes[before:]:
                self.mark(n.name, type(module).__name__)
        return out

    def child(self, module: nn.Module, name: str, inputs: list[str], path: str) -> str:
        return self.convert(getattr(module, name), inputs, f"{path}.{name}" if path else name)


def _plain_torch_leaf(module: nn.Module) -> bool:
    """A leaf module of an exact ``torch.nn`` type (not a subclass such as SeqConv2d or TdBN): what thop hooks."""
    return type(module).__module__.startswith("torch.nn.modules.") and not any(True for _ in module.children())


# ---- leaves -------------------------------------------------------------------------------------------------

@converter(SeqConv2d, nn.Conv2d)
def _conv(m: nn.Conv2d, b: Builder, ins, path):
    if m.groups != 1 or m.dilation != (1, 1) or m.padding_mode != "zeros" or m.stride[0] != m.stride[1] \
            or not isinstance(m.padding, tuple) or m.padding[0] != m.padding[1]:
        raise UnsupportedOpError(f"conv {path}: only square stride/padding, groups=1, dilation=1, zero padding",
                                 path=path)
    bias = _np(m.bias) if m.bias is not None else np.zeros(0, np.float32)
    return b.add(ir.Conv2d, path, ins, weight=_np(m.weight), bias=bias, stride=m.stride[0], padding=m.padding[0])


@converter(TdBN, nn.BatchNorm2d)
def _bn(m: nn.BatchNorm2d, b: Builder, ins, path):
    return b.add(ir.BatchNorm, path, ins, gamma=_np(m.weight), beta=_np(m.bias), mean=_np(m.running_mean),
                 var=_np(m.running_var), eps=float(m.eps))


@converter(LIF)
def _lif(m: LIF, b: Builder, ins, path):
    p = m.params
    if p.decay_input:
        raise UnsupportedOpError(f"LIF {path}: decay_input=True is not supported", path=path)
    return b.add(ir.LIF, path, ins, tau=p.tau, v_threshold=p.v_threshold, v_reset=p.v_reset)


@converter(NILIF)
def _nilif(m: NILIF, b: Builder, ins, path):
    return b.add(ir.NILIF, path, ins, decay=m.params.decay, levels=m.params.levels)


@converter(SeqUpsample2x)
def _up(m, b: Builder, ins, path):
    return b.add(ir.Upsample2x, path, ins)


@converter(nn.ReLU)
def _relu(m, b: Builder, ins, path):
    return b.add(ir.ReLU, path, ins)


@converter(nn.Sigmoid)
def _sigmoid(m, b: Builder, ins, path):
    return b.add(ir.Sigmoid, path, ins)


@converter(nn.AdaptiveAvgPool2d)
def _gap(m: nn.AdaptiveAvgPool2d, b: Builder, ins, path):
    if m.output_size not in (1, (1, 1)):
        raise UnsupportedOpError(f"{path}: only global average pooling (output size 1)", path=path)
    return b.add(ir.Reduce, path, ins, mode="mean", axes=(2, 3))


@converter(nn.Sequential)
def _seq(m: nn.Sequential, b: Builder, ins, path):
    x = ins[0]
    for name, _ in m.named_children():
        x = b.child(m, name, [x], path)
    return x


# ---- attention ----------------------------------------------------------------------------------------------

def _gate(m, b: Builder, x: str, path: str, axis: int) -> str:
    """sigmoid(MLP(avg) + MLP(max)) with pooling over every axis except ``axis``."""
    b.visited.update({id(m), id(m.sharedMLP)} | {id(c) for c in m.sharedMLP})
    axes = tuple(a for a in range(4) if a != axis)
    w1 = _np(m.sharedMLP[0].weight).reshape(m.sharedMLP[0].weight.shape[:2])
    w2 = _np(m.sharedMLP[2].weight).reshape(m.sharedMLP[2].weight.shape[:2])
    branches = []
    pools = {"mean": "AdaptiveAvgPool3d", "max": "AdaptiveMaxPool3d"}  # the authors' (SpikingJelly's) modules
    for mode in ("mean", "max"):
        r = b.mark(b.add(ir.Reduce, f"{path}.{mode}pool", [x], mode=mode, axes=axes), pools[mode])
        h = b.mark(b.add(ir.Dense, f"{path}.{mode}.fc1", [r], weight=w1, axis=axis), "Conv3d")
        h = b.mark(b.add(ir.ReLU, f"{path}.{mode}.relu", [h]), "ReLU")
        branches.append(b.mark(b.add(ir.Dense, f"{path}.{mode}.fc2", [h], weight=w2, axis=axis), "Conv3d"))
    s = b.add(ir.Add, f"{path}.sum", branches)
    return b.mark(b.add(ir.Sigmoid, f"{path}.sigmoid", [s]), "Sigmoid")


@converter(TimeAttention)
def _time_attention(m: TimeAttention, b: Builder, ins, path):
    g = _gate(m, b, ins[0], path, axis=0)
    return b.add(ir.Mul, f"{path}.apply", [g, ins[0]])


@converter(MultiDimensionalAttention)
def _mda(m: MultiDimensionalAttention, b: Builder, ins, path):
    x = ins[0]
    g = _gate(m.ta, b, x, f"{path}.ta", axis=0)
    x = b.add(ir.Mul, f"{path}.ta.apply", [g, x])
    g = _gate(m.ca, b, x, f"{path}.ca", axis=1)
    x = b.add(ir.Mul, f"{path}.ca.apply", [g, x])
    sa = m.sa
    b.visited.update({id(sa), id(sa.conv), id(sa.sigmoid), id(m.relu)})
    mean = b.add(ir.Reduce, f"{path}.sa.mean", [x], mode="mean", axes=(0, 1))
    mx = b.add(ir.Reduce, f"{path}.sa.max", [x], mode="max", axes=(0, 1))
    cat = b.add(ir.Concat, f"{path}.sa.cat", [mean, mx])
    c = b.mark(_conv(sa.conv, b, [cat], f"{path}.sa.conv"), "Conv2d")  # mean/max above are torch functions
    g = b.mark(b.add(ir.Sigmoid, f"{path}.sa.sigmoid", [c]), "Sigmoid")
    x = b.add(ir.Mul, f"{path}.sa.apply", [g, x])
    return b.mark(b.add(ir.ReLU, f"{path}.relu", [x]), "ReLU")


# ---- blocks -------------------------------------------------------------------------------------------------

@converter(SpikingResidualBlock)
def _srb(m: SpikingResidualBlock, b: Builder, ins, path):
    x = ins[0]
    r = b.child(m, "residual", [x], path)
    sc = b.child(m, "shortcut", [x], path)
    y = b.add(ir.Add, f"{path}.sum", [r, sc])
    a = b.child(m, "attn", [y], path)
    return b.add(ir.Add, f"{path}.residual_add", [a, x])


@converter(FeatureRefinementBlock)
def _frb(m: FeatureRefinementBlock, b: Builder, ins, path):
    y = ins[0]
    a = b.child(m, "ca", [y], path)
    t = b.child(m, "sa", [y], path)
    d = b.add(ir.Sub, f"{path}.y_minus_a", [y, a])
    p = b.add(ir.Mul, f"{path}.t_times", [t, d])
    return b.add(ir.Add, f"{path}.blend", [a, p])  # (1 - t) a + t y = a + t (y - a)


@converter(VLIF)
def _vlif(m: VLIF, b: Builder, ins, path):
    p = b.add(ir.PatchToTime, f"{path}.patch_to_time", ins, r=2)
    s = b.child(m, "lif_node", [p], path)
    q = b.add(ir.TimeToPatch, f"{path}.time_to_patch", [s], r=2)
    u = b.add(ir.Upsample2x, f"{path}.resize", [q])
    return b.child(m, "channel_adjust", [u], path)


def _mix(b: Builder, x: str, s: str, hi: nn.Parameter, lo: nn.Parameter, path: str) -> str:
    """z = a*s + b*(x - s) + x*s with the block's learnable scalars a (high_freq) and b (low_freq)."""
    t1 = b.add(ir.Scale, f"{path}.high", [s], factor=float(hi.item()))
    d = b.add(ir.Sub, f"{path}.x_minus_s", [x, s])
    t2 = b.add(ir.Scale, f"{path}.low", [d], factor=float(lo.item()))
    z = b.add(ir.Add, f"{path}.sum", [t1, t2])
    g = b.add(ir.Mul, f"{path}.gate", [x, s])
    return b.add(ir.Add, f"{path}.out", [z, g])


@converter(SDEM)
def _sdem(m: SDEM, b: Builder, ins, path):
    x = ins[0]
    s1 = b.child(m, "lif_1", [x], path)
    z1 = _mix(b, x, s1, m.high_freq_scale_1, m.low_freq_scale_1, f"{path}.mix1")
    y1 = b.child(m, "bn1", [b.child(m, "conv1", [z1], path)], path)
    s2 = b.child(m, "lif_2", [y1], path)
    z2 = _mix(b, y1, s2, m.high_freq_scale_2, m.low_freq_scale_2, f"{path}.mix2")
    y2 = b.child(m, "bn2", [b.child(m, "conv2", [z2], path)], path)
    sc = b.child(m, "shortcut", [x], path)
    a = b.child(m, "attn", [b.add(ir.Add, f"{path}.sum", [y2, sc])], path)
    return b.add(ir.Add, f"{path}.residual_add", [a, x])


@converter(SMU)
def _smu(m: SMU, b: Builder, ins, path):
    y = b.child(m, "initial_residual", ins, path)
    p = b.add(ir.PatchToTime, f"{path}.patch_to_time", [y], r=2)
    s = b.child(m, "lif_node", [p], path)
    s = b.child(m, "time_attention", [s], path)
    tc = m.temporal_compress[0]
    b.visited.update({id(m.temporal_compress), id(tc), id(m.temporal_compress[1])})
    z = b.add(ir.TemporalConv, f"{path}.temporal_compress.0", [s], weight=_np(tc.weight)[:, :, :, 0, 0])
    z = b.add(ir.ReLU, f"{path}.temporal_compress.1", [b.mark(z, "Conv3d")])
    b.mark(z, "ReLU")
    for k in ("1", "2"):
        z = b.child(m, f"lif_{k}", [z], path)
        z = b.child(m, f"conv_{k}", [z], path)
        z = b.child(m, f"bn_{k}", [z], path)
        z = b.child(m, f"attn_{k}", [z], path)
    # the authors' SUNet_Level1_Block upsamples with a plain nn.Upsample (bilinear), which thop counts; the
    # network's other bilinear x2 layers call F.interpolate, which it does not
    u = b.mark(b.child(m, "upsample", [z], path), "Upsample")
    return b.child(m, "final_attn", [b.add(ir.Add, f"{path}.skip_add", [u, y])], path)


# ---- the network's own forward: traced with torch.fx ------------------------------------------------------------

#: names of the networks' own functional ops (fx node name -> IR node name): those of the shipped artifacts and
#: golden data, so the traced network converts to the same IR node for node and the artifact stays byte-identical
OP_NAMES = {"repeat": "encode", "cat": "skip_level2", "cat_1": "skip_level1", "mean": "decode",
            "add": "global_residual", "output": "out"}


def _function(b: Builder, n: fx.Node, args, kwargs, image: str) -> str:
    """The tensor ops a network's forward applies between blocks: the direct encoding (``unsqueeze(0)`` then
    ``repeat(T, 1, ...)``), skip joins (``cat`` over channels), the decoding (``mean(0)`` over time) and adds."""
    name = OP_NAMES.get(n.name, n.name)
    if n.op == "call_method" and n.target == "unsqueeze" and args[1:] == (0,) and args[0] == image:
        return args[0]  # the image node is already one step: [1, C, H, W]
    if n.op == "call_method" and n.target == "repeat" and all(r == 1 for r in args[2:]) and isinstance(args[1], int):
        return b.add(ir.RepeatT, name, [args[0]], T=args[1])
    if n.target is torch.cat and kwargs.get("dim", args[1] if len(args) > 1 else 0) == 2:
        return b.add(ir.Concat, name, list(args[0]))
    if n.op == "call_method" and n.target == "mean" and args[1:] == (0,) and not kwargs:
        return b.add(ir.MeanT, name, [args[0]])
    if n.target in (operator.add, torch.add) and len(args) == 2 and not kwargs \
            and all(isinstance(a, str) for a in args):
        return b.add(ir.Add, name, list(args))
    what = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
    raise UnsupportedOpError(f"no converter for {n.op} {what} ({n.name}) in the network's forward",
                             supported=supported_types(), path=n.name)


def from_torch(model: nn.Module, input_hw: tuple[int, int] = (32, 32)) -> ir.Graph:
    """Convert a network to a float IR graph for ``[1, C, H, W]`` inputs; validated before it is returned.

    The network's ``forward`` is traced by the generic fx frontend's tracer: its leaves are the modules with a
    converter there (the blocks below are registered into it by ``seed_blocks.py``) and plain ``torch.nn``
    layers; containers and chaining blocks are traced through. Each leaf goes through :data:`CONVERTERS`."""
    b = Builder()
    channels = getattr(getattr(model, "config", None), "inp_channels", 3)
    img = b.add(ir.Input, "image", [], channels=channels)
    from spikerain.converter.frontends.fx_frontend import _Tracer  # imported here: fx_frontend imports this module

    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # noqa: BLE001  (a network fx cannot trace: one line naming why)
        raise UnsupportedOpError(f"torch.fx cannot trace {type(model).__name__}: {type(e).__name__}: "
                                 f"{str(e)[:200]}", supported=supported_types()) from None
    env: dict[fx.Node, object] = {}
    for n in graph.nodes:
        args, kwargs = fx.node.map_arg((n.args, n.kwargs), lambda a: env[a])
        if n.op == "placeholder":
            if env:
                raise UnsupportedOpError(f"{type(model).__name__}.forward takes more than the image",
                                         supported=supported_types())
            env[n] = img
        elif n.op == "call_module":
            env[n] = b.convert(model.get_submodule(n.target), list(args), n.target)
        elif n.op == "output":
            b.add(ir.Output, OP_NAMES["output"], [args[0]])
        elif n.op in ("call_function", "call_method"):
            env[n] = _function(b, n, args, kwargs, img)
        else:  # get_attr: a tensor of the network used outside any module
            raise UnsupportedOpError(f"{type(model).__name__}.forward reads {n.target} outside a module",
                                     supported=supported_types(), path=str(n.target))
    skipped = [name or "<root>" for name, mod in model.named_modules()
               if id(mod) not in b.visited
               and (any(True for _ in mod.parameters(recurse=False)) or any(True for _ in mod.buffers(recurse=False)))]
    if skipped:
        raise UnsupportedOpError(f"modules with weights were not converted: {skipped[:5]}",
                                 supported=supported_types())
    outputs = tuple(n.name for n in b.nodes if isinstance(n, ir.Output))
    meta = {"model": model.config.to_dict()} if hasattr(model, "config") else {}
    meta["thop_visible"] = dict(b.thop_visible)
    g = ir.Graph(nodes=b.nodes, outputs=outputs, input_shape=(1, channels, *input_hw), meta=meta)
    return ir.validate(g)
