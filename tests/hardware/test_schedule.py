"""The Lava schedule and partition: a pure function, tested without Lava against hand-computed steps."""

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.hardware.schedule import acc_value, build_schedule, frames_needed


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
    def w(co, ci, seed):
        return np.random.default_rng(seed).integers(-20, 21, (co, ci, 3, 3)).astype(np.int32)

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


def test_chain_latencies_by_hand():
    s = build_schedule(chain())
    # the source replays the image from step 1 (the repetition over T); Conv (1 step); requant segment (1 step);
    # LIF (0 steps)
    assert s.avail["x"] == 1 and s.avail["e"] == 1 and s.host_values == ("x", "e")
    assert s.avail[acc_value("conv")] == 2 and s.avail["conv"] == 3 and s.avail["lif"] == 3
    # mean over T waits for the 4th LIF frame (step 6) and sends at step 7; out is in the same segment
    assert s.avail["m"] == 7 and s.avail["out"] == 7 and s.steps == 7
    assert s.kinds() == {"source": 1, "segment": 2, "conv": 1, "neuron": 1, "probe": 1, "sink": 1}
    lif = s.unit("neuron:lif")
    assert lif.inputs[0].start == 3 and lif.inputs[0].frames == 4
    (key, wait), = s.buffered().items()
    assert key.endswith("/lif") and wait == 3  # mean over T holds LIF frames 0..2 until frame 3 arrives


def test_concat_into_conv_becomes_two_synapses_with_aligned_inputs():
    g = concat_graph()
    s = build_schedule(g)
    assert s.split_concats == ("cat",)
    c1, r = s.unit("conv:c3/c1"), s.unit("conv:c3/r")
    assert (c1.channels, r.channels) == ((0, 4), (4, 6))
    # c1 is ready at step 3 but r only at step 5 (one more Conv and segment): c1 is held back two steps
    assert s.avail["c1"] == 3 and s.avail["r"] == 5
    assert c1.inputs[0].start == r.inputs[0].start == 5
    assert s.avail[acc_value("c3")] == 6
    seg = next(u for u in s.units if u.kind == "segment" and "c1" in u.nodes)
    assert sorted(p.start for p in seg.outputs if p.value == "c1") == [5]
    split = build_schedule(g, split_concats=False)
    assert split.split_concats == () and not any(u.name.startswith("conv:c3/") for u in split.units)


def test_frames_needed_for_time_mixing_ops():
    assert frames_needed(q.QTimeToPatch(name="t", r=2), 1, 16) == 8
    assert frames_needed(q.QPatchToTime(name="p", r=2), 5, 4) == 2
    assert frames_needed(q.QMeanT(name="m"), 0, 4) == 4
    assert frames_needed(q.QDense(name="d", weight_mant=np.ones((4, 4)), axis=0), 0, 4) == 4
    assert frames_needed(q.QDense(name="d", weight_mant=np.ones((4, 4)), axis=1), 2, 4) == 3
    assert frames_needed(q.QAdd(name="a"), 3, 1) == 1
