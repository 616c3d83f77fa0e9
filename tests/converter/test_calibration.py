"""Calibration ranges that hold on unfamiliar images, and the per-layer loss report on the user's own images."""

import json

import numpy as np
import pytest
import torch

from spikerain.cli import main
from spikerain.hardware.fastsim.calibrate import SPREAD_SIGMAS, ranges_from_maxima
from spikerain.hardware.fastsim.compare import quantization_errors
from spikerain.imageio import write_image
from spikerain.models import VLIFNet
from spikerain.pipeline.convert import CALIB_SIZES, convert_model, default_calibration_images


def test_spread_rule_keeps_headroom_in_proportion_to_how_maxima_move():
    steady = np.array([2.0, 2.0, 2.0])
    swinging = np.array([1.0, 2.0, 3.0])
    wild = np.array([0.01, 0.01, 0.01, 10.0])
    r = ranges_from_maxima({"steady": steady, "swinging": swinging, "wild": wild}, "spread")
    assert r["steady"] == 2.0
    assert r["swinging"] == pytest.approx(3.0 + SPREAD_SIGMAS * np.std(swinging))
    assert 10.0 * 2.25 < r["wild"] <= 10.0 * 2.5  # sigma <= max / 2 bounds the headroom
    assert ranges_from_maxima({"wild": wild}, "max") == {"wild": 10.0}
    with pytest.raises(ValueError, match="unknown range rule"):
        ranges_from_maxima({}, "percentile")


def test_shipped_calibration_set_covers_several_sizes_and_is_deterministic():
    a, b = default_calibration_images(), default_calibration_images()
    assert [img.shape[0] for img in a] == [s for s, n in CALIB_SIZES for _ in range(n)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    a[0][:] = 0  # callers get copies: the cached set stays intact
    assert not np.array_equal(a[0], default_calibration_images()[0])


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    model = VLIFNet(dim=16).eval()
    rng = np.random.default_rng(3)
    imgs = [rng.random((16, 16, 3)).astype(np.float32) * s for s in (0.5, 1.0)]
    fg, qg, _ = convert_model(model, calib_images=imgs, calib_source="test")
    return fg, qg, imgs


def test_local_error_isolates_each_layers_own_loss(small):
    fg, qg, imgs = small
    errs = quantization_errors(fg, qg, imgs, local=True)
    first = next(n for n in qg.nodes if n.op == "q_conv2d" and n.inputs[0] == "encode")
    # the first synapse sees exactly the quantized image (repeated over T), so its own error is all of its error
    assert errs[first.name]["local_sqnr_db"] == pytest.approx(errs[first.name]["sqnr_db"], abs=1e-9)
    deep = [v for v in errs.values() if "local_sqnr_db" in v and np.isfinite(v["sqnr_db"])]
    assert len(deep) > 100
    # downstream of many layers, accumulated error dominates a layer's own
    assert np.median([v["local_sqnr_db"] - v["sqnr_db"] for v in deep]) > 0
    assert "local_sqnr_db" not in quantization_errors(fg, qg, imgs[:1])[first.name]


def test_convert_and_inspect_report_the_loss_per_layer_on_a_users_folder(tmp_path, capsys):
    torch.manual_seed(0)
    ckpt = tmp_path / "v16.pth"
    torch.save(VLIFNet(dim=16).state_dict(), ckpt)
    rng = np.random.default_rng(1)
    for i in range(2):
        write_image(tmp_path / "calib" / f"c{i}.png", rng.random((20, 20, 3)))
        write_image(tmp_path / "mine" / f"m{i}.png", rng.random((40, 24, 3)))
    art = tmp_path / "m.h5"
    assert main(["convert", "--checkpoint", str(ckpt), "--calib", str(tmp_path / "calib"), "--calib-size", "16",
                 "-o", str(art), "--eval", str(tmp_path / "mine"), "--json"]) == 0
    conv = json.loads(capsys.readouterr().out)["evaluation"]["summary"]
    assert main(["inspect", str(art), "--eval", str(tmp_path / "mine"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)["evaluation"]
    assert ev["summary"]["images"] == 2 and [r["size"] for r in ev["images"]] == [[24, 24], [24, 24]]
    assert ev["summary"]["q_vs_f_db"] == pytest.approx(conv["q_vs_f_db"])
    worst = ev["summary"]["worst_layers"]
    assert len(worst) == 10 and worst == sorted(worst, key=lambda w: w["local_sqnr_db"])
    assert main(["convert", "--checkpoint", str(ckpt), "-o", str(tmp_path / "x.h5"), "--eval",
                 str(tmp_path / "nope")]) == 3
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "x.h5").exists()
