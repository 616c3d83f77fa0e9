"""Whole-image inference, tiled as in the authors' ``test.py`` (``docs/sources.md`` §1.4).

80x80 tiles with 8 px overlap; the last tile along each axis is flush with the border; tiles are merged with
the weight w(h, w) = 1 / sqrt((h - 40)^2 + (w - 40)^2 + 0.001). Each tile is an independent forward call (the
networks reset neuron state on every call, and every op is per-sample), so tiles are batched for speed.
Images smaller than a tile are padded by reflection. Memory is bounded by the batch of tiles plus two float
accumulators the size of the image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from spikerain.models.inference import prepare_for_inference

# the tile grid, weights and padding are shared with the fast simulator's and Lava's tiled runs (torch-free)
from spikerain.models.tile_grid import OVERLAP, TILE, merge_weights, pad_to_multiple, tile_starts  # noqa: F401
from spikerain.models.tile_grid import pad_to as _pad_to


def _forward(model: nn.Module, batch: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
    return model(x).numpy().transpose(0, 2, 3, 1)


@torch.inference_mode()
def restore_tiled(model: nn.Module, img: np.ndarray, *, tile: int = TILE, overlap: int = OVERLAP,
                  batch_size: int = 4, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Derain an ``H x W x 3`` float image tile by tile; returns the unclamped output, same size."""
    model = prepare_for_inference(model)
    H, W = img.shape[:2]
    work = _pad_to(img.astype(np.float32), tile, tile)
    Hp, Wp = work.shape[:2]
    boxes = [(y, x) for y in tile_starts(Hp, tile, overlap) for x in tile_starts(Wp, tile, overlap)]
    weight = merge_weights(tile)[..., None]
    acc = np.zeros((Hp, Wp, 3), np.float32)
    norm = np.zeros((Hp, Wp, 1), np.float32)
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        out = _forward(model, np.stack([work[y:y + tile, x:x + tile] for y, x in chunk]))
        for (y, x), o in zip(chunk, out, strict=True):
            acc[y:y + tile, x:x + tile] += weight * o
            norm[y:y + tile, x:x + tile] += weight
        if progress is not None:
            progress(min(i + batch_size, len(boxes)), len(boxes))
    return (acc / norm)[:H, :W]


@torch.inference_mode()
def restore_whole(model: nn.Module, img: np.ndarray, multiple: int | None = None) -> np.ndarray:
    """Derain in one forward call, reflect-padding to the network's size multiple and cropping back."""
    m = multiple or getattr(model, "size_multiple", 8)
    model = prepare_for_inference(model)
    H, W = img.shape[:2]
    work = pad_to_multiple(img.astype(np.float32), m)
    return _forward(model, work[None])[0][:H, :W]


def restore(model: nn.Module, img: np.ndarray, *, tiled: bool = True, **kw) -> np.ndarray:
    return restore_tiled(model, img, **kw) if tiled else restore_whole(model, img)
