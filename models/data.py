"""Paired deraining datasets in the layouts users have on disk (``docs/sources.md`` §2.1).

* the authors' ``ROOT/{train,test}/{input,target}`` (or ``ROOT/{input,target}``), paired by file stem;
* Rain100/Rain200 naming: ``rain-N.png`` with ``norain-N.png`` in one folder, or ``rain/X2/norain-Nx2.png``
  with ``norain/norain-N.png``;
* DID-MDN/Rain1200 side-by-side pairs (one image holding both halves);
* a plain pair of folders.

Pairing is checked: a missing partner, a size mismatch or an empty folder raises
:class:`~spikerain.errors.DatasetError` listing the first offenders. Nothing is skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from spikerain.errors import DatasetError
from spikerain.imageio import IMAGE_SUFFIXES, read_image

_SHOW = 5


@dataclass(frozen=True)
class Pair:
    name: str
    rainy: Path
    clean: Path | None  # None for side-by-side files (both halves in ``rainy``)
    side_by_side: str | None = None  # "rainy-left" or "rainy-right"

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        img = read_image(self.rainy)
        if self.clean is None:
            w = img.shape[1] // 2
            left, right = img[:, :w], img[:, w:2 * w]
            return (left, right) if self.side_by_side == "rainy-left" else (right, left)
        return img, read_image(self.clean)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _fail(what: str, items: list[str], fix: str) -> None:
    more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
    raise DatasetError(f"{what}: {', '.join(items[:_SHOW])}{more}", fix=fix)


def _size(p: Path) -> tuple[int, int]:
    with Image.open(p) as im:
        return im.size


def _check_sizes(pairs: list[Pair]) -> None:
    bad = [f"{p.name} ({_size(p.rainy)} vs {_size(p.clean)})" for p in pairs
           if p.clean is not None and _size(p.rainy) != _size(p.clean)]
    if bad:
        _fail("rainy and clean sizes differ", bad, "re-export the pairs at the same size")


def pair_folders(rainy_dir: str | Path, clean_dir: str | Path) -> list[Pair]:
    """Pair two folders by file stem."""
    rainy_dir, clean_dir = Path(rainy_dir), Path(clean_dir)
    for d in (rainy_dir, clean_dir):
        if not d.is_dir():
            raise DatasetError(f"{d} is not a folder", fix="pass the folders holding the images")
    rainy = {p.stem: p for p in _images(rainy_dir)}
    clean = {p.stem: p for p in _images(clean_dir)}
    for d, files in ((rainy_dir, rainy), (clean_dir, clean)):
        if not files:
            raise DatasetError(f"{d} holds no images", fix=f"put {'/'.join(IMAGE_SUFFIXES)} files there")
    lonely = [f"{rainy_dir.name}/{s}" for s in sorted(set(rainy) - set(clean))]
    lonely += [f"{clean_dir.name}/{s}" for s in sorted(set(clean) - set(rainy))]
    if lonely:
        _fail("images without a partner", lonely, "give every rainy image a clean one with the same name")
    pairs = [Pair(s, rainy[s], clean[s]) for s in sorted(rainy)]
    _check_sizes(pairs)
    return pairs


_RAIN_N = re.compile(r"^rain-(\d+)$")
_NORAIN_N = re.compile(r"^norain-(\d+)$")
_NORAIN_NX2 = re.compile(r"^norain-(\d+)x2$")


def _pair_numbered(rainy: dict[str, Path], clean: dict[str, Path], where: str) -> list[Pair]:
    lonely = [f"rainy #{n}" for n in sorted(set(rainy) - set(clean), key=int)]
    lonely += [f"clean #{n}" for n in sorted(set(clean) - set(rainy), key=int)]
    if lonely:
        _fail(f"{where}: images without a partner", lonely, "restore the missing files")
    pairs = [Pair(f"{int(n):04d}", rainy[n], clean[n]) for n in sorted(rainy, key=int)]
    _check_sizes(pairs)
    return pairs


def rain100_pairs(folder: Path) -> list[Pair]:
    """``rain-N`` / ``norain-N`` in one folder (Rain100L/H, Rain12)."""
    files = _images(folder)
    rainy = {m.group(1): p for p in files if (m := _RAIN_N.match(p.stem))}
    clean = {m.group(1): p for p in files if (m := _NORAIN_N.match(p.stem))}
    return _pair_numbered(rainy, clean, str(folder))


def rain200_pairs(folder: Path) -> list[Pair]:
    """``rain/X2/norain-Nx2`` with ``norain/norain-N`` (Rain200L/H)."""
    rainy = {m.group(1): p for p in _images(folder / "rain" / "X2") if (m := _NORAIN_NX2.match(p.stem))}
    clean = {m.group(1): p for p in _images(folder / "norain") if (m := _NORAIN_N.match(p.stem))}
    return _pair_numbered(rainy, clean, str(folder))


def side_by_side_pairs(folder: Path, order: str = "rainy-left") -> list[Pair]:
    """DID-MDN/Rain1200: each file holds rainy and clean halves side by side."""
    files = _images(folder)
    if not files:
        raise DatasetError(f"{folder} holds no images", fix="point at the folder of side-by-side images")
    odd = [f"{p.name} {_size(p)}" for p in files if _size(p)[0] % 2]
    if odd:
        _fail("side-by-side images must have an even width", odd, "check that these are paired images")
    return [Pair(p.stem, p, None, order) for p in files]


def discover(root: str | Path, split: str | None = None, *, side_by_side: str | None = None) -> list[Pair]:
    """Find the pairs under ``root`` in any supported layout; ``split`` picks ``train``/``test`` when present."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder", fix="pass the dataset root folder")
    if split and (root / split).is_dir():
        root = root / split
    if side_by_side:
        return side_by_side_pairs(root, side_by_side)
    if (root / "input").is_dir() and (root / "target").is_dir():
        return pair_folders(root / "input", root / "target")
    if (root / "rain" / "X2").is_dir() and (root / "norain").is_dir():
        return rain200_pairs(root)
    if any(_RAIN_N.match(p.stem) for p in _images(root)):
        return rain100_pairs(root)
    raise DatasetError(
        f"{root} matches no known dataset layout",
        fix="use ROOT/{train,test}/{input,target}, Rain100 rain-N/norain-N, Rain200 rain/X2 + norain, "
            "--side-by-side for Rain1200, or --input-dir/--target-dir",
    )


def load_pairs(pairs: list[Pair]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(p.name, *p.load()) for p in pairs]
