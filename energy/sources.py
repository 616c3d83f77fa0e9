"""Activity sources for the energy estimator: PyTorch forward hooks, the fast simulator, a Lava run.

All three hand every produced value, frame by frame, to the same :class:`~spikerain.counting.plan.EnergyPlan`, so
the same activity gives the same counts whatever produced it. ``torch`` runs a graph as an ``nn.Module`` with
one submodule per IR node and collects with standard forward hooks (the float graph gives the network as trained,
the quantized graph the deployed one); ``fast`` uses the fast simulator's observer; ``lava`` counts inside the Lava
processes (small crops only; see :mod:`spikerain.hardware.backend`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spikerain.converter import ir
from spikerain.counting.plan import Accumulator, EnergyPlan

SOURCES = ("torch", "fast", "lava")


class NodeModule(nn.Module):
    def __init__(self, node: ir.Node, fn) -> None:
        super().__init__()
        self.node, self.fn = node, fn

    def forward(self, *args):
        return self.fn(self.node, *args)


class GraphModule(nn.Module):
    """An IR graph as a PyTorch module: one submodule per node, run in topological order."""

    def __init__(self, graph: ir.Graph) -> None:
        super().__init__()
        from spikerain.hardware.fastsim.float_kernels import float_kernel
        from spikerain.hardware.fastsim.int_kernels import int_kernel

        self.graph = graph
        quantized = graph.nodes[0].op.startswith("q_")
        self.layers = nn.ModuleDict({str(i): NodeModule(n, (int_kernel if quantized else float_kernel)(n.op))
                                     for i, n in enumerate(graph.nodes)})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        from spikerain.hardware.fastsim.executor import execute

        index = {n.name: str(i) for i, n in enumerate(self.graph.nodes)}
        # the simulators' graph walker, calling each node through its submodule so that hooks fire
        return execute(self.graph, x, lambda op: lambda node, *args: self.layers[index[node.name]](*args))


def _frames(plan: EnergyPlan, name: str, value: torch.Tensor, acc: Accumulator) -> None:
    v = value.detach()
    for t in range(v.shape[0]):
        plan.count_frame(name, t, v[t, 0].numpy(), acc)


@torch.inference_mode()
def collect_torch(graph: ir.Graph, image_chw: np.ndarray) -> tuple[dict, torch.Tensor]:
    """Counts via forward hooks on :class:`GraphModule`; returns (counts record, first output)."""
    g = _at(graph, image_chw)
    plan, acc = EnergyPlan.build(g), Accumulator()
    module = GraphModule(g).eval()
    hooks = [m.register_forward_hook(lambda mod, args, out: _frames(plan, mod.node.name, out, acc))
             for m in module.layers.values()]
    try:
        out = module(torch.as_tensor(image_chw[None], dtype=torch.float32))
    finally:
        for h in hooks:
            h.remove()
    return plan.finish(acc), out[g.outputs[0]]


def collect_fast(graph: ir.Graph, image_chw: np.ndarray) -> tuple[dict, torch.Tensor]:
    from spikerain.hardware.fastsim.simulate import simulate

    g = _at(graph, image_chw)
    plan, acc = EnergyPlan.build(g), Accumulator()
    out = simulate(g, image_chw[None].astype(np.float32), observe=lambda n, v: _frames(plan, n.name, v, acc))
    return plan.finish(acc), out[g.outputs[0]]


def collect_lava(artifact: str, image_chw: np.ndarray, timeout: float = 1800.0) -> tuple[dict, np.ndarray]:
    from spikerain.hardware.backend import run_lava

    res = run_lava(artifact, image_chw, timeout=timeout)
    return res.meta["energy"], res.output


def _at(graph: ir.Graph, image_chw: np.ndarray) -> ir.Graph:
    g = graph.with_nodes(graph.nodes, input_shape=(1, *image_chw.shape))
    ir.infer_shapes(g)
    return g
