"""Float kernels for every IR op, registered by op name, over batched tensors ``[T, B, C, H, W]``.

IR axes refer to the batch-free ``[T, C, H, W]``; :func:`_ax` maps them past the batch axis.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from spikerain.converter import ir
from spikerain.converter.ir.registry import OpRegistry
from spikerain.models.neurons import LIFParameters, NILIFParameters, lif_multistep, nilif_multistep
from spikerain.models.vlifnet import patch_to_time, time_to_patch_channels

Kernel = Callable[..., torch.Tensor]
#: float op class -> its kernel
FLOAT_KERNELS: OpRegistry[Kernel] = OpRegistry("fast simulator (float)", what="float kernel")


def kernel(op: str):
    def deco(fn: Kernel) -> Kernel:
        return FLOAT_KERNELS.add(op, fn)

    return deco


def _ax(a: int) -> int:
    return 0 if a == 0 else a + 1


def _t(a) -> torch.Tensor:
    return torch.from_numpy(a.copy())


def _per_step(x: torch.Tensor, fn) -> torch.Tensor:
    T, B = x.shape[:2]
    y = fn(x.flatten(0, 1))
    return y.unflatten(0, (T, B))


@kernel("input")
def _input(n, x):
    return x.unsqueeze(0)


@kernel("output")
def _output(n, x):
    return x


@kernel("repeat_t")
def _repeat(n: ir.RepeatT, x):
    return x.expand(n.T, *x.shape[1:]).contiguous()


@kernel("conv2d")
def _conv(n: ir.Conv2d, x):
    bias = _t(n.bias) if n.bias.size else None
    return _per_step(x, lambda z: F.conv2d(z, _t(n.weight), bias, stride=n.stride, padding=n.padding))


@kernel("batchnorm")
def _bn(n: ir.BatchNorm, x):
    return _per_step(x, lambda z: F.batch_norm(z, _t(n.mean), _t(n.var), _t(n.gamma), _t(n.beta), False, 0.0,
                                               n.eps))


@kernel("lif")
def _lif(n: ir.LIF, x):
    return lif_multistep(x, LIFParameters(tau=n.tau, v_threshold=n.v_threshold, v_reset=n.v_reset))


@kernel("nilif")
def _nilif(n: ir.NILIF, x):
    return nilif_multistep(x, NILIFParameters(decay=n.decay, levels=n.levels))


@kernel("patch_to_time")
def _p2t(n: ir.PatchToTime, x):
    return patch_to_time(x, n.r)


@kernel("time_to_patch")
def _t2p(n: ir.TimeToPatch, x):
    return time_to_patch_channels(x, n.r)


@kernel("upsample2x")
def _upsample(n, x):
    return _per_step(x, lambda z: F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=False))


@kernel("temporal_conv")
def _tconv(n: ir.TemporalConv, x):
    L, B, C, H, W = x.shape
    k = n.weight.shape[2]
    xs = x.reshape(L // k, k, B, C, H, W)
    return torch.einsum("ock,tkbchw->tbohw", _t(n.weight), xs)


@kernel("dense")
def _dense(n: ir.Dense, x):
    a = _ax(n.axis)
    y = torch.tensordot(x.movedim(a, -1), _t(n.weight), dims=([x.dim() - 1], [1]))
    return y.movedim(-1, a)


@kernel("reduce")
def _reduce(n: ir.Reduce, x):
    axes = tuple(_ax(a) for a in n.axes)
    if n.mode == "mean":
        return x.mean(dim=axes, keepdim=True)
    return x.amax(dim=axes, keepdim=True)


@kernel("add")
def _add(n, a, b):
    return a + b


@kernel("sub")
def _sub(n, a, b):
    return a - b


@kernel("mul")
def _mul(n, a, b):
    return a * b


@kernel("scale")
def _scale(n: ir.Scale, x):
    return x * n.factor


@kernel("concat")
def _concat(n, *xs):
    return torch.cat(xs, dim=2)


@kernel("sigmoid")
def _sigmoid(n, x):
    return torch.sigmoid(x)


@kernel("relu")
def _relu(n, x):
    return torch.relu(x)


@kernel("mean_t")
def _mean_t(n, x):
    return x.mean(0, keepdim=True)


@kernel("tensor_input")
def _tensor_input(n, x):
    return x  # already [T, B, C, H, W] (spikerain.byo.layout puts a module's tensor there)


@kernel("maxpool2d")
def _maxpool(n: ir.MaxPool2d, x):
    return _per_step(x, lambda z: F.max_pool2d(z, n.kernel, n.stride, n.padding))


@kernel("reshape")
def _reshape(n: ir.Reshape, x):
    return x.reshape(*x.shape[:2], *n.shape)


@kernel("upsample_nearest")
def _upsample_nearest(n: ir.Upsample, x):
    return _per_step(x, lambda z: F.interpolate(z, scale_factor=n.factor, mode="nearest"))


@kernel("depth_to_space")
def _d2s(n: ir.DepthToSpace, x):
    return _per_step(x, lambda z: F.pixel_shuffle(z, n.r))


@kernel("neuron")
def _neuron(n: ir.Neuron, x):
    return neuron_multistep(n, x)


def neuron_multistep(n: ir.Neuron, x: torch.Tensor) -> torch.Tensor:
    """The equations of :class:`~spikerain.converter.ir.Neuron`, step by step over axis 0, in the input's dtype.
    Terms that are the identity (gain 1, rest 0, ...) are skipped so the float arithmetic is the libraries'."""
    v = torch.full_like(x[0], n.v_rest)
    i = torch.zeros_like(x[0])
    carry = torch.zeros_like(x[0])
    fired = torch.zeros_like(x[0])
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        if n.syn_decay is None:
            c = x[t]
        else:
            i_new = n.syn_decay * i + x[t]
            c, i = (i if n.current_lag else i_new), i_new
        if n.reset_next and n.reset == "zero":
            v = v * (1 - fired)
        dv = v if n.v_rest == 0 else v - n.v_rest
        h = n.leak * dv if n.leak != 1 else dv
        if n.v_rest != 0:
            h = h + n.v_rest
        h = h + (c if n.gain == 1 else n.gain * c)
        if n.reset_next and n.reset == "subtract":
            h = h - carry
        if n.multi:
            s = torch.where(h >= n.threshold, torch.floor(h / n.threshold), torch.zeros_like(h))
        else:
            s = ((h > n.threshold) if n.strict else (h >= n.threshold)).to(x.dtype)
        if n.reset_next or n.reset == "none":
            v = h
            carry = s * n.threshold
            fired = s if not n.multi else (s > 0).to(x.dtype)
        elif n.reset == "subtract":
            v = h - s * n.threshold
        else:
            r = s if not n.multi else (s > 0).to(x.dtype)
            v = h * (1 - r) + n.v_reset * r
        if n.min_v is not None:
            v = torch.clamp(v, min=n.min_v)
        out[t] = v if n.emit == "v" else s
    return out


def float_kernel(op) -> Kernel:
    """The kernel of a node (or op class or name); :class:`UnsupportedOpError` naming op, stage and node."""
    return FLOAT_KERNELS.lookup(op)


@torch.inference_mode()
def run_float(graph: ir.Graph, images: torch.Tensor, *, keep: bool = False,
              observe: Callable[[ir.Node, torch.Tensor], None] | None = None) -> dict[str, torch.Tensor]:
    """Execute the float graph on ``[B, C, H, W]`` images. Returns the outputs as ``[B, C, H, W]`` (and every
    node's value, ``[T, B, ...]``, if ``keep``); ``observe(node, value)`` sees every value (calibration)."""
    from spikerain.hardware.fastsim.executor import execute

    values = execute(graph, images, float_kernel, keep=keep, observe=observe)
    out = {o: values[o][0] for o in graph.outputs}
    return {**values, **out} if keep else out
