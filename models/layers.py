"""Multi-step layers shared by both networks: convs and tdBN over ``[T, B, C, H, W]``, bilinear x2 and the
multi-dimensional attention (MA-SNN's MAU). See ``docs/sources.md`` §1.2.

Convs and norms fold T*B into the batch axis, so weights and BN statistics are shared over time; this is what
keeps the time loop inside the neurons only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spikerain.errors import ConfigError

#: T is hard-wired to 4 in the authors' attention modules and in VLIF's 16-step TimeAttention.
ARCH_T = 4

TDBN_ALPHA = 1.0 / math.sqrt(2.0)


def check_time_steps(T: int, where: str) -> None:
    if T != ARCH_T:
        raise ConfigError(
            f"{where} needs T={ARCH_T} time steps, got T={T}: the released architecture hard-wires T=4 in its "
            "attention modules (MultiDimensionalAttention, the 16-step VLIF TimeAttention)",
            fix="use T=4",
        )


def _fold_time(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)


def _unfold_time(y: torch.Tensor, T: int) -> torch.Tensor:
    return y.unflatten(0, (T, y.shape[0] // T))


class SeqConv2d(nn.Conv2d):
    """``nn.Conv2d`` applied to every step of a ``[T, B, C, H, W]`` tensor (SpikingJelly multi-step Conv2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:
            return _unfold_time(super().forward(_fold_time(x)), x.shape[0])
        return super().forward(x)


class TdBN(nn.BatchNorm2d):
    """Threshold-dependent BatchNorm (SpikingJelly ``ThresholdDependentBatchNorm2d``).

    A BatchNorm2d over the ``[T*B, C, H, W]`` view; only the initial gamma differs: alpha * v_th with
    alpha = 1/sqrt(2).
    """

    def __init__(self, num_features: int, v_th: float = 0.15, alpha: float = TDBN_ALPHA):
        super().__init__(num_features, eps=1e-5, momentum=0.1, affine=True)
        self.v_th = v_th
        self.alpha = alpha
        with torch.no_grad():
            self.weight.fill_(alpha * v_th)
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:
            return _unfold_time(super().forward(_fold_time(x)), x.shape[0])
        return super().forward(x)


class SeqUpsample2x(nn.Module):
    """Bilinear x2 (align_corners=False) on every step of ``[T, B, C, H, W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(_fold_time(x), scale_factor=2, mode="bilinear", align_corners=False)
        return _unfold_time(y, x.shape[0])


class _GateMLP(nn.Module):
    """sigmoid(MLP(avgpool) + MLP(maxpool)) over the non-channel axes of a 5-D tensor (channels = axis 1)."""

    def __init__(self, channels: int, ratio: int):
        super().__init__()
        hidden = channels // ratio
        if hidden < 1:
            raise ConfigError(
                f"attention bottleneck {channels}//{ratio} is empty", fix="use at least 16 channels"
            )
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.max_pool = nn.AdaptiveMaxPool3d(1)
        self.sharedMLP = nn.Sequential(
            nn.Conv3d(channels, hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv3d(hidden, channels, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sigmoid(self.sharedMLP(self.avg_pool(x)) + self.sharedMLP(self.max_pool(x)))


class TimeAttention(_GateMLP):
    """Gate per time step: the steps are the Conv3d channels of a ``[B, T, C, H, W]`` tensor."""


class ChannelAttention(_GateMLP):
    """Gate per channel of a ``[B, T, C, H, W]`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SpatialAttention(nn.Module):
    """Gate per pixel: conv over [mean, max] of the merged (T, C) axis, shared over T and C."""

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        merged = x.flatten(1, 2)
        avg = torch.mean(merged, dim=1, keepdim=True)
        mx, _ = torch.max(merged, dim=1, keepdim=True)
        return self.sigmoid(self.conv(torch.cat([avg, mx], dim=1)).unsqueeze(1))


class MultiDimensionalAttention(nn.Module):
    """MA-SNN attention (TA, CA, SA, then ReLU) on ``[T, B, C, H, W]`` (SpikingJelly's
    ``MultiDimensionalAttention(T=4, C, reduction_t=4, reduction_c=16, kernel_size=3)``).
    """

    def __init__(self, C: int, T: int = ARCH_T, reduction_t: int = 4, reduction_c: int = 16, kernel_size: int = 3):
        super().__init__()
        check_time_steps(T, "MultiDimensionalAttention")
        self.T = T
        self.ta = TimeAttention(T, reduction_t)
        self.ca = ChannelAttention(C, reduction_c)
        self.sa = SpatialAttention(kernel_size)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_steps(x.shape[0], "MultiDimensionalAttention input")
        x = x.transpose(0, 1)
        out = self.ta(x) * x
        out = self.ca(out) * out
        out = self.sa(out) * out
        return self.relu(out).transpose(0, 1)
