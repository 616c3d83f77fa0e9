"""The shipped checkpoints derain held-out synthetic images (photos never used in training)."""

import numpy as np
import pytest

from spikerain.models.checkpoint import load_default_or, shipped_checkpoint
from spikerain.models.evaluate import evaluate
from spikerain.models.rain import SynthSpec, synth_pairs


@pytest.fixture(scope="module")
def held_out():
    # a different seed from the documented test set, same held-out photos
    return list(synth_pairs("test", 6, SynthSpec(preset="mixed", size=96, seed=2024)))


@pytest.mark.parametrize("model", ["vlifnet", "esdnet"])
def test_shipped_checkpoint_raises_y_psnr(model, held_out):
    path = shipped_checkpoint(model)
    assert path.stat().st_size < 10 * 1024 * 1024
    net = load_default_or(None, model)
    assert net.config.dim == 16 and net.config.T == 4
    res = evaluate(net, held_out)
    assert res["gain_psnr_y"] >= 3.0, res["mean"]
    assert np.isfinite(res["mean"]["output"]["ssim_y"]) and res["mean"]["output"]["ssim_y"] > res["mean"]["input"][
        "ssim_y"]
