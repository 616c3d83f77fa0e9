"""What to count for each value of a graph, one frame at a time (torch-free; shared by every activity source).

A source (PyTorch forward hooks, the fast simulator, a Lava run) hands every value it produces, frame by frame,
to :meth:`EnergyPlan.count_frame`. From one frame of a value the plan derives:

- for each synaptic layer that reads it: the input events, the exact synaptic operations (each event's fan-out,
  honouring padding, stride and borders), the papers' rate x FLOPs approximation, and the dense MACs;
- for each neuron layer that reads it: the active neuron updates (neurons with non-zero input);
- if the value is a neuron's output: its spikes (non-zero outputs) and updates (all neurons).

Counts are per input timestep. The same activity gives the same counts whatever produced it, because this is the
only place counting happens. Ops that are neither synapses nor neurons get static counts from their shapes
(:meth:`EnergyPlan.static_counts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.converter.ir.synapse import pair
from spikerain.counting.fanout import axis_fanout, upsample2x_axis_fanout


@dataclass(frozen=True)
class Counted:
    """How an op is counted: "synapse" (events x fan-out, with the geometry giving the fan-out map and dense
    MACs), "neuron" (updates, active neurons, spikes), "routing" (nothing: data only moves) or "static" (one
    operation per output, or per input for reductions, from shapes alone)."""

    kind: str
    geometry: Callable | None = None  # synapses: (node, in_shape, out_shape) -> (fan-out map [H, W], dense MACs)


#: op class (float and quantized) -> how the energy plan counts it
COUNTING: OpRegistry[Counted] = OpRegistry("energy", what="energy counting rule")
FIELDS = ("events", "exact_sops", "rate_flops", "dense_macs")


def base_op(op: str) -> str:
    return op[2:] if op.startswith("q_") else op


@dataclass(frozen=True)
class Synapse:
    layer: str
    op: str
    placement: str
    fanmap: np.ndarray  # [H, W] fan-out of one event at each input position (output channels folded in)
    flops_per_step: int  # dense MACs per input frame
    elements_per_step: int  # input elements per frame
    frames: int
    binary: bool  # its input carries binary spikes (accumulate-only)
    analog: bool  # its input is real-valued data not produced by any neuron (first layer; after the mean over T)


@dataclass
class EnergyPlan:
    graph: ir.Graph
    synapses: dict[str, Synapse] = field(default_factory=dict)
    readers: dict[str, list[str]] = field(default_factory=dict)  # value -> synaptic layers reading it
    neuron_readers: dict[str, list[str]] = field(default_factory=dict)  # value -> neurons reading it
    neurons: dict[str, int] = field(default_factory=dict)  # neuron layer -> elements per step
    frames: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, graph: ir.Graph) -> EnergyPlan:
        if not graph.shapes:
            ir.infer_shapes(graph)
        p = cls(graph=graph)
        by, shapes = graph.by_name(), graph.shapes
        analog = _analog_values(graph)
        p.frames = {k: v[0] for k, v in shapes.items()}
        for n in graph.nodes:
            counted = COUNTING.lookup(n)
            if counted.kind == "neuron":
                p.neurons[n.name] = int(np.prod(shapes[n.name][1:]))
                p.neuron_readers.setdefault(n.inputs[0], []).append(n.name)
            if counted.kind != "synapse":
                continue
            src = n.inputs[0]
            T, C, H, W = shapes[src]
            fanmap, flops = counted.geometry(n, shapes[src], shapes[n.name])
            binary = _binary_value(by, src)
            p.synapses[n.name] = Synapse(n.name, n.op, n.placement, fanmap, flops, C * H * W, T, binary,
                                         src in analog)
            for part in _parts(by, src):
                p.readers.setdefault(part, []).append(n.name)
        return p

    def count_frame(self, value: str, t: int, frame: np.ndarray, acc: Accumulator) -> None:
        """``frame``: one frame ``[C, H, W]`` (or with a leading batch axis of 1) of ``value``."""
        f = np.asarray(frame)
        if f.ndim == 4:
            f = f[0]
        readers = self.readers.get(value, ())
        if not readers and value not in self.neuron_readers and value not in self.neurons:
            return
        nz = f != 0
        events = int(nz.sum())
        per_pos = nz.sum(axis=0) if readers else None
        for layer in readers:
            acc.add(layer, "events", t, events)
            acc.add(layer, "exact_sops", t, int((per_pos * self.synapses[layer].fanmap).sum()))
        for neuron in self.neuron_readers.get(value, ()):
            acc.add(neuron, "active", t, events)
        if value in self.neurons:
            acc.add(value, "spikes", t, events)

    def slots(self, values) -> list[tuple[str, str]]:
        """The (record, field) pairs that frames of ``values`` contribute to (a Lava process's counter rows)."""
        out = []
        for v in values:
            for layer in self.readers.get(v, ()):
                out += [(layer, "events"), (layer, "exact_sops")]
            out += [(n, "active") for n in self.neuron_readers.get(v, ())]
            if v in self.neurons:
                out.append((v, "spikes"))
        return out

    def finish(self, acc: Accumulator) -> dict:
        """The counts record: synaptic layers, neurons, host and other ops (JSON-ready)."""
        shapes = self.graph.shapes
        syn = {}
        for name, s in self.synapses.items():
            events = acc.get(name, "events", s.frames)
            exact = acc.get(name, "exact_sops", s.frames)
            rate = [e / s.elements_per_step * s.flops_per_step for e in events]
            syn[name] = {"op": base_op(s.op), "placement": s.placement, "binary": s.binary, "analog": s.analog,
                         "events": events, "exact_sops": exact, "rate_flops": rate,
                         "dense_macs": [s.flops_per_step] * s.frames, "elements_per_step": s.elements_per_step}
        neurons = {}
        for name, elements in self.neurons.items():
            T = self.frames[name]
            neurons[name] = {"op": base_op(self.graph.node(name).op), "updates": [elements] * T,
                             "active": acc.get(name, "active", T), "spikes": acc.get(name, "spikes", T),
                             "elements_per_step": elements}
        host, other = {}, {}
        for n in self.graph.nodes:
            op = base_op(n.op)
            if COUNTING.lookup(n).kind != "static":
                continue
            out = int(np.prod(shapes[n.name]))
            ins = sum(int(np.prod(shapes[i])) for i in n.inputs)
            ops = ins if op in ("reduce", "mean_t") else out * n.fan_in()  # max pooling: a window per output
            (host if n.placement == "host" else other)[n.name] = {"op": op, "ops": ops}
        return {"synapses": syn, "neurons": neurons, "host": host, "other": other}


class Accumulator:
    """Sums of (record, field, timestep) contributions; plain dicts, so any source can fill it."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], dict[int, int]] = {}

    def add(self, record: str, field_: str, t: int, amount: int) -> None:
        d = self.data.setdefault((record, field_), {})
        d[t] = d.get(t, 0) + amount

    def get(self, record: str, field_: str, frames: int) -> list[int]:
        d = self.data.get((record, field_), {})
        return [int(d.get(t, 0)) for t in range(frames)]

    def load(self, slots: list[tuple[str, str]], table) -> None:
        """Add a counter table (rows = ``slots``, columns = timesteps), as a Lava process returns it."""
        for row, key in enumerate(slots):
            for t, v in enumerate(table[row]):
                if v:
                    self.add(*key, t, int(v))

    def merge(self, other: Accumulator) -> None:
        for (r, f), d in other.data.items():
            for t, v in d.items():
                self.add(r, f, t, v)


def _binary_value(by: dict, value: str) -> bool:
    n = by[value]
    if n.op.startswith("q_"):
        return getattr(n, "bits", 16) == 1
    return base_op(n.op) == "lif"  # float graphs: LIF outputs are 0/1 spikes


def _parts(by: dict, value: str) -> list[str]:
    """A channel concat of equally scaled values is transparent: its readers read its parts (so a Lava run, where
    such a concat is only a set of synapses, counts the same)."""
    n = by[value]
    if n.op == "q_concat" and all(f == n.frac for f in n.fracs):
        return [p for i in n.inputs for p in _parts(by, i)]
    return [value]


def _analog_values(g: ir.Graph) -> set[str]:
    """Values computed from the image (or from the mean over T) without passing a neuron."""
    analog: set[str] = set()
    for n in g.nodes:
        op = base_op(n.op)
        if op == "input" or op == "mean_t":
            analog.add(n.name)
        elif op not in NEURONS and n.inputs and all(i in analog for i in n.inputs):
            analog.add(n.name)
    return analog


def _conv_geometry(n, in_shape, out_shape) -> tuple[np.ndarray, int]:
    T, C, H, W = in_shape
    co, ci, kh, kw = n.weight.shape
    (sh, sw), (ph, pw) = pair(n.stride), pair(n.padding)
    fan = co * np.outer(axis_fanout(H, kh, sh, ph), axis_fanout(W, kw, sw, pw))
    return fan, co * out_shape[2] * out_shape[3] * ci * kh * kw


def _upsample_geometry(n, in_shape, out_shape) -> tuple[np.ndarray, int]:
    T, C, H, W = in_shape
    fan = np.outer(upsample2x_axis_fanout(H), upsample2x_axis_fanout(W))
    return fan, int(C * fan.sum())


def _temporal_geometry(n, in_shape, out_shape) -> tuple[np.ndarray, int]:
    T, C, H, W = in_shape
    co = n.weight.shape[0]
    return np.full((H, W), co), co * C * H * W


def _dense_geometry(n, in_shape, out_shape) -> tuple[np.ndarray, int]:
    T, C, H, W = in_shape
    w = n.weight  # dense [out, in]: every event reaches every output
    return np.full((H, W), w.shape[0]), int(w.shape[0] * C * H * W)


for _classes, _counted in (
    ((ir.Conv2d, q.QConv2d), Counted("synapse", _conv_geometry)),
    ((ir.Upsample2x, q.QUpsample2x), Counted("synapse", _upsample_geometry)),
    ((ir.TemporalConv, q.QTemporalConv), Counted("synapse", _temporal_geometry)),
    ((ir.Dense, q.QDense, q.QDenseSynapse), Counted("synapse", _dense_geometry)),
    ((ir.LIF, ir.NILIF, ir.Neuron, q.QLIF, q.QNILIF, q.QDelta, q.QSigmaDelta, q.QSigma, q.QNeuron), Counted("neuron")),
    ((ir.Input, ir.Output, ir.RepeatT, ir.PatchToTime, ir.TimeToPatch, ir.Concat, q.QInput, q.QOutput, q.QRepeatT,
      q.QPatchToTime, q.QTimeToPatch, q.QConcat, ir.TensorInput, ir.Reshape, ir.Upsample, ir.DepthToSpace,
      q.QTensorInput, q.QReshape, q.QUpsampleNearest, q.QDepthToSpace), Counted("routing")),
    ((ir.Add, ir.Sub, ir.Mul, ir.Scale, ir.ReLU, ir.BatchNorm, ir.Reduce, ir.Sigmoid, ir.MeanT, q.QAdd, q.QMul,
      q.QScale, q.QReLU, q.QReduce, q.QSigmoid, q.QMeanT, ir.MaxPool2d, q.QMaxPool2d), Counted("static")),
):
    for _cls in _classes:
        COUNTING.add(_cls, _counted)


def _kind_ops(kind: str) -> set[str]:
    return {base_op(op) for op, c in COUNTING.items() if c.kind == kind}


SYNAPSES = _kind_ops("synapse")
NEURONS = _kind_ops("neuron")
ROUTING = _kind_ops("routing")
HOST = {"reduce", "sigmoid", "mul", "mean_t", "maxpool2d"}  # static ops that run on the host (by placement)


def add_records(a: dict | None, b: dict) -> dict:
    """Sum two counts records of the same graph (tiles of one image)."""
    import copy

    if a is None:
        return copy.deepcopy(b)
    out = copy.deepcopy(a)
    for section in ("synapses", "neurons"):
        for name, rec in b[section].items():
            o = out[section][name]
            for k, v in rec.items():
                if isinstance(v, list):
                    o[k] = [x + y for x, y in zip(o[k], v, strict=True)]
                elif k == "elements_per_step":
                    o[k] += v
    for section in ("host", "other", "thop"):
        for name, rec in b.get(section, {}).items():
            out[section][name]["ops"] += rec["ops"]
    return out
