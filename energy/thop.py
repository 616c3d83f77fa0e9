"""What ``thop.profile`` would count on the authors' networks, from spikerain's IR (torch-free).

VLIF-Net's authors took FLOPs from ``thop`` (``ChrisChen1023/VLIF`` ``test.py``; docs/energy.md). thop hooks only
modules of exact ``torch.nn`` types, so SpikingJelly's ``layer.Conv2d`` and its BatchNorm, which carry nearly all
of both networks' work, count as zero. The torch frontend records which IR nodes come from plain ``torch.nn``
modules of the authors' code (``graph.meta["thop_visible"]``); this module applies thop's own counting rules
(``thop/vision/basic_hooks.py``, version 0.1.1) to those nodes:

- Conv1d/2d/3d: output elements x input channels x kernel elements (no bias term);
- AdaptiveAvgPool: output elements x (pooled elements per output + 1);
- bilinear Upsample: 11 per output element;
- ReLU, max pooling: zero; Sigmoid has no rule (zero).

Counts are per forward pass of the graph at its current input shape (every time step included, as thop sees it).
"""

from __future__ import annotations

import numpy as np

from spikerain.converter import ir

#: thop's cost of one bilinear output element (``calculate_upsample``)
BILINEAR_OPS_PER_OUTPUT = 11


def _base(op: str) -> str:
    return op[2:] if op.startswith("q_") else op


def node_ops(node: ir.Node, shapes: dict) -> int:
    """thop's operation count for one thop-visible node."""
    op = _base(node.op)
    out = int(np.prod(shapes[node.name]))
    if op == "conv2d":
        _, ci, kh, kw = node.weight.shape
        return out * ci * kh * kw
    if op == "temporal_conv":  # Conv3d with a (k, 1, 1) kernel along time
        _, ci, kt = node.weight.shape
        return out * ci * kt
    if op == "dense":  # Conv3d 1x1x1 (the attention MLPs)
        return out * node.weight.shape[1]
    if op == "reduce" and node.mode == "mean":  # AdaptiveAvgPool
        pooled = int(np.prod(shapes[node.inputs[0]])) // out
        return out * (pooled + 1)
    if op == "upsample2x":
        return BILINEAR_OPS_PER_OUTPUT * out
    return 0  # ReLU, AdaptiveMaxPool, Sigmoid


def thop_visible_ops(graph: ir.Graph) -> dict[str, int]:
    """Node -> thop's operation count, for every node that comes from a plain ``torch.nn`` module of the authors'
    code (the graph's shapes must be inferred; nodes removed by passes are skipped)."""
    if not graph.shapes:
        ir.infer_shapes(graph)
    visible = graph.meta.get("thop_visible", {})
    return {n.name: node_ops(n, graph.shapes) for n in graph.nodes if n.name in visible}


def thop_record(graph: ir.Graph, image_hw: tuple[int, int]) -> dict[str, dict]:
    """The ``thop`` section of a counts record for one image (tile) of ``image_hw``: per visible node its ops and
    whether its input is analog (computed from the image or the mean over T without passing a neuron)."""
    from spikerain.counting.plan import _analog_values

    g = graph.with_nodes(graph.nodes, input_shape=(1, graph.input_shape[1], *image_hw))
    ir.infer_shapes(g)
    analog = _analog_values(g)
    by = g.by_name()
    return {
        k: {"ops": v, "type": g.meta["thop_visible"][k], "analog": by[k].inputs[0] in analog}
        for k, v in thop_visible_ops(g).items()
    }
