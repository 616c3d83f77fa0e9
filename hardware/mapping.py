"""Mapping a quantized artifact onto Loihi cores: a pure function of the graph, the constraints and a size.

Model (documented in docs/mapping.md):
- every on-chip IR node that computes per element is one population of ``C*H*W`` neurons (one per element and
  step; neurons are reused over time); routing-only nodes (repeat over T, patch/time moves, concat, input,
  output) take no cores;
- synaptic nodes (conv, temporal conv, bilinear x2) also need synapse memory: on Loihi 1 every synapse is
  stored (neurons x fan-in x weight bits); on Loihi 2 a conv kernel is shared, so a core needs the kernel
  slice of the output channels it holds;
- a dense synapse (netx ``dense`` layers) shares nothing: each output has the whole input as fan-in, and every
  synapse is stored with the layer's own weight bits (``num_weight_bits``, as Lava's Dense holds them), plus
  6 delay bits per synapse when it has delays (DelayDense, delays 0..62); a graph with dense synapses has a
  fixed input size (its input shape), whatever size is asked for, and so has an imported netx network;
- a layer is split over ``max(cores by neurons, cores by synapse memory)`` cores; a neuron whose fan-in
  exceeds the input axons of a core cannot be mapped;
- host nodes go to the embedded CPUs; their share of operations is reported;
- timestep latency is bounded by the busiest core: neuron updates plus synaptic operations with every input
  active, plus one barrier synchronisation (latencies from the constraint tables);
- fan-out: layers are tiled spatially in the same order, so a core of a layer sends to the consumer cores that
  hold its spatial block, ceil(consumer cores / its cores) + 1 per consumer (one more for the block border and the
  kernel halo), at most all of them; this must fit the core's output axon routes;
- placement: cores are numbered in layer order and laid out row by row on each chip's mesh; a layer's spikes
  travel the Manhattan distance between its cores' centre and each consumer's (``hops_out``, for the energy
  model);
- steps per image come from the Lava schedule (``hardware/schedule.py``): the pipeline depth plus the
  frames of the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.errors import MappingError
from spikerain.hardware.constraints import CoreConstraints

#: quantized op class -> how it costs cores: "routing" (no cores: the data only moves), "host" (an embedded
#: CPU; operations = outputs x fan-in), "population" (one neuron per element), "synapse" (a population fed by
#: synapses of the op's fan-in, whose weights take synapse memory)
COST: OpRegistry[str] = OpRegistry("mapping", what="core cost model")
for _kind, _classes in (
    ("routing", (q.QInput, q.QOutput, q.QRepeatT, q.QPatchToTime, q.QTimeToPatch, q.QConcat, q.QTensorInput,
                 q.QReshape, q.QUpsampleNearest, q.QDepthToSpace)),
    ("host", (q.QDense, q.QMul, q.QReduce, q.QSigmoid, q.QMeanT, q.QMaxPool2d)),
    ("synapse", (q.QConv2d, q.QTemporalConv, q.QUpsample2x, q.QDenseSynapse)),
    ("population", (q.QLIF, q.QNILIF, q.QAdd, q.QScale, q.QReLU, q.QDelta, q.QSigmaDelta, q.QSigma, q.QNeuron)),
):
    for _cls in _classes:
        COST.add(_cls, _kind)

ROUTING_OPS = {op for op, kind in COST.items() if kind == "routing"}
SYNAPTIC_OPS = {op for op, kind in COST.items() if kind == "synapse"}


@dataclass(frozen=True)
class LayerMapping:
    name: str
    op: str
    placement: str
    cores: int
    neurons: int
    fan_in: int
    synapse_bits: int
    utilisation: float
    ops_per_step: int
    axons_out: int = 0  # output axon routes per core
    hops_out: float = 0.0  # mean mesh hops from this layer to its consumers
    first_core: int = 0


@dataclass(frozen=True)
class Mapping:
    target: str
    size: tuple[int, int]
    padded_size: tuple[int, int]
    layers: list[LayerMapping] = field(default_factory=list)
    cores: int = 0
    chips: int = 0
    host_op_share: float = 0.0
    timestep_latency_ns: float = 0.0
    steps_per_image: int = 0
    image_latency_us: float = 0.0
    #: the Lava graph's stock / custom / host classification (hardware/realisation.py); only on-chip nodes cost cores
    realisation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


DELAY_BITS = 6  # Loihi 2 synaptic delays 0..62 (netx clamps to 62)


def _shape_at(graph: ir.Graph, size: tuple[int, int]) -> tuple[ir.Graph, tuple[int, int]]:
    from spikerain.hardware.sequence import fixed_input

    if fixed_input(graph):  # a dense synapse fixes the input size; netx networks are made for their input shape
        g = graph.with_nodes(graph.nodes)
        return ir.infer_shapes(g), tuple(graph.input_shape[2:])
    m = ir.size_multiple(graph)
    H, W = size
    Hp, Wp = -(-H // m) * m, -(-W // m) * m
    g = graph.with_nodes(graph.nodes, input_shape=(1, graph.input_shape[1], Hp, Wp))
    return ir.infer_shapes(g), (Hp, Wp)


def _weight_bits(n: ir.Node, c: CoreConstraints) -> int:
    """Bits per stored synapse: the op's own weight width where it declares one (netx dense layers), else the
    core's, plus the delay bits of a synapse with delays (DelayDense)."""
    bits = min(c.weight_bits, int(getattr(n, "num_weight_bits", c.weight_bits)))
    delays = getattr(n, "delays", None)
    return bits + (DELAY_BITS if delays is not None and delays.size else 0)


def layer_cost(n: ir.Node, shape, c: CoreConstraints) -> LayerMapping | None:
    """One node's cores, fan-in, synapse memory and operations per step at output ``shape`` [T, C, H, W] (before
    placement); ``None`` for routing-only nodes. A pure function of the node's cost model (:data:`COST`)."""
    neurons = int(shape[1] * shape[2] * shape[3])
    steps = int(shape[0])
    kind = COST.lookup(n)
    if kind == "routing":
        return None
    if kind == "host" or n.placement == "host":  # cores only for what is on-chip
        return LayerMapping(n.name, n.op, "host", 0, 0, 0, 0, 0.0, neurons * steps * n.fan_in())
    synaptic = kind == "synapse"
    # weights are stored once per output channel (a dense synapse: its whole row per output neuron)
    fan_in, per_channel = (n.fan_in(), n.fan_in()) if synaptic else (1, 0)
    weight_bits = _weight_bits(n, c)
    if fan_in > c.input_axons_per_core:
        raise MappingError(n.name, "input axons (fan-in of one neuron)", fan_in, c.input_axons_per_core,
                           fix="split the layer's input channels into several synapse groups, or lower the "
                               "channel count")
    cores = math.ceil(neurons / c.neurons_per_core)
    synapse_bits = 0
    if synaptic:
        if c.conv_weight_sharing:
            channel_bits = per_channel * weight_bits
            if channel_bits > c.synapse_memory_bits_per_core:
                raise MappingError(n.name, "bits of kernel for one output channel", channel_bits,
                                   c.synapse_memory_bits_per_core, fix="reduce the input channels or the kernel")
            per_core = c.synapse_memory_bits_per_core // channel_bits
            cores = max(cores, math.ceil(shape[1] / per_core))
            synapse_bits = shape[1] * channel_bits
        else:
            synapse_bits = neurons * fan_in * weight_bits
            if fan_in * weight_bits > c.synapse_memory_bits_per_core:
                raise MappingError(n.name, "synapse bits for one neuron", fan_in * weight_bits,
                                   c.synapse_memory_bits_per_core, fix="reduce the fan-in")
            cores = max(cores, math.ceil(synapse_bits / c.synapse_memory_bits_per_core))
    ops = neurons * fan_in if synaptic else neurons
    return LayerMapping(n.name, n.op, "on-chip", cores, neurons, fan_in, synapse_bits,
                        neurons / (cores * c.neurons_per_core), ops)


def map_to_cores(graph: ir.Graph, c: CoreConstraints, size: tuple[int, int]) -> Mapping:
    """Map every on-chip node of a quantized ``graph`` for an image of ``size`` (H, W) onto ``c``'s cores."""
    g, padded = _shape_at(graph, size)
    layers: list[LayerMapping] = []
    host_ops = chip_ops = 0
    busiest_ns = 0.0
    lat = c.latency_ns
    for n in g.nodes:
        layer = layer_cost(n, g.shapes[n.name], c)
        if layer is None:
            continue
        layers.append(layer)
        if layer.placement == "host":
            host_ops += layer.ops_per_step
            continue
        chip_ops += layer.ops_per_step * int(g.shapes[n.name][0])
        per_core_ns = ((layer.neurons / layer.cores) * lat["neuron_update"]
                       + (layer.ops_per_step / layer.cores) * lat["synaptic_op"])
        busiest_ns = max(busiest_ns, per_core_ns)
    layers = _place_and_route(g, layers, c)
    cores = sum(layer.cores for layer in layers)
    from spikerain.hardware.realisation import classify
    from spikerain.hardware.schedule import build_schedule

    sched = build_schedule(g)
    steps = sched.steps
    step_ns = busiest_ns + lat["barrier_sync"]
    return Mapping(target=c.name, size=tuple(size), padded_size=padded, layers=layers, cores=cores,
                   chips=math.ceil(cores / c.cores_per_chip), host_op_share=host_ops / max(1, host_ops + chip_ops),
                   timestep_latency_ns=step_ns, steps_per_image=steps, image_latency_us=steps * step_ns / 1000,
                   realisation=classify(g, sched))


MESH_COLUMNS = 16  # Loihi 2: 8 x 16 cores per chip; Loihi 1 is modelled on the same row length


def _consumer_layers(g: ir.Graph, placed: set[str]) -> dict[str, set[str]]:
    """Each node's consumers that hold cores (or run on the host), looking through routing-only nodes."""
    cons = g.consumers()
    memo: dict[str, set[str]] = {}

    def reach(name: str) -> set[str]:
        if name not in memo:
            out: set[str] = set()
            for c in cons.get(name, ()):
                out |= {c} if c in placed else reach(c)
            memo[name] = out
        return memo[name]

    return {n.name: reach(n.name) for n in g.nodes}


def _place_and_route(g: ir.Graph, layers: list[LayerMapping], c: CoreConstraints) -> list[LayerMapping]:
    import dataclasses

    by = {lay.name: lay for lay in layers}
    first, nxt = {}, 0
    for lay in layers:
        first[lay.name] = nxt
        nxt += lay.cores
    cap = c.cores_per_chip

    def centre(name: str) -> tuple[float, float]:
        lay = by[name]
        mid = first[name] + max(lay.cores - 1, 0) / 2
        chip, local = divmod(mid, cap)
        return chip * (cap // MESH_COLUMNS) + local // MESH_COLUMNS, local % MESH_COLUMNS

    consumers = _consumer_layers(g, set(by))
    out = []
    for lay in layers:
        if lay.placement != "on-chip":
            out.append(lay)
            continue
        dests = [d for d in consumers[lay.name] if by[d].placement == "on-chip"]
        axons = sum(min(by[d].cores, math.ceil(by[d].cores / max(1, lay.cores)) + 1) for d in dests)
        if axons > c.output_axons_per_core:
            raise MappingError(lay.name, "output axon routes of one core", axons, c.output_axons_per_core,
                               fix="merge or shrink the consumer layers, or split this layer's outputs")
        y, x = centre(lay.name)
        hops = [abs(y - centre(d)[0]) + abs(x - centre(d)[1]) for d in dests]
        out.append(dataclasses.replace(lay, axons_out=axons, hops_out=sum(hops) / len(hops) if hops else 0.0,
                                       first_core=first[lay.name]))
    return out
