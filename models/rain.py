"""Seeded synthetic rain on clean photographs that ship inside installed wheels.

The renderer is the usual streak model (``docs/sources.md`` §2.3): sparse noise, thresholded, widened by a
small Gaussian, motion-blurred along a rotated line, scaled to an intensity and screen-blended onto the image;
optionally several layers at different angles (Yang et al. 2017) and haze O = a*O + (1 - a)*A.

Clean images come from scikit-image's bundled data and matplotlib's ``grace_hopper.jpg``, all offline.
Train and test photos are disjoint by source (the two motorcycle views are one source).

The ``varied`` preset draws each image with one of several independent renderers (``renderers.py``) over more
photos (every photograph the two wheels bundle), each varied by crop, scale, stretch, flips and quarter turns.
The older ``light``/``heavy``/``mixed`` presets keep their original photos and output, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage, signal


@dataclass(frozen=True, kw_only=True)
class RainParams:
    """Streak parameters; ranges are sampled uniformly per image (one angle per layer)."""

    angle: tuple[float, float] = (-10.0, 10.0)  # degrees from vertical
    length: tuple[int, int] = (10, 20)  # motion-blur length in pixels
    density: tuple[float, float] = (0.005, 0.01)  # fraction of pixels seeding a streak
    width: float = 0.5  # Gaussian sigma of the streak cross-section, pixels (0 = 1 px)
    intensity: tuple[float, float] = (0.3, 0.5)  # peak streak brightness
    haze: tuple[float, float] = (0.0, 0.0)  # 1 - transmission; 0 = no haze
    airlight: tuple[float, float] = (0.8, 0.9)
    layers: int = 1  # streak layers, each with its own angle and length


PRESETS: dict[str, RainParams] = {
    # Rain100L/Rain200L-like: sparse, thin, near-vertical, faint, no haze.
    "light": RainParams(),
    # Rain100H/Rain200H-like: dense, long, slanted streaks in two layers, with haze.
    "heavy": RainParams(angle=(-30.0, 30.0), length=(20, 40), density=(0.01, 0.025), width=0.8,
                        intensity=(0.5, 0.8), haze=(0.05, 0.15), layers=2),
}


def line_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised anti-aliased line of ``length`` px at ``angle_deg`` from vertical."""
    size = length if length % 2 == 1 else length + 1
    k = np.zeros((size, size), np.float64)
    c = size // 2
    t = np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length)
    a = np.deg2rad(angle_deg)
    ys, xs = c + t * np.cos(a), c + t * np.sin(a)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)
            np.add.at(k, (yy, xx), wy * wx)
    return k / k.sum()


def _u(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def streak_layer(shape: tuple[int, int], p: RainParams, rng: np.random.Generator) -> np.ndarray:
    H, W = shape
    noise = rng.random((H, W))
    seeds = np.where(noise < _u(rng, p.density), rng.uniform(0.5, 1.0, (H, W)), 0.0)
    if p.width > 0:
        seeds = ndimage.gaussian_filter(seeds, p.width)
    length = int(rng.integers(p.length[0], p.length[1] + 1))
    streaks = signal.fftconvolve(seeds, line_kernel(length, _u(rng, p.angle)), mode="same")
    streaks = np.clip(streaks, 0.0, None)
    peak = np.percentile(streaks, 99.9)
    if peak <= 0:
        return np.zeros((H, W))
    return np.clip(streaks / peak, 0.0, 1.0) * _u(rng, p.intensity)


def render_rain(clean: np.ndarray, params: RainParams, rng: np.random.Generator) -> np.ndarray:
    """Rainy version of ``clean`` (float RGB in [0, 1]); deterministic for a given ``rng`` state."""
    out = clean.astype(np.float64)
    for _ in range(params.layers):
        s = streak_layer(out.shape[:2], params, rng)[..., None]
        out = 1.0 - (1.0 - out) * (1.0 - s)  # screen blend
    haze = _u(rng, params.haze)
    if haze > 0:
        out = (1.0 - haze) * out + haze * _u(rng, params.airlight)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---- clean photographs available offline ------------------------------------------------------------------

def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        img = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":
            img = img[0]
        return img

    return load


def _motorcycle_right() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[1]


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
        return np.asarray(im.convert("RGB"))


#: source photo -> loader. Both motorcycle views are the same scene, hence one source. These are all the
#: photographs scikit-image's wheel bundles (``microaneurysms``, 102 px, is too small to crop) and the one in
#: matplotlib's sample data; drawings, test patterns and icons are left out.
PHOTOS: dict[str, list[Callable[[], np.ndarray]]] = {
    "astronaut": [_skimage("astronaut")],
    "camera": [_skimage("camera")],
    "gravel": [_skimage("gravel")],
    "brick": [_skimage("brick")],
    "grass": [_skimage("grass")],
    "moon": [_skimage("moon")],
    "coins": [_skimage("coins")],
    "page": [_skimage("page")],
    "text": [_skimage("text")],
    "cell": [_skimage("cell")],
    "clock": [_skimage("clock")],
    "rocket": [_skimage("rocket")],
    "motorcycle": [_skimage("stereo_motorcycle"), _motorcycle_right],
    "hubble_deep_field": [_skimage("hubble_deep_field")],
    "retina": [_skimage("retina")],
    "immunohistochemistry": [_skimage("immunohistochemistry")],
    "chelsea": [_skimage("chelsea")],
    "coffee": [_skimage("coffee")],
    "grace_hopper": [_grace_hopper],
}

_LEGACY_TRAIN = ("astronaut", "rocket", "motorcycle", "hubble_deep_field", "retina", "immunohistochemistry")
SPLITS: dict[str, tuple[str, ...]] = {
    "train": _LEGACY_TRAIN + ("camera", "gravel", "brick", "grass", "moon", "coins", "page", "text", "cell",
                              "clock"),
    "test": ("chelsea", "coffee", "grace_hopper"),
}
#: the photos of the light/heavy/mixed presets, unchanged so that their documented datasets stay reproducible
LEGACY_SPLITS: dict[str, tuple[str, ...]] = {"train": _LEGACY_TRAIN, "test": SPLITS["test"]}


def photos(split: str, *, legacy: bool = False) -> list[tuple[str, np.ndarray]]:
    """(source name, float RGB image) for every photo of a split."""
    out = []
    for src in (LEGACY_SPLITS if legacy else SPLITS)[split]:
        for i, load in enumerate(PHOTOS[src]):
            img = np.asarray(load())
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            out.append((f"{src}{i}" if len(PHOTOS[src]) > 1 else src, img[..., :3].astype(np.float32) / 255.0))
    return out


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` x ``size`` crop after a random downscale (0.35-1.0, never below the crop size)."""
    H, W = img.shape[:2]
    lo = max(size / min(H, W), 0.35)
    scale = float(rng.uniform(lo, 1.0)) if lo < 1.0 else 1.0
    if scale < 1.0:
        from skimage.transform import resize

        img = resize(img, (max(size, round(H * scale)), max(size, round(W * scale))), anti_aliasing=True,
                     preserve_range=True).astype(np.float32)
    H, W = img.shape[:2]
    y, x = int(rng.integers(0, H - size + 1)), int(rng.integers(0, W - size + 1))
    return img[y:y + size, x:x + size]


def varied_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop after a random stretch (0.8-1.25 in one axis), a flip and a quarter turn."""
    from skimage.transform import resize

    H, W = img.shape[:2]
    stretch = float(rng.uniform(0.8, 1.25))
    if stretch > 1.0:
        img = resize(img, (H, round(W * stretch)), anti_aliasing=True, preserve_range=True).astype(np.float32)
    else:
        img = resize(img, (round(H / stretch), W), anti_aliasing=True, preserve_range=True).astype(np.float32)
    crop = random_crop(img, size, rng)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    return np.ascontiguousarray(np.rot90(crop, int(rng.integers(4))))


@dataclass(frozen=True, kw_only=True)
class SynthSpec:
    preset: str = "light"  # "light", "heavy", "mixed" (alternating) or "varied" (the renderer mix)
    n_train: int = 64
    n_test: int = 24
    size: int = 128
    seed: int = 0
    overrides: dict = field(default_factory=dict)  # RainParams fields to override
    renderers: tuple[str, ...] = ()  # "varied": the renderers to pick from (default all)
    exclude: tuple[str, ...] = ()  # "varied": renderers left out


def preset_for(preset: str, index: int) -> RainParams:
    if preset == "mixed":
        return PRESETS["light" if index % 2 == 0 else "heavy"]
    return PRESETS[preset]


def synth_pairs(split: str, n: int, spec: SynthSpec):
    """Yield (name, rainy, clean) for ``n`` images of ``split``; seeded by (seed, split)."""
    rng = np.random.default_rng([spec.seed, 0 if split == "train" else 1])
    if spec.preset == "varied":
        yield from _varied_pairs(split, n, spec, rng)
        return
    sources = photos(split, legacy=True)
    for i in range(n):
        src_name, img = sources[i % len(sources)]
        clean = random_crop(img, spec.size, rng)
        params = replace(preset_for(spec.preset, i), **spec.overrides)
        rainy = render_rain(clean, params, rng)
        yield f"{split}_{i:04d}_{src_name}", rainy, clean


def varied_name(split: str, index: int, renderer: str, photo: str) -> str:
    """A ``varied`` pair's name: it records the renderer that drew it (``test_0007_drops_coffee``)."""
    return f"{split}_{index:04d}_{renderer}_{photo}"


def renderer_of(name: str) -> str | None:
    """The inverse of :func:`varied_name` for the renderer, or None for a name not made by it."""
    from spikerain.models.renderers import RENDERERS

    parts = name.split("_")
    if len(parts) >= 4 and parts[0] in SPLITS and parts[1].isdigit() and parts[2] in RENDERERS:
        return parts[2]
    return None


def _varied_pairs(split: str, n: int, spec: SynthSpec, rng: np.random.Generator):
    from spikerain.models.renderers import jitter_scene, render_with, resolve

    mix = resolve(spec.renderers, spec.exclude)
    sources = photos(split)
    for i in range(n):
        src_name, img = sources[int(rng.integers(len(sources)))]
        name = mix[int(rng.integers(len(mix)))]
        clean = jitter_scene(varied_crop(img, spec.size, rng), rng)
        clean = (np.round(clean * 255) / 255).astype(np.float32)  # the 8-bit target the PNG will hold
        rainy = render_with(clean, name, rng)
        yield varied_name(split, i, name, src_name), rainy, clean


def write_synthetic(out_dir, spec: SynthSpec, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write ``out_dir/{train,test}/{input,target}/NAME.png``; the same spec gives byte-identical files."""
    from pathlib import Path

    from spikerain.imageio import write_image

    out = Path(out_dir)
    total = spec.n_train + spec.n_test
    done = 0
    counts = {}
    for split, n in (("train", spec.n_train), ("test", spec.n_test)):
        for name, rainy, clean in synth_pairs(split, n, spec):
            write_image(out / split / "input" / f"{name}.png", rainy)
            write_image(out / split / "target" / f"{name}.png", clean)
            done += 1
            if progress is not None:
                progress(done, total)
        counts[split] = n
    splits = SPLITS if spec.preset == "varied" else LEGACY_SPLITS
    summary = {"out": str(out), "counts": counts, "photos": {k: list(v) for k, v in splits.items()}}
    if spec.preset == "varied":
        from spikerain.models.renderers import resolve

        summary["renderers"] = list(resolve(spec.renderers, spec.exclude))
    return summary
