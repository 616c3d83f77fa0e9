"""Fold each inference BatchNorm (tdBN) into the conv feeding it: W' = W*k, b' = (b - mean)*k + beta, k = g/sqrt(v+eps).

Only a BatchNorm whose input is a Conv2d read by nobody else is folded; any other BatchNorm is left in place
(and later stages treat it as an affine op).
"""

from __future__ import annotations

import numpy as np

from spikerain.converter import ir


def fold_batchnorm(g: ir.Graph) -> ir.Graph:
    consumers = g.consumers()
    by_name = g.by_name()
    folded: dict[str, ir.Conv2d] = {}  # bn name -> new conv (named after the bn's conv)
    drop: set[str] = set()
    for n in g.nodes:
        if not isinstance(n, ir.BatchNorm):
            continue
        src = by_name[n.inputs[0]]
        if not isinstance(src, ir.Conv2d) or len(consumers[src.name]) != 1 or src.name in g.outputs:
            continue
        scale = (n.gamma.astype(np.float64) / np.sqrt(n.var.astype(np.float64) + n.eps))
        bias = src.bias.astype(np.float64) if src.bias.size else np.zeros(src.weight.shape[0])
        w = (src.weight.astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
        b = ((bias - n.mean) * scale + n.beta).astype(np.float32)
        folded[n.name] = src.replace(weight=w, bias=b)
        drop.add(src.name)
    rename = {bn: folded[bn].name for bn in folded}
    nodes = []
    for n in g.nodes:
        if n.name in drop:
            continue
        if n.name in folded:
            n = folded[n.name]
        if any(i in rename for i in n.inputs):
            n = n.replace(inputs=tuple(rename.get(i, i) for i in n.inputs))
        nodes.append(n)
    outputs = tuple(rename.get(o, o) for o in g.outputs)
    return g.with_nodes(nodes, outputs=outputs)
