"""The Lava process graph, run in Lava's CPU simulator (Loihi2SimCfg fixed_pt) in .venv-lava, is bit-exact with
the fast simulator and the numpy reference: every output integer and every layer's non-zero count per timestep."""

from pathlib import Path

import numpy as np
import pytest
import torch

from spikerain.converter.artifact import save_artifact
from spikerain.hardware.backend import run_lava
from spikerain.hardware.kernels.reference import run_reference
from spikerain.imageio import read_image
from spikerain.lava_env import LavaRunError, group_alive
from spikerain.models.checkpoint import load_default_or
from spikerain.models.registry import build_model
from spikerain.models.samples import sample_pair
from spikerain.pipeline.convert import convert_model
from spikerain.pipeline.verify import center_crop, compare, fast_reference, verify_crop
from tests.hardware.test_schedule import concat_graph

pytestmark = pytest.mark.lava


def _psm() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("psm_*")}


@pytest.mark.parametrize("conv_model", ["stock", "vectorised"])
def test_small_graph_with_split_concat_matches_reference(tmp_path, conv_model):
    g = concat_graph()
    path = tmp_path / "small.h5"
    save_artifact(path, g)
    img = np.random.default_rng(0).random((3, 8, 8))
    ref = run_reference(g, img[None], keep=True)
    res = run_lava(path, img, conv_model=conv_model, timeout=300)
    np.testing.assert_array_equal(res.output, ref["out"][:, 0])
    for name, value in ref.items():
        expected = [int(np.count_nonzero(f)) for f in value]
        assert res.counts[name] == expected, name
    assert 0 < sum(res.counts["lif"]) < ref["lif"].size  # the spikes are neither absent nor saturated
    # energy counts: the same from Lava's processes, the fast simulator and PyTorch forward hooks
    from spikerain.energy.sources import collect_fast, collect_torch

    assert res.meta["energy"] == collect_fast(g, img)[0] == collect_torch(g, img)[0]
    assert res.meta["schedule"]["split_concats"] == 1 and res.meta["conv_model"] == conv_model
    # every process's model, spikerain's (named to Lava in the exception map) and Lava's own, rechecks its command
    # port: Lava 0.10's lost wakeup cannot hang the run (hardware/lava/wakeup.py)
    rechecking, python_models = res.meta["models_rechecking"]
    assert rechecking == python_models >= res.meta["processes"]


@pytest.mark.parametrize("by_program", [True, False], ids=["custom-per-program", "one-chip-segment"])
def test_relus_on_stock_graded_neurons_match_reference(tmp_path, by_program):
    """ReLUs of on-chip and host values as stock Delta -> SigmaDelta -> Sigma chains: every integer and count
    equals the reference's, and the ReLUs really clip (some inputs are negative); with a custom process per
    neuron program (the requantization and the adds apart, exchanging values within a step) and with one."""
    from tests.hardware.test_schedule import relu_graph

    g = relu_graph()
    save_artifact(tmp_path / "relu.h5", g)
    img = np.random.default_rng(3).random((3, 8, 8))
    ref = run_reference(g, img[None], keep=True)
    res = run_lava(tmp_path / "relu.h5", img, timeout=300, lower_relu=True, custom_by_program=by_program)
    np.testing.assert_array_equal(res.output, ref["out"][:, 0])
    for name, value in ref.items():
        assert res.counts[name] == [int(np.count_nonzero(f)) for f in value], name
    assert (ref["c1"] < 0).any() and (ref["m"] < 0).any()
    assert res.meta["schedule"]["kinds"]["sigma"] == 2
    programs = res.meta["realisation"]["custom_programs"]
    assert programs == ({"add": 2, "requantize": 2, "route": 1} if by_program else {"all": 5}), programs


@pytest.mark.parametrize("model", ["stock", "active"])
def test_stock_sparse_upsampling_equals_the_numpy_kernel(tmp_path, model):
    """Lava's own Sparse model (PySparseModelBitAcc; and spikerain's model of the same process that skips silent
    inputs) with spikerain's bilinear x2 weights, weight_exp -4 and the constant-1 input: every integer equals
    q_upsample2x's, at the clamped edges, for negative values and at the 16-bit extremes (an odd, non-square
    frame; one frame all zero)."""
    from spikerain.converter.ir import quantized as q
    from spikerain.hardware.kernels.reference import reference_kernel
    from spikerain.lava_env import find_lava_python, run_lava_module

    x = np.random.default_rng(4).integers(-32768, 32768, (3, 2, 5, 4))
    x[0, 0], x[0, 1], x[1, 1] = 32767, -32768, np.arange(20).reshape(5, 4) % 3 - 1  # extremes; halves to round
    x[2] = 0
    np.save(tmp_path / "x.npy", x)
    run_lava_module("spikerain.hardware.lava.smoke",
                    ["upsample", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), model],
                    timeout=300, python=find_lava_python())
    node = q.QUpsample2x(name="u", inputs=("x",))
    expected = reference_kernel(node)(node, x[:, None])[:, 0]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    assert (expected < 0).any() and expected.max() == 32767 and expected.min() == -32768


def test_upsamplings_on_stock_sparse_match_reference(tmp_path):
    """Upsamplings feeding an add, a requantized conv and a LIF as stock Sparse processes (one upsampling of LIF
    spikes stays in the chip segment): every integer and count equals the reference's, in one image (Lava's own
    process models) and in pipelined tiles."""
    from tests.hardware.test_schedule import upsample_graph

    g = upsample_graph()
    save_artifact(tmp_path / "up.h5", g)
    img = np.random.default_rng(5).random((3, 8, 8))
    ref = run_reference(g, img[None], keep=True)
    res = run_lava(tmp_path / "up.h5", img, timeout=300, conv_model="stock")  # Lava's own Conv and Sparse models
    np.testing.assert_array_equal(res.output, ref["out"][:, 0])
    for name, value in ref.items():
        assert res.counts[name] == [int(np.count_nonzero(f)) for f in value], name
    assert (ref["u1"] < 0).any() and 0 < sum(res.counts["lif"]) < ref["lif"].size
    assert res.meta["schedule"]["kinds"]["sparse"] == 3
    assert res.meta["realisation"]["custom_ops"]["q_upsample2x"] == 1
    # three tiles in one pipelined run (spikerain's models of Conv and Sparse): a Sparse keeps nothing from one
    # tile's window into the next
    tiles = np.random.default_rng(6).random((3, 3, 8, 8))
    res = run_lava(tmp_path / "up.h5", tiles, timeout=300, tiles=True)
    for k in range(3):
        ref = run_reference(g, tiles[k][None], keep=True)
        np.testing.assert_array_equal(res.output[k], ref["out"][:, 0])
        for name, value in ref.items():
            assert res.meta["tiles"][k]["counts"][name] == [int(np.count_nonzero(f)) for f in value], (k, name)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("lava-artifacts")
    torch.manual_seed(0)
    models = {"vlifnet": load_default_or(None, "vlifnet"), "esdnet": load_default_or(None, "esdnet"),
              "random-vlifnet": build_model("vlifnet", dim=16)}
    for name, model in models.items():
        _, q, _ = convert_model(model, report_images=1)
        out[name] = (str(d / f"{name}.h5"), q)
        save_artifact(out[name][0], q)
    return out


# Every network and both crop sizes, but VLIF-Net's graph (the same for both of its weight sets) only once per
# size: a VLIF-Net run costs 2-3 minutes of Lava stepping on 2 cores, whatever the crop, and the suite's budget
# is 15 minutes. The shipped weights at 32x32 (the product's case), the untrained ones (other weights, other
# activity) at 16x16, where the deepest level is 2x2; ESDNet's runs cost a third as much, so it keeps both.
@pytest.mark.parametrize(("name", "size"), [("vlifnet", 32), ("random-vlifnet", 16), ("esdnet", 16),
                                            ("esdnet", 32)])
def test_network_crop_is_bit_exact_with_fast_simulator(artifacts, name, size):
    path, g = artifacts[name]
    img = read_image(sample_pair()[0])
    r = verify_crop(path, g, center_crop(img, size), timeout=900)
    assert r["output_equal"], r
    assert r["layer_mismatches"] == [], r["first_mismatch"]
    assert r["layers_compared"] == len(g.nodes)
    assert r["energy_equal"]  # synaptic-operation counts made inside the Lava processes equal the fast ones
    assert r["lava_processes"] == r["schedule"]["processes"] > 100
    # verify's one classification: no host node in an on-chip process, no on-chip node in a host one
    # and one custom process per neuron program
    c = r["realisation"]
    assert c["misplaced_nodes"] == 0 and c["processes"]["custom"] == len(c["custom_programs"]) >= 5
    assert r["bit_exact"]


def test_failed_actor_leaves_no_process_or_shared_memory(tmp_path):
    g = concat_graph()
    path = tmp_path / "small.h5"
    save_artifact(path, g)
    before = _psm()
    lines: list[str] = []
    with pytest.raises(LavaRunError) as err:
        # An exception inside a ProcessModel others wait on deadlocks Lava's run(); the timeout must end it.
        run_lava(path, np.zeros((3, 8, 8)), timeout=20, fail_at=2, progress=lines.append)
    message = str(err.value)
    # the failed actor's traceback reaches the user, with the process and step
    assert "a Lava process failed" in message and "RuntimeError: fault injected at step 2" in message
    assert "[lava] process seg" in message
    pgids = [int(x.split()[-1]) for x in lines if x.startswith("[lava] pgid")]
    assert pgids and not group_alive(pgids[0])
    assert _psm() - before == set()


def test_progress_reports_timesteps_done_and_total(tmp_path):
    g = concat_graph()
    save_artifact(tmp_path / "small.h5", g)
    lines: list[str] = []
    res = run_lava(tmp_path / "small.h5", np.zeros((3, 8, 8)), timeout=300, progress=lines.append)
    steps = [x.split()[-1] for x in lines if x.startswith("[lava] step ")]
    assert steps and steps[-1] == f"{res.meta['steps']}/{res.meta['steps']}"


def test_netx_reference_networks_in_lava_with_stock_processes(reference, tmp_path):
    """lava-dl's own ground truth, through spikerain's Lava graph of stock Conv (Lava's own model), Dense, LIFReset,
    Delta, SigmaDelta and Sigma processes."""
    from tests.converter.test_netx import pilotnet, tinynet

    g, image, gt = tinynet(reference)
    save_artifact(tmp_path / "tiny.h5", g)
    res = run_lava(tmp_path / "tiny.h5", image, conv_model="stock", timeout=300)
    assert np.abs(res.output[2:17] - gt).sum() == 0 and res.output[2:17].sum() == 92
    assert res.meta["schedule"]["kinds"]["neuron"] == 3

    g, image, gt = pilotnet(reference)
    save_artifact(tmp_path / "pilot.h5", g)
    res = run_lava(tmp_path / "pilot.h5", image, conv_model="stock", timeout=300)
    np.testing.assert_array_equal(res.output.reshape(9), gt)
    fast_out, fast_counts, _ = fast_reference(g, image)
    assert compare(fast_out, fast_counts, res.output, res.counts)["bit_exact"]
    assert res.meta["schedule"]["kinds"] == {"source": 1, "neuron": 9, "conv": 4, "dense": 4, "segment": 1,
                                             "probe": 1, "sink": 1}


def test_netx_dense_delays_run_as_lava_delay_dense(tmp_path):
    from spikerain.converter.interchange.netx_io import netx_input
    from tests.converter.test_netx import delayed_net

    g = delayed_net(tmp_path / "d.net")
    save_artifact(tmp_path / "d.h5", g)
    image = netx_input(np.random.default_rng(1).integers(0, 40, (2, 3, 3)), 6)
    res = run_lava(tmp_path / "d.h5", image, timeout=300)
    fast_out, fast_counts, _ = fast_reference(g, image)
    r = compare(fast_out, fast_counts, res.output, res.counts)
    assert r["bit_exact"], r
    assert res.meta["schedule"]["kinds"]["dense"] == 2 and sum(res.counts["layer2"]) > 0


def test_ctrl_c_during_a_lava_run_leaves_nothing_behind(tmp_path):
    """SIGINT to the parent (Ctrl-C) while the Lava graph runs: the child's whole group goes, no /dev/shm leaks."""
    import signal
    import subprocess
    import sys
    import time

    g = concat_graph()
    save_artifact(tmp_path / "small.h5", g)
    np.save(tmp_path / "img.npy", np.zeros((3, 8, 8)))
    # a shell runs background jobs with SIGINT ignored, and Python then installs no Ctrl-C handler: restore the
    # terminal's default, as an interactive user's process has it, whatever launched this suite
    script = ("import signal, sys, numpy as np\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "from spikerain.hardware.backend import run_lava\n"
              f"run_lava({str(tmp_path / 'small.h5')!r}, np.load({str(tmp_path / 'img.npy')!r}), timeout=300, "
              "fail_at=2, progress=lambda line: print(line, flush=True))\n")
    before = _psm()
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    pgid = None
    deadline = time.monotonic() + 120
    while pgid is None and time.monotonic() < deadline:
        line = parent.stdout.readline()
        if line.startswith("[lava] pgid"):
            pgid = int(line.split()[-1])
    assert pgid is not None and group_alive(pgid)
    time.sleep(4)  # let the Lava runtime start its processes (the injected fault then deadlocks run())
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode != 0 and "KeyboardInterrupt" in err
    assert not group_alive(pgid)
    assert _psm() - before == set()
