"""Build and run the Lava process graph of a quantized artifact (runs in the Lava interpreter; torch-free).

:func:`build_network` turns a :class:`~spikerain.hardware.schedule.Schedule` into Lava processes: stock
``io.source.RingBuffer``, ``Conv``, ``Sparse`` (bilinear x2), ``LIFReset``, the ReLU chains and
``io.sink.RingBuffer``, a spikerain ``ChipSegment`` for
the other on-chip nodes, a ``HostSegment`` for the host ops and an ``ActivityProbe``. :func:`run_network` runs it
with ``Loihi2SimCfg(select_tag='fixed_pt')`` (as ``wakeup.RecheckingSimCfg``) or ``Loihi2HwCfg``, reads the output
frames from the sink and every layer's non-zero count per timestep from the segments, and stops the runtime only
when the run succeeded (``docs/sources.md`` §3.3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.synapse import pair
from spikerain.errors import UnsupportedOpError
from spikerain.hardware.kernels.reference import reference_kernel
from spikerain.hardware.lava import profile
from spikerain.hardware.schedule import HOST_SEGMENT, Schedule, build_schedule, phases, tile_period

CONV_MODELS = ("vectorised", "stock")
#: how many process graphs this interpreter built and how many Lava runtimes it compiled: a tiled run builds and
#: compiles once for all its tiles (the runner reports both; tests/lava/test_tiles.py checks them)
COUNTERS = {"graph_builds": 0, "runtime_compiles": 0}


@dataclass
class LavaNetwork:
    graph: ir.Graph
    schedule: Schedule
    procs: dict = field(default_factory=dict)  # unit name -> Lava process
    model_map: dict = field(default_factory=dict)  # process -> ProcessModel class
    input_q: np.ndarray | None = None  # [C, H, W], or [T, C, H, W] for a time-varying input
    energy: object = None  # EnergyPlan, when energy counts are wanted
    monitors: dict = field(default_factory=dict)  # LIF layer -> {"s"|"u"|"v": Monitor}, when recording
    plans: dict = field(default_factory=dict)  # segment or probe unit -> its SegmentPlan
    tiles: list = field(default_factory=list)  # quantized [C, H, W] frames of the tiles it runs (static images)
    period: int = 0  # steps between consecutive tiles' starts (the schedule's steps for one image)


def segment_wiring(g: ir.Graph, s: Schedule) -> dict[str, tuple[list, list]]:
    """Segment (and probe) unit -> its input and output ports as ``BundlePlan``s. Values to or from stock
    processes keep a port each; everything one segment sends another in one phase (:func:`schedule.phases`) is
    one packed port: VLIF-Net's chip and host segments exchange 479 values per step in 37 messages. What a
    segment sends a ReLU group is one packed port in the group's order; the group's ``Sigma`` sends its packed
    values to every segment (and the probe) that reads one of them."""
    from spikerain.hardware.lava.processes.segment import BundlePlan, PortPlan

    e = phases(g, s)
    segs = {u.name for u in s.units if u.kind == "segment"}
    deltas = {u.name: u for u in s.units if u.kind == "delta"}
    sparses = {u.name for u in s.units if u.kind == "sparse"}
    sigmas = {u.name: u for u in s.units if u.kind == "sigma"}
    producer = {(p.value, p.start): u.name for u in s.units for p in u.outputs}
    consumers: dict[tuple[str, int], list[str]] = {}
    for u in s.units:
        for p in u.inputs:
            consumers.setdefault((p.value, p.start), []).append(u.name)
    pos = {n.name: k for k, n in enumerate(g.nodes)}

    def part(p):
        return PortPlan(p.value, p.start, p.frames, s.lava_shape[p.value])

    packs: dict[tuple, list] = {}
    wiring: dict[str, tuple[list, list]] = {u.name: ([], []) for u in s.units if u.kind in ("segment", "probe")}
    for u in s.units:
        if u.name not in segs:
            continue
        fed = set()
        for p in u.outputs:
            key = (p.value, p.start)
            if any(c not in segs and c not in deltas and c not in sparses for c in consumers.get(key, ())):
                wiring[u.name][1].append(BundlePlan(("v", *key), (part(p),)))
            for c in consumers.get(key, ()):
                if c in sparses:  # a stock Sparse's input: the value, then the constant 1 its rounding weight reads
                    wiring[u.name][1].append(BundlePlan(("s", u.name, c, e[p.value]), (part(p),), packed=True,
                                                        ones=1))
                elif c in segs:
                    packs.setdefault(("b", u.name, c, e[p.value]), []).append(p)
                elif c in deltas and c not in fed:  # a ReLU group's inputs: one packed message, the group's order
                    fed.add(c)
                    d = deltas[c]
                    wiring[u.name][1].append(BundlePlan(("g", u.name, c, e[d.inputs[0].value]),
                                                        tuple(part(q) for q in d.inputs), packed=True))
    for key, ports in sorted(packs.items(), key=lambda kv: (kv[0][3], kv[0][1], kv[0][2])):
        b = BundlePlan(key, tuple(part(p) for p in sorted(ports, key=lambda p: pos[p.value])), packed=True)
        wiring[key[1]][1].append(b)
        wiring[key[2]][0].append(b)
    for u in s.units:
        if u.name in wiring:
            got = set()
            for p in u.inputs:
                src = producer[(p.value, p.start)]
                if src in sigmas:  # a ReLU group's values: its Sigma's whole packed vector
                    if src not in got:
                        got.add(src)
                        g_u = sigmas[src]
                        wiring[u.name][0].append(BundlePlan(("g", src, u.name, e[g_u.outputs[0].value]),
                                                            tuple(part(q) for q in g_u.outputs), packed=True))
                elif src not in segs:
                    wiring[u.name][0].append(BundlePlan(("v", p.value, p.start), (part(p),)))
    return wiring


def _bundle_phase(b, e: dict, receive: bool) -> int:
    if b.packed:
        return b.key[3] + (1 if receive else 0)
    return e[b.parts[0].value] + (1 if receive else 0)


def _segment_plan(g: ir.Graph, s: Schedule, unit, wiring, fail_at: int = 0, energy=None, period: int = 0,
                  tiles: int = 1):
    from spikerain.hardware.lava.processes.segment import SegmentPlan

    by = g.by_name()
    frames = dict(s.frames)
    last: dict[str, int] = {}
    for n in unit.nodes:
        for v in s.reads.get(n, ()):
            last[v] = max(last.get(v, 0), unit.compute[n] + frames[n] - 1)
    for p in unit.outputs:
        last[p.value] = max(last.get(p.value, 0), p.start + p.frames - 1)
    counted = unit.nodes if unit.kind == "segment" else tuple(p.value for p in unit.inputs)
    # one step's actions by phase: receive what earlier phases sent, compute this phase's nodes (topologically),
    # send them (schedule.phases)
    ins, outs = wiring[unit.name]
    e = phases(g, s)
    pos = {n.name: k for k, n in enumerate(g.nodes)}
    actions = [((_bundle_phase(b, e, True), 0, k), 0, k) for k, b in enumerate(ins)]
    actions += [((e[n], 1, pos[n]), 1, k) for k, n in enumerate(unit.nodes)]
    actions += [((_bundle_phase(b, e, False), 2, k), 2, k) for k, b in enumerate(outs)]
    program = tuple((a, k) for _, a, k in sorted(actions))
    return SegmentPlan(nodes=tuple(by[n] for n in unit.nodes), compute=dict(unit.compute), frames=frames,
                       reads={n: s.reads[n] for n in unit.nodes}, inputs=tuple(ins), outputs=tuple(outs),
                       counted=tuple(counted), last_use=last, fail_at=fail_at, energy_plan=energy, name=unit.name,
                       period=period or s.steps, tiles=tiles,
                       energy_slots=tuple(energy.slots(counted)) if energy is not None else (), program=program)


def lava_conv_weight(w_ir: np.ndarray) -> np.ndarray:
    """PyTorch cross-correlation kernel ``[Co, Ci, kh, kw]`` -> Lava's true-convolution ``(Co, kx, ky, Ci)``."""
    return np.ascontiguousarray(np.asarray(w_ir)[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)).astype(np.int32)


def build_network(graph: ir.Graph, image: np.ndarray, *, conv_model: str = "vectorised",
                  schedule: Schedule | None = None, fail_at: int = 0, energy=None,
                  record: bool = False, tiles: list[np.ndarray] | None = None) -> LavaNetwork:
    """``graph``: quantized, shapes inferred for the image; ``image``: float ``[C, H, W]`` in [0, 1], or a
    sequence ``[T, C, H, W]`` (the graph running T steps), which the source sends one frame per step into the
    first neuron or synapse, as netx feeds a RingBuffer into ``net.inp``. ``record``: attach Lava monitors to
    every LIF layer's spikes, ``u`` and ``v``. ``fail_at`` > 0 makes the first segment raise at that step (fault
    injection for hygiene tests). ``tiles``: quantized ``[C, H, W]`` frames of a static image's tiles (the
    network's input size), all run pipelined by :func:`run_tiles`: tile k enters ``k * tile_period`` steps after
    tile 0, and every process keeps its tiles apart (``schedule.tile_period``)."""
    from lava.proc.conv.models import PyConvModelFixed
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.sparse.models import PySparseModelBitAcc

    from spikerain.hardware.lava.processes.conv import PyConvModelFixedVectorised
    from spikerain.hardware.lava.processes.segment import ActivityProbe, ChipSegment, HostSegment, segment_model
    from spikerain.hardware.lava.processes.sparse import PySparseModelFixedActive

    # schedule.LavaForm.program -> the custom process of that neuron program (each subclass names its own)
    programs = {c.program: c for c in ChipSegment.__subclasses__()}

    if conv_model not in CONV_MODELS:
        raise ValueError(f"conv_model must be one of {CONV_MODELS}")
    COUNTERS["graph_builds"] += 1
    s = schedule or build_schedule(graph)
    by = graph.by_name()
    net = LavaNetwork(graph, s, energy=energy)
    tiles = [np.asarray(t) for t in tiles] if tiles is not None and len(tiles) > 1 else []
    if tiles and (image.ndim != 3 or record):
        raise ValueError("tiles run static images without monitors")
    net.tiles, net.period = tiles, tile_period(graph, s) if tiles else s.steps
    first = graph.nodes[0]
    image = np.asarray(image, np.float64)
    if image.ndim == 4:  # a sequence: frame t goes out at step t + 1
        net.input_q = reference_kernel(first.op)(first, image[:, None])[:, 0]  # [T, C, H, W]
        lava_frames = net.input_q.transpose(3, 2, 1, 0)
    else:
        net.input_q = reference_kernel(first.op)(first, image[None])[0, 0]  # [C, H, W]
        lava_frames = net.input_q.transpose(2, 1, 0)[..., None]
        if tiles:  # tile k is sent during its period, steps k * period + 1 .. (k + 1) * period
            lava_frames = np.concatenate([np.repeat(t.transpose(2, 1, 0)[..., None], net.period, axis=-1)
                                          for t in tiles], axis=-1)
    fail_at_used = False
    wiring = segment_wiring(graph, s)
    for u in s.units:
        if u.kind == "source":
            proc = Source(data=lava_frames.astype(np.int32))
        elif u.kind == "conv":
            node = by[u.nodes[0]]
            w = node.weight_mant if u.channels is None else node.weight_mant[:, u.channels[0]:u.channels[1]]
            src = u.inputs[0].value
            (sh, sw), (ph, pw) = pair(node.stride), pair(node.padding)
            proc = Conv(weight=lava_conv_weight(w), input_shape=s.lava_shape[src], padding=(pw, ph),
                        stride=(sw, sh), num_message_bits=0 if _binary(by, src) else loihi.MESSAGE_BITS, name=u.name)
            net.model_map[proc] = PyConvModelFixedVectorised if conv_model == "vectorised" else PyConvModelFixed
        elif u.kind == "dense":
            node = by[u.nodes[0]]
            common = {"weights": node.weight_mant.astype(np.int32), "weight_exp": node.weight_exp,
                      "num_weight_bits": node.num_weight_bits,
                      "num_message_bits": 0 if _binary(by, u.inputs[0].value) else loihi.MESSAGE_BITS, "name": u.name}
            if node.delays.size:
                proc = DelayDense(delays=node.delays.astype(int), max_delay=int(node.delays.max()), **common)
            else:
                proc = Dense(**common)
        elif u.kind == "neuron":
            proc = _neuron(by[u.nodes[0]], s, u, tuple(graph.shapes[u.nodes[0]][1:]), net.period)
        elif u.kind == "sparse":
            proc = _upsample_sparse(graph.shapes[u.inputs[0].value], u.name)
            net.model_map[proc] = PySparseModelFixedActive if conv_model == "vectorised" else PySparseModelBitAcc
        elif u.kind in RELU_BUILDERS:
            size = sum(int(np.prod(s.lava_shape[n])) for n in u.nodes)
            proc = RELU_BUILDERS[u.kind](size, u.name)
        elif u.kind in ("segment", "probe"):
            plan = _segment_plan(graph, s, u, wiring, fail_at if u.kind == "segment" and not fail_at_used else 0,
                                 energy, net.period, max(1, len(tiles)))
            fail_at_used = fail_at_used or (u.kind == "segment")
            cls = (ActivityProbe if u.kind == "probe" else HostSegment if u.name == HOST_SEGMENT else
                   programs[u.program] if u.program else ChipSegment)
            proc = cls(plan=plan, name=u.name)
            net.plans[u.name] = plan
            net.model_map[proc] = segment_model(cls, len(plan.inputs), len(plan.outputs))
        elif u.kind == "sink":
            # as many slots as output frames: run_tiles pauses when a tile's last frame is in and reads them (a
            # Var leaves Lava 0.10's runtime one element per message, so a slot per step of every tile costs
            # seconds per tile)
            proc = Sink(shape=s.lava_shape[u.nodes[0]], buffer=u.inputs[0].frames)
        else:
            raise ValueError(f"unknown unit kind {u.kind!r}")
        net.procs[u.name] = proc
        if record and u.kind == "neuron" and by[u.nodes[0]].op == "q_lif":
            from lava.proc.monitor.process import Monitor

            net.monitors[u.nodes[0]] = {}
            for var, target in (("s", proc.s_out), ("u", proc.u), ("v", proc.v)):
                m = Monitor()
                m.probe(target=target, num_steps=s.steps)
                net.monitors[u.nodes[0]][var] = m
    _connect(net)
    return net


def _binary(by: dict, value: str) -> bool:
    return value in by and by[value].bits == 1


def _bias_lava(bias_map: np.ndarray, chw, lava_shape) -> np.ndarray:
    b = np.asarray(bias_map, np.int64)
    full = np.broadcast_to(b[:, None, None] if b.ndim == 1 else b, chw)
    return (full.transpose(2, 1, 0) if len(lava_shape) == 3 else full.reshape(-1)).astype(np.int32)


def _lif(node, s: Schedule, u, chw, shape, period: int):
    from lava.proc.lif.process import LIFReset

    start = u.inputs[0].start
    bias = node.bias_mant + (_bias_lava(node.bias_map, chw, shape) if node.bias_map.size else 0)
    if node.reset_interval:
        interval, offset = node.reset_interval, (start + node.reset_offset) % node.reset_interval
    else:  # zero the state when the first frame arrives, whatever the layer saw before its window (again at the
        # same step of every later tile's period, when tiles run pipelined)
        interval, offset = period, start % period
    return LIFReset(shape=shape, du=node.du, dv=node.dv, vth=node.vth, bias_mant=bias, bias_exp=node.bias_exp,
                    reset_interval=interval, reset_offset=offset, name=u.name)


def _delta(node, s: Schedule, u, chw, shape, period: int):
    from lava.proc.sdn.process import Delta

    return Delta(shape=shape, vth=node.vth, spike_exp=node.spike_exp, state_exp=node.state_exp)


def _sigma_delta(node, s: Schedule, u, chw, shape, period: int):
    from lava.proc.sdn.process import ActivationMode, SigmaDelta

    bias = _bias_lava(node.bias_map, chw, shape) if node.bias_map.size else 0
    return SigmaDelta(shape=shape, vth=node.vth, bias=bias, act_mode=ActivationMode.RELU,
                      spike_exp=node.spike_exp, state_exp=node.state_exp)


def _sigma(node, s: Schedule, u, chw, shape, period: int):
    from lava.proc.sdn.process import Sigma

    return Sigma(shape=shape)


def _relu_delta(size: int, name: str):
    from lava.proc.sdn.process import Delta

    return Delta(shape=(size,), vth=0, spike_exp=0, state_exp=0)  # takes no name


def _relu_sigma_delta(size: int, name: str):
    from lava.proc.sdn.process import ActivationMode, SigmaDelta

    return SigmaDelta(shape=(size,), vth=0, bias=0, act_mode=ActivationMode.RELU, spike_exp=0, state_exp=0,
                      name=name)


def _relu_sigma(size: int, name: str):
    from lava.proc.sdn.process import Sigma

    return Sigma(shape=(size,))  # takes no name


def upsample_weights(c: int, h: int, w: int):
    """The integer weights of ``q_upsample2x`` on Lava's flat (X, Y, C) order, ``(4 c h w, c h w + 1)``: per axis
    out[2i] = 3 x[i] + x[i-1], out[2i+1] = 3 x[i] + x[i+1] (indices clamped at the edges), times 1 per channel,
    and a last column of 8s for the constant-1 input (the rounding offset of the >> 4 that ``weight_exp`` -4
    gives). Every weight is 1..16 (``schedule.lowered_upsamplings`` says why this is exactly the IR's op)."""
    import scipy.sparse as sp

    def axis(n: int):
        m = np.zeros((2 * n, n), np.int32)
        for i in range(n):
            m[2 * i, i] += 3
            m[2 * i, max(i - 1, 0)] += 1
            m[2 * i + 1, i] += 3
            m[2 * i + 1, min(i + 1, n - 1)] += 1
        return sp.csr_matrix(m)

    core = sp.kron(axis(w), sp.kron(axis(h), sp.identity(c, np.int32, format="csr")), format="csr")
    rounding = sp.csr_matrix(np.full((core.shape[0], 1), 8, np.int32))
    return sp.hstack([core, rounding], format="csr").astype(np.int32)


def _upsample_sparse(shape, name: str):
    """A stock ``Sparse`` computing ``q_upsample2x`` of an input of IR shape ``(T, C, H, W)``: graded input
    messages, weights :func:`upsample_weights` at 8 bits, ``weight_exp`` -4."""
    from lava.proc.sparse.process import Sparse

    _, c, h, w = (int(v) for v in shape)
    return Sparse(weights=upsample_weights(c, h, w), weight_exp=-4, num_weight_bits=8,
                  num_message_bits=loihi.MESSAGE_BITS, name=name)


#: a ReLU group's three stock processes (``schedule.lowered_relus`` says why the chain is exactly ``q_relu``)
RELU_BUILDERS = {"delta": _relu_delta, "sigma_delta": _relu_sigma_delta, "sigma": _relu_sigma}

#: the stock Lava neuron process for each op the schedule realises as a "neuron" unit (``schedule.LAVA``)
NEURON_BUILDERS = {q.QLIF: _lif, q.QDelta: _delta, q.QSigmaDelta: _sigma_delta, q.QSigma: _sigma}


def _neuron(node: ir.Node, s: Schedule, u, chw, period: int):
    try:
        build = NEURON_BUILDERS[type(node)]
    except KeyError:
        raise UnsupportedOpError(f"op {node.op!r} (node {node.name!r}) has no stock Lava neuron builder",
                                 supported=sorted(c.op for c in NEURON_BUILDERS), path=node.name) from None
    return build(node, s, u, chw, s.lava_shape[node.name], period)


def _out_ports(net: LavaNetwork) -> dict[tuple, list]:
    """Connection key (``("v", value, start)`` or a segment bundle's key) -> the output ports sending it."""
    ports: dict[tuple, list] = {}
    for u in net.schedule.units:
        proc = net.procs[u.name]
        if u.kind in ("segment", "probe"):
            for k, b in enumerate(net.plans[u.name].outputs):
                ports.setdefault(b.key, []).append(getattr(proc, f"out{k}"))
            continue
        if u.kind == "sigma":  # a ReLU group's packed values, to every segment and the probe that read them
            for plan in net.plans.values():
                for b in plan.inputs:
                    if b.key[0] == "g" and b.key[1] == u.name:
                        ports.setdefault(b.key, []).append(proc.s_out)
            continue
        if u.kind in ("delta", "sigma_delta"):
            continue
        for p in u.outputs:
            port = proc.s_out if u.kind in ("source", "neuron") else proc.a_out
            if u.kind == "sparse":  # its flat output, in the value's own (X, Y, C) port shape
                port = port.reshape(net.schedule.lava_shape[p.value])
            ports.setdefault(("v", p.value, p.start), []).append(port)
    return ports


def _connect(net: LavaNetwork) -> None:
    outs = _out_ports(net)
    for u in net.schedule.units:
        proc = net.procs[u.name]
        if u.kind in ("segment", "probe"):
            wanted = [(b.key, getattr(proc, f"in{k}"), b.parts[0].value)
                      for k, b in enumerate(net.plans[u.name].inputs)]
        elif u.kind in ("sigma_delta", "sigma"):  # the chain Delta -> SigmaDelta -> Sigma of one group
            prev = u.name.rsplit("/", 1)[0] + ("/delta" if u.kind == "sigma_delta" else "/sigma_delta")
            net.procs[prev].s_out.connect(proc.a_in)
            continue
        elif u.kind == "delta":
            wanted = [(k, proc.a_in, u.inputs[0].value) for k in outs if k[0] == "g" and k[2] == u.name]
        elif u.kind == "sparse":
            wanted = [(k, proc.s_in, u.inputs[0].value) for k in outs if k[0] == "s" and k[2] == u.name]
        elif u.inputs:
            dst = proc.s_in if u.kind in ("conv", "dense") else proc.a_in
            wanted = [(("v", p.value, p.start), dst, p.value) for p in u.inputs]
        else:
            continue
        for key, dst, value in wanted:
            srcs = outs.get(key)
            if not srcs:
                raise RuntimeError(f"schedule error: nothing sends {key} to {u.name}")
            for src in srcs:
                if u.kind == "dense" and len(net.schedule.lava_shape[value]) == 3:
                    src = src.transpose([2, 1, 0]).flatten()  # PyTorch's C, H, W flatten order, as netx does
                src.connect(dst)


@dataclass
class LavaResult:
    output: np.ndarray  # [T, C, H, W] int64
    counts: dict[str, list[int]]  # value -> non-zero count per frame
    energy: dict | None  # EnergyPlan.finish() record
    seconds: dict[str, float]
    processes: int
    steps: int
    record: dict = field(default_factory=dict)  # LIF layer -> {"s", "u", "v": [T, C, H, W]}, when recording
    steps_run: int = 0  # steps of the whole run (all tiles, pipelined)
    profile: dict | None = None  # hardware/lava/profile.py's summary, when SPIKERAIN_LAVA_PROFILE is set
    rechecking: tuple[int, int] = (0, 0)  # (Python models whose command wait rechecks, Python models): wakeup.py


PROGRESS_CHUNK = 64  # steps per run() call, so that progress can be reported between calls


def run_network(net: LavaNetwork, *, hardware: bool = False, progress=None) -> LavaResult:
    """Run the whole schedule; ``progress(done, total)`` is called after every chunk of steps."""
    return run_tiles(net, hardware=hardware, progress=progress)[0]


def run_tiles(net: LavaNetwork, *, hardware: bool = False, progress=None, on_tile=None,
              recheck_s: float | None = None) -> list[LavaResult]:
    """Run the network's image, or all its tiles (``build_network(tiles=...)``), in ONE runtime compiled once.

    Tiles run pipelined: tile k enters the graph ``k * net.period`` steps after tile 0 while earlier tiles are
    still deeper in it, so N tiles take ``steps + (N - 1) * period`` steps (``schedule.tile_period``). Every
    process keeps the tiles apart by itself: the LIFs reset at their window's first step of every period, the
    segments key what they hold, count and send by tile (``SegmentPlan.at``), and stock synapses and ReLU chains
    carry nothing from one window into the next. The run pauses at the step each tile's last output frame reaches
    the sink and reads its frames there; after the run each tile's counts and energy come from its columns.
    ``progress(done, total)`` after every chunk of steps, ``on_tile(k, n)`` once tile k of n has left the graph.
    ``recheck_s``: how often an idle model probes its command port (``wakeup.RECHECK_S`` if None; 0 only to
    benchmark Lava's own wait, which can hang)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg

    from spikerain.hardware.lava.wakeup import RECHECK_S, RecheckingSimCfg, python_models_rechecking

    s = net.schedule
    n_tiles = max(1, len(net.tiles))
    if n_tiles > 1:
        # stock processes whose state nothing resets per tile: SDNN neurons (sigma, delta), delayed synapses
        by = net.graph.by_name()
        kept = [u.name for u in s.units if (u.kind == "neuron" and by[u.nodes[0]].op != "q_lif")
                or (u.kind == "dense" and by[u.nodes[0]].delays.size)]
        if kept:
            raise ValueError(f"{', '.join(kept)} keep state from tile to tile; run these tiles one by one")
    total = s.steps + (n_tiles - 1) * net.period
    recheck = RECHECK_S if recheck_s is None else recheck_s
    cfg = (Loihi2HwCfg(exception_proc_model_map=net.model_map) if hardware
           else RecheckingSimCfg(select_tag="fixed_pt", exception_proc_model_map=net.model_map, recheck_s=recheck))
    prof_dir = None if hardware else profile.profile_dir()
    if prof_dir:  # opt-in: every process runs a timed subclass of its model (hardware/lava/profile.py)
        cfg = RecheckingSimCfg(select_tag="fixed_pt", recheck_s=recheck,
                               exception_proc_model_map=profile.instrument(net.procs, net.model_map, cfg))
    sink = net.procs["sink"]
    t0 = time.perf_counter()
    sink.create_runtime(run_cfg=cfg)
    COUNTERS["runtime_compiles"] += 1
    rechecks = python_models_rechecking(sink.runtime)
    t1 = time.perf_counter()
    cpu0 = profile.snapshot() if prof_dir else None
    results: list[LavaResult] = []
    ran = False
    outputs: list[np.ndarray] = []
    try:
        done = 0
        while done < total:
            # pause at every chunk's end (progress) and at the step tile k's last output frame arrives
            n = min(PROGRESS_CHUNK, s.steps + len(outputs) * net.period - done)
            ran = False  # stop() after a failed run() hangs (spec section 8): only stop after a good one
            sink.run(condition=RunSteps(num_steps=n, blocking=True))
            ran = True
            done += n
            if progress is not None:
                progress(done, total)
            if done == s.steps + len(outputs) * net.period:
                outputs.append(_sink_frames(net))
                if on_tile is not None:
                    on_tile(len(outputs), n_tiles)
        t2 = time.perf_counter()
        cpu1 = profile.snapshot() if prof_dir else None
        got = _read_vars(net)
        got["outputs"] = outputs
        for k in range(n_tiles):
            t3 = time.perf_counter()
            res = _read_tile(net, k, got)
            # one run served every tile: each tile is charged an equal share of it
            res.seconds = {"compile": t1 - t0 if k == 0 else 0.0, "run": (t2 - t1) / n_tiles,
                           "readback": time.perf_counter() - t3 + (t3 - t2 if k == 0 else 0.0)}
            res.steps_run = total
            res.rechecking = rechecks
            results.append(res)
    finally:
        if ran:
            t4 = time.perf_counter()
            sink.stop()
            if results:
                results[-1].seconds["stop"] = time.perf_counter() - t4
    if prof_dir and results:
        results[0].profile = profile.summary(prof_dir, cpu0, cpu1, {"compile": t1 - t0, "run": t2 - t1}, total)
    return results


def _sink_frames(net: LavaNetwork) -> np.ndarray:
    """The output frames ``[T, C, H, W]`` in the sink right after the step the last of them arrived: the sink
    keeps one slot per frame, step t's in slot (t - 1) % frames, so the last ``frames`` steps are all there."""
    out_port = net.schedule.unit("sink").inputs[0]
    data = np.asarray(net.procs["sink"].data.get()).astype(np.int64)  # (W, H, C, frames)
    return np.stack([data[..., (out_port.start + j - 1) % out_port.frames].transpose(2, 1, 0)
                     for j in range(out_port.frames)])


def _read_vars(net: LavaNetwork) -> dict:
    """The counts and energy tables of each segment and the probe (a column per tile and frame), fetched once
    from the paused runtime."""
    got = {}
    for u in net.schedule.units:
        if u.kind in ("segment", "probe"):
            proc = net.procs[u.name]
            got[u.name] = (np.asarray(proc.counts.get()).astype(np.int64),
                           np.asarray(proc.energy.get()).astype(np.int64) if net.energy is not None else None)
    return got


def _read_tile(net: LavaNetwork, k: int, got: dict) -> LavaResult:
    """Output frames, counts, energy and monitors of tile ``k`` (0 for a single image) from ``_read_vars``."""
    s = net.schedule
    from spikerain.counting.plan import Accumulator

    acc = Accumulator()
    record = {name: _monitored(net, name, mons) for name, mons in net.monitors.items()}
    image = net.tiles[k] if net.tiles else net.input_q
    if image.ndim == 4:
        nzs = [int(np.count_nonzero(f)) for f in image]
        counts: dict[str, list[int]] = {v: nzs[:1] if s.frames[v] == 1 else nzs for v in s.host_values}
    else:
        nz = int(np.count_nonzero(image))
        counts = {v: [nz] * s.frames[v] for v in s.host_values}
    for u in s.units:
        if u.kind not in ("segment", "probe"):
            continue
        mf = net.plans[u.name].max_frames
        cols = slice(k * mf, (k + 1) * mf)
        table = got[u.name][0][:, cols]
        plan_rows = u.nodes if u.kind == "segment" else tuple(p.value for p in u.inputs)
        for r, v in enumerate(plan_rows):
            counts[v] = [int(c) for c in table[r, :s.frames[v]]]
        if net.energy is not None:
            acc.load(list(net.energy.slots(plan_rows)), got[u.name][1][:, cols])
    energy = None
    if net.energy is not None:
        for v in s.host_values:
            for t in range(s.frames[v]):
                frame = image if image.ndim == 3 else image[min(t, len(image) - 1)]
                net.energy.count_frame(v, t, frame, acc)
        energy = net.energy.finish(acc)
    return LavaResult(output=got["outputs"][k], counts=counts, record=record, energy=energy,
                      processes=len(s.units), steps=s.steps, seconds={})


def _monitored(net: LavaNetwork, name: str, mons: dict) -> dict[str, np.ndarray]:
    """A LIF layer's monitored spikes, u and v after each of its frames' steps, as ``[T, C, H, W]``."""
    start, T = net.schedule.avail[name], net.schedule.frames[name]
    C, H, W = net.graph.shapes[name][1:]
    out = {}
    for var, m in mons.items():
        data = m.get_data()
        proc_name = next(iter(data))
        arr = np.asarray(next(iter(data[proc_name].values()))).astype(np.int64)  # (steps, *lava shape)
        arr = arr[start - 1:start - 1 + T]
        arr = arr.reshape(T, C) if arr.ndim == 2 else arr.transpose(0, 3, 2, 1)
        out[var] = arr.reshape(T, C, H, W)
    return out


def split_concat_counts(g: ir.Graph, s: Schedule, counts: dict[str, list[int]]) -> dict[str, list[int]]:
    """Concats expressed as synapses have no value of their own in Lava; with equal scales their non-zero
    count is the sum of their inputs' counts."""
    out = dict(counts)
    by = g.by_name()
    for name in s.split_concats:
        parts = [counts[i] for i in by[name].inputs]
        out[name] = [int(sum(c)) for c in zip(*parts, strict=True)]
    return out

