"""The Lava schedule and partition: a pure function, tested without Lava against hand-computed steps."""

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.hardware.schedule import acc_value, build_schedule, chip_segment, frames_needed, phases


def chip_nodes(s) -> set[str]:
    """The nodes of every custom on-chip segment."""
    return {n for u in s.units if u.kind == "segment" and u.placement == "on-chip" for n in u.nodes}


def w(co, ci, seed):
    """Random 3x3 integer conv weights, the same for a given seed."""
    return np.random.default_rng(seed).integers(-20, 21, (co, ci, 3, 3)).astype(np.int32)


def chain():
    w = np.ones((4, 3, 3, 3), np.int32)
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=4, frac=8),
             q.QConv2d(name="conv", inputs=("e",), weight_mant=w, padding=1, shift=4),
             q.QLIF(name="lif", inputs=("conv",), vth=10, frac=0, bits=1),
             q.QMeanT(name="m", inputs=("lif",), frac=4), q.QOutput(name="out", inputs=("m",), frac=4)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


def concat_graph():
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=2, frac=8),
             q.QConv2d(name="c1", inputs=("e",), weight_mant=w(4, 3, 1), padding=1, shift=6, frac=6),
             q.QConv2d(name="c2", inputs=("e",), weight_mant=w(2, 3, 2), padding=1, shift=6, frac=6),
             q.QConv2d(name="c2b", inputs=("c2",), weight_mant=w(2, 2, 5), padding=1, shift=5, frac=6),
             q.QReLU(name="r", inputs=("c2b",), frac=6),
             q.QConcat(name="cat", inputs=("c1", "r"), fracs=(6, 6), frac=6),
             q.QConv2d(name="c3", inputs=("cat",), weight_mant=w(5, 6, 3), padding=1, stride=2, shift=5, frac=6),
             q.QLIF(name="lif", inputs=("c3",), vth=8, frac=0, bits=1),
             q.QConv2d(name="c4", inputs=("lif",), weight_mant=w(3, 5, 4), padding=1, shift=0, frac=0),
             q.QOutput(name="out", inputs=("c4",), frac=0)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


def relu_graph():
    """ReLUs of an on-chip value (``r1``, feeding an add and the host) and of a host value (``r2``, feeding the
    output): both go to stock Delta -> SigmaDelta -> Sigma chains, one per producing segment and phase."""
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=3, frac=8),
             q.QConv2d(name="c1", inputs=("e",), weight_mant=w(4, 3, 1), padding=1, shift=6, frac=6),
             q.QConv2d(name="c2", inputs=("e",), weight_mant=w(4, 3, 2), padding=1, shift=6, frac=6),
             q.QReLU(name="r1", inputs=("c1",), frac=6),
             q.QAdd(name="a", inputs=("r1", "c2"), frac_a=6, frac_b=6, frac=6),
             q.QMul(name="m", inputs=("a", "r1"), frac_a=6, frac_b=6, frac=6),
             q.QReLU(name="r2", inputs=("m",), frac=6),
             q.QAdd(name="o", inputs=("r2", "a"), frac_a=6, frac_b=6, frac=6, subtract=True),
             q.QOutput(name="out", inputs=("o",), frac=6)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


def upsample_graph():
    """Bilinear x2 upsamplings of on-chip values feeding an add (a segment), a requantized conv (a stock ``Conv``)
    and a LIF (a stock ``LIFReset``): all three go to stock ``Sparse`` processes; ``u3`` upsamples the LIF's spikes
    (a stock process's output) and stays in the chip segment."""
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=3, frac=8),
             q.QConv2d(name="c1", inputs=("e",), weight_mant=w(4, 3, 1), padding=1, shift=6, frac=6),
             q.QConv2d(name="c2", inputs=("e",), weight_mant=w(4, 3, 2), padding=1, shift=6, frac=6),
             q.QUpsample2x(name="u1", inputs=("c1",), frac=6),
             q.QUpsample2x(name="u2", inputs=("c2",), frac=6),
             q.QAdd(name="a", inputs=("u1", "u2"), frac_a=6, frac_b=6, frac=6),
             q.QConv2d(name="c3", inputs=("u1",), weight_mant=w(4, 4, 3), padding=1, stride=2, shift=6, frac=6),
             q.QUpsample2x(name="u4", inputs=("c3",), frac=6),
             q.QLIF(name="lif", inputs=("u2",), vth=40, frac=0, bits=1),
             q.QUpsample2x(name="u3", inputs=("lif",), frac=0),
             q.QConv2d(name="c4", inputs=("u3",), weight_mant=w(4, 4, 4), padding=1, stride=2, shift=0, frac=0),
             q.QAdd(name="o", inputs=("a", "u4"), frac_a=6, frac_b=6, frac=6),
             q.QAdd(name="o2", inputs=("o", "c4"), frac_a=6, frac_b=0, frac=6),
             q.QOutput(name="out", inputs=("o2",), frac=6)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


def test_upsamplings_become_stock_sparse_synapses():
    g = upsample_graph()
    s = build_schedule(g)
    assert s.kinds()["sparse"] == 3
    assert {u.nodes[0] for u in s.units if u.kind == "sparse"} == {"u1", "u2", "u4"}
    assert "u3" in chip_nodes(s) and "u1" not in chip_nodes(s)
    # one step of latency, like a Conv, and sent before anything is received
    assert s.avail["u1"] == s.avail["c1"] + 1 and s.avail[acc_value("c3")] == s.avail["u1"] + 1
    assert s.avail["lif"] == s.avail["u2"] and s.avail["u3"] == s.avail["lif"]
    assert phases(g, s)["u1"] == -1
    legacy = build_schedule(g, lower_upsample=False)
    assert "sparse" not in legacy.kinds() and {"u1", "u2", "u3", "u4"} <= chip_nodes(legacy)
    assert legacy.steps == s.steps - 2  # u1 -> c3 -> u4 lies on the longest path: one step more per Sparse


def test_relus_become_stock_graded_neuron_chains():
    g = relu_graph()
    s = build_schedule(g)
    kinds = s.kinds()
    # r1 (its input from the chip segment) and r2 (from the host segment) are in different phases: two chains
    assert (kinds["delta"], kinds["sigma_delta"], kinds["sigma"]) == (2, 2, 2)
    assert "r1" not in chip_nodes(s) and "r2" not in chip_nodes(s)
    e = phases(g, s)
    # a stock neuron passes its input's phase on: r1 keeps c1's, and its readers get it one phase later
    assert e["r1"] == e["c1"] == 0 and e["a"] == 1 and e["m"] == e["r2"] == 2 and e["o"] == 3
    assert s.avail["r1"] == s.avail["c1"] and s.avail["r2"] == s.avail["m"]
    legacy = build_schedule(g, lower_relu=False)
    assert "r1" in chip_nodes(legacy) and "delta" not in legacy.kinds()


def test_chain_latencies_by_hand():
    s = build_schedule(chain())
    # the source replays the image from step 1 (the repetition over T); Conv (1 step); the requantization, the LIF
    # and the segments act in the step their input arrives (zero latency)
    assert s.avail["x"] == 1 and s.avail["e"] == 1 and s.host_values == ("x", "e")
    assert s.avail[acc_value("conv")] == 2 and s.avail["conv"] == 2 and s.avail["lif"] == 2
    # mean over T (host) waits for the 4th LIF frame (step 5) and sends it in that step; out (on-chip) takes it
    assert s.avail["m"] == 5 and s.avail["out"] == 5 and s.steps == 5
    # on the chip one custom process per neuron program (the requantization; the output, routing), the mean
    # over T on the host
    assert s.kinds() == {"source": 1, "segment": 3, "conv": 1, "neuron": 1, "probe": 1, "sink": 1}
    req, route = s.unit(chip_segment("requantize")), s.unit(chip_segment("route"))
    assert (req.nodes, req.program, route.nodes, route.program) == (("conv",), "requantize", ("out",), "route")
    assert s.unit("seg_host").nodes == ("m",)
    assert (req.placement, route.placement, s.unit("seg_host").placement) == ("on-chip", "on-chip", "host")
    # the out segment takes m in the step the host sends it, one phase after the host computes it
    e = phases(chain(), s)
    assert e["m"] == 1 and e["out"] == 2
    # all custom nodes in one process: the same steps
    one = build_schedule(chain(), custom_by_program=False)
    assert one.unit("seg_chip").nodes == ("conv", "out") and one.unit("seg_chip").program == ""
    assert one.kinds()["segment"] == 2 and (one.steps, one.avail) == (s.steps, s.avail)
    lif = s.unit("neuron:lif")
    assert lif.inputs[0].start == 2 and lif.inputs[0].frames == 4
    (key, wait), = s.buffered().items()
    assert key == "seg_host/lif" and wait == 3  # mean over T holds LIF frames 0..2 until frame 3 arrives


def test_concat_into_conv_becomes_two_synapses_with_aligned_inputs():
    g = concat_graph()
    s = build_schedule(g)
    assert s.split_concats == ("cat",)
    c1, r = s.unit("conv:c3/c1"), s.unit("conv:c3/r")
    assert (c1.channels, r.channels) == ((0, 4), (4, 6))
    # c1 is ready at step 2 but r only at step 3 (one more Conv): c1 is held back one step
    assert s.avail["c1"] == 2 and s.avail["r"] == 3
    assert c1.inputs[0].start == r.inputs[0].start == 3
    assert s.avail[acc_value("c3")] == 4
    seg = next(u for u in s.units if u.kind == "segment" and "c1" in u.nodes)
    assert sorted(p.start for p in seg.outputs if p.value == "c1") == [3]
    split = build_schedule(g, split_concats=False)
    assert split.split_concats == () and not any(u.name.startswith("conv:c3/") for u in split.units)


def test_frames_needed_for_time_mixing_ops():
    assert frames_needed(q.QTimeToPatch(name="t", r=2), 1, 16) == 8
    assert frames_needed(q.QPatchToTime(name="p", r=2), 5, 4) == 2
    assert frames_needed(q.QMeanT(name="m"), 0, 4) == 4
    assert frames_needed(q.QDense(name="d", weight_mant=np.ones((4, 4)), axis=0), 0, 4) == 4
    assert frames_needed(q.QDense(name="d", weight_mant=np.ones((4, 4)), axis=1), 2, 4) == 3
    assert frames_needed(q.QAdd(name="a"), 3, 1) == 1


def test_phases_within_a_step_by_hand():
    g = chain()
    e = phases(g, build_schedule(g))
    # the source and the Conv send before anything is received (-1); the chip segment requantizes in phase 0 and
    # the LIF passes it on at once; the host segment receives it in phase 1 (mean over T); the chip segment
    # receives that in phase 2 (out)
    assert e["x"] == e["e"] == e[acc_value("conv")] == -1
    assert (e["conv"], e["lif"], e["m"], e["out"]) == (0, 0, 1, 2)
