import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from spikerain.errors import TrainingError
from spikerain.models.checkpoint import read_checkpoint
from spikerain.models.rain import SynthSpec, synth_pairs
from spikerain.models.train import TrainConfig, lr_factor, train


@pytest.fixture(scope="module")
def pairs():
    spec = SynthSpec(preset="mixed", size=32, seed=1)
    return list(synth_pairs("train", 4, spec)), list(synth_pairs("test", 1, spec))


CFG = TrainConfig(model="esdnet", dim=16, iters=4, batch=2, patch=16, val_every=2)


def test_schedule_warms_up_then_decays_to_floor():
    f = [lr_factor(s, 100, 10, 1e-3, 1e-7) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))
    assert lr_factor(100, 100, 10, 1e-3, 1e-7) * 1e-3 == pytest.approx(1e-7)


def test_resume_continues_exactly(tmp_path, pairs):
    tr, va = pairs
    train(CFG, tr, va, tmp_path / "straight.pt")
    train(TrainConfig(**{**CFG.__dict__, "iters": 4}), tr, va, tmp_path / "split.pt")  # same run, to step 4
    # a run stopped at step 2, then resumed to 4
    train(TrainConfig(**{**CFG.__dict__, "iters": 4}), tr, va, tmp_path / "half.pt", stop_after=2)
    assert read_checkpoint(tmp_path / "half.pt").payload["step"] == 2
    train(CFG, tr, va, tmp_path / "half.pt", resume=True)
    a = read_checkpoint(tmp_path / "straight.pt")
    b = read_checkpoint(tmp_path / "half.pt")
    assert b.payload["step"] == 4
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k]), k


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, pairs):
    tr, va = pairs
    out = tmp_path / "c.pt"
    train(TrainConfig(**{**CFG.__dict__, "iters": 2}), tr, va, out)
    before = out.read_bytes()
    poisoned = [(n, np.full_like(r, np.nan), c) for n, r, c in tr]
    with pytest.raises(TrainingError, match="last good checkpoint"):
        train(CFG, poisoned, va, out, resume=True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.slow
def test_torchrun_two_processes_hold_identical_weights(tmp_path):
    from spikerain.models.rain import write_synthetic

    write_synthetic(tmp_path / "data", SynthSpec(n_train=4, n_test=1, size=32, seed=2))
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "spikerain", "train", "--model", "vlifnet",
           "--data", str(tmp_path / "data"), "--out", str(tmp_path / "ddp.pt"), "--dim", "16", "--iters", "3",
           "--batch", "1", "--patch", "16", "--val-every", "3", "--save-replicas", str(tmp_path / "rep.pt")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    w0 = torch.load(tmp_path / "rep.rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rep.rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    ck = read_checkpoint(tmp_path / "ddp.pt")
    assert ck.payload["step"] == 3 and len(ck.payload["crop_rng"]) == 2
    # the two ranks drew different crops, so the update really averaged gradients
    assert ck.payload["crop_rng"][0] != ck.payload["crop_rng"][1]


def test_psnr_loss_is_scikit_image_psnr_negated():
    from skimage.metrics import peak_signal_noise_ratio

    from spikerain.commands.train import LOSS_NAMES
    from spikerain.models.losses import LOSSES, PSNR_WEIGHT, psnr_loss, ssim_loss, ssim_psnr_loss

    assert tuple(LOSSES) == LOSS_NAMES
    g = torch.Generator().manual_seed(3)
    y = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(2, 3, 24, 24, generator=g, dtype=torch.float64)).clamp(0, 1)
    want = -np.mean([peak_signal_noise_ratio(y[i].numpy(), x[i].numpy(), data_range=1.0) for i in range(2)])
    assert float(psnr_loss(x, y)) == pytest.approx(want, abs=1e-6)
    assert float(ssim_psnr_loss(x, y)) == pytest.approx(float(ssim_loss(x, y)) + PSNR_WEIGHT * want, abs=1e-6)


def test_training_with_psnr_term_adds_it_to_the_first_step(tmp_path, pairs):
    import dataclasses

    from spikerain.models.losses import PSNR_WEIGHT

    first = {}
    for name in ("ssim", "ssim+psnr", "psnr"):
        seen = []
        train(dataclasses.replace(CFG, loss=name, iters=1), *pairs, tmp_path / f"{name}.pt",
              on_step=lambda step, total, loss, lr, seen=seen: seen.append(loss))
        first[name] = seen[0]
        assert read_checkpoint(tmp_path / f"{name}.pt").payload["train_config"]["loss"] == name
    # Same seed, same weights, same crops: the difference is the PSNR term alone, -PSNR_WEIGHT x (5..60 dB).
    assert -60 * PSNR_WEIGHT < first["ssim+psnr"] - first["ssim"] < -5 * PSNR_WEIGHT
    # The PSNR loss alone is that same term without its weight.
    assert first["psnr"] == pytest.approx((first["ssim+psnr"] - first["ssim"]) / PSNR_WEIGHT, abs=1e-3)
