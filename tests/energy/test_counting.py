"""Exact synaptic-operation counts (the energy plan over the fan-out maps) against brute-force enumeration."""

import numpy as np
import pytest

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.counting.fanout import axis_fanout
from spikerain.counting.plan import Accumulator, EnergyPlan
from spikerain.hardware.kernels.reference import _conv2d_int, reference_kernel


def layer_counts(layer: ir.Node, x: np.ndarray, binary: bool) -> dict:
    """Counts of ``layer`` reading ``x`` [T, C, H, W], produced by a LIF (binary) or a graded node."""
    T, C, H, W = x.shape
    src = (q.QLIF(name="s", inputs=("e",), frac=0, bits=1) if binary else q.QScale(name="s", inputs=("e",)))
    nodes = [q.QInput(name="x", channels=C), q.QRepeatT(name="e", inputs=("x",), T=T), src,
             layer.replace(inputs=("s",)), q.QOutput(name="out", inputs=(layer.name,))]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, C, H, W)))
    plan, acc = EnergyPlan.build(g), Accumulator()
    for t in range(T):
        plan.count_frame("s", t, x[t], acc)
    return plan.finish(acc)["synapses"][layer.name]


def brute_conv_sops(x, cout, k, stride, padding):
    """Every event, one at a time: count the outputs an all-ones kernel reaches."""
    T, C, H, W = x.shape
    w = np.ones((cout, 1, k, k), np.int64)
    total = 0
    for _t, _c, i, j in zip(*np.nonzero(x), strict=True):
        one = np.zeros((1, 1, H, W), np.int64)
        one[0, 0, i, j] = 1
        total += int(np.count_nonzero(_conv2d_int(one, w, stride, padding)))
    return total


@pytest.mark.parametrize("H,W,k,stride,padding", [(7, 6, 3, 1, 1), (8, 9, 3, 2, 1), (5, 5, 1, 1, 0),
                                                    (6, 7, 3, 2, 0), (4, 4, 3, 1, 0)])
def test_conv_exact_sops_equal_brute_force(H, W, k, stride, padding):
    rng = np.random.default_rng(H * 100 + W)
    x = (rng.random((2, 3, H, W)) < 0.3).astype(np.int64)
    conv = q.QConv2d(name="c", weight_mant=np.ones((4, 3, k, k), np.int32), stride=stride, padding=padding)
    c = layer_counts(conv, x, binary=True)
    assert sum(c["exact_sops"]) == brute_conv_sops(x, 4, k, stride, padding)
    assert c["binary"] and sum(c["events"]) == int(x.sum())
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    assert sum(c["dense_macs"]) == 2 * 4 * Ho * Wo * 3 * k * k
    # at the borders the true fan-out is smaller than k*k*Cout: the approximation overcounts for 3x3, pad 1
    if k == 3 and padding == 1 and stride == 1:
        assert sum(c["exact_sops"]) <= sum(c["rate_flops"])


def test_axis_fanout_by_hand():
    assert axis_fanout(5, 3, 1, 1).tolist() == [2, 3, 3, 3, 2]
    assert axis_fanout(6, 3, 2, 1).tolist() == [1, 2, 1, 2, 1, 1]  # windows [-1,1], [1,3], [3,5]


@pytest.mark.parametrize("H,W", [(1, 1), (2, 3), (5, 4)])
def test_upsample_exact_sops_equal_brute_force(H, W):
    rng = np.random.default_rng(H + W)
    x = np.where(rng.random((2, 2, H, W)) < 0.5, rng.integers(1, 9, (2, 2, H, W)), 0)
    node = q.QUpsample2x(name="u", inputs=("a",))
    brute = 0
    for _t, _c, i, j in zip(*np.nonzero(x), strict=True):
        one = np.zeros((1, 1, 1, H, W), np.int64)
        one[0, 0, 0, i, j] = 16  # exact: every bilinear weight of 16 * (x/16 fractions) stays non-zero
        brute += int(np.count_nonzero(reference_kernel("q_upsample2x")(node, one)))
    c = layer_counts(q.QUpsample2x(name="u"), x, binary=False)
    assert sum(c["exact_sops"]) == brute and not c["binary"]
