"""Fold SDEM's learnable scalars: a*s + b*(x - s) -> (a - b)*s + b*x, then merge scale chains.

The SDEM mix z = a*s + b*(x - s) + x*s is emitted by the frontend as Scale(a, s) + Scale(b, Sub(x, s)) + Mul.
Rewriting it removes the subtraction (one op per element fewer), and leaves binary spikes scaled by one
constant, which a neurocore applies as a synaptic weight. Scale(1) nodes disappear and Scale(Scale(x)) becomes
one Scale.
"""

from __future__ import annotations

from spikerain.converter import ir


def fold_scalars(g: ir.Graph) -> ir.Graph:
    by_name = g.by_name()
    consumers = g.consumers()
    nodes: list[ir.Node] = []
    replaced: dict[str, ir.Node] = {}
    for n in g.nodes:
        # pattern: Add(Scale(a, s), Scale(b, Sub(x, s)))
        if isinstance(n, ir.Add):
            p, q = (by_name[i] for i in n.inputs)
            if isinstance(p, ir.Scale) and isinstance(q, ir.Scale):
                d = by_name[q.inputs[0]]
                s = p.inputs[0]
                if isinstance(d, ir.Sub) and d.inputs[1] == s and len(consumers[d.name]) == 1 \
                        and len(consumers[q.name]) == 1 and len(consumers[p.name]) == 1:
                    x = d.inputs[0]
                    replaced[p.name] = p.replace(factor=p.factor - q.factor)
                    replaced[q.name] = q.replace(inputs=(x,))
                    replaced[d.name] = None
        nodes.append(n)
    out = []
    for n in nodes:
        if n.name in replaced:
            if replaced[n.name] is not None:
                out.append(replaced[n.name])
            continue
        out.append(n)
    return _merge_scales(g.with_nodes(out))


def _merge_scales(g: ir.Graph) -> ir.Graph:
    by_name = g.by_name()
    consumers = g.consumers()
    alias: dict[str, str] = {}
    nodes = []
    for n in g.nodes:
        n = n.replace(inputs=tuple(alias.get(i, i) for i in n.inputs)) if n.inputs else n
        if isinstance(n, ir.Scale):
            src = by_name.get(n.inputs[0])
            src = next((m for m in nodes if m.name == n.inputs[0]), src)
            if isinstance(src, ir.Scale) and len(consumers[src.name]) == 1:
                nodes = [m for m in nodes if m.name != src.name]
                n = n.replace(inputs=src.inputs, factor=n.factor * src.factor)
            if n.factor == 1.0 and n.name not in g.outputs:
                alias[n.name] = n.inputs[0]
                continue
        nodes.append(n)
    return g.with_nodes(nodes)
