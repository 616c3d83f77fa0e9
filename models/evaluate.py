"""Evaluation: per-image Y/RGB PSNR and SSIM of the rainy input and of the restored output."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from spikerain.models.metrics import all_metrics
from spikerain.models.rain import renderer_of
from spikerain.models.tiling import restore


def evaluate(model: nn.Module, pairs: list[tuple[str, np.ndarray, np.ndarray]], *, tiled: bool = True,
             progress: Callable[[int, int], None] | None = None) -> dict:
    rows = []
    for i, (name, rainy, clean) in enumerate(pairs):
        rows.append(score(model, name, rainy, clean, tiled=tiled))
        if progress is not None:
            progress(i + 1, len(pairs))
    return summarise(rows)


def score(model: nn.Module, name: str, rainy: np.ndarray, clean: np.ndarray, *, tiled: bool = True) -> dict:
    """One image's row: metrics of the input and of the restored output against the target."""
    out = restore(model, rainy, tiled=tiled)
    return {"name": name, "input": all_metrics(rainy, clean), "output": all_metrics(out, clean)}


_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def _means(rows: list[dict]) -> dict:
    mean = {side: {k: float(np.mean([r[side][k] for r in rows])) for k in _KEYS} for side in ("input", "output")}
    return {"mean": mean, "n": len(rows), "gain_psnr_y": mean["output"]["psnr_y"] - mean["input"]["psnr_y"]}


def summarise(rows: list[dict]) -> dict:
    """The result of :func:`evaluate` from its rows (in image order). When every image was drawn by the renderer
    mix (its name says which renderer: ``spikerain data synth``), also the means per renderer (``by_renderer``):
    the renderers are drawn per image, so a set's mean depends on how many of each it holds."""
    result = {"images": rows, **_means(rows)}
    names = [renderer_of(r["name"]) for r in rows]
    if rows and all(names):
        result["by_renderer"] = {k: _means([r for r, n in zip(rows, names, strict=True) if n == k])
                                 for k in sorted(set(names))}
    return result
