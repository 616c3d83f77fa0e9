import hashlib

import numpy as np
import pytest
from PIL import Image

from spikerain.errors import DatasetError
from spikerain.models.data import discover, load_pairs, pair_folders, side_by_side_pairs
from spikerain.models.rain import PRESETS, SPLITS, SynthSpec, render_rain, write_synthetic


def _img(path, h=16, w=20, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def test_authors_layout(tmp_path):
    for s in ("a", "b"):
        _img(tmp_path / "test" / "input" / f"{s}.png", value=200)
        _img(tmp_path / "test" / "target" / f"{s}.png", value=50)
    pairs = load_pairs(discover(tmp_path, "test"))
    assert [p[0] for p in pairs] == ["a", "b"]
    assert pairs[0][1].mean() > pairs[0][2].mean()


def test_rain100_and_rain200_naming(tmp_path):
    for n in (1, 2, 10):
        _img(tmp_path / "r100" / f"rain-{n}.png")
        _img(tmp_path / "r100" / f"norain-{n}.png")
        _img(tmp_path / "r200" / "rain" / "X2" / f"norain-{n}x2.png")
        _img(tmp_path / "r200" / "norain" / f"norain-{n}.png")
    assert [p.name for p in discover(tmp_path / "r100")] == ["0001", "0002", "0010"]
    assert [p.name for p in discover(tmp_path / "r200")] == ["0001", "0002", "0010"]


def test_side_by_side(tmp_path):
    arr = np.zeros((8, 20, 3), np.uint8)
    arr[:, :10] = 255
    Image.fromarray(arr).save(tmp_path / "1.png")
    (name, rainy, clean), = load_pairs(side_by_side_pairs(tmp_path, "rainy-left"))
    assert rainy.min() == 1.0 and clean.max() == 0.0 and rainy.shape == (8, 10, 3)


def test_missing_partner_is_listed(tmp_path):
    for s in ("a", "b", "c"):
        _img(tmp_path / "in" / f"{s}.png")
    _img(tmp_path / "gt" / "a.png")
    with pytest.raises(DatasetError, match=r"without a partner: in/b, in/c"):
        pair_folders(tmp_path / "in", tmp_path / "gt")


def test_size_mismatch_and_empty_folder(tmp_path):
    _img(tmp_path / "in" / "a.png", h=16)
    _img(tmp_path / "gt" / "a.png", h=12)
    with pytest.raises(DatasetError, match="sizes differ: a"):
        pair_folders(tmp_path / "in", tmp_path / "gt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        pair_folders(tmp_path / "empty", tmp_path / "gt")
    with pytest.raises(DatasetError, match="no known dataset layout"):
        discover(tmp_path / "empty")


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_synthetic_dataset_is_byte_identical_for_a_seed(tmp_path):
    spec = SynthSpec(preset="mixed", n_train=3, n_test=2, size=32, seed=5)
    write_synthetic(tmp_path / "a", spec)
    write_synthetic(tmp_path / "b", spec)
    write_synthetic(tmp_path / "c", SynthSpec(preset="mixed", n_train=3, n_test=2, size=32, seed=6))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    assert len(list((tmp_path / "a" / "train" / "input").iterdir())) == 3


def test_train_and_test_photos_are_disjoint(tmp_path):
    assert not set(SPLITS["train"]) & set(SPLITS["test"])
    write_synthetic(tmp_path, SynthSpec(n_train=6, n_test=3, size=32))
    src = lambda split: {p.stem.split("_", 2)[2].rstrip("01") for p in (tmp_path / split / "input").iterdir()}  # noqa: E731
    assert src("train") and src("test") and not src("train") & src("test")


def test_heavy_rain_degrades_more_than_light():
    from spikerain.models.metrics import psnr_y

    rng = np.random.default_rng(0)
    clean = np.full((96, 96, 3), 0.3, np.float32)
    light = np.mean([psnr_y(render_rain(clean, PRESETS["light"], rng), clean) for _ in range(3)])
    heavy = np.mean([psnr_y(render_rain(clean, PRESETS["heavy"], rng), clean) for _ in range(3)])
    assert heavy < light - 5
