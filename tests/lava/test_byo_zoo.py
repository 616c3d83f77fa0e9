"""Bring-your-own SNNs in Lava: every zoo model (SpikingJelly, snnTorch, norse, sinabs, plain torch ops; built in
tests/converter/test_zoo.py with the real libraries) runs in Lava's CPU simulator (Loihi2SimCfg fixed_pt) bit for
bit as in the fast simulator: output integers, every layer's non-zero count per timestep, the energy counts. The
new ops (max pooling, reshape, nearest upsampling, depth-to-space, the general neuron) run in Segments calling
their numpy reference kernels; the module's input is quantized on the host and sent one frame per step."""

from pathlib import Path

import numpy as np
import pytest
import torch

from spikerain.cli import main
from spikerain.converter.artifact import save_artifact
from spikerain.hardware.fastsim.simulate import Activity, simulate
from spikerain.pipeline.byo import convert_module, simulate_module_layout, to_graph_input, verify_module_input
from tests.converter.test_zoo import ZOO, _reset

pytestmark = pytest.mark.lava


def _convert(name, tmp_path):
    module, x = ZOO[name]
    module.eval()
    _reset(module)
    _, q, _ = convert_module(module, x, torch.stack([x, x * 0.5, x.flip(-1)]))
    path = tmp_path / f"{name}.h5"
    save_artifact(path, q)
    return q, x.numpy(), path


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_in_lava_equals_the_fast_simulator(name, tmp_path):
    q, x, path = _convert(name, tmp_path)
    r = verify_module_input(str(path), q, x, timeout=300)
    assert r["output_equal"] and r["energy_equal"] and not r["layer_mismatches"], (name, r["first_mismatch"])
    assert r["bit_exact"]
    new_ops = {"q_tensor_input", "q_neuron", "q_maxpool2d", "q_reshape", "q_upsample_nearest", "q_depth_to_space"}
    assert {n.op for n in q.nodes} & new_ops - {"q_tensor_input"}, "each zoo model exercises a new op in Lava"
    # the comparison is not between two silent networks: some neuron layer in Lava spikes, and not every neuron
    act = Activity()
    simulate(q, to_graph_input(q, x), activity=act)  # Lava's counts equal these, layer by layer (above)
    spiking = [n.name for n in q.nodes if n.role == "neuron" and n.frac == 0]  # spike outputs (sinabs: counts)
    assert spiking and any(0 < sum(act.nonzero[s]) < act.per_step[s] * len(act.nonzero[s]) for s in spiking), name


def test_cli_verify_and_lava_simulate_of_a_module_input(tmp_path, capsys):
    """``spikerain verify ART --input X.npy`` (exit 0, bit-exact) and ``simulate --backend lava`` writes what the
    fast simulator writes, in the module's output layout."""
    q, x, path = _convert("sj_classifier", tmp_path)
    np.save(tmp_path / "x.npy", x)
    assert main(["verify", str(path), "--input", str(tmp_path / "x.npy"), "--json"]) == 0
    assert '"bit_exact": true' in capsys.readouterr().out
    out = tmp_path / "y.npy"
    assert main(["simulate", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(out), "--backend", "lava"]) == 0
    y = np.load(out)
    expected = simulate_module_layout(q, x).astype(np.float32)
    assert y.shape == expected.shape == (1, 5) and np.array_equal(y, expected) and np.count_nonzero(y)
    assert main(["verify", str(path), "--input", str(tmp_path / "x.npy"), "--crop", "8", "8"]) == 2



def test_nir_imported_artifact_in_lava(tmp_path, capsys):
    """A NIR graph (spikerain's own export of an snnTorch loop, re-imported with ``import-nir``) verifies in Lava,
    and its Lava run spikes."""
    from tests.converter.test_nir import T

    x = (torch.rand(T, 1, 6, generator=torch.Generator().manual_seed(4)) * 3).numpy()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "c.npy", x[None])
    a, n, b = tmp_path / "a.h5", tmp_path / "a.nir", tmp_path / "b.h5"
    nir_py = Path(__file__).resolve().parents[1] / "converter" / "test_nir.py"
    assert main(["convert", "--torch", f"{nir_py}:build", "--example", str(tmp_path / "x.npy"), "-o", str(a)]) == 0
    assert main(["export", str(a), "--format", "nir", "-o", str(n)]) == 0
    assert main(["import-nir", str(n), "-o", str(b), "--dt", "1e-3", "--steps", str(T), "--calib",
                 str(tmp_path / "c.npy")]) == 0
    capsys.readouterr()
    assert main(["verify", str(b), "--input", str(tmp_path / "x.npy"), "--json"]) == 0
    assert '"bit_exact": true' in capsys.readouterr().out
    y = tmp_path / "y.npy"
    assert main(["simulate", str(b), "--input", str(tmp_path / "x.npy"), "-o", str(y), "--backend", "lava"]) == 0
    assert np.count_nonzero(np.load(y))
