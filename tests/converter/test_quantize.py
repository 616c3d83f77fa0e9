"""Quantization: integer semantics (fast simulator vs numpy reference), the report, strict mode."""

import numpy as np
import pytest
import torch

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.converter.quantize import QuantConfig, quantize_weights, sigmoid_lut
from spikerain.hardware.fastsim.int_kernels import int_kernel
from spikerain.hardware.fastsim.simulate import Activity, dequantized_output, simulate
from spikerain.hardware.kernels.reference import reference_kernel, run_reference
from spikerain.models import ESDNet, VLIFNet
from spikerain.pipeline.convert import QuantizationError, convert_model

RNG = np.random.default_rng(0)


def _ints(shape, lo=-30000, hi=30000):
    return RNG.integers(lo, hi, size=shape, dtype=np.int64)


CFG = QuantConfig()
HOST_AND_ARITH_CASES = [
    (q.QMul(name="m", inputs=("a", "b"), frac_a=13, frac_b=12, frac=14, bits=16), [(4, 2, 3, 5, 5), (4, 2, 3, 5, 5)]),
    (q.QMul(name="m", inputs=("a", "b"), frac_a=12, frac_b=12, frac=12, bits=16), [(4, 2, 1, 1, 1), (4, 2, 3, 5, 5)]),
    (q.QReduce(name="r", inputs=("a",), mode="mean", axes=(1, 2, 3), in_frac=12, frac=12), [(4, 2, 3, 5, 5)]),
    (q.QReduce(name="r", inputs=("a",), mode="mean", axes=(0, 1), in_frac=12, frac=14), [(4, 2, 6, 5, 5)]),
    (q.QReduce(name="r", inputs=("a",), mode="max", axes=(0, 2, 3), in_frac=12, frac=12), [(4, 2, 3, 5, 5)]),
    (q.QSigmoid(name="s", inputs=("a",), lut=sigmoid_lut(CFG), in_frac=12, lut_frac=8, frac=12, bits=14),
     [(4, 2, 3, 5, 5)]),
    (q.QMeanT(name="t", inputs=("a",), in_frac=13, frac=13), [(4, 2, 3, 5, 5)]),
    (q.QDense(name="d", inputs=("a",), weight_mant=RNG.integers(-127, 128, (3, 4)).astype(np.int32), axis=0, shift=9,
              frac=12), [(4, 2, 1, 1, 1)]),
    (q.QAdd(name="a", inputs=("a", "b"), frac_a=14, frac_b=11, subtract=True, frac=12), [(4, 2, 3, 5, 5)] * 2),
    (q.QScale(name="s", inputs=("a",), mant=-31615, shift=15, frac=13), [(4, 2, 3, 5, 5)]),
    (q.QConcat(name="c", inputs=("a", "b"), fracs=(13, 10), frac=10), [(4, 2, 3, 5, 5), (4, 2, 2, 5, 5)]),
    (q.QUpsample2x(name="u", inputs=("a",), frac=12), [(4, 2, 3, 5, 7)]),
    (q.QConv2d(name="c", inputs=("a",), weight_mant=RNG.integers(-127, 128, (4, 3, 3, 3)).astype(np.int32),
               bias_mant=RNG.integers(-4095, 4096, 4), bias_exp=2, stride=2, padding=1, shift=7, frac=12),
     [(4, 2, 3, 9, 8)]),
    (q.QTemporalConv(name="t", inputs=("a",), weight_mant=RNG.integers(-127, 128, (3, 3, 4)).astype(np.int32),
                     shift=6, frac=12), [(16, 2, 3, 4, 4)]),
    (q.QLIF(name="l", inputs=("a",), vth=1229), [(4, 2, 3, 5, 5)]),
    (q.QNILIF(name="n", inputs=("a",), in_frac=12, frac=2, bits=3), [(16, 2, 3, 4, 4)]),
]


@pytest.mark.parametrize("node,shapes", HOST_AND_ARITH_CASES, ids=[c[0].op + str(i) for i, c in
                                                                  enumerate(HOST_AND_ARITH_CASES)])
def test_fast_sim_kernel_equals_numpy_reference(node, shapes):
    lo, hi = (-9000, 9000) if node.op in ("q_lif", "q_nilif", "q_conv2d") else (-30000, 30000)
    xs = [_ints(s, lo, hi) for s in shapes]
    ref_stats, sim_stats = {}, {}
    ref = reference_kernel(node.op)(node, *xs, stats=ref_stats)
    sim = int_kernel(node.op)(node, *[torch.from_numpy(x) for x in xs], stats=sim_stats)
    np.testing.assert_array_equal(sim.numpy(), ref)
    assert {k: v for k, v in sim_stats.items() if v} == {k: v for k, v in ref_stats.items() if v}


def test_reference_semantics_by_hand():
    # rounding shift is half up; sigmoid(0) is 1/2; the LIF fires on strict '>' of vth << 6
    from spikerain.hardware.kernels.fixed import round_half_even_shift, rshift_round

    assert rshift_round(np.array([5, 6, 7, -5, -6]), 2).tolist() == [1, 2, 2, -1, -1]
    assert round_half_even_shift(np.array([2, 6, 10, 3]), 2).tolist() == [0, 2, 2, 1]
    s = q.QSigmoid(name="s", inputs=("a",), lut=sigmoid_lut(CFG), in_frac=10, lut_frac=8, frac=12, bits=14)
    # round(4096 * sigmoid(8)) = 4095; inputs beyond the LUT range clamp to its ends
    assert reference_kernel("q_sigmoid")(s, np.array([0, 8 << 10, -(9 << 10)])).tolist() == [2048, 4095, 1]
    lif = q.QLIF(name="l", inputs=("a",), vth=10)
    # a_in 10 each step: v = 640 (not > 640), then 320 + 640 = 960 > 640 fires, reset; then 640
    x = np.array([10, 10, 10]).reshape(3, 1, 1, 1, 1)
    assert reference_kernel("q_lif")(lif, x).ravel().tolist() == [0, 1, 0]


def test_weights_are_8_bit_mantissas_with_a_layer_exponent():
    w = RNG.normal(0, 0.05, (8, 4, 3, 3)).astype(np.float32)
    m, e = quantize_weights(w, 8)
    assert 64 <= np.abs(m).max() <= 127 and m.dtype == np.int32  # power-of-two exponent uses >= 7 bits
    assert np.abs(m * 2.0**e - w).max() <= 2.0 ** (e - 1) + 1e-9


@pytest.fixture(scope="module")
def converted():
    torch.manual_seed(0)
    model = VLIFNet(dim=16).eval()
    imgs = [RNG.random((16, 16, 3)).astype(np.float32) for _ in range(2)]
    return model, imgs, convert_model(model, calib_images=imgs, calib_source="test")


def test_fast_simulator_is_bit_exact_with_the_reference_on_a_whole_network(converted):
    _, imgs, (_, qg, _) = converted
    x = np.stack([imgs[0].transpose(2, 0, 1), imgs[1].transpose(2, 0, 1)])
    ref = run_reference(qg, x.astype(np.float64), keep=True)
    sim = simulate(qg, torch.from_numpy(x), keep=True)
    for n in qg.nodes:
        np.testing.assert_array_equal(sim[n.name].numpy(), ref[n.name], err_msg=n.name)
    again = simulate(qg, torch.from_numpy(x))
    assert torch.equal(again["out"], sim["out"])


def test_report_has_every_layer_and_the_output_tracks_float(converted):
    model, imgs, (fg, qg, report) = converted
    for n in qg.nodes:
        info = report["layers"][n.name]
        assert {"frac", "bits", "kind", "placement", "sqnr_db", "clipped_fraction", "saturated"} <= set(info)
    assert report["summary"]["output_sqnr_db"] > 25
    x = torch.from_numpy(imgs[0].transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(dequantized_output(qg, simulate(qg, x)) - ref).max() < 0.1
    placements = {n.op: n.placement for n in qg.nodes}
    assert placements["q_sigmoid"] == placements["q_mul"] == placements["q_reduce"] == "host"
    assert placements["q_conv2d"] == placements["q_lif"] == placements["q_nilif"] == "on-chip"


def test_activity_is_recorded_per_layer_and_timestep(converted):
    _, imgs, (_, qg, _) = converted
    act = Activity()
    simulate(qg, torch.from_numpy(imgs[0].transpose(2, 0, 1).copy())[None], activity=act)
    lif = next(n.name for n in qg.nodes if n.op == "q_lif")
    assert len(act.nonzero[lif]) == 4 and act.per_step[lif] == 16 * 16 * 16


def test_strict_turns_clipping_into_an_error():
    torch.manual_seed(1)
    model = ESDNet(dim=16).eval()
    imgs = [np.full((16, 16, 3), 0.1, np.float32)]
    with pytest.raises(QuantizationError, match="--strict"):
        # calibrate on a flat image, then report on a very different one: values exceed the chosen scales
        convert_model(model, calib_images=imgs + [RNG.random((16, 16, 3)).astype(np.float32)], strict=True,
                      cfg=QuantConfig(headroom=0.05))


def test_unfolded_batchnorm_is_refused():
    from spikerain.converter.frontends.torch_frontend import from_torch
    from spikerain.converter.quantize import quantize
    from spikerain.errors import UnsupportedOpError

    g = from_torch(ESDNet(dim=16).eval(), (16, 16))
    with pytest.raises(UnsupportedOpError, match="fold_batchnorm"):
        quantize(g, {})
    assert ir.validate(g)


def test_lif_general_path_with_wraps_and_saturation_matches_reference():
    # inputs beyond 2**16 leave the fast path: u can wrap at 24 bits and v saturate
    x = _ints((6, 2, 3, 5, 5), -300000, 300000)
    for node in (q.QLIF(name="l", inputs=("a",), vth=5000), q.QLIF(name="l", inputs=("a",), vth=50, du=100, dv=10,
                                                                  bias_mant=-7, bias_exp=3)):
        ref_stats, sim_stats = {}, {}
        ref = reference_kernel("q_lif")(node, x, stats=ref_stats)
        sim = int_kernel("q_lif")(node, torch.from_numpy(x), stats=sim_stats)
        np.testing.assert_array_equal(sim.numpy(), ref)
        assert sim_stats == ref_stats and ref_stats["wrapped"] > 0
