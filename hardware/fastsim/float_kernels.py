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
