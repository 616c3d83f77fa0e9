"""Training losses on RGB in [0, 1].

``ssim`` is the authors' ``train.py`` loss, 1 - SSIM (Gaussian window 11, sigma 1.5, zero padding,
C1 = 0.01^2, C2 = 0.03^2, mean over the map). ``ssim+psnr`` adds the negative PSNR in dB (the PSNR loss of
HINet / NAFNet, 10 log10 MSE), because 1 - SSIM alone is blind to small uniform colour and brightness offsets
that cost Y-PSNR; its weight makes one dB of PSNR worth about as much as 0.01 of SSIM, the size of the SSIM
change that one dB brings on these rainy patches. ``psnr`` is the PSNR loss alone, for a last fine-tune toward
the Y-PSNR that the held-out checks measure once SSIM has shaped the structure."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _window(size: int = 11, sigma: float = 1.5, channels: int = 3) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    w2 = torch.outer(g, g)
    return w2.expand(channels, 1, size, size).contiguous()


def ssim(img1: torch.Tensor, img2: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    c = img1.shape[1]
    w = _window(window_size, 1.5, c).to(img1)
    pad = window_size // 2
    mu1 = F.conv2d(img1, w, padding=pad, groups=c)
    mu2 = F.conv2d(img2, w, padding=pad, groups=c)
    s11 = F.conv2d(img1 * img1, w, padding=pad, groups=c) - mu1 * mu1
    s22 = F.conv2d(img2 * img2, w, padding=pad, groups=c) - mu2 * mu2
    s12 = F.conv2d(img1 * img2, w, padding=pad, groups=c) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    return m.mean()


def ssim_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 1.0 - ssim(restored, target)


# One dB of PSNR weighs as much as 0.02 of 1 - SSIM (see the module docstring).
PSNR_WEIGHT = 0.02
_MSE_FLOOR = 1e-10  # keeps log10 finite when a patch is restored exactly


def psnr_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative PSNR in dB per image, averaged over the batch (data range 1)."""
    mse = ((restored - target) ** 2).flatten(1).mean(1)
    return (10.0 * torch.log10(mse + _MSE_FLOOR)).mean()


def ssim_psnr_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ssim_loss(restored, target) + PSNR_WEIGHT * psnr_loss(restored, target)


LOSSES = {"ssim": ssim_loss, "ssim+psnr": ssim_psnr_loss, "psnr": psnr_loss}
