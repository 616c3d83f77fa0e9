"""Every IR op through every stage: each stage's registry handles the op or refuses it with UnsupportedOpError
naming the op, the stage and the node; an op that a stage should handle is there; and an op nobody registered is
refused by every stage's real entry point, never silently defaulted."""

import dataclasses

import numpy as np
import pytest

import spikerain.converter.interchange.netx_io  # noqa: F401  (each import registers its stage)
import spikerain.converter.interchange.onnx_io  # noqa: F401
import spikerain.converter.quantize  # noqa: F401
import spikerain.counting.plan  # noqa: F401
import spikerain.hardware.fastsim.float_kernels  # noqa: F401
import spikerain.hardware.fastsim.int_kernels  # noqa: F401
import spikerain.hardware.kernels.reference  # noqa: F401
import spikerain.hardware.mapping  # noqa: F401
import spikerain.hardware.schedule  # noqa: F401
from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import STAGES
from spikerain.errors import UnsupportedOpError

FLOAT = sorted(op for op in ir.OPS if not op.startswith("q_"))
QUANT = sorted(op for op in ir.OPS if op.startswith("q_"))
#: the bring-your-own ops (converter/frontends/fx_frontend.py)
BYO = {"tensor_input", "maxpool2d", "reshape", "upsample_nearest", "depth_to_space", "neuron"}
#: which ops each stage must handle; every other op it must refuse
EXPECTED = {
    "quantize": set(FLOAT) - {"batchnorm"},  # BatchNorm is folded by a pass first
    "fast simulator (float)": set(FLOAT),
    "ONNX export": set(FLOAT),
    "numpy reference": set(QUANT),
    "fast simulator (integer)": set(QUANT),
    "Lava": set(QUANT),
    "mapping": set(QUANT),
    "energy": set(ir.OPS),
    "netx export": {"q_input", "q_repeat_t", "q_conv2d", "q_dense_synapse", "q_lif", "q_delta", "q_sigma_delta",
                    "q_sigma", "q_output"},
}


def _bare(cls, name="n1"):
    """An instance of ``cls`` for a lookup: only its type and name matter."""
    node = object.__new__(cls)
    object.__setattr__(node, "name", name)
    return node


def test_every_stage_is_walked():
    assert set(STAGES) == set(EXPECTED)


@pytest.mark.parametrize("stage", sorted(EXPECTED))
def test_every_op_is_handled_or_refused_by_name(stage):
    reg = STAGES[stage]
    handled = set()
    for op, cls in sorted(ir.OPS.items()):
        try:
            assert reg.lookup(_bare(cls, f"layer.{op}")) is not None
            handled.add(op)
        except UnsupportedOpError as e:
            assert (e.op, e.stage, e.path) == (op, stage, f"layer.{op}")
            assert repr(op) in str(e) and repr(stage) in str(e) and f"layer.{op}" in str(e)
    assert handled == EXPECTED[stage]


def test_traits_are_declared_by_every_op():
    roles = {"synapse", "neuron", "routing", "elementwise", "host"}
    for op, cls in ir.OPS.items():
        assert cls.role in roles, op
        if cls.role == "synapse":  # a synapse must say its fan-in; the base class refuses to guess
            assert cls.fan_in is not ir.Node.fan_in, op
    # host placement and role agree where the role is host
    assert all(cls.placement == "host" for cls in ir.OPS.values() if cls.role == "host")


def test_bring_your_own_ops_are_registered_with_their_traits():
    """Each op the fx frontend adds is one IR class (float and quantized) whose traits say what it is; the stages
    above find it by that class."""
    traits = {"tensor_input": ("routing", "on-chip"), "maxpool2d": ("host", "host"), "reshape": ("routing", "on-chip"),
              "upsample_nearest": ("routing", "on-chip"), "depth_to_space": ("routing", "on-chip"),
              "neuron": ("neuron", "on-chip")}
    assert set(traits) == BYO
    for op, (role, placement) in traits.items():
        for cls in (ir.OPS[op], ir.OPS[f"q_{op}"]):
            assert (cls.role, cls.placement) == (role, placement), cls.op
    assert q.QMaxPool2d(name="p", kernel=3, stride=2).fan_in() == 9
    assert STAGES["mapping"]["q_maxpool2d"] == "host" and STAGES["mapping"]["q_neuron"] == "population"
    assert STAGES["energy"]["q_neuron"].kind == "neuron" and STAGES["energy"]["maxpool2d"].kind == "static"
    # in Lava: the module input is a source (the host quantizes it), the rest run in Segments
    assert STAGES["Lava"]["q_tensor_input"].kind == "source"
    assert all(STAGES["Lava"][f"q_{op}"].kind == "segment" for op in BYO - {"tensor_input"})
    # the general neuron's state carries every earlier frame: a segment feeds it frames 0..j for output frame j
    assert q.QNeuron(name="n").mixes_time() and q.QNeuron(name="n").frames_needed(2, 4) == 3


def test_dense_synapse_costs_its_real_fan_in_and_weight_bits_consistently_with_energy():
    from spikerain.counting.plan import EnergyPlan
    from spikerain.hardware.constraints import load_constraints
    from spikerain.hardware.mapping import layer_cost

    w = np.arange(-40, 40, dtype=np.int64).reshape(10, 8) * 2
    nodes = [q.QInput(name="x", channels=2, frac=6), q.QRepeatT(name="r", inputs=("x",), T=3, frac=6),
             q.QDenseSynapse(name="d", inputs=("r",), weight_mant=w, num_weight_bits=6, frac=0, bits=24),
             q.QLIF(name="l", inputs=("d",), vth=10), q.QOutput(name="o", inputs=("l",), frac=0, bits=1)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("o",), input_shape=(1, 2, 2, 2)))
    for target in ("loihi1", "loihi2"):
        c = load_constraints(target)
        layer = layer_cost(g.node("d"), g.shapes["d"], c)
        assert (layer.fan_in, layer.neurons, layer.ops_per_step) == (8, 10, 80)
        assert layer.synapse_bits == 10 * 8 * 6  # every synapse, at the layer's own 6-bit weights
    plan = EnergyPlan.build(g)
    assert plan.synapses["d"].flops_per_step == layer.ops_per_step  # the same synaptic work in both stages
    assert plan.synapses["d"].fanmap.tolist() == [[10, 10], [10, 10]]


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class _Novel(ir.Node):
    """An op registered in the IR but in no stage."""

    op = "novel_op_for_test"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class _QNovel(q.QNode):
    op = "q_novel_op_for_test"


@pytest.fixture
def novel_ops():
    ir.register_op(_Novel)
    ir.register_op(_QNovel)
    try:
        yield
    finally:
        del ir.OPS[_Novel.op], ir.OPS[_QNovel.op]


def test_an_op_no_stage_knows_is_refused_by_every_entry_point(novel_ops):
    import torch

    from spikerain.converter.interchange.onnx_io import export_onnx
    from spikerain.converter.quantize import quantize
    from spikerain.counting.plan import EnergyPlan
    from spikerain.hardware.constraints import load_constraints
    from spikerain.hardware.fastsim.float_kernels import run_float
    from spikerain.hardware.fastsim.simulate import simulate
    from spikerain.hardware.kernels.reference import run_reference
    from spikerain.hardware.mapping import map_to_cores
    from spikerain.hardware.schedule import build_schedule

    fg = ir.validate(ir.Graph(nodes=[ir.Input(name="x"), ir.RepeatT(name="r", inputs=("x",)),
                                     _Novel(name="blk.new", inputs=("r",)), ir.Output(name="o", inputs=("blk.new",))],
                              outputs=("o",), input_shape=(1, 3, 4, 4)))
    qg = ir.validate(ir.Graph(nodes=[q.QInput(name="x"), q.QRepeatT(name="r", inputs=("x",)),
                                     _QNovel(name="blk.new", inputs=("r",)), q.QOutput(name="o", inputs=("blk.new",))],
                              outputs=("o",), input_shape=(1, 3, 4, 4)))
    img = np.zeros((1, 3, 4, 4))
    calls = {
        "quantize": lambda: quantize(fg, {}),
        "fast simulator (float)": lambda: run_float(fg, torch.zeros(1, 3, 4, 4)),
        "ONNX export": lambda: export_onnx(fg),
        "numpy reference": lambda: run_reference(qg, img),
        "fast simulator (integer)": lambda: simulate(qg, img),
        "Lava": lambda: build_schedule(qg),
        "mapping": lambda: map_to_cores(qg, load_constraints("loihi2"), (4, 4)),
        "energy": lambda: EnergyPlan.build(qg),
    }
    for stage, call in calls.items():
        with pytest.raises(UnsupportedOpError) as e:
            call()
        assert (e.value.stage, e.value.path) == (stage, "blk.new"), stage
        assert e.value.op in (_Novel.op, _QNovel.op)
