"""``inference.StepLIF`` (the step-wise LIF without masked_fill) against the allocating step it replaced and the
inference LIF, bit for bit, on random inputs and edge cases; whole networks before/after it, bit for bit."""

import math

import pytest
import torch
import torch.nn.functional as F

from spikerain.models import LIFParameters
from spikerain.models.inference import LeanLIF, StepLIF, _lif_step
from spikerain.models.neurons import LIF, _lif_inference, lif_multistep

V_TH = LIFParameters().v_threshold


def _allocating_by_step(mods, x):
    """``inference._by_step`` as it was before ``StepLIF`` (``_lif_step``: every step allocates)."""
    from spikerain.models.layers import SeqUpsample2x

    T = x.shape[0]
    state, out = {}, None
    for t in range(T):
        h = x[t]
        for i, m in enumerate(mods):
            if isinstance(m, LIF):
                h, state[i] = _lif_step(h, state.get(i), m.params.v_threshold, t + 1 == T)
            elif isinstance(m, SeqUpsample2x):
                h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            else:
                h = m(h)
        if out is None:
            out = torch.empty((T, *h.shape), dtype=h.dtype)
        out[t] = h
    return out


def _edge_inputs(g: torch.Generator) -> torch.Tensor:
    x = torch.randn(4, 2, 3, 17, 9, generator=g) * 0.2
    x[:, 0, 0, 0, :] = V_TH  # exactly at threshold, every step
    x[1:, 0, 0, 1, :] = V_TH / 2  # at threshold only through the leak (0.15 + 0.075 / 2 ...)
    x[:, 0, 1, 0, :] = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-45, -1e-45, 3e38, -3e38])
    x[:, 0, 1, 1, :] = torch.nextafter(torch.tensor(V_TH), torch.tensor(0.0))  # one ulp under
    x[2, 1] = 0.0  # a step of silence
    return x


def _spikes(x: torch.Tensor) -> list[torch.Tensor]:
    """StepLIF's spikes per step."""
    lif, out = StepLIF(V_TH), []
    for t in range(x.shape[0]):
        out.append(lif.step(x[t], t + 1 == x.shape[0]).clone())
    return out


@pytest.mark.parametrize("T", [1, 2, 4, 16])
def test_step_lif_is_bit_identical_with_the_allocating_step_and_the_inference_lif(T):
    g = torch.Generator().manual_seed(190 + T)
    x = _edge_inputs(g).repeat(4, 1, 1, 1, 1)[:T] + (torch.randn(T, 2, 3, 17, 9, generator=g) * 0.05) * (T > 4)
    with torch.inference_mode():
        ref, v = [], None
        for t in range(T):
            s, v = _lif_step(x[t], v, V_TH, t + 1 == T)
            ref.append(s)
        new = _spikes(x)
        assert all(torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in zip(ref, new, strict=True))
        assert torch.equal(torch.stack(new), _lif_inference(x, LIFParameters()))
        assert torch.equal(LeanLIF()(x), lif_multistep(x, LIFParameters()))
        inv = x[:1].expand(T, -1, -1, -1, -1)  # a stride-0 input (the time-invariant patch embedding)
        assert torch.equal(LeanLIF()(inv), lif_multistep(inv.contiguous(), LIFParameters()))


def test_step_lif_membrane_is_the_allocating_steps():
    """The membrane kept in place equals the one the allocating step returned (bits, signed zeros included; a
    NaN stays NaN, its payload may differ: NaN never fires and any sum with it is NaN)."""
    g = torch.Generator().manual_seed(191)
    x = _edge_inputs(g)
    with torch.inference_mode():
        lif, v = StepLIF(V_TH), None
        for t in range(3):
            lif.step(x[t], False)
            _, v = _lif_step(x[t], v, V_TH, False)
            nan = v.isnan()
            assert torch.equal(lif.v.isnan(), nan) and nan.any()
            assert torch.equal(lif.v[~nan].view(torch.int32), v[~nan].view(torch.int32))


def test_networks_stepped_are_bit_identical_before_and_after_step_lif(monkeypatch):
    """Every chain forced step by step: ESDNet and VLIF-Net outputs equal those of the allocating step."""
    from spikerain.models import ESDNet, VLIFNet, inference
    from spikerain.models.inference import prepare_for_inference

    g = torch.Generator().manual_seed(192)
    img = torch.rand(1, 3, 16, 16, generator=g)
    small = dict(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1))
    monkeypatch.setattr(inference, "STEP_BYTES", 0)
    for net in (ESDNet, VLIFNet):
        torch.manual_seed(0)
        model = prepare_for_inference(net(**small).eval())
        with torch.inference_mode():
            y = model(img)
            monkeypatch.setattr(inference, "_by_step", _allocating_by_step)
            y_old = model(img)
            monkeypatch.undo()
            monkeypatch.setattr(inference, "STEP_BYTES", 0)
        assert torch.equal(y, y_old), net.__name__


def test_lif_in_place_over_its_input_is_the_lif():
    g = torch.Generator().manual_seed(193)
    x = _edge_inputs(g)
    with torch.inference_mode():
        ref = LeanLIF()(x)
        y = x.clone()
        out = LeanLIF().forward_(y)
        assert out.data_ptr() == y.data_ptr()  # written over its input
        assert torch.equal(out, ref)


def test_vlif_upsampling_step_by_step_and_owned_inputs_are_bit_identical(monkeypatch):
    """VLIF-Net's upsampling with its bilinear x2 and LIF one step at a time equals the whole-T block, and the
    network with it, the in-place LIFs and the SMU input dropped equals the one without them, bit for bit."""
    from spikerain.models import VLIFNet, inference
    from spikerain.models.inference import LeanVLIFUp, prepare_for_inference
    from spikerain.models.vlifnet import VLIFUp

    g = torch.Generator().manual_seed(194)
    monkeypatch.setattr(inference, "STEP_BYTES", 0)
    torch.manual_seed(0)
    model = prepare_for_inference(VLIFNet(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)).eval())
    ups = [m for m in model.modules() if isinstance(m, LeanVLIFUp)]
    assert len(ups) == 2
    x = torch.randn(4, 1, 64, 6, 10, generator=g) * 0.3
    img = torch.rand(1, 3, 16, 16, generator=g)
    with torch.inference_mode():
        assert torch.equal(ups[0](x), VLIFUp.forward(ups[0], x))
        y = model(img)
        monkeypatch.setattr(LeanVLIFUp, "forward", VLIFUp.forward)
        monkeypatch.setattr(inference, "_lif_", lambda lif, v: lif(v))
        monkeypatch.setattr(inference.LeanSMU, "head", lambda self, v: self.initial_residual(v))
        assert torch.equal(model(img), y)
