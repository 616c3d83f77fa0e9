"""The pass pipeline: named pure passes ``Graph -> Graph``, with validation (and shape inference) after each."""

from __future__ import annotations

from collections.abc import Callable

from spikerain.converter import ir
from spikerain.converter.passes.dce import eliminate_dead_nodes
from spikerain.converter.passes.fold_batchnorm import fold_batchnorm
from spikerain.converter.passes.fold_scalars import fold_scalars

Pass = Callable[[ir.Graph], ir.Graph]

#: the default pipeline, in order
PASSES: dict[str, Pass] = {
    "fold_batchnorm": fold_batchnorm,
    "fold_scalars": fold_scalars,
    "eliminate_dead_nodes": eliminate_dead_nodes,
    "infer_shapes": ir.infer_shapes,
}


def run_passes(g: ir.Graph, names: list[str] | None = None, *, trace: list | None = None) -> ir.Graph:
    """Apply passes in order; validate after each. ``trace`` collects (pass name, node count)."""
    ir.validate(g)
    for name in names or list(PASSES):
        g = PASSES[name](g)
        ir.validate(g)
        if trace is not None:
            trace.append((name, len(g.nodes)))
    return g
