"""Core mapping: a pure function, tested without Lava."""

import dataclasses
import math

import numpy as np
import pytest

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.hardware.constraints import load_constraints
from spikerain.hardware.mapping import MappingError, map_to_cores


def graph(cin=16, cout=32, k=3):
    w = np.ones((cout, cin, k, k), np.int32)
    nodes = [q.QInput(name="x", channels=cin), q.QRepeatT(name="e", inputs=("x",), T=4),
             q.QConv2d(name="conv", inputs=("e",), weight_mant=w, padding=k // 2),
             q.QLIF(name="lif", inputs=("conv",), vth=10, frac=0, bits=1),
             q.QMeanT(name="m", inputs=("lif",)), q.QOutput(name="out", inputs=("m",))]
    return ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, cin, 8, 8)))


def test_constraints_carry_a_source_for_every_value():
    for target in ("loihi1", "loihi2"):
        c = load_constraints(target)
        fields = {f.name for f in dataclasses.fields(c)} - {"name", "title", "sources"}
        assert fields <= set(c.sources), fields - set(c.sources)


def test_loihi1_stores_every_synapse_loihi2_shares_the_kernel():
    g = graph()
    m1 = map_to_cores(g, load_constraints("loihi1"), (100, 100))
    conv1 = next(lay for lay in m1.layers if lay.name == "conv")
    neurons = 32 * 100 * 100
    assert conv1.neurons == neurons and conv1.fan_in == 16 * 9
    bits = neurons * 144 * 8
    assert conv1.synapse_bits == bits
    assert conv1.cores == max(math.ceil(neurons / 1024), math.ceil(bits / 1048576))
    m2 = map_to_cores(g, load_constraints("loihi2"), (100, 100))
    conv2 = next(lay for lay in m2.layers if lay.name == "conv")
    assert conv2.synapse_bits == 32 * 144 * 8 and conv2.cores == math.ceil(neurons / 8192)
    lif2 = next(lay for lay in m2.layers if lay.name == "lif")
    assert m2.cores == conv2.cores + lif2.cores and m2.chips == 1
    # the Lava schedule: the source (step 1), the conv (1 step), its requantization and the LIF (0 steps), the
    # mean over 4 frames (3 steps); the mean over T is the one host node and costs no core
    assert m2.steps_per_image == 5 and 0 < m2.host_op_share < 1
    assert m2.image_latency_us == pytest.approx(5 * m2.timestep_latency_ns / 1000)
    assert m2.realisation["misplaced_nodes"] == 0 and m2.realisation["host_nodes"] == 1
    # a conv core sends to the LIF cores of its spatial block (+1 for the border); the LIF only to the host
    assert conv2.axons_out == min(lif2.cores, math.ceil(lif2.cores / conv2.cores) + 1) and lif2.axons_out == 0
    assert lif2.first_core == conv2.cores and conv2.hops_out > 0
    assert [lay.name for lay in m2.layers if lay.placement == "host"] == ["m"]


def test_too_wide_fan_in_names_layer_limit_and_fix():
    with pytest.raises(MappingError) as e:
        map_to_cores(graph(cin=512), load_constraints("loihi2"), (16, 16))
    assert e.value.layer == "conv" and e.value.needed == 4608 and e.value.available == 4096
    assert "split the layer's input channels" in str(e.value)


def test_sizes_are_padded_to_the_network_multiple():
    m = map_to_cores(graph(), load_constraints("loihi2"), (321, 481))
    assert m.size == m.padded_size == (321, 481)  # a stride-1 conv fits any size
    nodes = [q.QInput(name="x"), q.QRepeatT(name="e", inputs=("x",), T=4),
             q.QPatchToTime(name="p", inputs=("e",)), q.QTimeToPatch(name="t", inputs=("p",)),
             q.QUpsample2x(name="u", inputs=("t",)), q.QOutput(name="out", inputs=("u",))]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    m = map_to_cores(g, load_constraints("loihi2"), (321, 481))
    assert m.size == (321, 481) and m.padded_size == (322, 482)  # patch-to-time needs even sides


def test_dense_synapse_costs_its_real_fan_in_and_weight_bits(tmp_path):
    """A netx dense layer: every output sees every input, each synapse stored with the layer's weight bits (and
    6 delay bits with delays); a dense chain maps at its own input size (it used to be refused by the size search,
    and a dense synapse was costed as fan-in 1 with no synapse memory)."""
    from tests.converter.test_netx import delayed_net

    g = delayed_net(tmp_path / "d.net")  # 18 -> 6 (delays) -> 3
    for target in ("loihi1", "loihi2"):
        c = load_constraints(target)
        m = map_to_cores(g, c, (256, 256))
        assert m.padded_size == (3, 3)  # its input shape, whatever was asked
        by = {lay.name: lay for lay in m.layers}
        d1, d2 = by["layer2.synapse"], by["layer3.synapse"]
        n1, n2 = g.node("layer2.synapse"), g.node("layer3.synapse")
        assert (d1.neurons, d1.fan_in, d1.ops_per_step) == (6, 18, 6 * 18)
        assert d1.synapse_bits == 6 * 18 * (n1.num_weight_bits + 6) and n1.num_weight_bits > 0
        assert (d2.fan_in, d2.synapse_bits) == (6, 3 * 6 * n2.num_weight_bits)
        assert d1.cores == d2.cores == 1


def test_mnist_dense_chain_maps_and_a_too_wide_dense_layer_is_named():
    from spikerain.converter.interchange.netx_io import import_netx
    from tests.converter.test_netx_lava_dl import lava_dl_netx

    g = import_netx(lava_dl_netx() / "mnist.net")
    m = map_to_cores(g, load_constraints("loihi2"), (28, 28))
    first = next(lay for lay in m.layers if lay.name == "layer1.synapse")
    assert first.fan_in == 784 and first.synapse_bits == 512 * 784 * g.node("layer1.synapse").num_weight_bits
    assert first.cores == math.ceil(first.synapse_bits / load_constraints("loihi2").synapse_memory_bits_per_core)
    wide = g.with_nodes([n.replace(weight_mant=np.ones((512, 5000), np.int64)) if n.name == "layer1.synapse"
                         else n for n in g.nodes], input_shape=(1, 5000, 1, 1))
    with pytest.raises(MappingError) as e:
        map_to_cores(wide, load_constraints("loihi2"), (1, 1))
    assert e.value.layer == "layer1.synapse" and e.value.needed == 5000
