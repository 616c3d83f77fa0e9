"""The energy estimator: per-timestep counts against brute force, the three activity sources agree, pricing by
hand, user tables, and the CLI report."""

import json

import numpy as np
import pytest

from spikerain.cli import main
from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.counting.plan import EnergyPlan
from spikerain.energy.models import load_models, price
from spikerain.energy.sources import collect_fast, collect_torch
from spikerain.errors import InputError
from spikerain.hardware.kernels.reference import _conv2d_int, run_reference


def graph():
    rng = np.random.default_rng(3)
    w = rng.integers(-30, 31, (4, 3, 3, 3)).astype(np.int32)
    w1 = rng.integers(-30, 31, (2, 4, 1, 1)).astype(np.int32)
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=3, frac=8),
             q.QConv2d(name="c", inputs=("e",), weight_mant=w, stride=2, padding=1, shift=6, frac=6),
             q.QLIF(name="s", inputs=("c",), vth=40, frac=0, bits=1),
             q.QUpsample2x(name="u", inputs=("s",), frac=0),
             q.QConv2d(name="p", inputs=("u",), weight_mant=w1, shift=0, frac=0),
             q.QMeanT(name="m", inputs=("p",), frac=0), q.QOutput(name="out", inputs=("m",), frac=0)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 9, 7)))
    ir.infer_shapes(g)
    return g


def brute_sops(x, w, stride, padding):
    """Each non-zero input element alone through an all-ones kernel: the outputs it reaches."""
    total = 0
    ones = np.ones((w.shape[0], 1, *w.shape[2:]), np.int64)
    for _c, i, j in zip(*np.nonzero(x), strict=True):
        one = np.zeros((1, 1, *x.shape[1:]), np.int64)
        one[0, 0, i, j] = 1
        total += int(np.count_nonzero(_conv2d_int(one, ones, stride, padding)))
    return total


def brute_upsample(x):
    total = 0
    for _c, i, j in zip(*np.nonzero(x), strict=True):
        one = np.zeros((1, 1, 1, *x.shape[1:]), np.int64)
        one[0, 0, 0, i, j] = 1
        total += int(np.count_nonzero(_up(one)))
    return total


def _up(x):
    from spikerain.hardware.kernels.reference import _up_axis

    return _up_axis(_up_axis(x, 3), 4)


def test_per_timestep_counts_equal_brute_force():
    g = graph()
    img = np.random.default_rng(1).random((3, 9, 7))
    values = run_reference(g, img[None], keep=True)
    counts, _ = collect_fast(g, img)
    syn, neu = counts["synapses"], counts["neurons"]
    for t in range(3):
        x = values["e"][t, 0]
        assert syn["c"]["exact_sops"][t] == brute_sops(x, g.node("c").weight_mant, 2, 1)  # stride 2, padding 1
        assert syn["c"]["events"][t] == np.count_nonzero(x)
        s = values["s"][t, 0]
        assert syn["u"]["exact_sops"][t] == brute_upsample(s)  # bilinear x2 as a fixed-weight layer
        assert syn["p"]["exact_sops"][t] == brute_sops(values["u"][t, 0], g.node("p").weight_mant, 1, 0)  # 1x1
        assert neu["s"]["spikes"][t] == np.count_nonzero(s) and neu["s"]["active"][t] == np.count_nonzero(
            values["c"][t, 0])
    assert 0 < sum(neu["s"]["spikes"]) < sum(neu["s"]["updates"])
    assert syn["c"]["analog"] and not syn["c"]["binary"] and syn["u"]["binary"] and not syn["p"]["binary"]
    assert syn["c"]["dense_macs"] == [4 * 5 * 4 * 3 * 9] * 3  # Co x Ho x Wo x Ci x k^2
    assert counts["host"]["m"]["ops"] == 3 * 2 * 10 * 8


def test_torch_hooks_and_fast_simulator_give_identical_counts():
    g = graph()
    img = np.random.default_rng(2).random((3, 9, 7))
    assert collect_torch(g, img)[0] == collect_fast(g, img)[0]


def test_paper_and_neurobench_pricing_by_hand():
    counts = {"synapses": {
        "first": {"op": "conv2d", "placement": "on-chip", "binary": False, "analog": True, "events": [10],
                  "exact_sops": [90], "rate_flops": [100.0], "dense_macs": [100], "elements_per_step": 10},
        "spiking": {"op": "conv2d", "placement": "on-chip", "binary": True, "analog": False, "events": [4],
                    "exact_sops": [30], "rate_flops": [40.0], "dense_macs": [200], "elements_per_step": 20},
        "graded": {"op": "conv2d", "placement": "on-chip", "binary": False, "analog": False, "events": [5],
                   "exact_sops": [50], "rate_flops": [60.0], "dense_macs": [300], "elements_per_step": 25}},
        "neurons": {}, "host": {}, "other": {}}
    t = load_models()
    assert price(counts, t, "paper-45nm")["total_pj"] == pytest.approx(100 * 4.6 + (30 + 50) * 0.9)
    assert price(counts, t, "paper-45nm-rate")["total_pj"] == pytest.approx(100 * 4.6 + (40 + 60) * 0.9)
    assert price(counts, t, "neurobench")["total_pj"] == pytest.approx((90 + 50) * 4.6 + 30 * 0.9)
    assert price(counts, t, "rolls-77fJ")["total_pj"] == pytest.approx(100 * 4.6 + 80 * 0.077)


def test_loihi_event_model_by_hand():
    from types import SimpleNamespace

    counts = {"synapses": {"c": {"op": "conv2d", "placement": "on-chip", "binary": True, "analog": False,
                                 "events": [3, 1], "exact_sops": [20, 7], "rate_flops": [0, 0], "dense_macs": [9, 9],
                                 "elements_per_step": 9}},
              "neurons": {"s": {"op": "lif", "updates": [9, 9], "active": [4, 0], "spikes": [3, 1],
                                "elements_per_step": 9}},
              "host": {"m": {"op": "mean_t", "ops": 18}}, "other": {"a": {"op": "add", "ops": 5}}}
    mapping = SimpleNamespace(layers=[SimpleNamespace(name="c", hops_out=2.0)], steps_per_image=10,
                              timestep_latency_ns=1000.0, chips=2)
    t = load_models()
    dyn = price(counts, t, "loihi1-event", mapping)
    expected = {"synaptic_pj": 27 * 23.6, "spike_routing_pj": 4 * (1.7 + 2.0 * 3.5),
                "neuron_pj": 4 * 81 + 14 * 52 + 5 * 81, "host_pj": 18 * 4.6, "static_pj": 0.0}
    assert dyn["components"] == pytest.approx(expected)
    static = price(counts, t, "loihi1-event+static", mapping)["components"]["static_pj"]
    assert static == pytest.approx(0.03 * 2 * 10 * 1000e-9 * 1e12)


def test_user_tables_extend_and_override(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[constants.E_AC_pJ]\nvalue = 0.03\nsource = "int8 add, Horowitz 2014"\n\n'
                    '[models.int8-paper]\ntitle = "int8"\nkind = "paper"\nsops = "exact"\nmac_layers = "analog"\n'
                    'mac_constant = "E_MAC_pJ"\n')
    t = load_models(path)
    assert t.c("E_AC_pJ") == 0.03 and "int8-paper" in t.models and "paper-45nm" in t.models
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"constants": {"E_AC_pJ": {"value": 1.0}}}))
    with pytest.raises(InputError, match="needs a value and a source"):
        load_models(bad)


def test_plan_counts_a_lava_style_single_frame_like_the_whole_tensor():
    g = graph()
    img = np.random.default_rng(4).random((3, 9, 7))
    values = run_reference(g, img[None], keep=True)
    plan = EnergyPlan.build(g)
    from spikerain.counting.plan import Accumulator

    acc = Accumulator()
    for name, v in values.items():
        for t in range(v.shape[0]):
            plan.count_frame(name, t, v[t], acc)  # [B=1, C, H, W] frames, as Lava processes hold them
    assert plan.finish(acc) == collect_fast(g, img)[0]


def test_cli_energy_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["energy", "--json", "--size", "64", "64", "-o", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    models = {"paper-45nm", "paper-45nm-rate", "neurobench", "rolls-77fJ", "loihi1-event", "loihi1-event+static",
              "authors-thop"}
    assert set(rep["energy_pj"]["vlifnet"]) == models and set(rep["ratio"]) == models
    for m in models:
        assert rep["ratio"][m] == pytest.approx(rep["energy_pj"]["vlifnet"][m] / rep["energy_pj"]["esdnet"][m])
        assert rep["verdict"][m]["holds"] == (rep["ratio"][m] <= 0.18)
    assert len(rep["images"]) == 1 and rep["images"][0]["psnr_y"]["vlifnet"] > 10
    # the networks' binary-input share of dense synaptic work (docs/sources.md section 5: 9.5 % / 67.6 %)
    assert rep["shares"]["vlifnet"]["binary_input_dense_share"] == pytest.approx(0.094, abs=0.01)
    assert rep["shares"]["esdnet"]["binary_input_dense_share"] == pytest.approx(0.674, abs=0.01)
    for f in ("energy.json", "energy.md", "energy_layers.png", "firing_rates.png", "energy_ratio.png"):
        assert (out / f).stat().st_size > 500
    assert "| neurobench |" in (out / "energy.md").read_text()


def test_large_images_are_tiled_and_tile_counts_add_up():
    from spikerain.counting.plan import add_records
    from spikerain.energy.thop import thop_record
    from spikerain.pipeline.estimate import Network, run_network

    g = graph()
    net = Network("toy", g, g, "none")
    img = np.random.default_rng(5).random((12, 8, 3)).astype(np.float32)
    counts, restored, shapes = run_network(net, img, "fast", tile=4)
    assert shapes == [(4, 4)] * 6 and restored.shape == (12, 8, 2)  # the toy graph has 2 output channels
    expected = None
    for y in range(0, 12, 4):
        for x in range(0, 8, 4):
            tile = np.ascontiguousarray(img[y:y + 4, x:x + 4].transpose(2, 0, 1)).astype(np.float64)
            c = collect_fast(g, tile)[0]
            c["thop"] = thop_record(g, (4, 4))  # the toy graph has no thop-visible nodes: an empty section
            expected = add_records(expected, c)
    assert counts == expected
    assert counts["synapses"]["c"]["elements_per_step"] == 3 * 12 * 8  # every tile's input, summed


def test_energy_input_folders_and_usage_errors(tmp_path, capsys):
    from spikerain.commands.energy import load_images
    from spikerain.imageio import write_image

    rng = np.random.default_rng(6)
    for name in ("b.png", "a.png"):
        write_image(tmp_path / name, rng.random((20, 24, 3)).astype(np.float32))
    items = load_images(str(tmp_path), (16, 16), 8)  # a plain folder of rainy images: no clean partners
    assert [n for n, _, _ in items] == ["a.png", "b.png"] and all(c is None for _, _, c in items)
    assert items[0][1].shape == (16, 16, 3)
    (tmp_path / "empty").mkdir()
    assert main(["energy", "--images", str(tmp_path / "empty")]) == 3
    assert main(["energy", "--dim", "20"]) == 2  # the attention bottlenecks need a multiple of 8, at least 16
    err = capsys.readouterr().err
    assert "holds no images" in err and "--dim 20" in err


def test_cli_explain_decomposes_towards_the_authors_accounting(capsys):
    assert main(["energy", "--json", "--explain", "--size", "16", "16"]) == 0
    rep = json.loads(capsys.readouterr().out)
    x = rep["explain"]
    assert [r["factor"] for r in x["rows"]] == ["start", "width", "counting", "sparsity", "energy constants"]
    assert x["rows"][0]["ratio"] == pytest.approx(rep["ratio"]["paper-45nm"])  # the run's own networks
    for prev, row in zip(x["rows"], x["rows"][1:], strict=False):
        assert row["factor_x"] == pytest.approx(row["ratio"] / prev["ratio"])
    # the last row is authors-thop on VLIF-Net dim 24 [4,4,6,6] against ESDNet dim 48: what thop sees of them
    ops = x["thop_ops_per_image"]
    assert x["rows"][-1]["ratio"] == pytest.approx(ops["vlifnet"] / ops["esdnet"]) == pytest.approx(0.125, abs=0.01)
    assert x["authors_networks"]["vlifnet"]["config"]["dim"] == 24
    assert x["authors_networks"]["vlifnet"]["weights"].startswith("random")
    assert x["authors_networks"]["esdnet"]["config"]["dim"] == 48
    # on the run's own (shipped, equal-width) networks the same accounting is far from 13 %
    assert rep["ratio"]["authors-thop"] > 0.3
    assert rep["images"][0]["size"] == [16, 16] and rep["networks"]["vlifnet"]["checkpoint"] == "shipped"
