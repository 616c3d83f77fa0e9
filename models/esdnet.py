"""ESDNet (Song et al., IJCAI 2024), the baseline SNN deraining network, as released by its authors.

Topology and state-dict names follow the authors' ``model.py`` exactly (``docs/sources.md`` §1.3), so the
authors' checkpoints load key for key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from spikerain.models.layers import (
    ARCH_T,
    MultiDimensionalAttention,
    SeqConv2d,
    SeqUpsample2x,
    TdBN,
    check_time_steps,
)
from spikerain.models.neurons import LIF

V_TH = 0.15


def conv3x3(cin: int, cout: int, stride: int = 1) -> SeqConv2d:
    return SeqConv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class PatchEmbed(nn.Module):
    """Direct encoding: a bias-free 3x3 conv on the analog pixels of every step."""

    def __init__(self, in_c: int, dim: int):
        super().__init__()
        self.proj = conv3x3(in_c, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class SpikingResidualBlock(nn.Module):
    """SRB: out = MAU(SCU_b(SCU_a(x)) + tdBN(conv(x))) + x, an SCU being LIF -> conv3x3 -> tdBN."""

    def __init__(self, dim: int, T: int = ARCH_T):
        super().__init__()
        self.residual = nn.Sequential(
            LIF(), conv3x3(dim, dim), TdBN(dim, V_TH), LIF(), conv3x3(dim, dim), TdBN(dim, V_TH * 0.2)
        )
        self.shortcut = nn.Sequential(conv3x3(dim, dim), TdBN(dim, V_TH))
        self.attn = MultiDimensionalAttention(dim, T=T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.residual(x) + self.shortcut(x)) + x


class DownSampling(nn.Module):
    """LIF -> conv3x3 stride 2 (C -> 2C) -> tdBN. The attribute name ``maxpool_conv`` is the authors'."""

    def __init__(self, dim: int):
        super().__init__()
        self.maxpool_conv = nn.Sequential(LIF(), conv3x3(dim, dim * 2, stride=2), TdBN(dim * 2, V_TH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class UpSampling(nn.Module):
    """Bilinear x2 per step -> LIF -> conv3x3 (C -> C/2) -> tdBN."""

    def __init__(self, dim: int):
        super().__init__()
        self.upsample = SeqUpsample2x()
        self.up = nn.Sequential(LIF(), conv3x3(dim, dim // 2), TdBN(dim // 2, V_TH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.upsample(x))


class FeatureRefinementBlock(nn.Module):
    """FRB, non-spiking, on the T-averaged features: out = (1 - t) * a + t * y.

    a = sigmoid(MLP(GAP(y))) is a per-channel vector and t a per-pixel sigmoid map. As released, the channel
    branch contributes the weights a themselves, not a * y.
    """

    def __init__(self, channel: int, reduction: int = 8):
        super().__init__()
        mid = channel // reduction
        self.ca = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channel, mid, 1, bias=True),
            nn.ReLU(),
            nn.Conv2d(mid, channel, 1, bias=True),
            nn.Sigmoid(),
        )
        self.sa = nn.Sequential(
            nn.Conv2d(channel, channel, 3, padding=1, bias=True),
            nn.Conv2d(channel, mid, 3, padding=1, bias=True),
            nn.ReLU(),
            nn.Conv2d(mid, channel, 3, padding=1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        a = self.ca(y)
        t = self.sa(y)
        return (1 - t) * a + t * y


@dataclass(frozen=True, kw_only=True)
class ESDNetConfig:
    """Constructor arguments of ``ESDNet``; the defaults are the released model."""

    dim: int = 48  # channels at full resolution; levels 2 and 3 use 2*dim and 4*dim
    T: int = ARCH_T  # time steps (direct encoding repeats the image T times)
    en_num_blocks: tuple[int, ...] = field(default=(4, 4, 8, 8))  # SRBs per encoder level; [3] is unused
    de_num_blocks: tuple[int, ...] = field(default=(2, 2, 2, 2))  # SRBs per decoder level; [3] is unused
    inp_channels: int = 3
    out_channels: int = 3

    def to_dict(self) -> dict:
        return {"model": "esdnet", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}


class ESDNet(nn.Module):
    """ESDNet: 3-level spiking U-Net of SRBs with a non-spiking FRB head and a global residual."""

    def __init__(self, dim: int = 48, T: int = ARCH_T, en_num_blocks=(4, 4, 8, 8), de_num_blocks=(2, 2, 2, 2),
                 inp_channels: int = 3, out_channels: int = 3):
        super().__init__()
        check_time_steps(T, "ESDNet")
        self.config = ESDNetConfig(dim=dim, T=T, en_num_blocks=tuple(en_num_blocks),
                                   de_num_blocks=tuple(de_num_blocks), inp_channels=inp_channels,
                                   out_channels=out_channels)
        self.T = T

        def stage(n: int, c: int) -> nn.Sequential:
            return nn.Sequential(*[SpikingResidualBlock(c, T) for _ in range(n)])

        self.patch_embed = PatchEmbed(inp_channels, dim)
        self.encoder_level1 = stage(en_num_blocks[0], dim)
        self.down1_2 = DownSampling(dim)
        self.encoder_level2 = stage(en_num_blocks[1], dim * 2)
        self.down2_3 = DownSampling(dim * 2)
        self.encoder_level3 = stage(en_num_blocks[2], dim * 4)
        self.decoder_level3 = stage(de_num_blocks[2], dim * 4)
        self.up3_2 = UpSampling(dim * 4)
        self.reduce_chan_level2 = nn.Sequential(
            LIF(), SeqConv2d(dim * 4, dim * 2, 1, bias=False), TdBN(dim * 2, V_TH)
        )
        self.decoder_level2 = stage(de_num_blocks[1], dim * 2)
        self.up2_1 = UpSampling(dim * 2)
        self.decoder_level1 = stage(de_num_blocks[0], dim * 2)
        self.refinement = FeatureRefinementBlock(dim * 2)
        self.output = nn.Sequential(nn.Conv2d(dim * 2, out_channels, 3, padding=1, bias=True))

    #: the input side must be a multiple of this
    size_multiple = 4

    def forward(self, inp_img: torch.Tensor) -> torch.Tensor:
        x = inp_img.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        e1 = self.encoder_level1(self.patch_embed(x))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        d3 = self.decoder_level3(e3)
        d2 = self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], dim=2))
        d2 = self.decoder_level2(d2)
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], dim=2))
        y = self.refinement(d1.mean(0))
        return self.output(y) + inp_img
