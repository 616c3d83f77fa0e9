"""Image-quality metrics with the authors' conventions (``evaluation.py``; ``docs/sources.md`` §2.2), in numpy.

* :func:`psnr_y` / :func:`ssim_y`: the authors' ``evaluation.py``: Y channel (BT.601, MATLAB coefficients,
  Y not rounded) on [0, 255], 4-pixel border crop, SSIM with an 11x11 Gaussian window (sigma 1.5) keeping
  only the valid region, population statistics.
* :func:`psnr_rgb` / :func:`ssim_rgb`: the same on each RGB channel, averaged (``--Test_Y`` false).

Inputs are float RGB arrays ``H x W x 3`` in [0, 1]; call :func:`quantize8` first to score 8-bit files as the
authors do.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

CROP_BORDER = 4
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def quantize8(img: np.ndarray) -> np.ndarray:
    """Clamp and round to 8-bit levels, returned as float in [0, 1] (what a saved PNG holds)."""
    return np.round(np.clip(img, 0.0, 1.0) * 255.0) / 255.0


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] from RGB in [0, 1] (MATLAB ``rgb2ycbcr``), float64, not rounded."""
    rgb = np.asarray(img, dtype=np.float64) * 255.0
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def _crop(a: np.ndarray, border: int) -> np.ndarray:
    return a[border:-border, border:-border] if border > 0 else a


def _psnr_255(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(20.0 * np.log10(255.0 / np.sqrt(mse)))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_255(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two single-channel images in [0, 255]: Gaussian 11x11, valid region only."""
    g = _gaussian_window()
    pad = len(g) // 2

    def filt(x: np.ndarray) -> np.ndarray:
        y = correlate1d(correlate1d(x, g, axis=0, mode="mirror"), g, axis=1, mode="mirror")
        return y[pad:-pad, pad:-pad]

    mu1, mu2 = filt(a), filt(b)
    s11 = filt(a * a) - mu1 * mu1
    s22 = filt(b * b) - mu2 * mu2
    s12 = filt(a * b) - mu1 * mu2
    num = (2 * mu1 * mu2 + _C1) * (2 * s12 + _C2)
    den = (mu1**2 + mu2**2 + _C1) * (s11 + s22 + _C2)
    return float(np.mean(num / den))


def _check(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"image shapes differ: {pred.shape} vs {target.shape}")


def psnr_y(pred: np.ndarray, target: np.ndarray, crop_border: int = CROP_BORDER) -> float:
    _check(pred, target)
    return _psnr_255(_crop(rgb_to_y(pred), crop_border), _crop(rgb_to_y(target), crop_border))


def ssim_y(pred: np.ndarray, target: np.ndarray, crop_border: int = CROP_BORDER) -> float:
    _check(pred, target)
    return _ssim_255(_crop(rgb_to_y(pred), crop_border), _crop(rgb_to_y(target), crop_border))


def psnr_rgb(pred: np.ndarray, target: np.ndarray, crop_border: int = CROP_BORDER) -> float:
    _check(pred, target)
    a, b = _crop(np.asarray(pred, np.float64) * 255, crop_border), _crop(np.asarray(target, np.float64) * 255,
                                                                        crop_border)
    return float(np.mean([_psnr_255(a[..., c], b[..., c]) for c in range(3)]))


def ssim_rgb(pred: np.ndarray, target: np.ndarray, crop_border: int = CROP_BORDER) -> float:
    _check(pred, target)
    a, b = _crop(np.asarray(pred, np.float64) * 255, crop_border), _crop(np.asarray(target, np.float64) * 255,
                                                                        crop_border)
    return float(np.mean([_ssim_255(a[..., c], b[..., c]) for c in range(3)]))


def all_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Y and RGB PSNR/SSIM of an output scored as its saved 8-bit file."""
    p, t = quantize8(pred), quantize8(target)
    return {"psnr_y": psnr_y(p, t), "ssim_y": ssim_y(p, t), "psnr_rgb": psnr_rgb(p, t), "ssim_rgb": ssim_rgb(p, t)}
