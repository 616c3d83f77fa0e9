"""Per-stage op tables keyed on the IR op class.

Every stage that treats ops differently (quantization, the fast simulator's kernels, the numpy reference, the Lava
realisation, ONNX and netx export, mapping cost, energy geometry) keeps one :class:`OpRegistry` next to the code it
dispatches to. A lookup for an op the stage does not handle raises :class:`~spikerain.errors.UnsupportedOpError`
naming the op, the stage and the node, never a silent default. :data:`STAGES` lists every registry that has been
imported, for the supported-ops page and the test that walks every op through every stage.

Keys are classes; for convenience a registry also accepts a node or an op name (``"q_lif"``) wherever a key is
expected, so ``op in REFERENCE`` and ``REFERENCE["q_lif"]`` keep working.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from spikerain.converter.ir.node import OPS, Node
from spikerain.errors import UnsupportedOpError

V = TypeVar("V")

#: stage name -> its registry, in import order
STAGES: dict[str, OpRegistry] = {}


def _cls(key) -> type[Node]:
    if isinstance(key, str):
        if key not in OPS:
            raise UnsupportedOpError(f"unknown IR op {key!r}", supported=sorted(OPS))
        return OPS[key]
    if isinstance(key, Node):
        return type(key)
    if isinstance(key, type) and issubclass(key, Node):
        return key
    raise TypeError(f"not an IR op, node or op name: {key!r}")


class OpRegistry(Generic[V]):
    """One stage's table: op class -> whatever the stage needs (a kernel, a rule, a cost model, a description)."""

    def __init__(self, stage: str, *, what: str = "an entry") -> None:
        if stage in STAGES:
            raise ValueError(f"stage registry {stage!r} created twice")
        self.stage, self.what = stage, what
        self._table: dict[type[Node], V] = {}
        STAGES[stage] = self

    def add(self, key, value: V) -> V:
        cls = _cls(key)
        if OPS.get(cls.op) is not cls:
            raise ValueError(f"{cls.__name__} is not a registered IR op")
        if cls in self._table:
            raise ValueError(f"{self.stage}: op {cls.op!r} registered twice")
        self._table[cls] = value
        return value

    def register(self, *keys):
        """Decorator: ``@REG.register(ir.Conv2d, ir.TemporalConv)`` registers the function for each class."""

        def deco(value: V) -> V:
            for k in keys:
                self.add(k, value)
            return value

        return deco

    def lookup(self, key, *, hint: str = "") -> V:
        """The entry for a node (or class, or op name); :class:`UnsupportedOpError` naming op, stage and node
        (``hint`` is appended to its message)."""
        cls = _cls(key)
        try:
            return self._table[cls]
        except KeyError:
            where = f" (node {key.name!r})" if isinstance(key, Node) else ""
            err = UnsupportedOpError(f"op {cls.op!r}{where} has no {self.what} in stage {self.stage!r}{hint}",
                                     supported=self.ops(), path=key.name if isinstance(key, Node) else None)
            err.op, err.stage = cls.op, self.stage
            raise err from None

    def __getitem__(self, key) -> V:
        return self.lookup(key)

    def get(self, key, default=None):
        cls = _cls(key)
        return self._table.get(cls, default)

    def __contains__(self, key) -> bool:
        try:
            return _cls(key) in self._table
        except UnsupportedOpError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.ops())

    def __len__(self) -> int:
        return len(self._table)

    def ops(self) -> list[str]:
        return sorted(c.op for c in self._table)

    def classes(self) -> list[type[Node]]:
        return sorted(self._table, key=lambda c: c.op)

    def items(self):
        return [(c.op, v) for c, v in sorted(self._table.items(), key=lambda kv: kv[0].op)]
