"""Golden forward passes recorded with the authors' code (tests/golden/golden_A; provenance in its README)."""

import pytest
import torch

from spikerain.models import ESDNet, VLIFNet
from spikerain.models.activity import FiringRateRecorder

FILES = ["esdnet", "vlifnet", "vlifnet_rain200l"]


def _load(reference, name):
    d = torch.load(reference / "golden_A" / f"{name}.pt", weights_only=True)
    c = d["config"]
    if c["model"] == "ESDNet":
        model = ESDNet(dim=c["dim"], T=c["T"], en_num_blocks=c["en_num_blocks"], de_num_blocks=c["de_num_blocks"])
    else:
        model = VLIFNet(dim=c["dim"], T=c["T"], refinement=c["use_refinement"],
                        en_num_blocks=c["en_num_blocks"], de_num_blocks=c["de_num_blocks"])
    model.load_state_dict(d["state_dict"], strict=True)
    return model.eval(), d


@pytest.mark.parametrize("name", FILES)
def test_output_and_every_child_match(reference, name):
    model, d = _load(reference, name)
    children = {}
    handles = [
        child.register_forward_hook(
            lambda _m, _i, o, n=n: children.__setitem__(n, o.mean(0) if o.dim() == 5 else o))
        for n, child in model.named_children() if child is not None
    ]
    with torch.no_grad():
        y = model(d["input"])
    for h in handles:
        h.remove()
    assert (y - d["output"]).abs().max().item() <= 1e-4
    assert set(d["children"]) <= set(children)
    for n, expected in d["children"].items():
        err = (children[n] - expected).abs().max().item()
        assert err <= 1e-4, f"child {n}: max abs error {err}"


@pytest.mark.parametrize("name", FILES)
def test_firing_rates_of_every_spiking_layer_match(reference, name):
    model, d = _load(reference, name)
    rec = FiringRateRecorder()
    with rec.attach(model), torch.no_grad():
        model(d["input"])
    rates = rec.rates()
    golden = d["config"]["spike_rates"]
    for key, value in golden.items():
        if key.endswith(":max"):
            assert rec.max_level[key[:-4]] == pytest.approx(value), key
        else:
            assert rates[key] == pytest.approx(value, abs=1e-6), key
    assert {k for k in golden if not k.endswith(":max")} == set(rates)


@pytest.mark.parametrize("name", ["esdnet", "vlifnet"])
def test_forward_is_bitwise_deterministic_and_resets_state(reference, name):
    model, d = _load(reference, name)
    with torch.no_grad():
        a = model(d["input"])
        b = model(d["input"])
    assert torch.equal(a, b)
