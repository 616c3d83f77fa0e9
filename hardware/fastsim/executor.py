"""One graph walker for the float and the integer kernels.

Nodes run in topological order; each value is freed once its last consumer ran (unless ``keep``), so memory
follows the live set rather than the graph size. With ``int32`` (the integer kernels: the nodes
``narrow.int32_nodes`` proves fit), those nodes run on int32 values and every other integer node on int64, and
the values in ``float32`` (``narrow.float32_nodes``) are held as exact float32 for the convolutions that read
them; what leaves the walker (outputs, or every value with ``keep``) is int64 either way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.int_kernels import int32_to_float32_

_INTS = (torch.int32, torch.int64)


def _as(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return v.to(dtype) if v.dtype in _INTS and v.dtype != dtype else v


def _int64(v: torch.Tensor) -> torch.Tensor:
    return v.to(torch.int64) if v.dtype in _INTS or v.is_floating_point() else v


def execute(graph: ir.Graph, x: torch.Tensor, kernel_of: Callable[[str], Callable], *, keep: bool = False,
            observe: Callable[[ir.Node, torch.Tensor], None] | None = None,
            stats: dict | None = None, int32: frozenset[str] | None = None,
            float32: frozenset[str] = frozenset()) -> dict[str, torch.Tensor]:
    """Run ``graph`` on ``x``; returns the outputs, or every node's value if ``keep``.

    ``observe(node, value)`` sees every value once (int32 where ``int32`` narrowed it); ``stats`` (integer
    kernels only) collects per-node event counts under the node's name.
    """
    remaining = {k: len(v) for k, v in graph.consumers().items()}
    values: dict[str, torch.Tensor] = {}
    for n in graph.nodes:
        args = [values[i] for i in n.inputs] if n.inputs else [x]
        kw = {} if stats is None else {"stats": stats.setdefault(n.name, {})}
        if int32 is None:
            values[n.name] = kernel_of(n)(n, *args, **kw)
        else:
            dtype = torch.int32 if n.name in int32 else torch.int64
            values[n.name] = _as(kernel_of(n)(n, *(_as(a, dtype) for a in args), **kw), dtype)
            if n.name in float32:  # read only by int32 convolutions: exact float32, converted in place
                values[n.name] = int32_to_float32_(values[n.name])
        if observe is not None:
            observe(n, values[n.name])
        if keep:
            continue
        for i in n.inputs:
            remaining[i] -= 1
            if remaining[i] == 0 and i not in graph.outputs:
                del values[i]
    out = values if keep else {o: values[o] for o in graph.outputs}
    return out if int32 is None else {k: _int64(v) for k, v in out.items()}
