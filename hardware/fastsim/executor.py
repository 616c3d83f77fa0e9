"""One graph walker for the float and the integer kernels.

Nodes run in topological order; each value is freed once its last consumer ran (unless ``keep``), so memory
follows the live set rather than the graph size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spikerain.converter import ir


def execute(graph: ir.Graph, x: torch.Tensor, kernel_of: Callable[[str], Callable], *, keep: bool = False,
            observe: Callable[[ir.Node, torch.Tensor], None] | None = None,
            stats: dict | None = None) -> dict[str, torch.Tensor]:
    """Run ``graph`` on ``x``; returns the outputs, or every node's value if ``keep``.

    ``observe(node, value)`` sees every value once; ``stats`` (integer kernels only) collects per-node event
    counts under the node's name.
    """
    remaining = {k: len(v) for k, v in graph.consumers().items()}
    values: dict[str, torch.Tensor] = {}
    for n in graph.nodes:
        args = [values[i] for i in n.inputs] if n.inputs else [x]
        kw = {} if stats is None else {"stats": stats.setdefault(n.name, {})}
        values[n.name] = kernel_of(n)(n, *args, **kw)
        if observe is not None:
            observe(n, values[n.name])
        if keep:
            continue
        for i in n.inputs:
            remaining[i] -= 1
            if remaining[i] == 0 and i not in graph.outputs:
                del values[i]
    return values if keep else {o: values[o] for o in graph.outputs}
