"""Dead-node elimination: drop every node that no graph output depends on (the input always stays)."""

from __future__ import annotations

from spikerain.converter import ir


def eliminate_dead_nodes(g: ir.Graph) -> ir.Graph:
    by_name = g.by_name()
    live: set[str] = set()
    stack = list(g.outputs)
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(by_name[name].inputs)
    return g.with_nodes([n for n in g.nodes if n.name in live or n.arity == 0])
