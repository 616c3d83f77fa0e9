import numpy as np
import pytest
import torch
from torch import nn

from spikerain.models import VLIFNet
from spikerain.models.tiling import merge_weights, restore_tiled, restore_whole, tile_starts


def test_tile_starts_follow_the_authors_rule():
    assert tile_starts(80) == [0]
    assert tile_starts(152) == [0, 72]
    assert tile_starts(300) == [0, 72, 144, 216, 220]
    assert tile_starts(481) == [0, 72, 144, 216, 288, 360, 401]


def test_merge_weight_peaks_at_centre():
    w = merge_weights()
    assert w.shape == (80, 80) and np.unravel_index(w.argmax(), w.shape) == (40, 40)


class PixelFn(nn.Module):
    """A per-pixel function: tiles of it must merge back to the function of the whole image."""

    def forward(self, x):
        return torch.sin(3 * x) + 0.1


@pytest.mark.parametrize("hw", [(80, 80), (37, 53), (161, 95), (200, 330)])
def test_tiled_merge_is_exact_for_a_pixelwise_map(hw):
    rng = np.random.default_rng(1)
    img = rng.random((*hw, 3)).astype(np.float32)
    out = restore_tiled(PixelFn(), img)
    assert out.shape == img.shape
    np.testing.assert_allclose(out, np.sin(3 * img) + 0.1, atol=1e-5)


def test_tiles_are_independent_of_batching():
    torch.manual_seed(0)
    m = VLIFNet(dim=16).eval()
    img = np.random.default_rng(2).random((96, 100, 3)).astype(np.float32)
    a = restore_tiled(m, img, batch_size=1)
    b = restore_tiled(m, img, batch_size=4)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_whole_image_pads_to_multiple_and_crops():
    torch.manual_seed(0)
    m = VLIFNet(dim=16).eval()
    img = np.random.default_rng(2).random((21, 30, 3)).astype(np.float32)
    assert restore_whole(m, img).shape == img.shape
