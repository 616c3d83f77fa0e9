"""The opt-in Lava profile (``SPIKERAIN_LAVA_PROFILE``, hardware/lava/profile.py): every process of a run times its
model's ``run_spk`` and reports its CPU time, and the profiled run still computes the reference's integers."""

import numpy as np
import pytest

from spikerain.converter.artifact import save_artifact
from spikerain.hardware.backend import run_lava
from spikerain.hardware.kernels.reference import run_reference

pytestmark = pytest.mark.lava


def test_profiled_run_accounts_for_every_process_and_stays_exact(tmp_path, monkeypatch):
    from tests.hardware.test_schedule import upsample_graph

    g = upsample_graph()  # Conv, Sparse, LIFReset, chip and host segments, probe, source, sink
    save_artifact(tmp_path / "up.h5", g)
    img = np.random.default_rng(5).random((3, 8, 8))
    (tmp_path / "prof").mkdir()
    monkeypatch.setenv("SPIKERAIN_LAVA_PROFILE", str(tmp_path / "prof"))
    res = run_lava(tmp_path / "up.h5", img, timeout=300)
    ref = run_reference(g, img[None], keep=True)
    np.testing.assert_array_equal(res.output, ref["out"][:, 0])
    for name, value in ref.items():
        assert res.counts[name] == [int(np.count_nonzero(f)) for f in value], name
    p = res.meta["profile"]
    assert p["processes_profiled"] == res.meta["processes"] == len(p["per_process"])
    assert {r["steps"] for r in p["per_process"]} == {res.meta["steps"]}  # every process ran every step
    # the kinds are the models Lava ran: spikerain's for Conv, Sparse and the segments, Lava's for the rest
    kinds = p["by_model"]
    assert kinds["PyConvModelFixedVectorised"]["processes"] == res.meta["schedule"]["kinds"]["conv"]
    assert kinds["PySparseModelFixedActive"]["processes"] == res.meta["schedule"]["kinds"]["sparse"]
    assert "PyLifResetModelBitAcc" in kinds
    assert sum(k["processes"] for k in kinds.values()) == res.meta["processes"]
    assert res.meta["models_rechecking"] == [res.meta["processes"]] * 2  # the timed models recheck too
    for r in p["per_process"]:
        assert 0 < r["spk_cpu_s"] <= r["process_cpu_s"], r
    assert p["lava_loop_and_channels_cpu_s"] == pytest.approx(p["model_processes_cpu_s"] - p["run_spk_cpu_s"])
    assert set(p["wall_s"]) == {"compile", "run"}
    # unset, the same run carries no profile
    monkeypatch.delenv("SPIKERAIN_LAVA_PROFILE")
    assert "profile" not in run_lava(tmp_path / "up.h5", img, timeout=300).meta
