"""VLIF-Net and ESDNet through the generic torch.fx frontend, their own blocks as registered leaf converters.

``from_module`` (the frontend for any user SNN) must build the same IR as ``from_torch`` (the seed networks'
frontend, whose node names the shipped artifacts and golden data carry) node for node: same op, same inputs,
same weights and fields. Only the naming differs: the fx frontend writes ``_`` for ``.``, names the forward's
functional ops after their fx nodes, and its input is a ``TensorInput`` in the module's layout.
"""

import numpy as np
import pytest
import torch
from torch import nn

from spikerain.converter import ir
from spikerain.converter.frontends.fx_frontend import MODULES, from_module
from spikerain.converter.frontends.torch_frontend import OP_NAMES, from_torch
from spikerain.errors import UnsupportedOpError
from spikerain.models import ESDNet, VLIFNet
from spikerain.models.esdnet import PatchEmbed
from spikerain.models.vlifnet import SDEM
from spikerain.pipeline.byo import run_float_module_layout

FX_NAME = {hand: fx for fx, hand in OP_NAMES.items()} | {"image": "input"}


def _fields(n: ir.Node) -> dict:
    out = {}
    for k, v in vars(n).items():
        if k in ("name", "inputs"):
            continue
        if k in ("stride", "padding") and isinstance(v, int):  # the fx frontend keeps PyTorch's (h, w) pairs
            v = (v, v)
        out[k] = v
    return out


@pytest.mark.parametrize("build", [VLIFNet, ESDNet], ids=["vlifnet", "esdnet"])
def test_seed_network_traces_through_fx_to_the_hand_ir_node_for_node(build):
    torch.manual_seed(0)
    model = build(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)).eval()  # every block type
    for p in model.parameters():  # away from the initial values (ones, zeros), so weights are told apart
        p.data.normal_()
    fx_graph = from_module(model, torch.rand(1, 3, 8, 8))
    hand = from_torch(model, (8, 8))
    assert len(fx_graph.nodes) == len(hand.nodes) > 200

    def fx_name(name: str) -> str:
        return FX_NAME.get(name, name.replace(".", "_"))

    for f, h in zip(fx_graph.nodes, hand.nodes, strict=True):
        assert f.name == fx_name(h.name)
        assert f.inputs == tuple(fx_name(i) for i in h.inputs), h.name
        if isinstance(h, ir.Input):
            assert isinstance(f, ir.TensorInput) and f.channels == h.channels == 3
            continue
        assert type(f) is type(h), h.name
        ff, hf = _fields(f), _fields(h)
        assert ff.keys() == hf.keys(), h.name
        for k, v in hf.items():
            if isinstance(v, np.ndarray):
                assert ff[k].dtype == v.dtype and np.array_equal(ff[k], v), f"{h.name}.{k}"
            else:
                assert ff[k] == v, f"{h.name}.{k}"
    assert fx_graph.shapes[fx_graph.outputs[0]] == hand.shapes[hand.outputs[0]] == (1, 3, 8, 8)


class _Tiny(nn.Module):
    """A user's network built from spikerain's blocks, with its own forward."""

    def __init__(self):
        super().__init__()
        self.embed = PatchEmbed(3, 16)
        self.block = SDEM(16, T=4)
        self.head = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        return self.head(self.block(self.embed(x.unsqueeze(0).repeat(4, 1, 1, 1, 1))).mean(0))


def test_a_user_network_of_seed_blocks_converts_through_fx_and_matches_its_forward():
    assert SDEM in MODULES and VLIFNet not in MODULES and ESDNet not in MODULES  # the networks are traced
    torch.manual_seed(1)
    model = _Tiny().eval()
    x = torch.rand(1, 3, 8, 8)
    g = from_module(model, x)
    assert g.ops()["lif"] == 1 and g.ops()["nilif"] == 1 and g.ops()["repeat_t"] == 1
    with torch.no_grad():
        want = model(x).numpy()
    assert np.abs(run_float_module_layout(g, x.numpy()) - want).max() <= 1e-4


def test_from_torch_refuses_an_op_of_the_forward_it_has_no_converter_for():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(x).sigmoid()

    with pytest.raises(UnsupportedOpError, match=r"call_method sigmoid \(sigmoid\) in the network's forward"):
        from_torch(Scaled().eval(), (8, 8))
