"""The authors' tile grid and overlap blending, torch-free (``docs/sources.md`` §1.4).

80x80 tiles with 8 px overlap; the last tile along each axis is flush with the border; an image smaller than a
tile is padded to it by reflection; tiles are merged with the weight w(h, w) = 1 / sqrt((h - c)^2 + (w - c)^2 +
0.001), c = tile // 2. The float model's tiled inference (:mod:`spikerain.models.tiling`), the fast simulator and
Lava (``spikerain simulate --tile``) all cut images with these functions, so that their tiled outputs can be compared
byte for byte. Unlike the other modules of ``spikerain.models`` this one needs only numpy.
"""

from __future__ import annotations

import numpy as np

TILE = 80
OVERLAP = 8


def tile_starts(size: int, tile: int = TILE, overlap: int = OVERLAP) -> list[int]:
    """Start offsets along one axis (requires size >= tile and 0 <= overlap < tile)."""
    starts = list(range(0, size, tile - overlap))
    while starts and starts[-1] + tile >= size:
        starts.pop()
    starts.append(size - tile)
    return starts


def merge_weights(tile: int = TILE) -> np.ndarray:
    c = tile // 2
    h, w = np.meshgrid(np.arange(tile), np.arange(tile), indexing="ij")
    return (1.0 / np.sqrt((h - c) ** 2 + (w - c) ** 2 + 0.001)).astype(np.float32)


def pad_to(img: np.ndarray, min_h: int, min_w: int) -> np.ndarray:
    """Pad ``H x W x C`` at the bottom/right to at least ``min_h x min_w``: by reflection, or by repeating the
    edge where the image is too small to reflect."""
    H, W = img.shape[:2]
    ph, pw = max(0, min_h - H), max(0, min_w - W)
    if ph == 0 and pw == 0:
        return img
    mode = "reflect" if ph < H and pw < W else "edge"
    return np.pad(img, ((0, ph), (0, pw), (0, 0)), mode=mode)


def pad_to_multiple(img: np.ndarray, m: int) -> np.ndarray:
    """Reflect-pad ``H x W x C`` at the bottom/right so both sides are multiples of ``m`` (crop back after)."""
    H, W = img.shape[:2]
    return pad_to(img, -(-H // m) * m, -(-W // m) * m)


def tile_boxes(H: int, W: int, tile: int = TILE, overlap: int = OVERLAP) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of the tiles of an ``H x W`` image padded to at least one tile, row by row."""
    Hp, Wp = max(H, tile), max(W, tile)
    return [(y, x) for y in tile_starts(Hp, tile, overlap) for x in tile_starts(Wp, tile, overlap)]


def blend(outs, boxes: list[tuple[int, int]], size: tuple[int, int], tile: int) -> np.ndarray:
    """Merge tile outputs ``[C, tile, tile]`` at ``boxes`` into one ``[C, H, W]`` (float64) of the padded ``size``.

    Each tile's weight is divided by the per-pixel sum of weights before it multiplies the tile's output, so a
    pixel covered by one tile gets exactly that tile's value (w / w == 1 in IEEE arithmetic): tiles without
    overlap give the tiles' bytes unchanged."""
    w = merge_weights(tile).astype(np.float64)
    norm = np.zeros(size, np.float64)
    for y, x in boxes:
        norm[y:y + tile, x:x + tile] += w
    out = None
    for (y, x), o in zip(boxes, outs, strict=True):
        o = np.asarray(o, np.float64)
        if out is None:
            out = np.zeros((o.shape[0], *size), np.float64)
        out[:, y:y + tile, x:x + tile] += (w / norm[y:y + tile, x:x + tile]) * o
    return out
