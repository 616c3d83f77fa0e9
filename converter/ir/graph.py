"""The graph: an ordered tuple of nodes (topological), named outputs, and the input shape.

:func:`validate` checks unique names, dangling edges, cycles/order, arity and shapes; the pass driver runs it
after every pass. :func:`infer_shapes` is the shape-inference pass. :func:`format_table` prints the graph like
lava-dl's ``netx.Network.__str__``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from spikerain.converter.ir.node import Node, Shape, nodes_equal
from spikerain.errors import GraphError


class FrozenMeta(dict):
    """A graph's ``meta``: a plain dict to read and to serialise (JSON, checksums), refusing every change, nested
    dicts included (lists become tuples). Derive a new graph with :meth:`Graph.with_meta` instead."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("graph meta is read-only after construction; derive a new graph with Graph.with_meta()")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return (FrozenMeta, (dict(self),))

    @staticmethod
    def freeze(value):
        if isinstance(value, dict):
            return value if isinstance(value, FrozenMeta) else FrozenMeta(value)
        if isinstance(value, (list, tuple)):
            return tuple(FrozenMeta.freeze(v) for v in value)
        return value

    def __init__(self, data=()):
        super().__init__({k: FrozenMeta.freeze(v) for k, v in dict(data).items()})


@dataclass(frozen=True, kw_only=True, eq=False)
class Graph:
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    input_shape: Shape  # [1, C, H, W] of the Input node
    meta: Mapping = field(default_factory=dict)  # model config, provenance; read-only (FrozenMeta)

    def __post_init__(self):
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "meta", FrozenMeta(self.meta))

    @functools.cached_property
    def shapes(self) -> Mapping[str, Shape]:
        """Every value's shape ``[T, C, H, W]``: a read-only value of the nodes and the input shape, computed by
        shape inference on first use (:class:`GraphError` if they do not fit)."""
        return MappingProxyType(_infer(self))

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("shapes", None)  # derived, and a mappingproxy does not pickle
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out.setdefault(i, []).append(n.name)
        return out

    def with_nodes(self, nodes, **changes) -> Graph:
        return Graph(nodes=tuple(nodes), outputs=changes.get("outputs", self.outputs),
                     input_shape=changes.get("input_shape", self.input_shape), meta=self.meta)

    def with_meta(self, **changes) -> Graph:
        """The same graph with ``meta`` entries added or replaced."""
        return Graph(nodes=self.nodes, outputs=self.outputs, input_shape=self.input_shape,
                     meta={**self.meta, **changes})

    def ops(self) -> Counter:
        return Counter(n.op for n in self.nodes)


def validate(g: Graph) -> Graph:
    """Raise :class:`GraphError` on duplicate names, dangling edges, cycles or bad arity; return ``g``."""
    seen: set[str] = set()
    dup = [n for n, c in Counter(n.name for n in g.nodes).items() if c > 1]
    if dup:
        raise GraphError(f"duplicate node names: {dup[:5]}")
    names = {n.name for n in g.nodes}
    for n in g.nodes:
        for i in n.inputs:
            if i not in names:
                raise GraphError(f"node {n.name!r} ({n.op}) reads {i!r}, which does not exist (dangling edge)")
            if i not in seen:
                raise GraphError(f"node {n.name!r} reads {i!r} before it is computed: the graph has a cycle or "
                                 "is not in topological order")
        if n.arity is not None and len(n.inputs) != n.arity:
            raise GraphError(f"node {n.name!r} ({n.op}) takes {n.arity} input(s), has {len(n.inputs)}")
        if n.arity is None and not n.inputs:
            raise GraphError(f"node {n.name!r} ({n.op}) has no inputs")
        seen.add(n.name)
    for o in g.outputs:
        if o not in names:
            raise GraphError(f"graph output {o!r} is not a node")
    if sum(n.arity == 0 for n in g.nodes) != 1:
        raise GraphError("a graph needs exactly one input node")
    infer_shapes(g)
    return g


def infer_shapes(g: Graph) -> Graph:
    """The shape-inference pass: returns ``g`` with its shapes checked (``g.shapes``, a read-only value of the
    nodes, is computed once; nothing is refilled or changed). :func:`shapes_of` returns the shapes themselves."""
    _ = g.shapes
    return g


def shapes_of(g: Graph) -> Mapping[str, Shape]:
    """Every value's shape, or :class:`GraphError` naming the node whose shape rule fails."""
    return g.shapes


def _infer(g: Graph) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for n in g.nodes:
        if n.arity == 0:
            shapes[n.name] = g.input_shape
            continue
        try:
            shapes[n.name] = tuple(int(d) for d in n.out_shape(*[shapes[i] for i in n.inputs]))
        except (ValueError, KeyError) as e:
            raise GraphError(f"shape error at node {n.name!r} ({n.op}): {e}") from e
    return shapes


def size_multiple(g: Graph, candidates: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> int:
    """The smallest m such that images whose sides are odd multiples of m pass shape inference and come out at
    their own size (strided convs, upsampling, skip concats and patch-to-time all agree). Images of other sizes
    are padded up to it."""
    for m in candidates:
        h, w = 3 * m, 5 * m
        trial = g.with_nodes(g.nodes, input_shape=(*g.input_shape[:2], h, w))
        try:
            infer_shapes(trial)
        except GraphError:
            continue
        if all(trial.shapes[o][-2:] == (h, w) for o in g.outputs):
            return m
    raise GraphError(f"no input size multiple up to {candidates[-1]} fits this graph")


def graphs_equal(a: Graph, b: Graph) -> bool:
    return (a.outputs == b.outputs and a.input_shape == b.input_shape and len(a.nodes) == len(b.nodes)
            and all(nodes_equal(x, y) for x, y in zip(a.nodes, b.nodes, strict=True)))


def format_table(g: Graph, *, extra: dict[str, str] | None = None, limit: int | None = None) -> str:
    """A fixed-width table: index, name, op, placement, output shape, parameters."""
    if not g.shapes:
        infer_shapes(g)
    rows = [("#", "name", "op", "where", "shape [T,C,H,W]", "params")]
    for i, n in enumerate(g.nodes[:limit] if limit else g.nodes):
        params = n.summary()
        if extra and n.name in extra:
            params = f"{params} {extra[n.name]}".strip()
        rows.append((str(i), n.name, n.op, n.placement, "x".join(map(str, g.shapes[n.name])), params[:60]))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    line = "+".join("-" * (w + 2) for w in widths)
    out = ["|" + "|".join(f" {c:<{w}} " for c, w in zip(rows[0], widths, strict=True)) + "|", "|" + line + "|"]
    out += ["|" + "|".join(f" {c:<{w}} " for c, w in zip(r, widths, strict=True)) + "|" for r in rows[1:]]
    counts = g.ops()
    out.append(f"{len(g.nodes)} nodes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "\n".join(out)
