"""int32 storage in the fast simulator (``hardware/fastsim/narrow.py``) against the numpy reference kernels.

For every op the rule table narrows, the largest input bound the rule still accepts is found, and the kernel
runs on int32 inputs that reach it (the extremes on purpose, random values elsewhere): it must keep int32, give
the reference's integers, and the reference's output must respect the rule's output bound. One step past that
bound the rule must refuse int32.
"""

import numpy as np
import pytest
import torch

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.hardware.fastsim import int_kernels, narrow
from spikerain.hardware.fastsim.int_kernels import int_kernel
from spikerain.hardware.fastsim.simulate import simulate
from spikerain.hardware.kernels.reference import reference_kernel, run_reference

RNG = np.random.default_rng(1931)
SHAPE = (4, 1, 3, 5, 6)  # T, B, C, H, W


def _fits(node, b: int) -> bool:
    return max(narrow.RULES[node.op](node, [b] * (node.arity or 2))) < narrow.INT32_LIMIT


def _edge(node) -> int:
    """The largest input bound whose every value and intermediate the rule proves below 2**31."""
    lo, hi = 1, 1 << 31
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _fits(node, mid) else (lo, mid)
    return lo


def _inputs(b: int, n: int, signed=True):
    xs = []
    for _ in range(n):
        x = RNG.integers(-b if signed else 0, b + 1, SHAPE)
        x[:, 0, 0, 0, :3] = b  # the bound itself, in every frame (drives neuron states to their extreme)
        if signed:
            x[:, 0, 1, 0, :3] = -b
        xs.append(x)
    return xs


def _nodes():
    w = RNG.integers(-127, 128, (3, 3, 3, 3))
    return [
        q.QAdd(name="add", inputs=("a", "b"), frac_a=14, frac_b=9, frac=12, bits=24),
        q.QAdd(name="sub", inputs=("a", "b"), frac_a=5, frac_b=12, frac=14, bits=24, subtract=True),
        q.QMul(name="mul", inputs=("a", "b"), frac_a=14, frac_b=12, frac=13, bits=16),
        q.QMul(name="mul_up", inputs=("a", "b"), frac_a=2, frac_b=1, frac=6, bits=31),
        q.QScale(name="scale", inputs=("a",), mant=-1234, shift=7, frac=10, bits=16),
        q.QScale(name="scale_up", inputs=("a",), mant=3, shift=-4, frac=10, bits=31),
        q.QConcat(name="cat", inputs=("a", "b"), fracs=(10, 16), frac=12, bits=16),
        q.QNILIF(name="nilif", inputs=("a",), in_frac=14, levels=4, decay_shift=2, frac=2, bits=3),
        q.QNILIF(name="nilif1", inputs=("a",), in_frac=3, levels=4, decay_shift=1, frac=2, bits=3),
        q.QLIF(name="lif", inputs=("a",), vth=1229, frac=0, bits=1),
        q.QUpsample2x(name="up", inputs=("a",), frac=8),
        q.QReduce(name="mean", inputs=("a",), mode="mean", axes=(2, 3), in_frac=10, frac=12),
        q.QReduce(name="max", inputs=("a",), mode="max", axes=(1,), in_frac=14, frac=11),
        q.QMeanT(name="mean_t", inputs=("a",), in_frac=8, frac=9),
        q.QSigmoid(name="sig", inputs=("a",), lut=RNG.integers(0, 4097, 257), in_frac=14, lut_frac=5, frac=12,
                   bits=14),
        q.QConv2d(name="conv", inputs=("a",), weight_mant=w, bias_mant=RNG.integers(-255, 256, 3), bias_exp=3,
                  padding=1, shift=9, frac=8, bits=16),
        q.QReLU(name="relu", inputs=("a",)),
    ]


@pytest.mark.parametrize("node", _nodes(), ids=lambda n: n.name)
def test_int32_kernels_match_the_reference_at_the_edge_of_the_proven_range(node):
    b = _edge(node)
    assert not _fits(node, b + 1)
    arity = node.arity or 2
    xs = _inputs(b, arity)
    if node.op == "q_lif":  # the fast path (|x| < 2**16) and the general one
        xs = [np.clip(xs[0], -(1 << 16) + 1, (1 << 16) - 1)], xs
    elif node.op == "q_conv2d":  # the fused float32 path (|x| * sum|w| < 2**23) and the general one
        w_sum = int(np.abs(node.weight_mant).reshape(3, -1).sum(1).max())
        fused = (1 << 23) // w_sum - 1
        xs = [np.clip(xs[0], -fused, fused)], xs
    else:
        xs = (xs,)
    for x in xs:
        ref = reference_kernel(node.op)(node, *x)
        sim = int_kernel(node.op)(node, *(torch.from_numpy(v).to(torch.int32) for v in x))
        out_bound, _ = narrow.RULES[node.op](node, [b] * arity)
        assert np.abs(ref).max() <= out_bound
        np.testing.assert_array_equal(sim.numpy(), ref)
        # integer sums, the LUT and the general conv path widen to int64 (the executor narrows their result)
        if node.op not in ("q_reduce", "q_mean_t", "q_sigmoid") and (node.op != "q_conv2d" or x is xs[0]):
            assert sim.dtype == torch.int32


def test_unbounded_or_unknown_ops_stay_int64():
    g = ir.Graph(nodes=(
        q.QInput(name="in", inputs=(), frac=8, bits=16),
        q.QScale(name="big", inputs=("in",), mant=1, shift=-30, frac=38, bits=40),  # output past 2**31
        q.QScale(name="back", inputs=("big",), mant=1, shift=30, frac=8, bits=16),
        q.QNILIF(name="nodecay", inputs=("back",), in_frac=8, levels=4, decay_shift=0, frac=2, bits=3),
        q.QOutput(name="out", inputs=("nodecay",), frac=2, bits=3),
    ), outputs=("out",), input_shape=(1, 3, 4, 4))
    # the output holds NI-LIF levels again: int32 (the walker hands it back as int64)
    assert narrow.int32_nodes(g) == {"in", "out"}


def test_a_whole_esdnet_runs_on_int32_and_float32_bit_exact(tiny_esdnet_graph):
    qg, x = tiny_esdnet_graph
    int32 = narrow.int32_nodes(qg)
    assert len(int32) == len(qg.nodes)
    assert {qg.node(n).op for n in narrow.float32_nodes(qg, int32)} == {"q_lif"}  # the spikes its convs read
    ref = run_reference(qg, x.astype(np.float64))
    sim = simulate(qg, torch.from_numpy(x))
    assert sim["out"].dtype == torch.int64
    np.testing.assert_array_equal(sim["out"].numpy(), ref["out"])


@pytest.fixture(scope="module")
def tiny_esdnet_graph():
    from spikerain.models import ESDNet
    from spikerain.pipeline.convert import convert_model

    torch.manual_seed(0)
    imgs = [RNG.random((16, 16, 3)).astype(np.float32) for _ in range(2)]
    _, qg, _ = convert_model(ESDNet(dim=16).eval(), calib_images=imgs, calib_source="test", report_images=1)
    return qg, np.stack([imgs[0].transpose(2, 0, 1)])


@pytest.mark.parametrize("shape", [(2, 1, 3, 5, 6), (1, 2, 4, 1, 7), (3, 1, 2, 8, 1)])
def test_upsample_float32_path_matches_the_reference(shape):
    """The float32 path (|q| < 2**19) at its bound, with rounding ties, on odd and one-pixel sizes (the edge
    clamp); both dtypes."""
    node = q.QUpsample2x(name="up", inputs=("a",), frac=8)
    edge = (1 << 19) - 1
    for x in (RNG.integers(-edge, edge + 1, shape), RNG.integers(-3, 4, shape) * 8):  # multiples of 8: ties
        x.reshape(-1)[:2] = (edge, -edge)
        ref = reference_kernel(node.op)(node, x)
        for dtype in (torch.int32, torch.int64):
            sim = int_kernel(node.op)(node, torch.from_numpy(x).to(dtype))
            assert sim.dtype == dtype
            np.testing.assert_array_equal(sim.numpy(), ref)


def test_float_bits_conversion_is_exact_to_its_bound():
    edge = (1 << 22) - 1
    v = torch.from_numpy(np.concatenate([[edge, -edge, 0, -0.0, 1, -1], RNG.integers(-edge, edge + 1, 1000)]))
    got = int_kernels._to_int(v.to(torch.float32), torch.int32, edge)
    assert got.dtype == torch.int32
    np.testing.assert_array_equal(got.numpy(), v.numpy().astype(np.int64))
    back = int_kernels.int32_to_float32_(got.clone())
    assert back.dtype == torch.float32
    np.testing.assert_array_equal(back.numpy(), v.numpy())
