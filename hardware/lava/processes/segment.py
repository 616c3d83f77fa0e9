"""spikerain's segment processes: ``ChipSegment`` (on-chip ops no stock process expresses yet), ``HostSegment``
(the host ops) and ``ActivityProbe`` (per-layer counts), each computing its quantized-IR nodes frame by frame.

Their ports are made per instance (``in0..``, ``out0..``), so a ProcessModel class is made per process class
and port count by :func:`segment_model` and bound to each instance through the run config's
``exception_proc_model_map``. The model calls the numpy reference kernels, so it computes the very integers the
reference defines; the timing (which frame arrives and is computed at which step) comes from
:mod:`spikerain.hardware.schedule`.

A segment is zero-latency: within a step it works through phases (``schedule.phases``), receiving, computing
and sending in each (``SegmentPlan.program``); everything one segment sends another in one phase travels in one
packed message (a ``BundlePlan``). Every other process acts in that order too (a ``LIFReset`` receives its input,
then sends; ``Conv`` and ``Dense`` send first), so every blocking receive waits only for a send that comes
earlier in one global order, and no topology deadlocks. Every value's non-zero count per frame goes into the ``counts``
Var (one row per counted value), which is how per-layer activity leaves a Lava run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from spikerain.hardware.kernels.reference import reference_kernel, requantize
from spikerain.hardware.schedule import acc_value, frames_needed, time_mixing


@dataclass(frozen=True)
class PortPlan:
    value: str
    start: int  # step of frame 0
    frames: int
    lava_shape: tuple[int, ...]  # (W, H, C) for conv-domain values, (N,) for dense ones


@dataclass(frozen=True)
class BundlePlan:
    """One Lava port of a segment: a single value (``packed`` False: its own Lava shape, to or from a stock
    process), or every value one segment sends another in one phase, flattened and concatenated."""

    key: tuple  # what connects it: ("v", value, start) for a single value, ("b", src, dst, phase) for a bundle
    parts: tuple[PortPlan, ...]
    packed: bool = False
    ones: int = 0  # packed: elements held at 1 after the parts (a stock Sparse's rounding offset, every step)

    @property
    def lava_shape(self) -> tuple[int, ...]:
        if not self.packed:
            return self.parts[0].lava_shape
        return (sum(int(np.prod(p.lava_shape)) for p in self.parts) + self.ones,)


def to_ir(data: np.ndarray) -> np.ndarray:
    """A Lava port message -> one IR frame ``[B=1, C, H, W]`` (int64)."""
    a = np.asarray(data, np.int64)
    return (a.transpose(2, 1, 0) if a.ndim == 3 else a.reshape(-1, 1, 1))[None]


def to_lava(frame: np.ndarray, lava_shape: tuple[int, ...]) -> np.ndarray:
    f = frame[0]
    return (f.transpose(2, 1, 0) if len(lava_shape) == 3 else f.reshape(-1)).astype(np.int32)


@dataclass(frozen=True)
class SegmentPlan:
    nodes: tuple  # quantized IR nodes, topological
    compute: dict  # node name -> step its frame 0 is computed
    frames: dict  # value -> frames
    reads: dict  # node name -> values it reads
    inputs: tuple[BundlePlan, ...]
    outputs: tuple[BundlePlan, ...]
    counted: tuple[str, ...]  # rows of the counts Var: computed nodes, then counted inputs
    last_use: dict  # value -> last step its frames are needed here
    fail_at: int = 0  # fault injection for the run-hygiene tests: raise at this step (0 = never)
    name: str = "segment"
    energy_plan: object = None  # spikerain.counting.plan.EnergyPlan: energy counts of the counted values
    energy_slots: tuple = ()  # rows of the energy Var: (record, field)
    program: tuple = ()  # one step's actions by phase: (0, in port k) receive, (1, node k) compute, (2, out k) send
    period: int = 0  # steps between consecutive tiles' starts (schedule.tile_period); 0: one image
    tiles: int = 1  # tiles in the run: tile k's frame j of a value starting at step c arrives at c + k * period + j

    @property
    def max_frames(self) -> int:
        return max([self.frames[v] for v in self.counted] or [1])

    def at(self, start: int, frames: int, t: int) -> tuple[int, int] | None:
        """(tile, frame) that a value with ``frames`` frames from step ``start`` has at step ``t``, or None."""
        d = t - start
        if d < 0:
            return None
        k, j = divmod(d, self.period) if self.period else (0, d)
        return (k, j) if j < frames and k < self.tiles else None


class Segment(AbstractProcess):
    """Base of spikerain's segment processes (never instantiated itself: a process says where it would run)."""

    def __init__(self, *, plan: SegmentPlan, name: str | None = None) -> None:
        super().__init__(plan=plan, name=name)
        for k, p in enumerate(plan.inputs):
            setattr(self, f"in{k}", InPort(shape=p.lava_shape))
        for k, p in enumerate(plan.outputs):
            setattr(self, f"out{k}", OutPort(shape=p.lava_shape))
        # one column per (tile, frame): tile k's frame j is column k * max_frames + j
        self.counts = Var(shape=(max(1, len(plan.counted)), plan.tiles * plan.max_frames), init=0)
        self.energy = Var(shape=(max(1, len(plan.energy_slots)), plan.tiles * plan.max_frames), init=0)


class ChipSegment(Segment):
    """On-chip IR nodes that no stock lava-nc process computes yet. By default the schedule gives each neuron
    program its own process (the subclasses below, each naming its ``LavaForm.program``); this class itself holds
    them all when the schedule is built with ``custom_by_program=False``. On a Loihi 2 each needs a custom neuron
    program (microcode) on the neuro-cores, or a lowering onto stock processes (``docs/lava.md``)."""


# What a chip needs for each program, read against the fixed-point ProcessModels of lava-nc 0.10.0: ``Conv``,
# ``Dense`` and ``Sparse`` send ``W @ s`` (floor-shifted by ``weight_exp``) one step late, ``Sigma``/``SigmaDelta``
# sum their inputs (ReLU optional), ``LIF``/``LIFReset`` emit 1-bit spikes, an ``InPort`` sums what reaches it; no
# stock process clips a graded value to fewer than 24 bits or rounds half up.


class RequantizeSegment(ChipSegment):
    """The requantization after each stock ``Conv``: ``clip(rshift_round(acc + (bias << bias_exp), shift), bits)``
    on its 24-bit accumulator. A chip needs a graded neuron program that adds the bias, shifts with rounding and
    clips to 16 bits in place (a second ``Sparse`` synapse could round and shift, but not clip, and would cost a
    process and a step per conv)."""

    program = "requantize"


class AddSegment(ChipSegment):
    """Sums of two graded values, aligned by a rounding shift where their scales differ, clipped to 16 bits.
    Several synapses into one ``Sigma`` sum exactly but cannot round or clip: a chip needs a clipping graded
    neuron program with two inputs."""

    program = "add"


class ScaleSegment(ChipSegment):
    """``clip(rshift_round(q * mant, shift), bits)``: mostly a rounding right shift of 1-7 bits. Exact as a
    ``Sparse`` with ``weight_exp = -shift`` plus a constant-1 input weighted ``2**(shift-1)``, at one process and
    one step per scale (about 200 in VLIF-Net); in place, a graded neuron program that shifts with rounding and
    clips."""

    program = "scale"


class ReLUSegment(ChipSegment):
    """The ReLUs whose consumer is a stock ``LIFReset`` or ``Conv`` (the others run on stock ``Delta`` ->
    ``SigmaDelta`` -> ``Sigma`` chains, which send one packed vector those consumers cannot read in their own port
    shape). A chip needs a graded ReLU neuron per consumer port, or a stock chain per ReLU."""

    program = "relu"


class UpsampleSegment(ChipSegment):
    """Bilinear x2 (``rshift_round`` of the 9/3/3/1 stencil by 4) of a value a stock process sends (the others
    run on stock ``Sparse`` processes, fed with a constant-1 element for the rounding, which a stock sender
    cannot append), and nearest upsampling: a ``Sparse`` with a constant input, or a graded relay neuron in front."""

    program = "upsample"


class NILIFSegment(ChipSegment):
    """NI-LIF: ``u = rshift_round(u - (s << k), decay) + x``, ``s = clip(round_half_even(u >> f), 0, levels)``,
    a multi-level spike with a soft reset and a rounding decay. ``LIF`` emits 1-bit spikes with a hard reset and a
    truncating decay: a chip needs a microcoded multi-level neuron."""

    program = "nilif"


class NeuronSegment(ChipSegment):
    """Bring-your-own neurons (``q_neuron``: the general leaky integrate-and-fire with the decays, threshold and
    reset a frontend read) that no stock ``LIF`` parameter set reproduces: a microcoded neuron on a chip."""

    program = "neuron"


class TimeMoveSegment(ChipSegment):
    """Patch-to-time and time-to-patch: frame t's patch k leaves at step ``t r² + k`` (a delay that depends on
    the frame, which a fixed synaptic delay cannot give), and r² frames are gathered into one (an output every r²
    steps). A chip needs neurons that hold frames in their state and emit on a schedule."""

    program = "time_move"


class TemporalConvSegment(ChipSegment):
    """A convolution over time with stride k (one output per k frames), a rounding shift and a clip: no stock
    process has a stride in time or the clip; a chip needs neurons that accumulate k frames and then fire."""

    program = "temporal_conv"


class RouteSegment(ChipSegment):
    """Routing without arithmetic beyond an alignment shift: concats not feeding a conv (with a rounding
    realignment where scales differ), the repetition over T where the image also feeds a later add, reshapes,
    depth-to-space, and the graph's output handed to the sink. On a chip these are axon routing (plus a shifting
    relay neuron where scales differ)."""

    program = "route"


class HostSegment(Segment):
    """The IR's ``host`` ops (attention pooling, dense gates, sigmoid, products, the mean over T): they run on
    the embedded or host CPU next to the chip, fed by and feeding the chip's processes."""


class ActivityProbe(Segment):
    """Counts every stock neuron's and direct synapse's non-zero outputs per timestep (host-side
    instrumentation: on a chip, the per-layer spike counters read by the host)."""


class PySegmentModelBase(PyLoihiProcessModel):
    counts: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    energy: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.plan: SegmentPlan = proc_params["plan"]
        # (value, tile) -> {frame: [B=1, C, H, W]}: when tiles are pipelined, one segment holds several tiles at once
        self.frames_of: dict[tuple[str, int], dict[int, np.ndarray]] = {}
        self.row = {v: k for k, v in enumerate(self.plan.counted)}
        self.slot = {k: i for i, k in enumerate(self.plan.energy_slots)}
        self.memo: dict = {}
        self.column = 0  # the counts/energy column of the tile being counted
        # per port, fixed at build time: each part's slice of the (packed) message and, for a send, the message of
        # a step where no part is in its frames (zeros, then the constant ones): sent as it is, copied to fill
        # (a port's send() copies the array into the channel, so one kept array serves every step)
        # A bundle from one segment to another ("b") travels only at steps where one of its parts is in its frames:
        # both ends know those steps from the same plan, so the sender skips the send and the receiver the recv
        # (Lava's channels are FIFOs; stock processes send and receive every step, so their ports always travel)
        self.ins = [(f"in{k}", b.packed, _slices(b), b.key[0] == "b") for k, b in enumerate(self.plan.inputs)]
        self.outs = [(f"out{k}", b.packed, _slices(b), _idle_message(b), b.key[0] == "b")
                     for k, b in enumerate(self.plan.outputs)]

    def add(self, record: str, field_: str, t: int, amount: int) -> None:
        """Accumulator interface for :meth:`EnergyPlan.count_frame`: counters live in the ``energy`` Var."""
        self.energy[self.slot[(record, field_)], self.column + t] += amount

    def _keep(self, value: str, k: int, j: int, frame: np.ndarray) -> None:
        self.frames_of.setdefault((value, k), {})[j] = frame
        row = self.row.get(value)
        if row is not None:
            self.column = k * self.plan.max_frames
            self.counts[row, self.column + j] = np.count_nonzero(frame)
            if self.plan.energy_plan is not None:
                self.plan.energy_plan.count_frame(value, j, frame, self)

    def _frame(self, node, k: int, j: int) -> np.ndarray:
        """Frame j ([B=1, C, H, W]) of ``node`` for tile k from the frames held here."""
        buf = self.frames_of
        if node.op == "q_conv2d":
            return requantize(node, buf[(acc_value(node.name), k)][j])
        ins = self.plan.reads[node.name]
        kernel = reference_kernel(node)
        if not time_mixing(node):
            args = [buf[(i, k)][j if self.plan.frames[i] > 1 else 0][None] for i in ins]
            return kernel(node, *args)[0]
        needs = tuple(frames_needed(node, j, self.plan.frames[i]) for i in ins)
        key = (node.name, k, needs)
        if key not in self.memo:
            self.memo = {m: v for m, v in self.memo.items() if m[0] != node.name}  # one tile at a time
            args = [np.stack([buf[(i, k)][f] for f in range(n)]) for i, n in zip(ins, needs, strict=True)]
            self.memo[key] = kernel(node, *args)
        return self.memo[key][j]

    def run_spk(self) -> None:
        try:
            self._step()
        except Exception:
            # An exception here deadlocks Lava's run() without a word (lava-nc#231): print it for the parent.
            import sys
            import traceback

            print(f"[lava] process {self.plan.name} failed at step {self.time_step}:\n{traceback.format_exc()}",
                  file=sys.stderr, flush=True)
            raise

    def _step(self) -> None:
        plan = self.plan
        t = self.time_step
        if t == plan.fail_at:
            raise RuntimeError(f"fault injected at step {t}")
        for action, n in plan.program:
            if action == 0:
                port, packed, parts, skips = self.ins[n]
                active = [(part, kj) for part in parts if (kj := plan.at(part[1], part[2], t)) is not None]
                if skips and not active:
                    continue
                data = getattr(self, port).recv()
                for (value, _, _, lo, hi, shape), kj in active:
                    self._keep(value, *kj, to_ir(data[lo:hi].reshape(shape) if packed else data))
            elif action == 1:
                node = plan.nodes[n]
                kj = plan.at(plan.compute[node.name], plan.frames[node.name], t)
                if kj is not None:
                    self._keep(node.name, *kj, self._frame(node, *kj))
            else:
                port, packed, parts, idle, skips = self.outs[n]
                msg = idle
                for value, start, frames, lo, hi, shape in parts:
                    kj = plan.at(start, frames, t)
                    if kj is not None:
                        frame = to_lava(self.frames_of[(value, kj[0])][kj[1]], shape)
                        if not packed:
                            msg = frame
                            break
                        if msg is idle:
                            msg = idle.copy()
                        msg[lo:hi] = frame.reshape(-1)
                if not (skips and msg is idle):
                    getattr(self, port).send(msg)
        for key in [key for key in self.frames_of if plan.last_use.get(key[0], 0) + key[1] * plan.period < t]:
            del self.frames_of[key]


def _slices(b: BundlePlan) -> list[tuple]:
    """(value, start, frames, lo, hi, Lava shape) of each part of a port: where it lies in a packed message."""
    out, lo = [], 0
    for p in b.parts:
        size = int(np.prod(p.lava_shape))
        out.append((p.value, p.start, p.frames, lo, lo + size, p.lava_shape))
        lo += size
    return out


def _idle_message(b: BundlePlan) -> np.ndarray:
    """What a port sends at a step where none of its parts is in its frames: zeros, then a stock Sparse's ones."""
    msg = np.zeros(b.lava_shape, np.int32)
    if b.ones:
        msg[-b.ones:] = 1
    return msg


@functools.cache
def segment_model(proc: type, n_in: int, n_out: int) -> type:
    """The ProcessModel class for a ``proc`` (a Segment class) with ``n_in`` input and ``n_out`` output ports."""
    attrs = {f"in{k}": LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24) for k in range(n_in)}
    attrs.update({f"out{k}": LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24) for k in range(n_out)})
    cls = type(f"Py{proc.__name__}Model{n_in}x{n_out}", (PySegmentModelBase,), attrs)
    return implements(proc=proc, protocol=LoihiProtocol)(requires(CPU)(tag("fixed_pt")(cls)))
