"""The comparison behind `spikerain verify`: the first differing layer (in graph order) and timestep."""

import numpy as np

from spikerain.pipeline.verify import center_crop, compare


def test_first_mismatch_is_the_earliest_layer_and_timestep():
    out = np.zeros((1, 3, 4, 4), np.int64)
    fast = {"a": [1, 2, 3], "b": [5, 6, 7], "c": [0, 0, 1]}
    lava = {"a": [1, 2, 3], "b": [5, 9, 7], "c": [0, 1, 1]}
    r = compare(out, fast, out.copy(), lava, order=["a", "b", "c"])
    assert not r["bit_exact"] and r["output_equal"]
    assert r["layer_mismatches"] == ["b", "c"]
    assert r["first_mismatch"] == {"layer": "b", "timestep": 1, "fast": 6, "lava": 9}
    other = out.copy()
    other[0, 1, 2, 3] = 4
    r = compare(out, fast, other, fast, order=["a", "b", "c"])
    assert not r["output_equal"] and r["output_mismatches"] == 1 and r["output_max_abs_diff"] == 4
    assert r["first_mismatch"] is None


def test_center_crop_shapes_and_bounds():
    img = np.arange(10 * 12 * 3, dtype=np.float32).reshape(10, 12, 3)
    c = center_crop(img, (4, 6))
    assert c.shape == (3, 4, 6) and c[0, 0, 0] == img[3, 3, 0]
    assert center_crop(img, 8, at=(2, 4)).shape == (3, 8, 8)
    import pytest

    from spikerain.errors import InputError

    with pytest.raises(InputError, match="does not fit"):
        center_crop(img, (4, 6), at=(8, 0))
