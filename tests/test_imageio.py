import numpy as np
import pytest
from PIL import Image

from spikerain.errors import ImageReadError
from spikerain.imageio import read_image, write_image


@pytest.mark.parametrize(("mode", "fmt"), [*((m, "png") for m in ("RGB", "RGBA", "L", "P", "I;16", "LA")),
                                           ("RGB", "jpg"), ("L", "jpg")])  # JPEG stores only RGB and L
def test_every_mode_becomes_float_rgb(tmp_path, mode, fmt):
    rng = np.random.default_rng(0)
    base = Image.fromarray((rng.random((9, 7, 3)) * 255).astype(np.uint8))
    if mode == "I;16":
        img = Image.fromarray((rng.random((9, 7)) * 65535).astype(np.uint16))
    else:
        img = base.convert(mode)
    path = tmp_path / f"x.{fmt}"
    img.save(path)
    arr = read_image(path)
    assert arr.shape == (9, 7, 3) and arr.dtype == np.float32
    assert 0.0 <= arr.min() and arr.max() <= 1.0


def test_sixteen_bit_scales_to_unit_range(tmp_path):
    Image.fromarray(np.full((3, 3), 65535, np.uint16)).save(tmp_path / "w.png")
    assert read_image(tmp_path / "w.png").min() == 1.0


def test_rgba_composites_on_white(tmp_path):
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(tmp_path / "t.png")
    assert read_image(tmp_path / "t.png").min() == 1.0


@pytest.mark.parametrize("case", ["missing", "dir", "empty", "truncated", "garbage"])
def test_bad_files_get_one_clear_error(tmp_path, case):
    p = tmp_path / "bad.png"
    if case == "dir":
        p.mkdir()
    elif case == "empty":
        p.write_bytes(b"")
    elif case == "truncated":
        Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(p)
        p.write_bytes(p.read_bytes()[:60])
    elif case == "garbage":
        p.write_bytes(b"not an image at all" * 10)
    with pytest.raises(ImageReadError, match="cannot read image"):
        read_image(p)


def test_write_is_atomic_and_roundtrips(tmp_path):
    arr = np.linspace(0, 1, 5 * 4 * 3).reshape(5, 4, 3)
    write_image(tmp_path / "o.png", arr)
    assert np.abs(read_image(tmp_path / "o.png") - arr).max() <= 0.5 / 255 + 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]
