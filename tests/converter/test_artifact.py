import subprocess

import h5py
import pytest
import torch

from spikerain.converter import artifact
from spikerain.converter.artifact import load_artifact, save_artifact
from spikerain.converter.frontends.torch_frontend import from_torch
from spikerain.converter.ir import graphs_equal
from spikerain.converter.passes.pipeline import run_passes
from spikerain.errors import ArtifactError
from spikerain.lava_env import find_lava_python
from spikerain.models import ESDNet, VLIFNet


@pytest.fixture(scope="module")
def graphs():
    torch.manual_seed(0)
    return {"vlifnet": run_passes(from_torch(VLIFNet(dim=16).eval(), (16, 16))),
            "esdnet": from_torch(ESDNet(dim=16).eval(), (16, 16))}


@pytest.mark.parametrize("name", ["vlifnet", "esdnet"])
def test_round_trip_is_exact(tmp_path, graphs, name):
    g = graphs[name]
    digest = save_artifact(tmp_path / "m.h5", g)
    back = load_artifact(tmp_path / "m.h5")
    assert graphs_equal(g, back) and back.meta == g.meta
    assert artifact.checksum(back, back.meta) == digest
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]


def test_loads_without_torch_in_the_lava_interpreter(tmp_path, graphs):
    save_artifact(tmp_path / "m.h5", graphs["vlifnet"])
    py = find_lava_python()
    code = ("import sys; from spikerain.converter.artifact import load_artifact; "
            f"g = load_artifact({str(tmp_path / 'm.h5')!r}); print(len(g.nodes), 'torch' in sys.modules)")
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(len(graphs["vlifnet"].nodes)), "False"]


def test_unknown_schema_version(tmp_path, graphs):
    p = tmp_path / "m.h5"
    save_artifact(p, graphs["esdnet"])
    with h5py.File(p, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(ArtifactError, match="schema version 99"):
        load_artifact(p)


def test_checksum_mismatch(tmp_path, graphs):
    p = tmp_path / "m.h5"
    save_artifact(p, graphs["esdnet"])
    with h5py.File(p, "a") as f:
        ds = f["graph/nodes/00002/weight"]
        w = ds[()]
        w[0, 0, 0, 0] += 1
        ds[...] = w
    with pytest.raises(ArtifactError, match="fails its checksum"):
        load_artifact(p)


def test_truncated_and_foreign_files(tmp_path, graphs):
    p = tmp_path / "m.h5"
    save_artifact(p, graphs["esdnet"])
    data = p.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.h5").write_text("hello")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ArtifactError, match="truncated or corrupt|not an HDF5"):
        load_artifact(tmp_path / "cut.h5")
    with pytest.raises(ArtifactError, match="not an HDF5 file"):
        load_artifact(tmp_path / "text.h5")
    with pytest.raises(ArtifactError, match="not a spikerain artifact"):
        load_artifact(tmp_path / "other.h5")
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "missing.h5")
