"""Synaptic ops: weighted sums that a neurocore computes (conv, temporal conv, dense along an axis, bilinear
x2 as a fixed-weight layer) and BatchNorm before it is folded into its conv."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikerain.converter.ir.node import Node, Shape, register_op


def pair(v) -> tuple[int, int]:
    """A stride or padding given as one int or an (H, W) pair."""
    if isinstance(v, (tuple, list, np.ndarray)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Conv2d(Node):
    """Per-step 2-D cross-correlation. weight ``[Cout, Cin, kh, kw]``; bias ``[Cout]`` or empty."""

    weight: np.ndarray
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    stride: int = 1
    padding: int = 0
    op = "conv2d"
    role = "synapse"

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        co, ci, kh, kw = self.weight.shape
        if C != ci:
            raise ValueError(f"conv expects {ci} input channels, got {C}")
        (sh, sw), (ph, pw) = pair(self.stride), pair(self.padding)
        return (T, co, (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1)

    def fan_in(self) -> int:
        co, ci, kh, kw = self.weight.shape
        return ci * kh * kw


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class TemporalConv(Node):
    """SMU's ``Conv3d(C, C, (k,1,1), stride (k,1,1))``: step t' mixes steps k*t' ... k*t'+k-1 and channels.
    weight ``[Cout, Cin, k]``."""

    weight: np.ndarray
    op = "temporal_conv"
    role = "synapse"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        co, ci, k = self.weight.shape
        if C != ci or T % k:
            raise ValueError(f"temporal conv k={k} Cin={ci} does not fit input {x}")
        return (T // k, co, H, W)

    def fan_in(self) -> int:
        co, ci, k = self.weight.shape
        return ci * k

    def frames_needed(self, j: int, t_in: int) -> int:
        return (j + 1) * self.weight.shape[2]


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Dense(Node):
    """A bias-free linear map along one axis (0 = T, 1 = C) of a pooled tensor: the attention MLP layers."""

    weight: np.ndarray  # [out, in]
    axis: int = 1
    op = "dense"
    role = "synapse"
    placement = "host"

    def out_shape(self, x: Shape) -> Shape:
        s = list(x)
        if s[self.axis] != self.weight.shape[1]:
            raise ValueError(f"dense expects {self.weight.shape[1]} along axis {self.axis}, got {x}")
        s[self.axis] = self.weight.shape[0]
        return tuple(s)

    def mixes_time(self) -> bool:
        return self.axis == 0

    def fan_in(self) -> int:
        return int(self.weight.shape[1])


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Upsample2x(Node):
    """Bilinear x2, align_corners=False: each output is a fixed 1/16-multiple blend of up to 4 inputs."""

    op = "upsample2x"
    role = "synapse"

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        return (T, C, 2 * H, 2 * W)

    def fan_in(self) -> int:
        return 4  # each output blends up to 4 inputs of its own channel


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class BatchNorm(Node):
    """Inference BatchNorm (tdBN): y = (x - mean) / sqrt(var + eps) * gamma + beta. Folded by a pass."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5
    op = "batchnorm"
    role = "elementwise"
