"""The one stock / custom / host classification of the Lava processes (no Lava run: a pure function of the
schedule), on a hand-made graph and on both shipped networks, and its use by the mapping."""

import dataclasses
import re
from pathlib import Path

import pytest

from spikerain.converter import ir
from spikerain.hardware.constraints import load_constraints
from spikerain.hardware.mapping import COST, map_to_cores
from spikerain.hardware.realisation import classify, held_nodes
from spikerain.hardware.schedule import LAVA, build_schedule
from tests.hardware.test_schedule import chain, concat_graph

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lava.md"
#: the neuron programs each shipped network needs custom processes for
PROGRAMS = {"vlifnet": {"add", "nilif", "relu", "requantize", "route", "scale", "temporal_conv", "time_move",
                        "upsample"},
            "esdnet": {"add", "relu", "requantize", "route", "scale"}}


def test_chain_classification_by_hand():
    g = chain()
    c = classify(g, build_schedule(g))
    # source (stock: x, e), Conv (stock, its synapses), LIF (stock), two custom processes (the conv's
    # requantization; the output, routing), host segment (the mean over T), probe (host), sink (stock)
    assert c["processes"] == {"stock": 4, "custom": 2, "host": 2}
    assert c["nodes"] == {"stock": 3, "custom": 2, "host": 1}
    assert c["on_chip_nodes"] == {"stock": 3, "custom": 2} and c["host_nodes"] == 1
    assert c["misplaced_nodes"] == 0 and c["custom_ops"] == {"q_conv2d": 1, "q_output": 1}
    assert c["custom_programs"] == {"requantize": 1, "route": 1}
    one = classify(g, build_schedule(g, custom_by_program=False))
    assert one["processes"] == {"stock": 4, "custom": 1, "host": 2} and one["custom_programs"] == {"all": 2}
    assert {k: v for k, v in one.items() if k not in ("processes", "custom_programs", "per_process")} == \
        {k: v for k, v in c.items() if k not in ("processes", "custom_programs", "per_process")}


def test_split_concat_is_held_by_its_stock_synapses():
    g = concat_graph()
    s = build_schedule(g)
    held = held_nodes(g, s)
    assert held["conv:c3/c1"] == ("cat",) and held["conv:c3/r"] == ()
    assert sorted(n for names in held.values() for n in names) == sorted(n.name for n in g.nodes)


def test_a_host_node_in_an_on_chip_process_is_counted_as_misplaced():
    g = chain()
    s = build_schedule(g, custom_by_program=False)
    chip, host = s.unit("seg_chip"), s.unit("seg_host")
    moved = [dataclasses.replace(chip, nodes=chip.nodes + host.nodes) if u is chip else
             dataclasses.replace(host, nodes=()) if u is host else u for u in s.units]
    c = classify(g, dataclasses.replace(s, units=tuple(moved)))
    assert c["misplaced_nodes"] == 1 and c["misplaced"] == ["m"]


@pytest.fixture(scope="module")
def shipped():
    from spikerain.models.checkpoint import load_default_or
    from spikerain.pipeline.convert import convert_model, default_calibration_images

    out = {}
    for name in ("vlifnet", "esdnet"):
        _, q, _ = convert_model(load_default_or(None, name), calib_images=default_calibration_images(16, 1),
                                report_images=1)
        out[name] = q
    return out


@pytest.mark.parametrize("name", ["vlifnet", "esdnet"])
def test_shipped_networks_have_no_misplaced_node(shipped, name):
    g = shipped[name]
    g = g.with_nodes(g.nodes, input_shape=(1, 3, 16, 16))
    ir.infer_shapes(g)
    s = build_schedule(g)
    c = classify(g, s)
    assert c["misplaced_nodes"] == 0, c["misplaced"]
    on_chip = sum(n.placement == "on-chip" for n in g.nodes)
    assert c["on_chip_nodes"]["stock"] + c["on_chip_nodes"]["custom"] == on_chip
    assert c["host_nodes"] == c["nodes"]["host"] == len(g.nodes) - on_chip > 100
    assert sum(c["nodes"].values()) == len(g.nodes)
    # one custom process per neuron program, each holding that program's ops only, and one host process: host
    # and on-chip nodes never share one
    assert c["processes"]["host"] == 2  # host segment, activity probe
    assert set(c["custom_programs"]) == PROGRAMS[name] and c["processes"]["custom"] == len(PROGRAMS[name])
    assert sum(c["custom_programs"].values()) == c["on_chip_nodes"]["custom"]
    held, by_name = held_nodes(g, s), g.by_name()
    for u in s.units:
        if u.kind == "segment" and u.placement == "on-chip":
            assert {LAVA.lookup(by_name[n]).program for n in held[u.name]} == {u.program}, u.name
    one = classify(g, build_schedule(g, custom_by_program=False))
    assert one["processes"]["custom"] == 1 and one["on_chip_nodes"] == c["on_chip_nodes"]
    assert one["misplaced_nodes"] == 0
    assert c["processes"]["stock"] == len(s.units) - 2 - len(PROGRAMS[name])
    # ReLUs run on stock Delta -> SigmaDelta -> Sigma chains, except those feeding a stock process (a Conv's or
    # LIFReset's input port takes one value in its own shape)
    by, cons = g.by_name(), g.consumers()
    relus = [n for n in g.nodes if n.op == "q_relu"]
    kept = [n for n in relus if any(by[c].op in ("q_conv2d", "q_lif") for c in cons[n.name])]
    assert len(relus) - len(kept) > 100 and c["custom_ops"].get("q_relu", 0) == len(kept)
    # one chain per producing segment and phase: 14 / 8 with one chip segment, 17 / 8 with one per program
    assert s.kinds()["delta"] == s.kinds()["sigma_delta"] == s.kinds()["sigma"] <= 17
    # bilinear x2 on stock Sparse processes, except where the input is a lowered ReLU's packed group vector
    ups = [n.name for n in g.nodes if n.op == "q_upsample2x"]
    sparse = [u.nodes[0] for u in s.units if u.kind == "sparse"]
    relu_fed = [n for n in ups if by[by[n].inputs[0]].op == "q_relu"]
    assert len(sparse) >= 2 and sorted(sparse + relu_fed) == sorted(ups)
    assert c["custom_ops"].get("q_upsample2x", 0) == len(relu_fed)
    # every custom op is listed in docs/lava.md with its reason
    listed = set(re.findall(r"^\| `(q_\w+)` \|", DOCS.read_text(), re.M))
    assert set(c["custom_ops"]) <= listed, set(c["custom_ops"]) - listed
    # the mapping counts cores for on-chip nodes only, and reports the same classification
    m = map_to_cores(shipped[name], load_constraints("loihi2"), (16, 16))
    assert m.realisation["misplaced_nodes"] == 0
    placement = {n.name: n.placement for n in g.nodes}
    assert all(lay.cores == 0 for lay in m.layers if placement[lay.name] == "host")
    assert all(lay.cores > 0 for lay in m.layers if placement[lay.name] == "on-chip")


def test_mapping_cost_kinds_agree_with_placement():
    for op, kind in COST.items():
        assert (kind == "host") == (ir.OPS[op].placement == "host"), op
