"""The shipped sample: a rainy image and its clean original, used when a command is given no input.

Both are made by :func:`make_sample` from the held-out ``chelsea`` photo (scikit-image), which no shipped
checkpoint saw in training; the files in ``spikerain/assets`` are its output.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

SAMPLE_SIZE = (160, 240)  # H, W; multiples of 8 so both networks also run it without tiling
SAMPLE_SEED = 7


#: the renderer of the sample's rain: `layers` (near, far and mid streak layers, blurred with depth) is the one
#: the shipped checkpoints' fine-tune left out (docs/checkpoints.md), so the sample shows rain they never saw
SAMPLE_RENDERER = "layers"


def sample_pair() -> tuple[Path, Path]:
    """(rainy, clean) paths of the shipped sample."""
    root = Path(str(resources.files("spikerain") / "assets"))
    return root / "sample_rainy.png", root / "sample_clean.png"


def make_sample(out_dir: str | Path) -> tuple[Path, Path]:
    """Render the sample pair deterministically into ``out_dir``."""
    from skimage.transform import resize

    from spikerain.imageio import write_image
    from spikerain.models.rain import photos
    from spikerain.models.renderers import render_with

    (_, photo), = [p for p in photos("test") if p[0] == "chelsea"]
    H, W = SAMPLE_SIZE
    clean = resize(photo, (H, int(round(photo.shape[1] * H / photo.shape[0]))), anti_aliasing=True)
    x0 = (clean.shape[1] - W) // 2
    clean = np.round(clean[:, x0:x0 + W] * 255) / 255
    rainy = render_with(clean.astype(np.float32), SAMPLE_RENDERER, np.random.default_rng(SAMPLE_SEED))
    out = Path(out_dir)
    write_image(out / "sample_rainy.png", rainy)
    write_image(out / "sample_clean.png", clean)
    return out / "sample_rainy.png", out / "sample_clean.png"
