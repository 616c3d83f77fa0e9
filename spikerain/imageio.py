"""Reading and writing images with Pillow, torch-free.

Every accepted input (RGB, RGBA, grayscale, 16-bit, palette; PNG or JPEG) becomes a float32 ``H x W x 3`` array
in [0, 1]. Anything else gets one :class:`~spikerain.errors.ImageReadError` naming the file and the cause.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from spikerain.atomic import atomic_path
from spikerain.errors import ImageReadError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Largest image read, in pixels: Pillow's own decompression-bomb limit (about 89 M pixels, 1 GB as float RGB).
#: Checked from the header, before any pixel is decoded, so a small file cannot claim gigabytes.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


def _to_float_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / peak, 0.0, 1.0)
        return np.repeat(arr[..., None], 3, axis=2).astype(np.float32)
    if mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
        return np.repeat(arr[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite on white: a transparent pixel has no colour of its own.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return arr


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as float32 RGB ``H x W x 3`` in [0, 1]."""
    p = Path(path)
    if p.is_dir():
        raise ImageReadError(p, "it is a directory", fix="pass an image file inside it")
    if not p.exists():
        raise ImageReadError(p, "no such file", fix="check the path")
    if p.stat().st_size == 0:
        raise ImageReadError(p, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below in one line instead
            img = Image.open(p)
        with img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageReadError(p, f"{img.width}x{img.height} pixels is more than the {MAX_PIXELS} spikerain "
                                        "reads (a decompression bomb, or an image far too large)",
                                     fix="downscale or crop it first")
            img.load()
            if img.width == 0 or img.height == 0:
                raise ImageReadError(p, f"the image has zero size ({img.width}x{img.height})")
            return _to_float_rgb(img)
    except Image.DecompressionBombError as e:
        raise ImageReadError(p, f"it claims more pixels than Pillow's decompression-bomb limit ({e})",
                             fix="downscale or crop it first") from e
    except UnidentifiedImageError as e:
        raise ImageReadError(p, "not an image format Pillow can read") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(p, f"the file is truncated or corrupt ({e})") from e


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Clamp to [0, 1] and round to 8 bits, like scikit-image's ``img_as_ubyte`` on clamped floats."""
    return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Atomically write a float RGB (or grayscale) array in [0, 1] as an 8-bit image; format from the suffix."""
    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"cannot tell the image format of {p}", fix=f"use one of {', '.join(IMAGE_SUFFIXES)}")
    data = to_uint8(arr)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(p.suffix.lower(),
                                                                              p.suffix[1:].upper())
    with atomic_path(p) as tmp:
        Image.fromarray(data).save(tmp, format=fmt)
