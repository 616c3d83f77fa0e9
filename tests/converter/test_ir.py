import dataclasses
import operator

import numpy as np
import pytest

from spikerain.converter import ir
from spikerain.errors import GraphError


def small_graph():
    w = np.ones((2, 3, 3, 3), np.float32)
    nodes = [
        ir.Input(name="x", channels=3),
        ir.RepeatT(name="enc", inputs=("x",), T=4),
        ir.Conv2d(name="c", inputs=("enc",), weight=w, padding=1),
        ir.LIF(name="l", inputs=("c",)),
        ir.MeanT(name="m", inputs=("l",)),
        ir.Output(name="out", inputs=("m",)),
    ]
    return ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8))


def test_shapes_are_inferred():
    g = ir.validate(small_graph())
    assert g.shapes["c"] == (4, 2, 8, 8) and g.shapes["m"] == (1, 2, 8, 8)


def test_nodes_are_frozen_and_arrays_read_only():
    g = small_graph()
    conv = g.node("c")
    with pytest.raises(AttributeError):
        conv.stride = 2
    with pytest.raises(ValueError):
        conv.weight[0, 0, 0, 0] = 5


@pytest.mark.parametrize("mutate,match", [
    (lambda n: n[:2] + [n[2].replace(inputs=("nope",))] + n[3:], "dangling edge"),
    (lambda n: [n[0], n[2], n[1]] + n[3:], "cycle or is not in topological order"),
    (lambda n: n[:4] + [ir.Add(name="a", inputs=("l",))] + n[4:], "takes 2 input"),
    (lambda n: n[:2] + [n[2].replace(weight=np.ones((2, 5, 3, 3), np.float32))] + n[3:], "shape error"),
    (lambda n: n + [ir.ReLU(name="l", inputs=("c",))], "duplicate"),
])
def test_validation_errors(mutate, match):
    g = small_graph()
    with pytest.raises(GraphError, match=match):
        ir.validate(g.with_nodes(mutate(list(g.nodes))))


def test_table_printer_lists_every_node():
    t = ir.format_table(small_graph())
    assert "conv2d" in t and "4x2x8x8" in t and t.splitlines()[-1].startswith("6 nodes")


def test_every_op_is_registered_under_its_own_name_and_a_second_registration_is_refused():
    assert all(cls.op == op for op, cls in ir.OPS.items())
    assert len(set(ir.OPS.values())) == len(ir.OPS)  # no class under two names
    assert {"lif", "temporal_conv", "q_lif", "q_dense_synapse"} <= set(ir.OPS)

    @dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
    class Clash(ir.Node):
        op = "lif"

    with pytest.raises(ValueError, match="registered twice"):
        ir.register_op(Clash)
    assert ir.OPS["lif"] is ir.LIF


def test_size_multiple_is_derived_from_the_graph_and_agrees_with_the_models():
    from spikerain.converter.frontends.torch_frontend import from_torch
    from spikerain.models import ESDNet, VLIFNet

    for model in (VLIFNet(dim=16), ESDNet(dim=16)):
        assert ir.size_multiple(from_torch(model.eval(), (16, 16))) == model.size_multiple
    assert ir.size_multiple(small_graph()) == 1


def test_meta_and_shapes_are_read_only_values():
    g = ir.validate(small_graph().with_meta(model={"dim": 16, "blocks": [1, 2]}))
    for change in (lambda: g.meta.__setitem__("x", 1), lambda: g.meta["model"].update(dim=32),
                   lambda: g.meta.pop("model"), lambda: operator.setitem(g.shapes, "c", (1, 1, 1, 1))):
        with pytest.raises(TypeError):
            change()
    assert g.meta["model"]["blocks"] == (1, 2) and not hasattr(g.shapes, "clear")
    # another input size is another graph with its own shapes; this one keeps its own
    h = g.with_nodes(g.nodes, input_shape=(1, 3, 16, 16))
    assert ir.shapes_of(h)["c"] == (4, 2, 16, 16) and g.shapes["c"] == (4, 2, 8, 8)
    assert ir.infer_shapes(g) is g and h.with_meta(extra=1).meta == {**g.meta, "extra": 1}
    # meta survives serialisation unchanged
    import copy
    import json
    import pickle

    assert json.loads(json.dumps(g.meta)) == {"model": {"dim": 16, "blocks": [1, 2]}}
    assert copy.deepcopy(g.meta) == g.meta and pickle.loads(pickle.dumps(g)).shapes == g.shapes
