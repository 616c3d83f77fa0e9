"""The fast simulator's LIF reset as a product (``v * ~s``) against ``masked_fill(s, 0)``, bit for bit."""

import numpy as np
import pytest
import torch

from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.hardware.fastsim.int_kernels import _lif_fast, k_lif
from spikerain.hardware.kernels.reference import REFERENCE


def _masked_fill_lif_fast(n, x):
    """``_lif_fast`` as it was (bc642bd): the reset by ``masked_fill_``."""
    out = torch.empty_like(x)
    vth = n.vth << loihi.VTH_SHIFT
    v = None
    for t in range(x.shape[0]):
        v = x[t] << loihi.ACT_SHIFT if v is None else \
            torch.div(v, 2, rounding_mode="trunc").add_(x[t], alpha=1 << loihi.ACT_SHIFT)
        s = v > vth
        out[t] = s
        if t + 1 < x.shape[0]:
            v.masked_fill_(s, 0)
    return out


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_lif_reset_as_a_product_is_masked_fill(dtype):
    g = torch.Generator().manual_seed(1919)
    vth = 37
    x = torch.randint(-(1 << 15) + 1, 1 << 15, (6, 2, 5, 9, 7), generator=g, dtype=dtype) // 256
    x[:, 0, 0, 0, :] = vth << loihi.VTH_SHIFT >> loihi.ACT_SHIFT  # exactly at threshold (not firing: v > vth)
    x[:, 0, 0, 1, :] = (vth << loihi.VTH_SHIFT >> loihi.ACT_SHIFT) + 1  # one above
    x[:, 1, 1] = (1 << 16) - 1  # the largest input the fast path takes
    x[:, 1, 2] = -(1 << 16) + 1
    x[3, :, 3] = 0
    n = q.QLIF(name="lif", inputs=("x",), vth=vth)  # du, dv: the halving LIF the fast path takes
    old = _masked_fill_lif_fast(n, x)
    assert torch.equal(_lif_fast(n, x), old)
    assert torch.equal(k_lif(n, x), old)  # the kernel takes the fast path here
    assert np.array_equal(old.numpy(), REFERENCE["q_lif"](n, x.to(torch.int64).numpy()))
    assert old.any() and not old.all()
