"""The fast simulator's fused float32 paths against the numpy reference kernels, bit for bit.

Ranges are chosen around each fused path's exactness bound (just inside it, where the fused path runs, and
just outside it, where the general path must take over), with rounding ties and clipping on purpose.
"""

import numpy as np
import pytest
import torch

from spikerain.converter.ir import quantized as q
from spikerain.hardware.fastsim import int_kernels
from spikerain.hardware.fastsim.int_kernels import int_kernel
from spikerain.hardware.kernels.reference import reference_kernel

RNG = np.random.default_rng(19)


def _conv(shift, bias_exp=3, bits=16, stride=1, ci=4, co=5, k=3):
    return q.QConv2d(
        name="c",
        inputs=("a",),
        weight_mant=RNG.integers(-127, 128, (co, ci, k, k)),
        bias_mant=RNG.integers(-255, 256, co),
        bias_exp=bias_exp,
        stride=stride,
        padding=k // 2,
        shift=shift,
        bits=bits,
        frac=8,
    )


def _check(node, x, with_stats):
    ref_stats, sim_stats = {}, {}
    ref = reference_kernel(node.op)(node, x, stats=ref_stats)
    sim = int_kernel(node.op)(node, torch.from_numpy(x), stats=sim_stats if with_stats else None)
    assert sim.dtype == torch.int64
    np.testing.assert_array_equal(sim.numpy(), ref)
    if with_stats:
        assert {k: v for k, v in sim_stats.items() if v} == {k: v for k, v in ref_stats.items() if v}


@pytest.mark.parametrize("shift,bits,stride", [(0, 16, 1), (1, 16, 1), (6, 16, 2), (9, 8, 1), (12, 4, 1),
                                                (-1, 16, 1), (-6, 16, 2), (-2, 24, 1)])
@pytest.mark.parametrize("with_stats", [False, True])
def test_fused_conv_requantization_is_bit_exact(shift, bits, stride, with_stats):
    node = _conv(shift, bits=bits, stride=stride)
    w_sum = int(np.abs(node.weight_mant).reshape(node.weight_mant.shape[0], -1).sum(1).max())
    x_max = ((1 << 23) - 1) // w_sum  # the largest input range the fused path accepts
    x = RNG.integers(-x_max, x_max + 1, (2, 2, 4, 6, 5))
    x[0, 0, :, 0, 0] = x_max  # reach the bound
    assert int_kernels._f32_requant_conv(node, torch.from_numpy(x).flatten(0, 1), None) is not None
    _check(node, x, with_stats)
    # ties: inputs that are multiples of 2**(shift-1) make many sums land exactly on a half
    if shift:
        _check(node, RNG.integers(-8, 9, (2, 2, 4, 6, 5)) << max(0, shift - 1), with_stats)


def test_conv_past_the_fused_bound_takes_the_general_path_and_stays_exact():
    node = _conv(7)
    w_sum = int(np.abs(node.weight_mant).reshape(node.weight_mant.shape[0], -1).sum(1).max())
    x = RNG.integers(-(1 << 15), 1 << 15, (2, 1, 4, 6, 6))
    x[0, 0, 0, 0, 0] = (1 << 23) // w_sum + 1
    assert int_kernels._f32_requant_conv(node, torch.from_numpy(x).flatten(0, 1), None) is None
    _check(node, x, True)
