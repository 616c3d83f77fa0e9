"""VLIF-Net (Chen et al., AAAI 2026) as released by its authors: the VLIF neuron, SDEM and SMU.

Code-to-paper names (``docs/sources.md`` §1.4): ``PixelShuffleLIFBlock`` = VLIF, ``mem_update`` = NI-LIF,
``Spiking_Residual_Block`` = SDEM (:class:`SDEM` here), ``SUNet_Level1_Block`` = SMU (:class:`SMU`).
Attribute names follow the authors' state dict exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from spikerain.models.esdnet import V_TH, PatchEmbed, conv3x3
from spikerain.models.layers import (
    ARCH_T,
    MultiDimensionalAttention,
    SeqConv2d,
    SeqUpsample2x,
    TdBN,
    TimeAttention,
    check_time_steps,
)
from spikerain.models.neurons import LIF, NILIF

PATCH = 2  # VLIF's pixel-unshuffle factor r; r*r sub-pixels become extra time steps


def patch_to_time(x: torch.Tensor, r: int = PATCH) -> torch.Tensor:
    """``[T, B, C, H, W]`` -> ``[T*r*r, B, C, H/r, W/r]`` with new step tau = r*r*t + p, p = r*dy + dx.

    Equivalent to PyTorch's ``PixelUnshuffle(r)`` (channel order r*r*c + p) followed by moving p into time.
    """
    T, B, C, H, W = x.shape
    y = x.reshape(T, B, C, H // r, r, W // r, r)  # t b c i dy j dx
    y = y.permute(0, 4, 6, 1, 2, 3, 5)  # t dy dx b c i j
    return y.reshape(T * r * r, B, C, H // r, W // r)


def time_to_patch_channels(s: torch.Tensor, r: int = PATCH) -> torch.Tensor:
    """Inverse of the time move: ``[T*r*r, B, C, h, w]`` -> ``[T, B, C*r*r, h, w]`` in unshuffle channel order."""
    L, B, C, h, w = s.shape
    T = L // (r * r)
    return s.reshape(T, r * r, B, C, h, w).permute(0, 2, 3, 1, 4, 5).reshape(T, B, C * r * r, h, w)


class VLIF(nn.Module):
    """Visual LIF (``PixelShuffleLIFBlock``): patch-to-time, NI-LIF over 4T steps, back to 4C channels,
    bilinear resize to H x W, then a bias-free 1x1 conv 4C -> C."""

    def __init__(self, channels: int, downsample_factor: int = PATCH):
        super().__init__()
        if downsample_factor != PATCH:
            raise ValueError("only the released downsample_factor=2 is supported")
        self.lif_node = NILIF()
        self.channel_adjust = SeqConv2d(channels * PATCH * PATCH, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        s = self.lif_node(patch_to_time(x))
        q = time_to_patch_channels(s).flatten(0, 1)
        q = F.interpolate(q, size=(H, W), mode="bilinear", align_corners=False)
        return self.channel_adjust(q.unflatten(0, (T, B)))


class SDEM(nn.Module):
    """Spiking Decomposition and Enhancement Module (the authors' VLIF ``Spiking_Residual_Block``).

    s1 = LIF(x);   z1 = a1*s1 + b1*(x - s1) + x*s1;   y1 = tdBN(conv(z1))
    s2 = VLIF(y1); z2 = a2*s2 + b2*(y1 - s2) + y1*s2; y2 = tdBN(conv(z2))
    out = MAU(y2 + tdBN(conv(x))) + x
    """

    def __init__(self, dim: int, T: int = ARCH_T):
        super().__init__()
        self.high_freq_scale_1 = nn.Parameter(torch.ones(1))
        self.low_freq_scale_1 = nn.Parameter(torch.ones(1))
        self.high_freq_scale_2 = nn.Parameter(torch.ones(1))
        self.low_freq_scale_2 = nn.Parameter(torch.ones(1))
        self.lif_1 = LIF()
        self.conv1 = conv3x3(dim, dim)
        self.bn1 = TdBN(dim, V_TH)
        self.lif_2 = VLIF(dim)
        self.conv2 = conv3x3(dim, dim)
        self.bn2 = TdBN(dim, V_TH * 0.2)
        self.shortcut = nn.Sequential(conv3x3(dim, dim), TdBN(dim, V_TH))
        self.attn = MultiDimensionalAttention(dim, T=T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.lif_1(x)
        z1 = self.high_freq_scale_1 * s1 + self.low_freq_scale_1 * (x - s1) + x * s1
        y1 = self.bn1(self.conv1(z1))
        s2 = self.lif_2(y1)
        z2 = self.high_freq_scale_2 * s2 + self.low_freq_scale_2 * (y1 - s2) + y1 * s2
        y2 = self.bn2(self.conv2(z2))
        return self.attn(y2 + self.shortcut(x)) + x


class SMU(nn.Module):
    """Spiking Multi-scale Unit (``SUNet_Level1_Block``), used at full resolution.

    y = SDEM(x); s = NI-LIF(patch_to_time(y)) over 16 steps; s *= TimeAttention(s);
    z = ReLU(Conv3d 4x1x1 stride 4 (s)) -> 4 steps at half resolution;
    two [LIF -> conv3x3 -> tdBN -> MAU]; bilinear x2; out = MAU(up + y).
    """

    def __init__(self, dim: int, T: int = ARCH_T):
        super().__init__()
        check_time_steps(T, "SMU")
        L = T * PATCH * PATCH
        self.initial_residual = SDEM(dim, T)
        self.lif_node = NILIF()
        self.time_attention = TimeAttention(L, 4)
        self.temporal_compress = nn.Sequential(
            nn.Conv3d(dim, dim, kernel_size=(PATCH * PATCH, 1, 1), stride=(PATCH * PATCH, 1, 1), bias=False),
            nn.ReLU(),
        )
        self.lif_1 = LIF()
        self.conv_1 = conv3x3(dim, dim)
        self.bn_1 = TdBN(dim, V_TH)
        self.attn_1 = MultiDimensionalAttention(dim, T=T)
        self.lif_2 = LIF()
        self.conv_2 = conv3x3(dim, dim)
        self.bn_2 = TdBN(dim, V_TH)
        self.attn_2 = MultiDimensionalAttention(dim, T=T)
        self.upsample = SeqUpsample2x()
        self.final_attn = MultiDimensionalAttention(dim, T=T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.initial_residual(x)
        s = self.lif_node(patch_to_time(y)).transpose(0, 1)  # [B, 16, C, h, w]
        s = self.time_attention(s) * s
        z = self.temporal_compress(s.transpose(1, 2))  # [B, C, 4, h, w]
        z = z.permute(2, 0, 1, 3, 4)  # [4, B, C, h, w]
        z = self.attn_1(self.bn_1(self.conv_1(self.lif_1(z))))
        z = self.attn_2(self.bn_2(self.conv_2(self.lif_2(z))))
        return self.final_attn(self.upsample(z) + y)


class VLIFDown(nn.Module):
    """LIF -> conv3x3 stride 2 (C -> 2C) -> tdBN."""

    def __init__(self, dim: int):
        super().__init__()
        self.lif = LIF()
        self.conv = conv3x3(dim, dim * 2, stride=2)
        self.bn = TdBN(dim * 2, V_TH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.lif(x)))


class VLIFUp(nn.Module):
    """Bilinear x2 per step -> LIF -> conv3x3 (C -> C/2) -> tdBN."""

    def __init__(self, dim: int):
        super().__init__()
        self.upsample = SeqUpsample2x()
        self.lif = LIF()
        self.conv = conv3x3(dim, dim // 2)
        self.bn = TdBN(dim // 2, V_TH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.lif(self.upsample(x))))


@dataclass(frozen=True, kw_only=True)
class VLIFNetConfig:
    """Constructor arguments of ``VLIFNet``; the defaults are the released Rain200H/Rain1200 model."""

    dim: int = 48  # channels at full resolution; levels 2 and 3 use 2*dim and 4*dim
    T: int = ARCH_T  # time steps (direct encoding repeats the image T times)
    en_num_blocks: tuple[int, ...] = field(default=(4, 4, 8, 8))  # SDEMs at levels 2, 3 ([1], [2]) are used
    de_num_blocks: tuple[int, ...] = field(default=(2, 2, 2, 2))  # SDEMs at levels 2, 3 ([1], [2]) are used
    refinement: bool = False  # 4 extra SDEM(dim): the authors' Rain200L variant
    inp_channels: int = 3
    out_channels: int = 3

    def to_dict(self) -> dict:
        return {"model": "vlifnet", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}


class VLIFNet(nn.Module):
    """VLIF-Net: 3-level spiking U-Net; SMU at full resolution, SDEMs below, global residual."""

    size_multiple = 8

    def __init__(self, dim: int = 48, T: int = ARCH_T, refinement: bool = False, en_num_blocks=(4, 4, 8, 8),
                 de_num_blocks=(2, 2, 2, 2), inp_channels: int = 3, out_channels: int = 3):
        super().__init__()
        check_time_steps(T, "VLIFNet")
        self.config = VLIFNetConfig(dim=dim, T=T, refinement=refinement, en_num_blocks=tuple(en_num_blocks),
                                    de_num_blocks=tuple(de_num_blocks), inp_channels=inp_channels,
                                    out_channels=out_channels)
        self.T = T

        def stage(n: int, c: int) -> nn.Sequential:
            return nn.Sequential(*[SDEM(c, T) for _ in range(n)])

        self.patch_embed = PatchEmbed(inp_channels, dim)
        self.encoder_level1 = SMU(dim, T)
        self.down1_2 = VLIFDown(dim)
        self.encoder_level2 = stage(en_num_blocks[1], dim * 2)
        self.down2_3 = VLIFDown(dim * 2)
        self.encoder_level3 = stage(en_num_blocks[2], dim * 4)
        self.decoder_level3 = stage(de_num_blocks[2], dim * 4)
        self.up3_2 = VLIFUp(dim * 4)
        self.lif_level2 = LIF()
        self.reduce_conv_level2 = SeqConv2d(dim * 4, dim * 2, 1, bias=False)
        self.reduce_bn_level2 = TdBN(dim * 2, V_TH)
        self.decoder_level2 = stage(de_num_blocks[1], dim * 2)
        self.up2_1 = VLIFUp(dim * 2)
        self.lif_level1 = LIF()
        self.reduce_conv_level1 = SeqConv2d(dim * 2, dim, 1, bias=False)
        self.reduce_bn_level1 = TdBN(dim, V_TH)
        self.decoder_level1 = SMU(dim, T)
        self.additional_sunet_level1 = SMU(dim, T)
        self.refinement_blocks = stage(4, dim) if refinement else None
        self.output = nn.Sequential(nn.Conv2d(dim, out_channels, 3, padding=1, bias=True))

    def forward(self, inp_img: torch.Tensor) -> torch.Tensor:
        x = inp_img.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        e1 = self.encoder_level1(self.patch_embed(x))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        d3 = self.decoder_level3(e3)
        c2 = torch.cat([self.up3_2(d3), e2], dim=2)
        d2 = self.reduce_bn_level2(self.reduce_conv_level2(self.lif_level2(c2)))
        d2 = self.decoder_level2(d2)
        c1 = torch.cat([self.up2_1(d2), e1], dim=2)
        d1 = self.reduce_bn_level1(self.reduce_conv_level1(self.lif_level1(c1)))
        d1 = self.additional_sunet_level1(self.decoder_level1(d1))
        if self.refinement_blocks is not None:
            d1 = self.refinement_blocks(d1)
        return self.output(d1.mean(0)) + inp_img
