"""The authors' accounting: the IR-derived thop-visible count equals ``thop.profile`` itself on networks built from
the authors' layer types, and the ``authors-thop`` model prices it with one global sparsity."""

import copy

import pytest
import thop
import torch
from torch import nn

from spikerain.converter.frontends.torch_frontend import from_torch
from spikerain.converter.passes.pipeline import run_passes
from spikerain.energy.models import load_models, price
from spikerain.energy.thop import thop_record, thop_visible_ops
from spikerain.models.esdnet import ESDNet
from spikerain.models.layers import SeqConv2d, TdBN
from spikerain.models.vlifnet import SMU, VLIFNet


class AuthorsUpsample(nn.Module):
    """The authors' SUNet_Level1_Block upsamples with a plain ``nn.Upsample`` (bilinear) on the folded T*B batch;
    spikerain's SMU uses its own SeqUpsample2x (same values), so the thop reference gets the authors' module."""

    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        return self.up(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def authors_like(model: nn.Module) -> nn.Module:
    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, SMU):
            mod.upsample = AuthorsUpsample()
    return m


def small(cls):
    torch.manual_seed(0)
    return cls(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)).eval()


def test_spikingjelly_style_layers_are_invisible_to_thop():
    # SpikingJelly's layer.Conv2d and tdBN subclass the torch.nn types; thop hooks exact types only
    x = torch.rand(4, 1, 3, 8, 8)
    assert thop.profile(nn.Sequential(SeqConv2d(3, 8, 3, padding=1), TdBN(8)), (x,), verbose=False)[0] == 0
    plain = thop.profile(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1)), (x[:, 0],), verbose=False)[0]
    assert plain == 4 * 8 * 8 * 8 * 3 * 9


@pytest.mark.parametrize("cls", [VLIFNet, ESDNet])
def test_ir_thop_visible_count_equals_thop_profile(cls):
    model = small(cls)
    g = run_passes(from_torch(model, (16, 16)))
    ops = thop_visible_ops(g)
    with torch.no_grad():
        reference, params = thop.profile(authors_like(model), (torch.rand(1, 3, 16, 16),), verbose=False)
    assert sum(ops.values()) == int(reference)
    assert 0 < params < sum(p.numel() for p in model.parameters()) / 10  # thop's 77-160x undercount, in small
    kinds = set(g.meta["thop_visible"].values())
    assert {"Conv2d", "Conv3d", "AdaptiveAvgPool3d"} <= kinds
    assert ("Upsample" in kinds) == (cls is VLIFNet) and ("AdaptiveAvgPool2d" in kinds) == (cls is ESDNet)
    # at another image size the record scales like the static count (per-pixel layers x4, pooled MLPs fixed)
    rec = thop_record(g, (32, 32))
    assert sum(ops.values()) < sum(r["ops"] for r in rec.values()) <= 4 * sum(ops.values())


def test_authors_thop_pricing_by_hand():
    t = load_models()
    counts = {"synapses": {}, "neurons": {}, "host": {}, "other": {},
              "thop": {"a": {"ops": 1000, "type": "Conv2d", "analog": True},
                       "b": {"ops": 500, "type": "Conv3d", "analog": False}}}
    p = price(counts, t, "authors-thop")
    assert t.c("authors_global_sparsity") == 0.1642
    assert p["total_pj"] == pytest.approx(1500 * 0.1642 * 0.9)
    assert "9bf7cc0" in t.constants["authors_global_sparsity"]["source"]


def test_authors_configurations_give_the_claimed_ratio_at_256():
    """VLIF-Net dim 24, blocks [4,4,6,6] against ESDNet dim 48 at 256x256 (the authors' energy step): what thop
    sees of the two networks is 12.5 % of ESDNet's, independent of weights, sparsity and constants."""
    from spikerain.pipeline.explain import float_network

    ops = {n: sum(r["ops"] for r in thop_record(float_network(n).fgraph, (256, 256)).values())
           for n in ("vlifnet", "esdnet")}
    assert ops["esdnet"] == 7_320_375_128 and ops["vlifnet"] == 916_524_880
    assert ops["vlifnet"] / ops["esdnet"] == pytest.approx(0.1252, abs=5e-4)
