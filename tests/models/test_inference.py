"""The inference copy (``spikerain.models.inference``) against the training modules and the golden forwards."""

import pytest
import torch

from spikerain.models import LIFParameters, NILIFParameters
from spikerain.models.inference import LeanLIF, LeanNILIF, fold_batchnorm, prepare_for_inference
from spikerain.models.neurons import lif_multistep, nilif_multistep
from tests.models.test_golden import FILES, _load


def test_lean_neurons_are_bit_identical_with_the_inference_paths():
    g = torch.Generator().manual_seed(19)
    x = torch.randn(4, 2, 3, 17, 9, generator=g) * 0.2
    x[:, 0, 0, 0, :] = 0.15  # exactly at threshold
    with torch.inference_mode():
        assert torch.equal(LeanLIF()(x), lif_multistep(x, LIFParameters()))
        assert torch.equal(
            LeanLIF()(x[:1].expand(4, -1, -1, -1, -1)), lif_multistep(x[:1].repeat(4, 1, 1, 1, 1), LIFParameters())
        )
        u = torch.randn(16, 1, 5, 8, 8, generator=g) * 3
        u[:, 0, 0, 0, :4] = torch.tensor([0.5, 1.5, 2.5, 3.5])  # ties round to even
        assert torch.equal(LeanNILIF()(u), nilif_multistep(u, NILIFParameters()))


@pytest.mark.parametrize("name", FILES)
def test_prepared_copy_matches_golden_and_leaves_the_model_alone(reference, name):
    model, d = _load(reference, name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = prepare_for_inference(model)
    assert {k: v for k, v in model.state_dict().items()}.keys() == before.keys()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    children = {}
    for n, child in fast.named_children():
        if child is not None:
            child.register_forward_hook(
                lambda _m, _i, o, n=n: children.__setitem__(n, o.mean(0) if o.dim() == 5 else o)
            )
    with torch.inference_mode():
        y = fast(d["input"])
    assert (y - d["output"]).abs().max().item() <= 1e-4  # the golden tests' tolerance
    folded = {
        n
        for n, c in fast.named_children()
        if isinstance(c, torch.nn.Identity) or getattr(c, "bias", None) is not None and getattr(model, n).bias is None
    }  # a folded conv's output now includes its BN
    for n, expected in d["children"].items():
        if n not in folded:
            assert (children[n] - expected).abs().max().item() <= 1e-4, n
    with torch.inference_mode():  # lean forwards alone change no bit (VLIF-Net: no conv runs on fewer frames)
        lean = prepare_for_inference(model, fold_bn=False, vlif_commute=False)(d["input"])
        plain = model(d["input"])
    if name.startswith("vlifnet"):
        assert torch.equal(lean, plain)
    assert (lean - plain).abs().max().item() <= 1e-6


def test_every_batchnorm_is_folded():
    from spikerain.models.registry import build_model

    for net in ("vlifnet", "esdnet"):
        m = build_model(net, dim=16)
        n_bn = sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())
        assert fold_batchnorm(m) == n_bn
        assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())


def test_by_step_chains_match_whole_steps(monkeypatch):
    """``by_step`` forced on every chain (real inputs meet its size threshold only above ~64x64): its LIF is
    LeanLIF bit for bit, and whole small networks stay within 1e-6 of the whole-T forward (100x inside the golden
    tests' tolerance; the convolutions of one step round in their own order)."""
    from spikerain.models import ESDNet, VLIFNet, inference

    g = torch.Generator().manual_seed(7)
    x = torch.randn(4, 2, 3, 9, 11, generator=g) * 0.2
    x[:, 0, 0, 0, :] = 0.15  # exactly at threshold
    with torch.inference_mode():
        assert torch.equal(inference._by_step([LeanLIF(), LeanLIF()], x), LeanLIF()(LeanLIF()(x)))
    img = torch.rand(1, 3, 16, 16, generator=g)
    small = dict(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1))
    for net in (ESDNet, VLIFNet):
        torch.manual_seed(0)
        model = net(**small).eval()
        with torch.inference_mode():
            monkeypatch.setattr(inference, "STEP_BYTES", 1 << 40)
            whole = prepare_for_inference(model)(img)
            monkeypatch.setattr(inference, "STEP_BYTES", 0)
            monkeypatch.setattr(inference.LeanSDEM, "by_step", True)  # off by default (it did not pay)
            stepped = prepare_for_inference(model)
            y = stepped(img)
        kinds = (inference.StepSequential, inference.LeanUpSampling, inference.LeanSDEM)
        assert sum(isinstance(m, kinds) for m in stepped.modules()) >= 8
        assert (y - whole).abs().max().item() <= 1e-6, net.__name__


def test_in_place_attention_and_srb_shortcut_are_bit_identical(monkeypatch):
    """The in-place attention (``LeanMAU.forward_``) equals its allocating forward, and an SRB whose shortcut
    goes step by step straight into the sum equals the block's previous form, attn(residual(x) + shortcut(x)) + x
    with the shortcut stepped as ``by_step`` did; freed heap pages handed back before a block change nothing."""
    from spikerain.models import ESDNet, inference

    g = torch.Generator().manual_seed(23)
    monkeypatch.setattr(inference, "STEP_BYTES", 0)  # every chain and block takes its large-input path
    torch.manual_seed(0)
    model = prepare_for_inference(ESDNet(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)))
    srb = next(m for m in model.modules() if isinstance(m, inference.LeanSRB))
    assert isinstance(srb.shortcut, inference.StepSequential)
    x = torch.randn(4, 2, 16, 9, 11, generator=g)
    with torch.inference_mode():
        y = srb.attn(srb.residual(x).add_(srb.shortcut(x))).add_(x)
        assert torch.equal(srb.attn.forward_(srb.residual(x).add_(srb.shortcut(x))).add_(x), y)
        assert torch.equal(srb(x), y)
        monkeypatch.setattr(inference, "RELEASE", False)
        assert torch.equal(srb(x), y)
