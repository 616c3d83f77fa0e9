"""lava-dl 0.6.0's own netx test suite, ported: its networks and recorded values through spikerain's importer, the
numpy reference and the fast simulator, with the stepping and comparison of lava-dl's tests
(``tests/lava/lib/dl/netx/test_hdf5.py``, ``test_blocks.py``; ``test_hdf5_nx.py`` for PilotNet LIF, which lava-dl
runs on Loihi only). The block tests of ``test_blocks.py`` build a single netx block; here the same block is
written as a one-layer ``.net`` file and imported, so the importer is under test too. The Lava backend runs of the
small ones are in ``tests/lava/test_netx_lava_dl.py``.

The data come from the lava-dl wheel, fetched by ``make`` into ``.cache/lava-dl-0.6.0`` (never committed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from spikerain.converter.interchange.netx_io import NetxError, import_netx
from spikerain.hardware.fastsim.simulate import simulate
from spikerain.hardware.kernels.reference import run_reference
from spikerain.hardware.sequence import lava_layout, record_neurons, sequence_frames, with_steps

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "lava-dl-0.6.0"
NETX = CACHE / "tests" / "lava" / "lib" / "dl" / "netx"


def lava_dl_netx() -> Path:
    """lava-dl's netx test folder, fetched by the Makefile target when missing (pytest run without make)."""
    if not (CACHE / ".stamp").exists():
        r = subprocess.run(["make", "-s", str(CACHE.relative_to(ROOT) / ".stamp")], cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            pytest.fail(f"could not fetch lava-dl 0.6.0's test data (make .cache/lava-dl-0.6.0/.stamp): {r.stderr}")
    return NETX


@pytest.fixture(scope="module")
def netx_dir() -> Path:
    return lava_dl_netx()


def both(g, frames):
    """The graph's output from the numpy reference and the fast simulator, which must agree: [T, C, H, W]."""
    ref = run_reference(g, frames)["output"][:, 0]
    fast = simulate(g, frames)["output"][:, 0].numpy()
    np.testing.assert_array_equal(ref, fast)
    return ref


LIF = {"type": b"LOIHI", "iDecay": 4096, "vDecay": 1024, "vThMant": 25, "refDelay": 1}


def write_net(path: Path, layers: list[tuple[str, dict]]) -> Path:
    """A netx file: ``(type, fields)`` per layer; a ``neuron`` field holds the neuron group's fields."""
    with h5py.File(path, "w") as f:
        for i, (kind, fields) in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            g["type"] = np.array([kind.encode()], dtype="S10")
            for k, v in fields.items():
                if k == "neuron":
                    for nk, nv in v.items():
                        g[f"neuron/{nk}"] = np.array([nv], dtype="S10") if isinstance(nv, bytes) else nv
                else:
                    g[k] = v
    return path


def torch_kernel(lava_kernel: np.ndarray) -> np.ndarray:
    """A Lava conv kernel (Co, X, Y, Ci), as lava-dl's block tests give it, as netx stores it: torch's (Co, Ci, H,
    W), flipped (netx flips and transposes it on import: ``w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)``)."""
    return np.ascontiguousarray(lava_kernel.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]).astype(np.float32)


# ------------------------------------------------------------------------------------------ test_hdf5.py


def test_num_layers(netx_dir):
    g = import_netx(netx_dir / "tiny.net", num_layers=2)
    assert len([n for n in g.nodes if n.op == "q_lif"]) <= 2


def test_input_transform(netx_dir):
    g = import_netx(netx_dir / "tiny.net", num_layers=1)
    assert g.meta["input_transform"] == {"weight": 36, "bias": 34}


def test_mnist_is_input_then_three_dense_blocks(netx_dir):
    g = import_netx(netx_dir / "mnist.net")
    assert [n.op for n in g.nodes] == ["q_input", "q_repeat_t", "q_lif"] + ["q_dense_synapse", "q_lif"] * 3 + [
        "q_output"]
    assert g.shapes["layer0"][1:] == (784, 1, 1) and g.shapes["output"] == (16, 10, 1, 1)
    last = g.node("layer3")  # no neuron in the file: netx's non-leaky integrator (iDecay 0, vDecay 4096)
    assert (last.du, last.dv, last.vth) == (-1, 4096, 1 << 17)
    # it runs, and the reference and the fast simulator agree on it
    digit = np.zeros((784, 1, 1))
    digit.reshape(28, 28)[6:22, 12:16] = 0.25
    ref = run_reference(g, digit[None], keep=True)
    assert ref["layer1"].sum() > 0
    np.testing.assert_array_equal(simulate(g, digit[None])["output"].numpy(), ref["output"])


def tinynet(netx_dir):
    # test_tinynet: 17 steps per sample + 3 layers = 20 steps, layer i reset every 17 steps at phase i; the
    # image is the input layer's bias
    g = import_netx(netx_dir / "tiny.net", steps=20, input_frac=6, reset_interval=17)
    bias = np.load(netx_dir / "gts/tinynet/input_bias.npy").transpose(2, 1, 0)  # (X, Y, C) -> (C, H, W)
    gt = np.load(netx_dir / "gts/tinynet/output.npy")[0].transpose(3, 0, 1, 2)[1:]  # (C, H, W, T) -> [T, ...]
    return g, bias, gt


def test_tinynet(netx_dir):
    g, bias, gt = tinynet(netx_dir)
    out = both(g, bias[None] / 64)
    assert np.abs(out[2:17] - gt).sum() == 0  # lava-dl: |output[..., 2:17] - gt[..., 1:]|.sum() == 0
    assert gt.sum() == 92


def test_tinynet_input_bias_given_per_step(netx_dir):
    """The input layer's bias as a sequence: constant, it is the image; changed mid-run, only later steps
    change."""
    g, bias, gt = tinynet(netx_dir)
    seq = np.repeat(bias[None], 20, axis=0).astype(np.int64)
    np.testing.assert_array_equal(both(g, sequence_frames(g, seq)), both(g, bias[None] / 64))
    seq[10:] = 0
    out = both(g, sequence_frames(g, seq))
    assert np.abs(out[2:11] - gt[:9]).sum() == 0 and not np.array_equal(out[11:17], gt[9:])


def pilotnet_sdnn(netx_dir, **kw):
    g = import_netx(netx_dir / "gts/pilotnet_sdnn/network.net", steps=9, input_frac=6, **kw)  # len(net.layers)
    image = np.load(netx_dir / "gts/pilotnet_sdnn/input.npy")[..., 0].transpose(2, 1, 0)  # RingBuffer of 1 frame
    return g, image, np.load(netx_dir / "gts/pilotnet_sdnn/output.npy").reshape(9)


def test_pilotnet_sdnn(netx_dir):
    g, image, gt = pilotnet_sdnn(netx_dir)
    np.testing.assert_array_equal(both(g, image[None] / 64).reshape(9), gt)  # error == 0
    # the same input as a raster of 9 frames (what a RingBuffer of one frame sends)
    np.testing.assert_array_equal(both(g, sequence_frames(g, np.repeat(image[None], 9, 0))).reshape(9), gt)


def test_pilotnet_sdnn_spike_exp(netx_dir):
    g, image, gt = pilotnet_sdnn(netx_dir, spike_exp=0)
    out = both(g, image[None] / 64).reshape(9)
    scale = 1 << 6
    assert np.abs(out - gt / scale).mean() < 2 * scale  # lava-dl's tolerance for spike_exp=0
    assert not np.array_equal(out, gt)  # the graded spikes really are scaled


def test_axonal_delay_ntidigits(netx_dir):
    """5 layers (netx skips the final 'average', which spikerain refuses by name); a spike raster [64, 3000]
    into the first dense synapse; axonal delays."""
    with pytest.raises(NetxError, match="layer 5 has type 'average'"):
        import_netx(netx_dir / "gts/ntidigits/ntidigits.net")
    g = import_netx(netx_dir / "gts/ntidigits/ntidigits.net", num_layers=5)
    assert g.nodes[0].bits == 1 and g.node("layer2.synapse").delays.max() > 0
    raster = np.load(netx_dir / "gts/ntidigits/input.npy")
    gt = np.load(netx_dir / "gts/ntidigits/output.npy")
    g = with_steps(g, raster.shape[1])
    out = both(g, sequence_frames(g, raster.T)).reshape(raster.shape[1], -1).T  # (242, 3000), Lava's layout
    assert np.abs(out[:, -1] - gt[:, 1]).sum() == 0  # lava-dl's comparison
    # stronger: every spike of the whole run, the recording one step ahead of a Lava run (its sink sees a
    # spike one step after the neuron)
    np.testing.assert_array_equal(out[:, :-1], gt[:, 1:])
    assert gt.sum() > 1000


def test_recurrent_and_complex_layers_are_refused_by_name(tmp_path):
    # test_recurrent_netx_save_and_load (dense_rec) and the complex RF blocks need layer types spikerain lacks
    for kind in ("dense_rec", "dense_comp"):
        path = write_net(tmp_path / f"{kind}.net", [("input", {"shape": np.array([6])}),
                                                    (kind, {"shape": np.array([5]), "weight": np.ones((5, 6))})])
        with pytest.raises(NetxError, match=f"layer 1 has type '{kind}'"):
            import_netx(path)


# --------------------------------------------------------------------------------- test_hdf5_nx.py (Loihi)


def test_pilotnet_lif_every_layer_every_step(netx_dir):
    """test_pilotnet_lif (run on Loihi by lava-dl) with every layer's spikes, u and v for all 24 recorded steps.

    lava-dl's recorded values are known not to match a CPU run of ``reset_interval=16``: they were made with the
    second reset one step later (layer i reset at steps i and 17 + i, not 16 + i), so with interval 16 they match
    before step 16 + i (layer i's second reset), and with interval 17 (the same first reset, the second one step
    later) at every step.
    The files hold v = 128 where the neuron spiked (Lava's LIF holds 0 there); v is compared everywhere else.
    fc-3 (``fc-3-*.npy``, 25 float steps) comes from another run: its spikes match (none), its u only up to step 7,
    although its input, fc-2's spikes, matches at every step."""
    d = netx_dir / "gts/pilotnet_lif"
    image = np.load(d / "image.npy").transpose(2, 1, 0) / 128  # the input layer's bias (test_pilotnet_lif)
    files = ["input"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(3)]
    for interval, matching in ((16, lambda i: 16 + i), (17, lambda i: 24)):
        g = import_netx(d / "network.net", steps=24, input_frac=7, reset_interval=interval)
        rec = record_neurons(g, image[None])
        lif = [n.name for n in g.nodes if n.op == "q_lif"]
        assert len(lif) == 10 and g.node("layer10.synapse").weight_mant.shape == (1, 10)  # 1-D weight (10,)
        for i, (name, f) in enumerate(zip(lif, files, strict=False)):
            dense = f.startswith("fc")
            s = lava_layout(rec[name]["s"], dense)
            steps = matching(i)
            np.testing.assert_array_equal(s[..., :steps], np.load(d / f"{f}.npy")[..., :steps], err_msg=f)
            if steps < 24 and f == "conv-0":  # and the divergence is real
                assert not np.array_equal(s, np.load(d / f"{f}.npy")[..., :24])
            if f == "input":
                continue
            u = lava_layout(rec[name]["u"], dense)
            np.testing.assert_array_equal(u[..., :steps], np.load(d / f"{f}-u.npy")[..., :steps], err_msg=f)
            v, v_gt = lava_layout(rec[name]["v"], dense), np.load(d / f"{f}-v.npy").astype(np.int64)
            quiet = ~s[..., :steps].astype(bool)
            np.testing.assert_array_equal(v[..., :steps][quiet], v_gt[..., :steps][quiet], err_msg=f)
            assert np.all(v_gt[..., :steps][~quiet] == 128)
        fc3 = lava_layout(rec["layer10"]["u"], True)
        np.testing.assert_array_equal(fc3[:, :8], np.load(d / "fc-3-u.npy")[:, :8])
        assert not lava_layout(rec["layer10"]["s"], True).any() and not np.load(d / "fc-3-s.npy").any()


# ----------------------------------------------------------------------------------------- test_blocks.py


def lif_input_block(netx_dir):
    """TestLIFBlocks.test_input: an input LIF block (vth 25, du 4095, dv 1024) driven by tinynet's bias."""
    g = import_netx(netx_dir / "tiny.net", num_layers=1, steps=15, input_frac=6)
    bias = np.load(netx_dir / "gts/tinynet/input_bias.npy").transpose(2, 1, 0)
    gt = np.load(netx_dir / "gts/tinynet/input.npy")[0].transpose(3, 0, 1, 2)[1:]  # one step of offset
    return g, bias, gt


def test_lif_input_block(netx_dir):
    g, bias, gt = lif_input_block(netx_dir)
    assert [n.op for n in g.nodes] == ["q_input", "q_repeat_t", "q_lif", "q_output"]
    out = both(g, bias[None] / 64)
    assert np.abs(out - gt).sum() == 0 and gt.sum() > 0


def lif_conv_block(netx_dir, tmp_path):
    """TestLIFBlocks.test_conv: tinynet's first conv (stride 2) and LIF, fed the input raster's steps 1..15 in a
    RingBuffer (which then starts over), its state zeroed after step 1 and its first spike frame ignored."""
    t = netx_dir / "gts/tinynet"
    path = write_net(tmp_path / "lif_conv.net", [
        ("input", {"shape": np.array([3, 16, 16])}),
        ("conv", {"shape": np.array([24, 6, 6]), "weight": torch_kernel(np.load(t / "layer1_kernel.npy")),
                  "bias": np.load(t / "layer1_bias.npy").astype(np.float32), "stride": np.array([2, 2]),
                  "padding": np.array([0, 0]), "dilation": np.array([1, 1]), "groups": 1, "neuron": LIF})])
    g = import_netx(path, steps=16, reset_interval=16, reset_offset=1)  # zero u, v before step 1
    data = np.load(t / "input.npy")[0].transpose(3, 0, 1, 2)[1:]  # [15, C, H, W]
    raster = np.concatenate([data, data[:1]])  # a RingBuffer of 15 frames, run 16 steps
    s_gt = np.load(t / "layer1.npy")[0].transpose(3, 0, 1, 2)
    u_gt = np.load(t / "current.npy")[0].transpose(3, 0, 1, 2).astype(np.int64) * 64
    return g, sequence_frames(g, raster.astype(np.int64)), s_gt, u_gt


def test_lif_conv_block_spikes_and_current(netx_dir, tmp_path):
    g, frames, s_gt, u_gt = lif_conv_block(netx_dir, tmp_path)
    s = both(g, frames)
    s[0] = 0  # lava-dl: s[..., 0] = 0
    np.testing.assert_array_equal(s, s_gt)
    np.testing.assert_array_equal(record_neurons(g, frames)["layer1"]["u"], u_gt)
    assert s_gt.sum() > 0 and np.abs(u_gt).sum() > 0


def lif_dense_block(netx_dir, tmp_path, steps=2000):
    """TestLIFBlocks.test_dense: 200 -> 256 dense LIF block (vth 6, du 4095, dv 415) fed a spike raster."""
    d = netx_dir / "gts/dense"
    lif = {**LIF, "vDecay": 415, "vThMant": 6}
    path = write_net(tmp_path / "lif_dense.net", [
        ("dense", {"shape": np.array([256]), "inFeatures": 200,
                   "weight": np.load(d / "weight.npy").astype(np.float32), "neuron": lif})])
    g = import_netx(path, steps=steps)  # dense-first: the raster goes into the dense synapse
    raster = np.load(d / "in.npy")[:, :steps].T
    return g, sequence_frames(g, raster), np.load(d / "out.npy")[:, :steps]


def test_lif_dense_block(netx_dir, tmp_path):
    g, frames, s_gt = lif_dense_block(netx_dir, tmp_path)
    assert g.nodes[2].op == "q_dense_synapse"
    s = both(g, frames).reshape(2000, 256).T
    assert np.abs(s - s_gt).sum() == 0 and s_gt.sum() > 1000


def sdn_input_block(tmp_path, netx_dir):
    """TestSDNBlocks.test_input: a Delta input block (vth 20) fed tinynet's bias times a sine, 15 steps."""
    path = write_net(tmp_path / "sdn_input.net", [
        ("input", {"shape": np.array([3, 16, 16]), "neuron": {"type": b"SDNN", "vThMant": 20}})])
    g = import_netx(path, steps=15, input_frac=6)
    bias = np.load(netx_dir / "gts/tinynet_sdnn/input_bias.npy")
    data = (np.repeat(bias[..., None], 15, axis=3) * np.sin(2 * np.pi * np.arange(15) / 15)).astype(int)
    gt = np.load(netx_dir / "gts/tinynet_sdnn/input.npy")  # (X, Y, C, T)
    return g, sequence_frames(g, data.transpose(3, 2, 1, 0)), gt


def test_sdn_input_block(netx_dir, tmp_path):
    g, frames, gt = sdn_input_block(tmp_path, netx_dir)
    out = both(g, frames)
    assert np.abs(lava_layout(out, False) - gt).sum() == 0 and np.abs(gt).sum() > 0


def sdn_conv_block(tmp_path, netx_dir):
    """TestSDNBlocks.test_conv: tinynet_sdnn's conv (stride 2) and SigmaDelta (vth 20), its input a graded
    raster sent as unary spikes (the block's input_message_bits is 0), run for one step."""
    t = netx_dir / "gts/tinynet_sdnn"
    path = write_net(tmp_path / "sdn_conv.net", [
        ("input", {"shape": np.array([3, 16, 16])}),
        ("conv", {"shape": np.array([24, 6, 6]), "weight": torch_kernel(np.load(t / "layer1_kernel.npy")),
                  "bias": np.load(t / "layer1_bias.npy").astype(np.float32), "stride": np.array([2, 2]),
                  "padding": np.array([0, 0]), "dilation": np.array([1, 1]), "groups": 1,
                  "neuron": {"type": b"SDNN", "vThMant": 20, "activation": b"relu"}})])
    g = import_netx(path, steps=1)
    frames = sequence_frames(g, np.load(t / "input.npy").transpose(3, 2, 1, 0)[:1])
    return g, frames, np.load(t / "layer1.npy")


def test_sdn_conv_block(netx_dir, tmp_path):
    g, frames, gt = sdn_conv_block(tmp_path, netx_dir)
    out = lava_layout(both(g, frames), False)
    np.testing.assert_array_equal(out[..., 0], gt[..., 0])  # one step: the sink's later slots stay 0
    assert not gt[..., 1:].any() and gt[..., 0].any()


def sdn_dense_block(tmp_path, netx_dir):
    """TestSDNBlocks.test_dense: 864 -> 100 dense synapse into a Sigma neuron, fed tinynet_sdnn's conv output as
    unary spikes (input_message_bits 0), 16 steps."""
    t = netx_dir / "gts/tinynet_sdnn"
    path = write_net(tmp_path / "sdn_dense.net", [
        ("input", {"shape": np.array([864])}),
        ("dense", {"shape": np.array([100]), "weight": np.load(t / "layer2_weight.npy").astype(np.float32),
                   "neuron": {"type": b"SDNN", "sigma_output": True, "vThMant": 0}})])
    g = import_netx(path, steps=16)
    frames = sequence_frames(g, np.load(t / "layer1.npy").reshape(-1, 16).T)
    return g, frames, np.load(t / "layer2.npy")


def test_sdn_dense_block(netx_dir, tmp_path):
    g, frames, gt = sdn_dense_block(tmp_path, netx_dir)
    out = lava_layout(both(g, frames), True)
    assert np.abs(out - gt).sum() == 0 and np.abs(gt).sum() > 0


# ------------------------------------------------------------------------------------------------------ CLI


def test_cli_raster_simulation_record_and_map(netx_dir, tmp_path, capsys):
    """A new user's path: import ntidigits (5 layers), simulate it on a spike raster [T, 64] writing the output
    integers and every layer's s/u/v, map the dense chain."""
    import json

    from spikerain.cli import main
    from spikerain.hardware.sequence import read_record

    art, raster = tmp_path / "nti.h5", tmp_path / "raster.npy"
    assert main(["import-netx", str(netx_dir / "gts/ntidigits/ntidigits.net"), "--num-layers", "5", "-o",
                 str(art), "--json"]) == 0
    T = 200
    np.save(raster, np.load(netx_dir / "gts/ntidigits/input.npy")[:, :T].T.astype(np.int8))
    capsys.readouterr()
    assert main(["simulate", str(art), "--input", str(raster), "-o", str(tmp_path / "out.npy"), "--backend", "fast",
                 "--record", str(tmp_path / "rec.h5"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == T
    out = np.load(tmp_path / "out.npy")
    gt = np.load(netx_dir / "gts/ntidigits/output.npy")[:, :T]
    np.testing.assert_array_equal(out.reshape(T, -1).T[:, :-1], gt[:, 1:])
    rec = read_record(tmp_path / "rec.h5")
    assert sorted(rec) == ["layer2", "layer3", "layer4"] and rec["layer4"]["u"].shape == (242, T)
    np.testing.assert_array_equal(rec["layer4"]["s"], out.reshape(T, -1).T)
    assert np.abs(rec["layer2"]["v"]).sum() > 0
    # an image output for a raster is refused with the fix (exit code 2)
    assert main(["simulate", str(art), "--input", str(raster), "-o", str(tmp_path / "out.png")]) == 2
    assert "-o out.npy" in capsys.readouterr().err
    # map: the dense chain at its own size, every dense layer's fan-in real
    assert main(["map", str(art), "--json"]) == 0
    layers = {lay["name"]: lay for lay in json.loads(capsys.readouterr().out)["layers"]}
    assert layers["layer3.synapse"]["fan_in"] == 256 and layers["layer3.synapse"]["synapse_bits"] > 0


def test_cli_image_simulation_records_every_layer(netx_dir, tmp_path):
    """The image path is unchanged and ``--record`` adds every layer's s/u/v next to the activity counts."""
    from spikerain.cli import main
    from spikerain.converter.artifact import save_artifact
    from spikerain.hardware.fastsim.activity import read_activity
    from spikerain.hardware.sequence import read_record
    from spikerain.imageio import read_image, write_image

    g, bias, gt = tinynet(netx_dir)
    save_artifact(tmp_path / "tiny.h5", g)
    write_image(tmp_path / "bias.png", (bias / 64).transpose(1, 2, 0))
    assert main(["simulate", str(tmp_path / "tiny.h5"), "--input", str(tmp_path / "bias.png"), "--backend", "fast",
                 "-o", str(tmp_path / "out.npy"), "--record", str(tmp_path / "rec.h5"), "-q"]) == 0
    image = read_image(tmp_path / "bias.png").transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
    rec, act = read_record(tmp_path / "rec.h5"), read_activity(tmp_path / "rec.h5")
    ref = record_neurons(g, image[None])
    for name in ("layer0", "layer1", "layer2"):
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(rec[name][var], lava_layout(ref[name][var], False))
        assert act[name]["nonzero_per_step"] == [int(np.count_nonzero(f)) for f in ref[name]["s"]]
    assert rec["layer1"]["v"].shape == (6, 6, 24, 20)  # (X, Y, C, T)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), ref["layer2"]["s"])
