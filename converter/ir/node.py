"""The IR's base node. Every op is a frozen, keyword-only dataclass subclass registered in :data:`OPS`.

Tensors are batch-free ``[T, C, H, W]``: T is the time axis (1 after the mean over T), C channels. Array fields
are stored read-only; nodes compare with :func:`nodes_equal` (arrays by value), not ``==``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikerain.errors import UnsupportedOpError

Shape = tuple[int, int, int, int]

#: op name -> node class; filled by :func:`register_op`
OPS: dict[str, type[Node]] = {}


def register_op(cls):
    if cls.op in OPS:
        raise ValueError(f"IR op {cls.op!r} registered twice")
    OPS[cls.op] = cls
    return cls


def op_class(op: str) -> type[Node]:
    try:
        return OPS[op]
    except KeyError:
        raise UnsupportedOpError(f"unknown IR op {op!r}", supported=sorted(OPS)) from None


@dataclass(frozen=True, kw_only=True, eq=False)
class Node:
    name: str
    inputs: tuple[str, ...] = ()

    op: ClassVar[str] = "node"
    #: where a Loihi-style system runs it: "on-chip" (neurocores) or "host" (embedded/x86 CPU)
    placement: ClassVar[str] = "on-chip"
    #: number of inputs (None = any number >= 1)
    arity: ClassVar[int | None] = 1
    #: what it is on a neuromorphic chip: "synapse" (weighted sums feeding neurons), "neuron" (state over T),
    #: "routing" (moves, repeats or joins values; computes nothing), "elementwise", or "host" (global pooling,
    #: lookup tables, the mean over T: only a CPU does these)
    role: ClassVar[str] = "elementwise"
    #: output frame j reads input frames other than frame j (see :meth:`frames_needed`)
    time_mixing: ClassVar[bool] = False

    def mixes_time(self) -> bool:
        """Whether output frame j needs input frames other than frame j (some ops decide by their axes)."""
        return self.time_mixing

    def frames_needed(self, j: int, t_in: int) -> int:
        """How many leading frames of an input (of ``t_in`` frames) output frame ``j`` needs."""
        if not self.mixes_time():
            return 1 if t_in == 1 else j + 1
        return t_in  # mixing over T by a reduction: every frame

    def fan_in(self) -> int:
        """Synapses per output neuron; 1 for ops that are not synapses. A synapse op must say."""
        if self.role == "synapse":
            raise NotImplementedError(f"synapse op {self.op!r} does not declare its fan-in")
        return 1

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                a = np.array(v, copy=True)
                a.setflags(write=False)
                object.__setattr__(self, f.name, a)

    def out_shape(self, *ins: Shape) -> Shape:
        """Shape rule; the default keeps the (single) input shape."""
        return ins[0]

    def params(self) -> dict:
        """Scalar fields (not name/inputs, not arrays)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("name", "inputs") and not isinstance(getattr(self, f.name), np.ndarray)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}

    def replace(self, **changes) -> Node:
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """Short parameter text for tables."""
        parts = [f"{k}={_fmt(v)}" for k, v in self.params().items()]
        parts += [f"{k}{list(v.shape)}" for k, v in self.arrays().items()]
        return ", ".join(parts)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def nodes_equal(a: Node, b: Node) -> bool:
    if type(a) is not type(b) or a.name != b.name or a.inputs != b.inputs or a.params() != b.params():
        return False
    aa, ba = a.arrays(), b.arrays()
    return aa.keys() == ba.keys() and all(
        aa[k].dtype == ba[k].dtype and np.array_equal(aa[k], ba[k]) for k in aa)
