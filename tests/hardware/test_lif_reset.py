"""The fast simulator's LIF (reset as a product ``v * ~s``, halving by shifts) against its previous form
(``masked_fill(s, 0)``, ``div(..., rounding_mode="trunc")``) and the numpy reference, bit for bit."""

import numpy as np
import pytest
import torch

from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.hardware.fastsim.int_kernels import _lif_fast, k_lif
from spikerain.hardware.kernels.reference import REFERENCE


def _masked_fill_lif_fast(n, x):
    """``_lif_fast`` as it was (bc642bd): the reset by ``masked_fill_``, the halving by ``div``."""
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
def test_lif_fast_path_is_its_previous_form(dtype):
    g = torch.Generator().manual_seed(1919)
    vth = 37
    x = torch.randint(-(1 << 15) + 1, 1 << 15, (6, 2, 5, 9, 7), generator=g, dtype=dtype) // 256
    x[:, 0, 0, 0, :] = vth << loihi.VTH_SHIFT >> loihi.ACT_SHIFT  # exactly at threshold (not firing: v > vth)
    x[:, 0, 0, 1, :] = (vth << loihi.VTH_SHIFT >> loihi.ACT_SHIFT) + 1  # one above
    x[:, 1, 1] = (1 << 16) - 1  # the largest input the fast path takes
    x[:, 1, 2] = -(1 << 16) + 1
    x[3, :, 3] = 0
    x[:, 1, 3, 0, :] = -1  # odd negatives: the halving rounds toward zero
    x[:, 1, 3, 1, :] = torch.tensor([1, -1, 3, -3, 5, -5, 7], dtype=dtype)
    n = q.QLIF(name="lif", inputs=("x",), vth=vth)  # du, dv: the halving LIF the fast path takes
    old = _masked_fill_lif_fast(n, x)
    assert torch.equal(_lif_fast(n, x), old)
    assert torch.equal(k_lif(n, x), old)  # the kernel takes the fast path here
    assert np.array_equal(old.numpy(), REFERENCE["q_lif"](n, x.to(torch.int64).numpy()))
    assert old.any() and not old.all()


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_halving_by_shifts_is_truncating_division_at_the_edges(dtype):
    info = torch.iinfo(dtype)
    v = torch.tensor([info.min, info.min + 1, -3, -2, -1, 0, 1, 2, 3, info.max - 1, info.max], dtype=dtype)
    v = torch.cat([v, torch.randint(info.min, info.max, (1000,), generator=torch.Generator().manual_seed(5),
                                    dtype=dtype)])
    sign = v.element_size() * 8 - 1
    shifted = torch.bitwise_right_shift(v, sign).bitwise_and_(1).add_(v).bitwise_right_shift_(1)
    assert torch.equal(shifted, torch.div(v, 2, rounding_mode="trunc"))
