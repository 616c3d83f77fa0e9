"""Several independent rain renderers, so that a network learns rain rather than one renderer's look.

Each renderer draws a rain map (and may alter the scene behind it, as drops refract it); :func:`render_varied`
then blends it onto the photo by addition, screen or alpha, adds haze/veiling ``O = a*O + (1 - a)*A`` with a
per-image atmospheric light ``A``, and degrades the rainy image as a camera would (mild Gaussian noise, JPEG).
Every parameter is drawn per image from the generator passed in, so a seed gives byte-identical output.

Renderers (``RENDERERS``):

* ``blur``: the classic streak model (sparse noise, widened, motion-blurred along a line; ``rain.streak_layer``)
  with widely randomized density, length, angle, width and one or two layers;
* ``segments``: streaks drawn one by one as anti-aliased segments, each with its own length, width and
  brightness and an angle jittered around a per-image wind direction;
* ``layers``: two to four depth layers of such segments: near ones long, wide, bright and defocused, far ones
  short, thin, faint and dense;
* ``drops``: drops on the lens (soft discs that refract and blur the scene behind them, with a highlight) and
  splashes (short bright spokes radiating from impact points);
* ``drizzle``: dense, very short, faint streaks under strong veiling, as in fine rain.

The photometric jitter of the *scene* (brightness, contrast, gamma, colour) is applied to the clean photo before
rendering (:func:`jitter_scene`), so that the clean target and the rainy input share it: a network should not
learn to undo a colour cast that no rainy/clean pair could reveal.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from spikerain.models.rain import RainParams, streak_layer

RENDERERS = ("blur", "segments", "layers", "drops", "drizzle")


def _draw_segments(shape: tuple[int, int], rng: np.random.Generator, *, count: int, direction: float,
                   jitter: float, length: tuple[float, float], width: tuple[float, float],
                   brightness: tuple[float, float]) -> np.ndarray:
    """``count`` anti-aliased segments (max-combined) on an H x W map in [0, 1].

    The coverage of a pixel is ``clip(w/2 + 0.5 - d, 0, 1)`` for its distance ``d`` to the segment (a box
    filter of a line of width ``w``), faded towards both ends so that streaks taper as motion-blurred drops do.
    """
    H, W = shape
    out = np.zeros((H, W), np.float64)
    n = int(count)
    ang = np.deg2rad(direction + rng.normal(0.0, jitter, n))
    lens = rng.uniform(*length, n)
    wids = rng.uniform(*width, n)
    vals = rng.uniform(*brightness, n)
    # centres over a margin so that streaks also enter from the borders
    cy = rng.uniform(-lens.max() / 2, H + lens.max() / 2, n)
    cx = rng.uniform(-lens.max() / 2, W + lens.max() / 2, n)
    for i in range(n):
        dy, dx = np.cos(ang[i]), np.sin(ang[i])
        half = lens[i] / 2
        r = half * max(abs(dy), abs(dx)) + wids[i] + 1
        y0, y1 = max(0, int(cy[i] - r - abs(dy) * half)), min(H, int(cy[i] + r + abs(dy) * half) + 1)
        x0, x1 = max(0, int(cx[i] - r - abs(dx) * half)), min(W, int(cx[i] + r + abs(dx) * half) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        py, px = yy + 0.5 - cy[i], xx + 0.5 - cx[i]
        t = py * dy + px * dx  # along the streak
        d = np.abs(-py * dx + px * dy)  # across it
        beyond = np.clip(np.abs(t) - half, 0.0, None)
        dist = np.hypot(d, beyond)
        cover = np.clip(wids[i] / 2 + 0.5 - dist, 0.0, 1.0)
        taper = np.clip(1.0 - (np.abs(t) / max(half, 1e-6)) ** 2, 0.0, 1.0) ** 0.5
        np.maximum(out[y0:y1, x0:x1], vals[i] * cover * (0.35 + 0.65 * taper), out=out[y0:y1, x0:x1])
    return out


def _count(rng, H, W, per_px: tuple[float, float]) -> int:
    return max(1, int(rng.uniform(*per_px) * H * W))


def rain_blur(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    H, W = clean.shape[:2]
    layers = int(rng.integers(1, 3))
    R = np.zeros((H, W))
    base_angle = rng.uniform(-35, 35)
    for _ in range(layers):
        a = base_angle + rng.uniform(-10, 10)
        lo = int(rng.integers(6, 25))
        p = RainParams(angle=(a, a), length=(lo, lo + int(rng.integers(0, 20))),
                       density=(rng.uniform(0.002, 0.02),) * 2, width=float(rng.uniform(0.0, 1.0)),
                       intensity=(rng.uniform(0.25, 0.8),) * 2)
        R = 1.0 - (1.0 - R) * (1.0 - streak_layer((H, W), p, rng))
    return clean, R


def rain_segments(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    H, W = clean.shape[:2]
    lmin = rng.uniform(5, 20)
    R = _draw_segments((H, W), rng, count=_count(rng, H, W, (0.002, 0.012)), direction=rng.uniform(-35, 35),
                       jitter=rng.uniform(1, 8), length=(lmin, lmin * rng.uniform(1.5, 3.0)),
                       width=(0.6, rng.uniform(1.0, 2.2)), brightness=(rng.uniform(0.2, 0.4), rng.uniform(0.5, 0.9)))
    return clean, R


def rain_layers(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    H, W = clean.shape[:2]
    n = int(rng.integers(2, 5))
    wind = rng.uniform(-30, 30)
    R = np.zeros((H, W))
    for k in range(n):
        z = k / (n - 1)  # 0 = nearest, 1 = farthest
        L = (1 - z) * rng.uniform(25, 50) + z * rng.uniform(4, 10)
        w = (1 - z) * rng.uniform(1.5, 3.0) + z * rng.uniform(0.5, 0.9)
        b = (1 - z) * rng.uniform(0.45, 0.8) + z * rng.uniform(0.12, 0.3)
        per_px = (1 - z) * 0.0008 + z * 0.012
        layer = _draw_segments((H, W), rng, count=_count(rng, H, W, (per_px * 0.5, per_px * 1.5)),
                               direction=wind + rng.uniform(-5, 5), jitter=rng.uniform(1, 4),
                               length=(0.7 * L, 1.3 * L), width=(0.8 * w, 1.2 * w), brightness=(0.7 * b, b))
        if z < 0.5:  # near drops are out of focus
            layer = ndimage.gaussian_filter(layer, rng.uniform(0.6, 1.8)) * rng.uniform(1.2, 1.8)
        R = 1.0 - (1.0 - R) * (1.0 - np.clip(layer, 0.0, 1.0))
    return clean, R


def rain_drops(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lens drops refract a blurred, displaced and slightly brightened view of the scene; splashes are spokes."""
    H, W = clean.shape[:2]
    base = clean.astype(np.float64).copy()
    R = np.zeros((H, W))
    blurred = ndimage.gaussian_filter(base, (rng.uniform(1.5, 3.5),) * 2 + (0,))
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(int(rng.integers(3, 3 + max(1, H * W // 700)))):
        r = rng.uniform(1.5, max(2.0, min(H, W) / 14))
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        e = rng.uniform(0.7, 1.3)  # elongation
        d = np.hypot((yy - cy) / (r * e), (xx - cx) / r)
        inside = np.clip((1.0 - d) * r, 0.0, 1.0)  # anti-aliased disc edge
        if not inside.any():
            continue
        # refraction: the drop shows the scene from a little above, blurred (a lens flips and shrinks it)
        sy, sx = int(round(rng.uniform(-2, 2) * r)), int(round(rng.uniform(-1, 1) * r))
        view = np.roll(blurred, (sy, sx), axis=(0, 1)) * rng.uniform(1.0, 1.25) + rng.uniform(0.0, 0.1)
        m = inside[..., None]
        base = base * (1 - m) + np.clip(view, 0, 1) * m
        hl = np.exp(-(((yy - cy + 0.4 * r) / (0.35 * r)) ** 2 + ((xx - cx - 0.3 * r) / (0.35 * r)) ** 2))
        R = np.maximum(R, rng.uniform(0.3, 0.8) * hl * inside + 0.12 * np.clip(1 - np.abs(d - 0.9) * 6, 0, 1))
    for _ in range(int(rng.integers(0, 2 + H * W // 2000))):  # splashes, more often low in the frame
        cy, cx = H * rng.beta(3, 1.5), rng.uniform(0, W)
        spokes = int(rng.integers(4, 9))
        for _ in range(spokes):
            a = rng.uniform(-80, 80)
            ln = rng.uniform(2, 7)
            seg = _draw_segments((H, W), np.random.default_rng(rng.integers(1 << 31)), count=1, direction=180 + a,
                                 jitter=0.0, length=(ln, ln), width=(0.6, 1.0), brightness=(0.5, 0.9))
            # shift the spoke so that it starts at the impact point instead of being centred anywhere
            ys, xs = np.nonzero(seg)
            if len(ys):
                oy, ox = cy - ys.mean() - np.cos(np.deg2rad(180 + a)) * ln / 2, \
                    cx - xs.mean() - np.sin(np.deg2rad(180 + a)) * ln / 2
                seg = ndimage.shift(seg, (oy, ox), order=1, mode="constant")
                R = np.maximum(R, np.clip(seg, 0, 1))
    return base, R


def rain_drizzle(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    H, W = clean.shape[:2]
    a = rng.uniform(-25, 25)
    p = RainParams(angle=(a, a), length=(3, int(rng.integers(4, 11))), density=(rng.uniform(0.02, 0.06),) * 2,
                   width=float(rng.uniform(0.0, 0.5)), intensity=(rng.uniform(0.1, 0.35),) * 2)
    return clean, streak_layer((H, W), p, rng)


_DRAW: dict[str, Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "blur": rain_blur, "segments": rain_segments, "layers": rain_layers, "drops": rain_drops,
    "drizzle": rain_drizzle,
}
#: haze range per renderer (probability of any haze, (min, max) of 1 - transmission); drizzle is mist-like.
_HAZE = {"blur": (0.5, (0.03, 0.2)), "segments": (0.5, (0.03, 0.2)), "layers": (0.6, (0.05, 0.25)),
         "drops": (0.3, (0.03, 0.12)), "drizzle": (1.0, (0.1, 0.3))}


def jitter_scene(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, gamma and per-channel colour jitter of a clean photo (kept in [0, 1])."""
    x = img.astype(np.float64)
    x = np.clip(x, 0.0, 1.0) ** rng.uniform(0.75, 1.35)
    x = (x - x.mean()) * rng.uniform(0.75, 1.2) + x.mean() + rng.uniform(-0.08, 0.08)
    x = x * rng.uniform(0.9, 1.1, 3)
    return np.clip(x, 0.0, 1.0)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), np.float64) / 255.0


def render_with(clean: np.ndarray, renderer: str, rng: np.random.Generator) -> np.ndarray:
    """Rainy version of ``clean`` (float RGB in [0, 1]) drawn by ``renderer``; deterministic for an rng state."""
    base, R = _DRAW[renderer](clean.astype(np.float64), rng)
    R = np.clip(R, 0.0, 1.0)[..., None]
    colour = rng.uniform(0.85, 1.0) * (1.0 + rng.uniform(-0.05, 0.05, 3))  # rain is near white, a little tinted
    mode = int(rng.integers(3))
    if mode == 0:  # addition
        out = base + R * colour
    elif mode == 1:  # screen
        out = 1.0 - (1.0 - base) * (1.0 - R * colour)
    else:  # alpha: the streak replaces part of the scene
        out = base * (1.0 - R) + R * colour
    p_haze, (h0, h1) = _HAZE[renderer]
    if rng.random() < p_haze:
        H = out.shape[0]
        t = 1.0 - rng.uniform(h0, h1)
        grad = rng.uniform(-0.1, 0.1)  # thicker veiling towards the top or the bottom of the frame
        a = np.clip(t + grad * (np.linspace(-0.5, 0.5, H)[:, None, None]), 0.5, 1.0)
        A = rng.uniform(0.6, 1.0) * (1.0 + rng.uniform(-0.04, 0.04, 3))
        out = a * out + (1.0 - a) * A
    out = np.clip(out, 0.0, 1.0)
    if rng.random() < 0.5:
        out = np.clip(out + rng.normal(0.0, rng.uniform(0.002, 0.02), out.shape), 0.0, 1.0)
    if rng.random() < 0.5:
        out = _jpeg(out, int(rng.integers(60, 96)))
    return out.astype(np.float32)


def choose(names: Sequence[str], rng: np.random.Generator) -> str:
    return names[int(rng.integers(len(names)))]


def resolve(renderers: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """The renderer mix: ``renderers`` (default all) minus ``exclude``; unknown names raise ValueError."""
    chosen = tuple(renderers) if renderers else RENDERERS
    bad = [n for n in (*chosen, *exclude) if n not in RENDERERS]
    if bad:
        raise ValueError(f"unknown renderer {', '.join(bad)}; known: {', '.join(RENDERERS)}")
    mix = tuple(n for n in chosen if n not in exclude)
    if not mix:
        raise ValueError("no renderer left after the exclusions")
    return mix
