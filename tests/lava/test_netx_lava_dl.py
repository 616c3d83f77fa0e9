"""lava-dl 0.6.0's small netx CPU cases through spikerain's Lava backend (Lava's CPU simulator, fixed_pt): the
recorded values of lava-dl's tests, bit for bit, with time-varying inputs fed by a RingBuffer source into the
first neuron or synapse, and every LIF layer's spikes, u and v read by Lava monitors."""

from __future__ import annotations

import numpy as np
import pytest

from spikerain.converter.artifact import save_artifact
from spikerain.hardware.backend import run_lava
from spikerain.hardware.sequence import lava_layout, record_neurons
from tests.converter import test_netx_lava_dl as cases

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def netx_dir():
    return cases.lava_dl_netx()


def lava(tmp_path, g, frames, **kw):
    path = tmp_path / "net.h5"
    save_artifact(path, g)
    return run_lava(path, frames[:, 0] if frames.ndim == 5 else frames[0], timeout=300, **kw)


def test_tinynet_with_every_layer_recorded(netx_dir, tmp_path):
    g, bias, gt = cases.tinynet(netx_dir)
    res = lava(tmp_path, g, bias[None] / 64, record=True)
    assert np.abs(res.output[2:17] - gt).sum() == 0 and gt.sum() == 92  # test_tinynet's comparison
    ref = record_neurons(g, bias[None] / 64)
    for name in ("layer0", "layer1", "layer2"):
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(res.meta["record"][name][var], ref[name][var], err_msg=f"{name} {var}")
    assert np.abs(ref["layer1"]["v"]).sum() > 0


def test_lif_conv_block_current_from_lava_monitors(netx_dir, tmp_path):
    g, frames, s_gt, u_gt = cases.lif_conv_block(netx_dir, tmp_path)
    res = lava(tmp_path, g, frames, record=True)
    s = res.output.copy()
    s[0] = 0
    np.testing.assert_array_equal(s, s_gt)
    np.testing.assert_array_equal(res.meta["record"]["layer1"]["u"], u_gt)  # lava-dl's current.npy * 64


def test_sdn_blocks(netx_dir, tmp_path):
    g, frames, gt = cases.sdn_input_block(tmp_path, netx_dir)
    assert np.abs(lava_layout(lava(tmp_path, g, frames).output, False) - gt).sum() == 0
    g, frames, gt = cases.sdn_conv_block(tmp_path, netx_dir)
    np.testing.assert_array_equal(lava_layout(lava(tmp_path, g, frames).output, False)[..., 0], gt[..., 0])
    g, frames, gt = cases.sdn_dense_block(tmp_path, netx_dir)
    assert np.abs(lava_layout(lava(tmp_path, g, frames).output, True) - gt).sum() == 0


def test_lif_dense_block_fed_spikes(netx_dir, tmp_path):
    g, frames, s_gt = cases.lif_dense_block(netx_dir, tmp_path)  # 2000 steps, as lava-dl runs it
    s = lava(tmp_path, g, frames).output.reshape(2000, 256).T
    assert np.abs(s - s_gt).sum() == 0 and s_gt.sum() > 1000


def test_axonal_delay_ntidigits_first_300_steps(netx_dir, tmp_path):
    """ntidigits' first 300 of 3000 steps (the whole run takes 180 s in Lava's CPU simulator, where DelayDense
    is slow; it matches too): every output spike, one step ahead of lava-dl's recording as in the fast test."""
    from spikerain.converter.interchange.netx_io import import_netx
    from spikerain.hardware.sequence import sequence_frames, with_steps

    T = 300
    g = import_netx(netx_dir / "gts/ntidigits/ntidigits.net", num_layers=5)
    raster = np.load(netx_dir / "gts/ntidigits/input.npy")[:, :T]
    gt = np.load(netx_dir / "gts/ntidigits/output.npy")[:, :T]
    g = with_steps(g, T)
    res = lava(tmp_path, g, sequence_frames(g, raster.T))
    out = res.output.reshape(T, -1).T
    np.testing.assert_array_equal(out[:, :-1], gt[:, 1:])
    assert gt.sum() > 5000 and res.meta["schedule"]["kinds"]["dense"] == 3


def test_cli_lava_backend_with_a_raster_records_what_the_fast_backend_records(netx_dir, tmp_path):
    """``spikerain simulate tiny.h5 --input bias.npy --backend lava --record``: tinynet's input bias given per step
    (halved from step 10), Lava's monitors' s/u/v equal to the fast backend's."""
    from spikerain.cli import main
    from spikerain.hardware.sequence import read_record

    g, bias, _ = cases.tinynet(netx_dir)
    save_artifact(tmp_path / "tiny.h5", g)
    seq = np.repeat(bias[None], 20, axis=0).astype(np.int64)
    seq[10:] //= 2
    np.save(tmp_path / "bias.npy", seq)
    recs = {}
    for backend in ("fast", "lava"):
        assert main(["simulate", str(tmp_path / "tiny.h5"), "--input", str(tmp_path / "bias.npy"), "--backend",
                     backend, "-o", str(tmp_path / f"{backend}.npy"), "--record", str(tmp_path / f"{backend}.h5"),
                     "-q"]) == 0
        recs[backend] = read_record(tmp_path / f"{backend}.h5")
    np.testing.assert_array_equal(np.load(tmp_path / "fast.npy"), np.load(tmp_path / "lava.npy"))
    assert sorted(recs["lava"]) == ["layer0", "layer1", "layer2"]
    for name, arrays in recs["fast"].items():
        for var, a in arrays.items():
            np.testing.assert_array_equal(recs["lava"][name][var], a, err_msg=f"{name} {var}")
    assert recs["fast"]["layer2"]["s"].shape == (1, 1, 36, 20)  # a conv layer: (X, Y, C, T)
