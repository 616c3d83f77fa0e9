"""Partition a quantized graph into Lava processes and compute its lock-step schedule (pure, Lava-free).

Units (one Lava process each):

- ``source``: stock ``io.source.RingBuffer`` sending the quantized image every step from step 1 (which is also
  the repetition over T when that is the image's only use).
- ``conv``: stock ``Conv`` per synapse. A conv whose input is a channel concat of equal-scale values becomes one
  ``Conv`` per concatenated input, holding its slice of the kernel, all summing into one input port.
- ``dense``: stock ``Dense`` or ``DelayDense`` (netx dense layers).
- ``neuron``: stock ``LIFReset`` (reset at the step its first frame arrives), ``Delta``, ``SigmaDelta`` or
  ``Sigma``.
- ``segment``: a spikerain process computing the remaining nodes of one placement: on-chip, one custom process
  per neuron program a chip would need for them (``LavaForm.program``: a conv's requantization, NI-LIF, adds,
  scales, the upsamplings ``Sparse`` does not take, patch/time moves, routing; or all of them in one
  ``ChipSegment`` with ``custom_by_program=False``), and the host segment (``HostSegment``: the ``host`` ops).
  Host and on-chip nodes never share a process (:mod:`spikerain.hardware.realisation` classifies every process
  and counts misplaced nodes).
- ``delta``, ``sigma_delta``, ``sigma``: a ReLU group, the stock chain ``Delta`` -> ``SigmaDelta`` (ReLU) ->
  ``Sigma`` computing the ReLUs one segment sends in one phase (:func:`lowered_relus`), zero latency.
- ``sparse``: stock ``Sparse`` computing one bilinear x2 upsampling (:func:`lowered_upsamplings`), fed by its
  segment with a constant-1 element appended; one step of latency, like ``Conv``.
- ``probe``: one spikerain process counting the spikes of every LIF layer (and the ReLU groups' values) per
  timestep.
- ``sink``: stock ``io.sink.RingBuffer`` holding the output frames.

Time: Lava steps start at 1. ``Conv`` and ``Dense`` send what they computed in the previous step before they
receive (one step of latency each); neurons, segments and the sink receive and act in the same step. Segments
work through the phases of :func:`phases` within a step, which keeps every cycle deadlock-free. A synapse that
keeps Lava's delay in the IR (``delay=1``, netx) adds no frame offset.
A value's frames travel one per step: frame j of value v can be received at step ``avail[v] + j``. A segment
computes frame j of node n at step ``compute[n] + j``, as soon as every input frame it needs has arrived; inputs
that arrive early wait in the segment's buffers (the inserted delays). Ops that mix timesteps (mean over T, the
temporal attention, temporal conv, time-to-patch) wait for the frames they need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spikerain.converter import ir
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.errors import GraphError


@dataclass(frozen=True)
class LavaForm:
    """How the Lava backend realises one quantized op: the unit kind that computes it and, for stock Lava
    processes, the process class (``hardware/lava/network.py`` builds them)."""

    kind: str  # source | neuron | synapse | segment
    process: str  # what the supported-ops page shows
    #: on-chip ops a segment computes (and a conv's requantization): the neuron program a chip would need for
    #: them, one custom process each (``hardware/lava/processes/segment.py`` says what each needs); "" for host
    #: ops and stock realisations
    program: str = ""


#: quantized op class -> its Lava realisation. Segments (ChipSegment on-chip, HostSegment host) run the op's numpy
#: reference kernel.
LAVA: OpRegistry[LavaForm] = OpRegistry("Lava", what="Lava realisation")
LAVA.add(q.QInput, LavaForm("source", "RingBuffer source (host quantizes)"))
LAVA.add(q.QTensorInput, LavaForm("source", "RingBuffer source (host quantizes, one frame per step)"))
LAVA.add(q.QLIF, LavaForm("neuron", "LIFReset"))
LAVA.add(q.QDelta, LavaForm("neuron", "Delta"))
LAVA.add(q.QSigmaDelta, LavaForm("neuron", "SigmaDelta"))
LAVA.add(q.QSigma, LavaForm("neuron", "Sigma"))
LAVA.add(q.QConv2d, LavaForm("synapse", "Conv (+ a custom `requantize` process, unless it is the identity)",
                              program="requantize"))
LAVA.add(q.QDenseSynapse, LavaForm("synapse", "Dense"))
#: on-chip segment ops -> their neuron program (the custom process that computes them)
PROGRAMS = {q.QAdd: "add", q.QScale: "scale", q.QNILIF: "nilif", q.QNeuron: "neuron",
            q.QPatchToTime: "time_move", q.QTimeToPatch: "time_move", q.QTemporalConv: "temporal_conv",
            q.QUpsampleNearest: "upsample", q.QOutput: "route", q.QConcat: "route", q.QRepeatT: "route",
            q.QReshape: "route", q.QDepthToSpace: "route"}
for _cls in (q.QOutput, q.QTemporalConv, q.QDense, q.QNILIF, q.QAdd, q.QMul, q.QScale, q.QConcat,
             q.QReduce, q.QSigmoid, q.QMeanT, q.QRepeatT, q.QPatchToTime, q.QTimeToPatch,
             q.QMaxPool2d, q.QReshape, q.QUpsampleNearest, q.QDepthToSpace, q.QNeuron):
    # never host and on-chip nodes in one process (hardware/realisation.py)
    LAVA.add(_cls, LavaForm("segment", "HostSegment (spikerain, host)") if _cls.placement == "host" else
             LavaForm("segment", f"custom `{PROGRAMS[_cls]}` process (spikerain)", program=PROGRAMS[_cls]))

# a segment-fed ReLU read only by segments: a stock chain (lowered_relus); one feeding a stock process: the segment
LAVA.add(q.QReLU, LavaForm("segment", "Delta -> SigmaDelta (ReLU) -> Sigma (stock); a custom `relu` process "
                                      "where it feeds a stock process", program="relu"))

# bilinear x2 fed by a segment: a stock Sparse (lowered_upsamplings); fed by a stock process: the segment
LAVA.add(q.QUpsample2x, LavaForm("segment", "Sparse (stock); a custom `upsample` process where its input comes "
                                            "from a stock process", program="upsample"))

#: IR ops realised by Lava's stock neuron processes (LIFReset, Delta, SigmaDelta, Sigma)
NEURON_OPS = {op: f.process for op, f in LAVA.items() if f.kind == "neuron"}
#: IR ops realised by Lava's stock synapse processes
SYNAPSE_OPS = {"q_conv2d": "Conv", "q_dense_synapse": "Dense"}
STOCK_CONV = "q_conv2d"


def direct_synapse(node: ir.Node) -> bool:
    """A synapse whose Lava output is the IR value itself (no requantization segment after it)."""
    return node.op == "q_dense_synapse" or (node.op == STOCK_CONV and node.identity_requant)


@dataclass(frozen=True)
class Port:
    """Frames ``0..frames-1`` of ``value`` pass at steps ``start..start+frames-1``."""

    value: str
    start: int
    frames: int


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str  # source | conv | dense | neuron | segment | probe | sink
    placement: str  # on-chip | host
    nodes: tuple[str, ...] = ()  # IR nodes it computes (segment), or the IR node it implements
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    compute: dict[str, int] = field(default_factory=dict)  # segment: node -> step of its frame 0
    channels: tuple[int, int] | None = None  # conv split from a concat: input channel slice of the kernel
    program: str = ""  # an on-chip segment of one neuron program: which (``LavaForm.program``)


@dataclass(frozen=True)
class Schedule:
    units: tuple[Unit, ...]
    avail: dict[str, int]  # value -> step its frame 0 can be received
    frames: dict[str, int]  # value -> number of frames (its T)
    steps: int  # Lava steps per image
    output: str
    split_concats: tuple[str, ...] = ()  # concats expressed as several synapses summing into one port
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # segment node -> values it reads
    lava_shape: dict[str, tuple[int, ...]] = field(default_factory=dict)  # value -> Lava port shape
    host_values: tuple[str, ...] = ()  # values the host computes and sends through the source

    def unit(self, name: str) -> Unit:
        for u in self.units:
            if u.name == name:
                return u
        raise KeyError(name)

    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for u in self.units:
            out[u.kind] = out.get(u.kind, 0) + 1
        return out

    def buffered(self) -> dict[str, int]:
        """Segment inputs that wait: ``unit/value`` -> the most steps a frame waits before it is used."""
        out: dict[str, int] = {}
        for u in self.units:
            if u.kind != "segment":
                continue
            for p in u.inputs:
                waits = [u.compute[n] - p.start for n in u.nodes if p.value in self.reads.get(n, ())]
                if waits and max(waits) > 0:
                    out[f"{u.name}/{p.value}"] = max(waits)
        return out

    def summary(self) -> dict:
        return {"steps": self.steps, "processes": len(self.units), "kinds": self.kinds(),
                "output_step": self.avail[self.output], "split_concats": len(self.split_concats),
                "buffered_inputs": len(self.buffered())}


def acc_value(conv: str) -> str:
    """The pseudo-value carrying a conv's 24-bit accumulator from the ``Conv`` process to its requantization."""
    return conv + "#acc"


def time_mixing(node: ir.Node) -> bool:
    """Whether output frame j needs input frames other than frame j (the op's trait)."""
    return node.mixes_time()


def frames_needed(node: ir.Node, j: int, t_in: int) -> int:
    """How many leading frames of an input (of ``t_in`` frames) output frame ``j`` of ``node`` needs (the op's
    trait, :meth:`~spikerain.converter.ir.Node.frames_needed`)."""
    return node.frames_needed(j, t_in)


def _splittable_concats(g: ir.Graph, stock_out: set[str]) -> set[str]:
    """Concats consumed only by requantized convs, with no rescaling, and fed only by segment-computed values
    (which a segment can hold back to align them); stock outputs cannot be delayed, so concats of them stay in
    segments."""
    cons, by = g.consumers(), g.by_name()
    out = set()
    for n in g.nodes:
        if n.op != "q_concat" or n.name in g.outputs or not cons[n.name]:
            continue
        if not all(by[c].op == STOCK_CONV and not direct_synapse(by[c]) and by[c].delay == 0
                   for c in cons[n.name]):
            continue
        if any(f != n.frac for f in n.fracs) or any(i in stock_out for i in n.inputs):
            continue
        if len(set(n.inputs)) != len(n.inputs):
            continue
        out.add(n.name)
    return out


def host_fed(g: ir.Graph) -> tuple[str, ...]:
    """The input, and its repetition over T when that is the input's only use: the source replays the frame."""
    cons, by = g.consumers(), g.by_name()
    first = g.nodes[0]
    users = cons.get(first.name, [])
    if len(users) == 1 and by[users[0]].op == "q_repeat_t":
        return (first.name, users[0])
    return (first.name,)


#: the segments: on-chip custom nodes (``seg_chip:<program>``, or all in ``seg_chip``) and host nodes never share
#: a process
CHIP_SEGMENT, HOST_SEGMENT = "seg_chip", "seg_host"


def chip_segment(program: str) -> str:
    """The name of the custom on-chip segment of one neuron program."""
    return f"{CHIP_SEGMENT}:{program}"


def segment_program(name: str) -> str:
    """The neuron program of a segment named by :func:`chip_segment` ("" for the host or the one chip segment)."""
    return name.removeprefix(f"{CHIP_SEGMENT}:") if name.startswith(f"{CHIP_SEGMENT}:") else ""


def partition(g: ir.Graph, split_concats: bool = True,
              by_program: bool = True) -> tuple[dict[str, str], set[str]]:
    """Map every segment-computed node to its segment name; returns (node -> segment, split concats).

    Every host node goes to the host segment; every on-chip node that no stock process computes to the custom
    segment of its neuron program (``LavaForm.program``; ``by_program`` False: all to one chip segment), so each
    custom process is one program a chip would need. Segments are zero-latency (they receive, compute and send
    in IR order within a step, phase by phase), so grouping costs no steps; each process costs every Lava step
    its synchronisation, so a process per program, not per node."""
    host = set(host_fed(g))
    stock_out = host | {n.name for n in g.nodes if n.op in NEURON_OPS or direct_synapse(n)}
    split = _splittable_concats(g, stock_out) if split_concats else set()
    seg_of = {n.name: HOST_SEGMENT if n.placement == "host" else
              chip_segment(LAVA.lookup(n).program) if by_program else CHIP_SEGMENT
              for n in g.nodes if n.name not in stock_out and n.name not in split}
    return seg_of, split


#: the stock chain that computes a group of ReLUs (``Delta`` -> ``SigmaDelta`` with ReLU -> ``Sigma``): unit kinds
RELU_KINDS = ("delta", "sigma_delta", "sigma")


def lowered_relus(g: ir.Graph, seg_of: dict[str, str]) -> list[str]:
    """The ReLUs computed by stock graded neurons instead of the chip segment: those whose input a segment
    computes and whose consumers are all segment-computed nodes other than requantized convs (a ``Conv``, a
    ``LIFReset`` or the sink would need the value in its own port shape; a group sends one packed vector).

    Why it is exact: with ``vth`` 0 and both exponents 0, Lava's fixed-point ``Delta`` sends d_t = x_t - x_{t-1}
    (every element, residue 0), ``SigmaDelta`` (ReLU, bias 0) sums it back to x_t and sends
    max(x_t, 0) - max(x_{t-1}, 0), and ``Sigma`` sums that to max(x_t, 0): ``q_relu`` for every step, from any
    stream (a segment sends zeros outside a value's frames), with no clip or rounding anywhere."""
    by, cons = g.by_name(), g.consumers()
    out = []
    for n in g.nodes:
        if n.op != "q_relu" or n.name in g.outputs or n.name not in seg_of:
            continue
        src = n.inputs[0]
        if src not in seg_of or by[src].op == "q_relu":
            continue
        cs = cons[n.name]
        if cs and all(c in seg_of and by[c].op not in ("q_relu", STOCK_CONV) for c in cs):
            out.append(n.name)
    return out


def lowered_upsamplings(g: ir.Graph, seg_of: dict[str, str], split: set[str], relus: list[str]) -> list[str]:
    """The bilinear x2 upsamplings computed by a stock ``Sparse`` instead of the chip segment: those whose input a
    segment computes (it appends the constant-1 element to what it sends), other than a ReLU that goes to a stock
    chain (``relus``: the chain's ``Sigma`` sends one packed vector with no constant element), that are not the
    graph's output and whose consumers are not split concats.

    Why it is exact: ``q_upsample2x`` is ``(W x + 8) >> 4`` with W the separable integer weights 3 x[i] + x[i +- 1]
    per axis (9, 3, 3, 1; up to 16 where the edge clamps); lava-nc 0.10.0's fixed-point ``Sparse``
    (``PySparseModelBitAcc``) sends ``(W' s) >> -weight_exp``, an arithmetic (floor) shift, one step later. With
    ``weight_exp`` -4 and an extra input element held at 1 whose weight is 8 for every output, that is the same
    integer. The weights are non-negative and at most 16, so Lava's excitatory sign mode keeps all 8 bits of them
    (no clipping, no truncation); |W x + 8| < 2**20 for 16-bit inputs, so nothing wraps."""
    cons = g.consumers()
    taken = set(relus)
    out = []
    for n in g.nodes:
        if n.op != "q_upsample2x" or n.name in g.outputs or n.name not in seg_of:
            continue
        src = n.inputs[0]
        if src not in seg_of or src in taken:
            continue
        if any(c in split for c in cons[n.name]):
            continue
        out.append(n.name)
    return out


def _lava_shapes(g: ir.Graph, host: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Conv-domain values travel as (X, Y, C) = (W, H, C); dense outputs, and neurons after them, as (N,)."""
    out: dict[str, tuple[int, ...]] = {}
    for n in g.nodes:
        c, h, w = g.shapes[n.name][1:]
        if n.op == "q_dense_synapse":
            out[n.name] = (c,)
        elif n.op in NEURON_OPS and n.name not in host:
            out[n.name] = out[n.inputs[0]]
        else:
            out[n.name] = (w, h, c)
        if n.op == STOCK_CONV:
            out[acc_value(n.name)] = (w, h, c)
    return out


def build_schedule(g: ir.Graph, *, split_concats: bool = True, lower_relu: bool = True,
                   lower_upsample: bool = True, custom_by_program: bool = True) -> Schedule:
    """Partition ``g`` (shapes inferred for the crop) into Lava units and compute every value's timing.

    ``lower_relu``: ReLUs go to stock ``Delta`` -> ``SigmaDelta`` -> ``Sigma`` chains (:func:`lowered_relus`),
    one chain per producing segment and phase (a stock process receives once per step), instead of the chip
    segment. ``lower_upsample``: bilinear x2 upsamplings go to stock ``Sparse`` processes
    (:func:`lowered_upsamplings`), one per upsampling. ``custom_by_program``: one custom on-chip segment per
    neuron program (:func:`partition`), else one for all."""
    s = _build(g, split_concats, lower_relu, None, lower_upsample, custom_by_program)
    relus = [n for u in s.units if u.kind == "sigma" for n in u.nodes]
    if not relus:
        return s
    # group by (producing segment, phase): the phases do not depend on the grouping
    e = phases(g, s)
    by = g.by_name()
    seg_of = {n: u.name for u in s.units if u.kind == "segment" for n in u.nodes}
    groups = {r: f"relu:{seg_of[by[r].inputs[0]]}:{e[by[r].inputs[0]]}" for r in relus}
    return _build(g, split_concats, lower_relu, groups, lower_upsample, custom_by_program)


def _build(g: ir.Graph, split_concats: bool, lower_relu: bool, groups: dict[str, str] | None,
           lower_upsample: bool = True, custom_by_program: bool = True) -> Schedule:
    if not g.shapes:
        ir.infer_shapes(g)
    for n in g.nodes:
        LAVA.lookup(n)  # refuses an op the backend cannot realise, naming it
    by = g.by_name()
    if len(g.outputs) != 1:
        raise GraphError(f"the Lava backend runs graphs with one output; this one has {len(g.outputs)}")
    host = host_fed(g)
    seg_of, split = partition(g, split_concats, custom_by_program)
    relus = lowered_relus(g, seg_of) if lower_relu else []
    ups = set(lowered_upsamplings(g, seg_of, split, relus)) if lower_upsample else set()
    for u in ups:
        del seg_of[u]
    if ups and lower_relu:  # a ReLU read by a Sparse now feeds a stock process: it stays in its segment
        relus = lowered_relus(g, seg_of)
    for r in relus:
        del seg_of[r]
    if groups is None:
        groups = {r: f"relu:{r}" for r in relus}
    T = {n.name: g.shapes[n.name][0] for n in g.nodes}
    avail: dict[str, int] = {}
    compute: dict[str, int] = {}
    inputs_of: dict[str, tuple[str, ...]] = {}  # segment node -> values it reads (acc for convs)
    conv_inputs: dict[str, list[tuple[str, tuple[int, int] | None]]] = {}

    for n in g.nodes:
        if n.name in host:
            avail[n.name] = 1
            continue
        if n.name in split:
            continue
        if n.op in NEURON_OPS or n.name in groups:
            avail[n.name] = avail[n.inputs[0]]
            continue
        if n.op in SYNAPSE_OPS and getattr(n, "delay", 0) and avail[n.inputs[0]] != 1:
            raise GraphError(f"{n.name} keeps Lava's synapse delay but its input starts at step "
                             f"{avail[n.inputs[0]]}; the Lava backend supports delayed synapses in chains fed "
                             "from the input (netx networks)", fix="re-import the network without delays")
        if direct_synapse(n):
            avail[n.name] = avail[n.inputs[0]] + 1 - n.delay
            continue
        if n.name in ups:  # a stock Sparse: sends what it received one step later
            avail[n.name] = avail[n.inputs[0]] + 1
            continue
        if n.op == "q_dense_synapse":
            raise GraphError(f"{n.name}: dense synapses feed Lava neurons directly", fix="report this graph")
        if n.op == STOCK_CONV:
            if n.delay:
                raise GraphError(f"{n.name}: a delayed conv with requantization has no Lava form",
                                 fix="import the network without the requantization")
            src = n.inputs[0]
            if src in split:
                cat = by[src]
                start = max(avail[i] for i in cat.inputs)
                lo = 0
                parts = []
                for i in cat.inputs:
                    c = g.shapes[i][1]
                    parts.append((i, (lo, lo + c)))
                    lo += c
                conv_inputs[n.name] = parts
                avail[acc_value(n.name)] = start + 1
            else:
                conv_inputs[n.name] = [(src, None)]
                avail[acc_value(n.name)] = avail[src] + 1
            reads = (acc_value(n.name),)
            compute[n.name] = avail[acc_value(n.name)]
        else:
            reads = n.inputs
            c = 0
            for j in range(T[n.name]):
                for i in reads:
                    need = frames_needed(n, j, T[i])
                    c = max(c, avail[i] + need - 1 - j)
            compute[n.name] = c
        inputs_of[n.name] = reads
        avail[n.name] = compute[n.name]  # segments are zero-latency
    for a in list(avail):
        if a.endswith("#acc"):
            T[a] = T[a[:-4]]
    # concat inputs wait in their segment until all parts can go out together
    emit: dict[tuple[str, str], int] = {}  # (value, consumer unit) -> start step of its port
    for conv, parts in conv_inputs.items():
        start = avail[acc_value(conv)] - 1
        for value, _ in parts:
            emit[(value, f"conv:{conv}" + (f"/{value}" if len(parts) > 1 else ""))] = start

    src_value = host[-1]
    units: list[Unit] = [Unit("source", "source", "host", nodes=host, outputs=(Port(src_value, 1, T[src_value]),))]
    seg_nodes: dict[str, list[str]] = {}
    for n in g.nodes:
        if n.name in seg_of:
            seg_nodes.setdefault(seg_of[n.name], []).append(n.name)
    probed: list[str] = []
    for n in g.nodes:
        if n.op == STOCK_CONV and not direct_synapse(n):
            for value, ch in conv_inputs[n.name]:
                uname = f"conv:{n.name}" + (f"/{value}" if ch is not None else "")
                start = emit[(value, uname)]
                units.append(Unit(uname, "conv", "on-chip", nodes=(n.name,), inputs=(Port(value, start, T[value]),),
                                  outputs=(Port(acc_value(n.name), start + 1, T[n.name]),), channels=ch))
        elif n.op in SYNAPSE_OPS and n.name not in host:
            kind = "conv" if n.op == STOCK_CONV else "dense"
            src = n.inputs[0]
            units.append(Unit(f"{kind}:{n.name}", kind, "on-chip", nodes=(n.name,),
                              inputs=(Port(src, avail[src], T[src]),),
                              outputs=(Port(n.name, avail[n.name], T[n.name]),)))
            probed.append(n.name)
        elif n.name in ups:
            src = n.inputs[0]
            units.append(Unit(f"sparse:{n.name}", "sparse", "on-chip", nodes=(n.name,),
                              inputs=(Port(src, avail[src], T[src]),),
                              outputs=(Port(n.name, avail[n.name], T[n.name]),)))
            probed.append(n.name)
        elif n.op in NEURON_OPS and n.name not in host:
            units.append(Unit(f"neuron:{n.name}", "neuron", "on-chip", nodes=(n.name,),
                              inputs=(Port(n.inputs[0], avail[n.name], T[n.name]),),
                              outputs=(Port(n.name, avail[n.name], T[n.name]),)))
            probed.append(n.name)
    members: dict[str, list[str]] = {}
    for n in g.nodes:
        if n.name in groups:
            members.setdefault(groups[n.name], []).append(n.name)
            probed.append(n.name)
    for grp, names in members.items():
        ins = tuple(Port(by[r].inputs[0], avail[r], T[r]) for r in names)
        outs = tuple(Port(r, avail[r], T[r]) for r in names)
        units.append(Unit(f"{grp}/delta", "delta", "on-chip", nodes=tuple(names), inputs=ins))
        units.append(Unit(f"{grp}/sigma_delta", "sigma_delta", "on-chip", nodes=tuple(names)))
        units.append(Unit(f"{grp}/sigma", "sigma", "on-chip", nodes=tuple(names), outputs=outs))
    consumers_outside: dict[str, set[str]] = {}
    for u in units:
        for p in u.inputs:
            consumers_outside.setdefault(p.value, set()).add(u.name)
    for seg, names in seg_nodes.items():
        for name in names:
            for i in inputs_of[name]:
                if seg_of.get(i) != seg:
                    consumers_outside.setdefault(i, set()).add(seg)
    out_name = g.outputs[0]
    consumers_outside.setdefault(out_name, set()).add("sink")
    for seg, names in seg_nodes.items():
        ins = []
        seen = set()
        for name in names:
            for i in inputs_of[name]:
                if seg_of.get(i) != seg and i not in seen:
                    seen.add(i)
                    ins.append(Port(i, avail[i], T[i]))
        outs = []
        for name in names:
            starts = {emit.get((name, c), avail[name]) for c in consumers_outside.get(name, ()) if c != seg}
            outs += [Port(name, start, T[name]) for start in sorted(starts)]
        placement = "host" if seg == HOST_SEGMENT else "on-chip"
        units.append(Unit(seg, "segment", placement, nodes=tuple(names), inputs=tuple(ins), outputs=tuple(outs),
                          compute={k: compute[k] for k in names},
                          program=segment_program(seg)))
    if probed:
        units.append(Unit("probe", "probe", "host", inputs=tuple(Port(v, avail[v], T[v]) for v in probed)))
    units.append(Unit("sink", "sink", "host", nodes=(out_name,), inputs=(Port(out_name, avail[out_name],
                                                                            T[out_name]),)))
    steps = avail[out_name] + T[out_name] - 1
    return Schedule(units=tuple(units), avail=avail, frames=dict(T), steps=steps, output=out_name,
                    split_concats=tuple(sorted(split)), reads=inputs_of, lava_shape=_lava_shapes(g, host),
                    host_values=host)


def latency_table(g: ir.Graph, s: Schedule) -> list[dict]:
    """Per IR node: its unit, the step its first frame is available, its frames, and its buffered inputs."""
    unit_of = {}
    for u in s.units:
        for n in u.nodes:
            unit_of.setdefault(n, u.name)
    rows = []
    for n in g.nodes:
        rows.append({"node": n.name, "op": n.op, "unit": unit_of.get(n.name, "(synapses)"),
                     "first_step": s.avail.get(n.name), "frames": s.frames.get(n.name)})
    return rows


def phases(g: ir.Graph, s: Schedule) -> dict[str, int]:
    """Within one Lava step, the phase in which each value is sent (-1: sent before anything is received).

    A segment works through phases 0, 1, ...: in phase p it receives the values sent in phase p - 1 (by itself
    through another process, or by another segment), computes the nodes of phase p and sends them. ``Conv``,
    ``Dense``, ``Sparse`` and the source send first (-1); a stock neuron receives and sends at once, so its value
    keeps its input's phase. A node's phase is the latest phase at which one of its inputs is usable in its
    segment. Every process acts in (phase, receive < compute < send) order, so all segment-to-segment traffic of
    one phase can travel in one message (``hardware/lava/network.py`` packs it) without a deadlock."""
    unit_of: dict[str, Unit] = {}
    for u in s.units:
        if u.kind == "segment":
            for n in u.nodes:
                unit_of[n] = u
    for u in s.units:
        for p in u.outputs:
            unit_of.setdefault(p.value, u)
    e: dict[str, int] = {}
    for n in g.nodes:
        if n.name in s.split_concats:
            continue
        if n.name in s.host_values:
            e[n.name] = -1
            continue
        u = unit_of[n.name]
        if u.kind in ("source", "conv", "dense", "sparse"):
            e[n.name] = -1
        elif u.kind in ("neuron", "sigma"):
            e[n.name] = e[n.inputs[0]]
        else:
            ph = 0
            for i in s.reads[n.name]:
                if i.endswith("#acc"):
                    continue  # from a Conv: sent first
                ph = max(ph, e[i] if unit_of[i] is u else e[i] + 1)
            e[n.name] = ph
        if n.op == STOCK_CONV:
            e[acc_value(n.name)] = -1
    return e


def tile_period(g: ir.Graph, s: Schedule) -> int:
    """Steps between the starts of consecutive tiles when tiles run pipelined (``hardware/lava/network.py``).

    Every unit sees a tile as a window of at most ``max(frames)`` steps at a fixed offset from the tile's start
    (its inputs' ports and its own frames), so tile k + 1 can enter the graph that many steps after tile k while
    tile k is still deeper in it: each segment keys what it holds by tile, each LIF resets at its window's first
    step of every tile (so the period is a multiple of every LIF's own reset interval), stock synapses carry
    nothing from one window to the next (a ``Conv``'s one-step buffer is latency), and a ReLU chain's output
    telescopes to ``max(x, 0)`` of its current input whatever it saw before. An image of N tiles then takes
    ``steps + (N - 1) * period`` steps instead of ``N * steps``."""
    span = max([s.frames[v] for v in s.frames] + [p.frames for u in s.units for p in (*u.inputs, *u.outputs)])
    period = 1
    for n in g.nodes:
        if getattr(n, "reset_interval", 0):
            period = math.lcm(period, int(n.reset_interval))
    return period * math.ceil(span / period)
