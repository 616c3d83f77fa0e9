"""The fast simulator's temporal convolution (one output step at a time, float32 where exact) and mean
reductions (int32 partial sums where proven) against the numpy reference kernels, bit for bit: on both sides
of each path's bound, with rounding ties, clipping and left shifts, on int32 and int64 inputs."""

import numpy as np
import pytest
import torch

from spikerain.converter.ir import quantized as q
from spikerain.hardware.fastsim import int_kernels
from spikerain.hardware.fastsim.int_kernels import int_kernel
from spikerain.hardware.kernels.reference import reference_kernel

RNG = np.random.default_rng(1919)


def _check(node, x):
    ref_stats = {}
    ref = reference_kernel(node.op)(node, x, stats=ref_stats)
    for dtype in (torch.int32, torch.int64):
        stats = {}
        sim = int_kernel(node.op)(node, torch.from_numpy(x).to(dtype), stats=stats)
        np.testing.assert_array_equal(sim.numpy(), ref)
        assert {k: v for k, v in stats.items() if v} == {k: v for k, v in ref_stats.items() if v}


@pytest.mark.parametrize("shift", [0, 1, 6, -2])
def test_temporal_conv_is_bit_exact_on_both_float_paths(shift):
    w = RNG.integers(-127, 128, (5, 3, 4))  # [out, in, k]
    node = q.QTemporalConv(name="tc", inputs=("a",), weight_mant=w, shift=shift, bits=12, frac=8)
    w_sum = int(np.abs(w).reshape(5, -1).sum(1).max())
    half = (1 << (shift - 1)) if shift > 0 else 0
    edge = ((1 << 24) - half - 1) // w_sum  # the largest |x| the float32 path takes
    for m in (edge, edge + 1, 1 << 20):  # float32 at its edge, then float64
        x = RNG.integers(-m, m + 1, (8, 2, 3, 4, 5))
        x[0, 0, :, 0, 0], x[1, 1, :, 1, 1] = m, -m
        _check(node, x)
    if shift > 0:  # ties: multiples of 2**(shift-1)
        _check(node, RNG.integers(-9, 10, (8, 2, 3, 4, 5)) << (shift - 1))


@pytest.mark.parametrize("axes", [(1, 2, 3), (2, 3), (0,), (3,)])
@pytest.mark.parametrize("fracs", [(10, 12), (12, 9)])
def test_mean_reduce_is_bit_exact_in_int32_and_past_it(axes, fracs):
    node = q.QReduce(name="r", inputs=("a",), mode="mean", axes=axes, in_frac=fracs[0], frac=fracs[1])
    shape = (4, 2, 3, 5, 6)
    for m in (1 << 15, (int_kernels.INT32_SUM - 1) // 6, 1 << 28):  # int32 sums, their edge, widened at once
        x = RNG.integers(-m, m + 1, shape)
        x[0, 0, 0, 0, :] = m  # a whole row at the bound: the int32 partial sum reaches its edge
        _check(node, x >> max(0, fracs[1] - fracs[0]))
        _check(node, np.full(shape, -m) >> max(0, fracs[1] - fracs[0]))


@pytest.mark.parametrize("fracs", [(8, 9), (9, 4)])
def test_mean_over_time_is_bit_exact_in_int32_and_past_it(fracs):
    node = q.QMeanT(name="mt", inputs=("a",), in_frac=fracs[0], frac=fracs[1])
    for m in (1 << 15, (int_kernels.INT32_SUM - 1) // 4, 1 << 30):
        x = RNG.integers(-m, m + 1, (4, 2, 3, 5, 6)) >> max(0, fracs[1] - fracs[0])
        x[:, 0, 0, 0, 0] = m >> max(0, fracs[1] - fracs[0])
        _check(node, x)
