import copy

import numpy as np
import pytest
import torch
from torch import nn

from spikerain.converter import ir
from spikerain.converter.frontends.torch_frontend import from_torch, supported_types
from spikerain.converter.passes.dce import eliminate_dead_nodes
from spikerain.converter.passes.pipeline import PASSES, run_passes
from spikerain.errors import UnsupportedOpError
from spikerain.hardware.fastsim.float_kernels import run_float
from spikerain.models import ESDNet, VLIFNet

GOLDEN = ["esdnet", "vlifnet", "vlifnet_rain200l"]


def _golden(reference, name):
    d = torch.load(reference / "golden_A" / f"{name}.pt", weights_only=True)
    c = d["config"]
    m = ESDNet(dim=16) if c["model"] == "ESDNet" else VLIFNet(dim=16, refinement=c["use_refinement"])
    m.load_state_dict(d["state_dict"])
    return m.eval(), d


@pytest.mark.parametrize("name", GOLDEN)
def test_ir_reproduces_the_authors_output_before_and_after_passes(reference, name):
    model, d = _golden(reference, name)
    g = from_torch(model, (32, 32))
    for graph in (g, run_passes(g)):
        y = run_float(graph, d["input"])["out"]
        assert (y - d["output"]).abs().max().item() <= 1e-4


def test_passes_fold_every_batchnorm_and_the_sdem_subtractions(reference):
    model, _ = _golden(reference, "vlifnet")
    g = from_torch(model, (32, 32))
    trace = []
    h = run_passes(g, trace=trace)
    assert [t[0] for t in trace] == ["fold_batchnorm", "fold_scalars", "eliminate_dead_nodes", "infer_shapes"]
    assert g.ops()["batchnorm"] == 69 and h.ops()["batchnorm"] == 0
    # each of the 19 SDEMs has two mixes, each loses its Sub
    assert g.ops()["sub"] - h.ops()["sub"] == 38
    assert len(g.nodes) - len(h.nodes) == 69 + 38


def _snapshot(g: ir.Graph):
    """A deep copy of everything a pass could change in place: nodes (fields and arrays), shapes and meta."""
    return copy.deepcopy((g.nodes, dict(g.shapes), g.meta))


def _changed_in_place(g: ir.Graph, snap) -> list[str]:
    nodes, shapes, meta = snap
    what = []
    if len(g.nodes) != len(nodes) or not all(ir.nodes_equal(a, b) for a, b in zip(g.nodes, nodes, strict=False)):
        what.append("nodes")
    if dict(g.shapes) != shapes:
        what.append("shapes")
    if repr(g.meta) != repr(meta):
        what.append("meta")
    return what


def _tiny():
    w = np.full((2, 3, 1, 1), 0.5, np.float32)
    nodes = [ir.Input(name="x"), ir.RepeatT(name="e", inputs=("x",), T=4),
             ir.Conv2d(name="c", inputs=("e",), weight=w),
             ir.BatchNorm(name="bn", inputs=("c",), gamma=np.ones(2, np.float32), beta=np.zeros(2, np.float32),
                          mean=np.zeros(2, np.float32), var=np.ones(2, np.float32)),
             ir.LIF(name="l", inputs=("bn",)), ir.Output(name="o", inputs=("l",))]
    return ir.Graph(nodes=nodes, outputs=("o",), input_shape=(1, 3, 4, 4), meta={"model": {"dim": 16}})


def _mutate_meta(g):
    dict.__setitem__(g.meta["model"], "dim", 32)  # forced past the read-only meta, in a nested dict
    return g.with_nodes(g.nodes)


def _mutate_node(g):
    object.__setattr__(g.node("l"), "tau", 4.0)  # a frozen dataclass can still be forced
    return g.with_nodes(g.nodes)


def _mutate_shapes(g):
    h = ir.infer_shapes(g.with_nodes(g.nodes))
    if isinstance(g.shapes, dict):
        g.shapes.clear()
    else:  # an immutable mapping cannot be cleared: swap the cache for a wrong one
        object.__setattr__(g, "shapes", {})
    return h


@pytest.mark.parametrize("name", ["fold_batchnorm", "fold_scalars", "eliminate_dead_nodes", "infer_shapes", "all"])
def test_every_pass_leaves_its_input_graph_unchanged(reference, name):
    model, _ = _golden(reference, "vlifnet")
    for g in (ir.validate(_tiny()), ir.validate(from_torch(model, (32, 32)))):
        snap = _snapshot(g)
        run_passes(g) if name == "all" else PASSES[name](g)
        assert _changed_in_place(g, snap) == [], name


@pytest.mark.parametrize(("bad", "what"), [(_mutate_meta, "meta"), (_mutate_node, "nodes"),
                                           (_mutate_shapes, "shapes")])
def test_the_purity_check_catches_a_pass_that_mutates_its_input(bad, what):
    g = ir.validate(_tiny())
    snap = _snapshot(g)
    bad(g)
    assert what in _changed_in_place(g, snap)


def test_dead_nodes_are_removed():
    w = np.ones((1, 3, 1, 1), np.float32)
    nodes = [ir.Input(name="x"), ir.RepeatT(name="e", inputs=("x",), T=4),
             ir.Conv2d(name="dead", inputs=("e",), weight=w), ir.Conv2d(name="live", inputs=("e",), weight=w),
             ir.Output(name="o", inputs=("live",))]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("o",), input_shape=(1, 3, 4, 4)))
    assert [n.name for n in eliminate_dead_nodes(g).nodes] == ["x", "e", "live", "o"]


def test_unregistered_module_names_path_and_supported_types():
    class Odd(nn.Module):
        def forward(self, x):
            return x

    m = VLIFNet(dim=16)
    m.encoder_level2[1].attn = Odd()
    with pytest.raises(UnsupportedOpError) as e:
        from_torch(m, (16, 16))
    msg = str(e.value)
    assert "encoder_level2.1.attn" in msg and "Odd" in msg and "MultiDimensionalAttention" in msg
    assert "SDEM" in supported_types()


def test_full_size_networks_convert_and_shapes_check():
    for m, n_lif in ((VLIFNet(), 35 - 4), (ESDNet(), 49)):  # dim 48, default blocks
        g = from_torch(m.eval(), (256, 256))
        assert g.shapes["out"] == (1, 3, 256, 256)
        assert g.ops()["lif"] == n_lif
