"""Evaluation: per-image Y/RGB PSNR and SSIM of the rainy input and of the restored output."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from spikerain.models.metrics import all_metrics
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


def summarise(rows: list[dict]) -> dict:
    """The result of :func:`evaluate` from its rows (in image order)."""
    keys = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
    mean = {side: {k: float(np.mean([r[side][k] for r in rows])) for k in keys} for side in ("input", "output")}
    return {"images": rows, "mean": mean, "n": len(rows),
            "gain_psnr_y": mean["output"]["psnr_y"] - mean["input"]["psnr_y"]}
