"""The same command twice gives byte-identical files: the float derain, the fast simulator (image and activity
record) and the conversion (whose wall time stays out of the artifact)."""

import numpy as np
import pytest
import torch

from spikerain.cli import main
from spikerain.converter.artifact import load_artifact
from spikerain.imageio import write_image
from spikerain.models import VLIFNet
from spikerain.models.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("det")
    torch.manual_seed(0)
    save_checkpoint(d / "tiny.pt", VLIFNet(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)))
    rng = np.random.default_rng(1)
    for i in range(2):
        write_image(d / "calib" / f"c{i}.png", rng.random((20, 20, 3)))
    write_image(d / "in.png", rng.random((20, 28, 3)))
    return d


def _twice(argv_for, d, names):
    for run in ("a", "b"):
        assert main(argv_for(d / run)) == 0
    for name in names:
        a, b = (d / "a" / name).read_bytes(), (d / "b" / name).read_bytes()
        assert len(a) > 0 and a == b, f"{name} differs between two identical runs"


@pytest.fixture(scope="module")
def converted(tiny):
    _twice(lambda out: ["convert", "--checkpoint", str(tiny / "tiny.pt"), "--calib", str(tiny / "calib"),
                        "--calib-size", "16", "-o", str(out / "model.h5"), "-q"], tiny, ["model.h5"])
    return tiny / "a" / "model.h5"


def test_convert_twice_gives_byte_identical_artifacts(converted):
    meta = load_artifact(converted).meta
    assert "seconds" not in meta["quantization_summary"]  # the wall time is reported, not stored
    assert meta["quantization_summary"]["nodes"] > 100


def test_fast_simulate_twice_gives_identical_image_and_record(converted, tiny):
    _twice(lambda out: ["simulate", str(converted), "--backend", "fast", "--input", str(tiny / "in.png"), "-o",
                        str(out / "s.png"), "--record", str(out / "act.h5"), "-q"], tiny, ["s.png", "act.h5"])


def test_float_derain_twice_gives_identical_images(tiny):
    _twice(lambda out: ["derain", str(tiny / "in.png"), str(out / "d.png"), "--checkpoint", str(tiny / "tiny.pt"),
                        "-q"], tiny, ["d.png"])
