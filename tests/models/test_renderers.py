"""The rain renderer mix: each renderer really rains, a seed gives the same bytes, exclusions hold, and
fine-tuning records its warm start and held-out validation."""

import hashlib
import json

import numpy as np
import pytest

from spikerain.cli import main
from spikerain.models.checkpoint import read_checkpoint, slim_checkpoint
from spikerain.models.metrics import psnr_y
from spikerain.models.rain import SPLITS, SynthSpec, photos, synth_pairs, varied_crop, write_synthetic
from spikerain.models.renderers import RENDERERS, render_with, resolve
from spikerain.models.train import TrainConfig, train


@pytest.fixture(scope="module")
def scene():
    (_, img), = [p for p in photos("test") if p[0] == "coffee"]
    return varied_crop(img, 64, np.random.default_rng(0))


@pytest.mark.parametrize("name", RENDERERS)
def test_each_renderer_rains_deterministically(name, scene):
    a = render_with(scene, name, np.random.default_rng(11))
    b = render_with(scene, name, np.random.default_rng(11))
    c = render_with(scene, name, np.random.default_rng(12))
    assert a.dtype == np.float32 and a.shape == scene.shape and 0.0 <= a.min() and a.max() <= 1.0
    assert a.tobytes() == b.tobytes() != c.tobytes()
    # visible rain, yet the scene survives
    assert 12.0 < psnr_y(a, scene) < 38.0


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_varied_dataset_is_byte_identical_and_honours_exclusions(tmp_path):
    spec = SynthSpec(preset="varied", n_train=6, n_test=3, size=32, seed=5, exclude=("layers",))
    write_synthetic(tmp_path / "a", spec)
    write_synthetic(tmp_path / "b", spec)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    names = [p.stem for p in (tmp_path / "a").rglob("input/*.png")]
    used = {n.split("_")[2] for n in names}
    assert "layers" not in used and len(used) >= 2 and used <= set(RENDERERS)
    only = {n.split("_")[2] for n, _, _ in synth_pairs("test", 4, SynthSpec(preset="varied", size=32,
                                                                               renderers=("drops",)))}
    assert only == {"drops"}
    # test photos stay disjoint from training photos by source
    train_src = {n.split("_", 3)[3].rstrip("01") for n in names if n.startswith("train")}
    test_src = {n.split("_", 3)[3] for n in names if n.startswith("test")}
    assert train_src <= set(SPLITS["train"]) and test_src <= set(SPLITS["test"])


def test_unknown_or_empty_renderer_mix_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown renderer fog"):
        resolve(("fog",))
    with pytest.raises(ValueError, match="no renderer left"):
        resolve(("drops",), ("drops",))
    assert main(["data", "synth", str(tmp_path / "x"), "--exclude-renderer", "fog"]) == 2
    assert main(["data", "synth", str(tmp_path / "x"), "--preset", "mixed", "--renderers", "drops"]) == 2
    assert "fog" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_fine_tune_records_warm_start_and_held_out_validation(tmp_path):
    # tiny images keep this cheap: the validation forward passes dominate its time
    tr = list(synth_pairs("train", 2, SynthSpec(preset="varied", size=16, seed=3, exclude=("drops",))))
    held = list(synth_pairs("test", 1, SynthSpec(preset="varied", size=16, seed=4, renderers=("drops",))))
    va = []
    cfg = TrainConfig(model="esdnet", dim=16, iters=1, batch=1, patch=16, val_every=1)
    train(cfg, tr, va, tmp_path / "a.pt")
    res = train(TrainConfig(**{**cfg.__dict__, "dim": 48, "lr": 1e-4}), tr, va, tmp_path / "b.pt",
                init=tmp_path / "a.pt", extra_val={"heldout": held})
    assert res["total_steps"] == 2 and res["steps"] == 1
    slim_checkpoint(tmp_path / "b.pt", tmp_path / "s.pt")
    p = read_checkpoint(tmp_path / "s.pt").payload
    assert p["total_steps"] == 2 and p["warm_start"]["steps"] == 1 and p["warm_start"]["from"] == "a.pt"
    assert p["train_config"]["dim"] == 16  # the width comes from the warm start, not --dim
    assert np.isfinite(p["history"][-1]["val_heldout_psnr_y"]) and p["history"][-1]["val_psnr_y"] is None
    assert len(p["warm_start"]["history"]) == 1
    assert "optimizer" not in p
    with pytest.raises(Exception, match="not a spikerain vlifnet"):
        train(TrainConfig(**{**cfg.__dict__, "model": "vlifnet"}), tr, va, tmp_path / "c.pt", init=tmp_path / "a.pt")


def test_eval_reports_each_renderer_of_a_mixed_set(tmp_path, capsys):
    """A renderer-mix set's mean depends on how many images of each renderer it drew; ``eval`` reports the means
    per renderer, read from the file names, and each is the mean of its own images' rows."""
    assert main(["data", "synth", str(tmp_path / "d"), "--n-train", "0", "--n-test", "6", "--size", "32",
                 "--seed", "3"]) == 0
    capsys.readouterr()
    assert main(["eval", "--data", str(tmp_path / "d"), "--json", "-q"]) == 0
    res = json.loads(capsys.readouterr().out)
    drawn = [name.split("_")[2] for name in (r["name"] for r in res["images"])]
    assert set(drawn) <= set(RENDERERS) and sorted(res["by_renderer"]) == sorted(set(drawn))
    for name, g in res["by_renderer"].items():
        rows = [r for r, d in zip(res["images"], drawn, strict=True) if d == name]
        assert g["n"] == len(rows)
        gain = np.mean([r["output"]["psnr_y"] - r["input"]["psnr_y"] for r in rows])
        assert g["gain_psnr_y"] == pytest.approx(gain)
    assert sum(g["n"] for g in res["by_renderer"].values()) == res["n"] == 6
    assert main(["eval", "--data", str(tmp_path / "d"), "-q"]) == 0
    assert "per renderer" in capsys.readouterr().out


def test_names_not_drawn_by_the_mix_have_no_renderer():
    from spikerain.models.rain import renderer_of

    assert renderer_of("test_0007_drops_coffee") == "drops"
    assert renderer_of("train_0012_layers_grace_hopper") == "layers"
    for name in ("im0", "test_0007_coffee", "test_x7_drops_coffee", "rain_0001_drops_coffee"):
        assert renderer_of(name) is None
