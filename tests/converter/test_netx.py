"""netx import/export against lava-dl's own ground truth (tests/golden/netx), run by the numpy reference
and the fast simulator with lava-dl's stepping and comparison."""

import h5py
import numpy as np
import pytest

from spikerain.cli import main
from spikerain.converter import ir
from spikerain.converter.artifact import load_artifact
from spikerain.converter.interchange.netx_io import NetxError, export_netx, import_netx, netx_input
from spikerain.hardware.fastsim.simulate import simulate
from spikerain.hardware.kernels.reference import run_reference


def tinynet(ref):
    d = ref / "netx" / "tinynet"
    # lava-dl test_tinynet: 17 steps per sample + 3 layers = 20 steps; layer i reset every 17 steps at phase i
    g = import_netx(d / "tiny.net", steps=20, input_frac=6, reset_interval=17)
    image = netx_input(np.load(d / "input_bias.npy").transpose(2, 1, 0), 6)  # (X, Y, C) bias -> [C, H, W]
    gt = np.load(d / "output.npy")[0].transpose(3, 0, 1, 2)[1:]  # (C, H, W, T) -> [T, C, H, W], drop step 0
    return g, image, gt


def pilotnet(ref):
    d = ref / "netx" / "pilotnet_sdnn"
    g = import_netx(d / "network.net", steps=9, input_frac=6)  # lava-dl runs len(net.layers) = 9 steps
    image = netx_input(np.load(d / "input.npy")[..., 0].transpose(2, 1, 0), 6)
    return g, image, np.load(d / "output.npy").reshape(9)


def test_tinynet_structure_and_reference_output(reference):
    g, image, gt = tinynet(reference)
    assert [n.op for n in g.nodes] == ["q_input", "q_repeat_t", "q_lif", "q_conv2d", "q_lif", "q_conv2d", "q_lif",
                                       "q_output"]
    lif1 = g.node("layer1")
    assert (lif1.du, lif1.dv, lif1.vth, lif1.bias_exp, lif1.reset_offset) == (4095, 1024, 25, 6, 1)
    kernel = np.load(reference / "netx" / "tinynet" / "layer1_kernel.npy")  # Lava layout, flipped
    w = g.node("layer1.synapse").weight_mant
    np.testing.assert_array_equal(w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1), kernel)
    np.testing.assert_array_equal(lif1.bias_map, np.load(reference / "netx" / "tinynet" / "layer1_bias.npy"))
    for out in (run_reference(g, image[None])["output"][:, 0], simulate(g, image[None])["output"][:, 0].numpy()):
        # lava-dl: error = |output[..., 2:17] - gt[..., 1:]|.sum() == 0
        assert np.abs(out[2:17] - gt).sum() == 0
    assert gt.sum() == 92  # the comparison is not vacuous


def test_tinynet_input_layer_matches_slayer_raster(reference):
    g, image, _ = tinynet(reference)
    spikes = run_reference(g, image[None], keep=True)["layer0"][:, 0]
    raster = np.load(reference / "netx" / "tinynet" / "input.npy")[0].transpose(3, 0, 1, 2)
    np.testing.assert_array_equal(spikes[:15], raster[1:])  # test_input: one step of offset


def test_pilotnet_sdnn_reproduces_lava_dl_output_exactly(reference):
    g, image, gt = pilotnet(reference)
    assert g.ops()["q_dense_synapse"] == 4 and g.ops()["q_sigma_delta"] == 7 and g.ops()["q_sigma"] == 1
    ref = run_reference(g, image[None])["output"].reshape(9)
    fast = simulate(g, image[None])["output"].numpy().reshape(9)
    np.testing.assert_array_equal(ref, gt)
    np.testing.assert_array_equal(fast, gt)


@pytest.mark.parametrize("net", [tinynet, pilotnet])
def test_export_then_import_round_trips(reference, tmp_path, net):
    g, image, _ = net(reference)
    path = tmp_path / "out.net"
    export_netx(g, path)
    back = import_netx(path, steps=g.meta["steps"], input_frac=6, reset_interval=g.meta["reset_interval"])
    assert ir.graphs_equal(g, back)
    src = reference / "netx" / ("tinynet/tiny.net" if net is tinynet else "pilotnet_sdnn/network.net")
    with h5py.File(src) as a, h5py.File(path) as b:
        assert sorted(a["layer"], key=int) == sorted(b["layer"], key=int)
        for k in a["layer"]:
            la, lb = a["layer"][k], b["layer"][k]
            assert la["type"][()] == lb["type"][()]
            np.testing.assert_array_equal(la["shape"][()], lb["shape"][()])
            if "weight" in la and la["type"][0] != b"input":
                np.testing.assert_array_equal(la["weight"][()].reshape(lb["weight"].shape), lb["weight"][()])


def test_unsupported_layer_is_refused_not_dropped(tmp_path):
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as f:
        f["layer/0/type"] = np.array([b"input"], dtype="S10")
        f["layer/0/shape"] = np.array([1, 4, 4])
        f["layer/1/type"] = "pool"  # a variable-length string, as netx also writes
        f["layer/1/shape"] = np.array([1, 2, 2])
    with pytest.raises(NetxError, match="layer 1 has type 'pool'"):
        import_netx(path)


def test_export_of_a_deraining_graph_names_what_netx_cannot_express(tmp_path):
    from tests.hardware.test_schedule import concat_graph

    with pytest.raises(NetxError, match="feeds 2 layers"):
        export_netx(concat_graph(), tmp_path / "x.net")
    assert not (tmp_path / "x.net").exists()


def test_cli_import_and_export(reference, tmp_path, capsys):
    art = tmp_path / "tiny.h5"
    assert main(["import-netx", str(reference / "netx/tinynet/tiny.net"), "-o", str(art), "--steps", "20",
                 "--input-frac", "6", "--reset-interval", "17", "--json"]) == 0
    assert '"steps": 20' in capsys.readouterr().out
    assert load_artifact(art).node("layer2").reset_offset == 2
    assert main(["export", str(art), "--format", "netx", "-o", str(tmp_path / "tiny.net")]) == 0
    assert ir.graphs_equal(load_artifact(art), import_netx(tmp_path / "tiny.net", steps=20, input_frac=6,
                                                           reset_interval=17))


def delayed_net(path, steps=24):
    """A small netx network whose first dense layer has one delay per synapse (0..4 steps)."""
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f["simulation/tSample"] = steps
        lif = {"type": np.array([b"LOIHI"], dtype="S10"), "iDecay": 4096, "vDecay": 512, "vThMant": 20,
               "refDelay": 1}
        layers = [("input", {"shape": np.array([2, 3, 3])}),
                  ("flatten", {"shape": np.array([18, 1, 1])}),
                  ("dense", {"shape": np.array([6]), "weight": rng.integers(-40, 80, (6, 18)).astype(np.float32),
                             "delay": rng.integers(0, 5, (6, 18)).astype(np.float32),
                             "bias": rng.integers(0, 5, 6).astype(np.float32)}),
                  ("dense", {"shape": np.array([3]), "weight": rng.integers(-60, 90, (3, 6)).astype(np.float32)})]
        for i, (kind, fields) in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            g["type"] = np.array([kind.encode()], dtype="S10")
            for k, v in fields.items():
                g[k] = v
            if kind != "flatten":
                for k, v in lif.items():
                    g[f"neuron/{k}"] = v
    return import_netx(path, input_frac=6)


def test_dense_delays_are_imported_and_simulated(tmp_path):
    g = delayed_net(tmp_path / "d.net")
    syn = g.node("layer2.synapse")
    assert syn.delays.shape == (6, 18) and syn.delays.max() == 4
    image = netx_input(np.random.default_rng(1).integers(0, 40, (2, 3, 3)), 6)
    ref = run_reference(g, image[None], keep=True)
    np.testing.assert_array_equal(simulate(g, image[None])["output"].numpy(), ref["output"])
    assert ref["layer2"].sum() > 0
    # without the delays the spike trains differ: the delays matter in this network
    plain = import_netx(tmp_path / "d.net", input_frac=6)
    plain = plain.with_nodes([n.replace(delays=np.zeros(0, np.int64)) if n.name == "layer2.synapse" else n
                              for n in plain.nodes])
    assert not np.array_equal(run_reference(plain, image[None])["output"], ref["output"])
    export_netx(g, tmp_path / "back.net")
    assert ir.graphs_equal(g, import_netx(tmp_path / "back.net", input_frac=6))
