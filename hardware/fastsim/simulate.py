"""Run a quantized graph in the fast simulator and record activity per layer and timestep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.executor import execute
from spikerain.hardware.fastsim.int_kernels import int_kernel
from spikerain.hardware.fastsim.narrow import float32_nodes, int32_nodes

#: frame-local chains whose inputs hold at least this many bytes run one time step at a time: it lowers the
#: peak where values are large (bench/memory.py) and costs a few extra small ops where they are not
CHUNK_BYTES = 8 << 20
#: hand freed heap pages back to the system after this many bytes of values were freed (``spikerain.heap``):
#: glibc otherwise keeps the pages of the step-sized buffers resident. Off by default: at 256x256 every 64 MiB
#: cut the peak by 170-200 MB but cost 20-30 % more time in page faults (``bench/memory.py --levers``)
RELEASE_BYTES: int | None = None
#: hand freed heap pages back only when those kept resident grew by more than this since the start or the last
#: release (``heap.SlackRelease``, checked after each node and each step of a chain; None: never). At 256x256,
#: dim 48 (``bench/memory.py --levers --set fifth``): 64 MiB brought the peak to 0.96-0.97x the float forward's
#: at 1.7x its time, 128 MiB to 0.98-0.99x at 1.5x, 256 MiB to 1.05-1.08x at 1.3-1.4x; below a few hundred
#: pixels a side it never triggers
RELEASE_SLACK: int | None = 128 << 20


@dataclass
class Activity:
    """Per node: non-zero count per timestep (summed over batch), element count per step, and event stats."""

    nonzero: dict[str, list[int]] = field(default_factory=dict)
    per_step: dict[str, int] = field(default_factory=dict)
    stats: dict[str, dict] = field(default_factory=dict)

    def record(self, node: ir.Node, value: torch.Tensor) -> None:
        T = value.shape[0]
        self.nonzero[node.name] = [int(c) for c in (value.reshape(T, -1) != 0).sum(dim=1)]
        self.per_step[node.name] = int(value[0].numel())


@torch.inference_mode()
def simulate(graph: ir.Graph, images: np.ndarray | torch.Tensor, *, keep: bool = False,
             activity: Activity | None = None, stats: dict | None = None,
             observe: Callable[[ir.Node, torch.Tensor], None] | None = None,
             chunk_bytes: int | None = CHUNK_BYTES,
             release_bytes: int | None = RELEASE_BYTES,
             release_slack: int | None = RELEASE_SLACK) -> dict[str, torch.Tensor]:
    """Execute ``graph`` on float images ``[B, C, H, W]`` in [0, 1]; returns integer outputs ``[1, B, ...]``
    (every node's value if ``keep``). ``stats`` gets per-node clip/wrap/saturation counts. ``chunk_bytes``:
    frame-local chains reading at least this much run one time step at a time (``executor.execute``; None:
    never), unless ``keep``, ``activity`` or ``observe`` need every value whole. ``release_bytes``: hand freed
    heap pages back each time values of that many bytes were freed (None: never; less memory, more time).
    ``release_slack``: hand them back only when more than that many bytes of them are resident (None: never)."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)

    def watch(node: ir.Node, value: torch.Tensor) -> None:
        if activity is not None:
            activity.record(node, value)
        if observe is not None:
            observe(node, value.to(torch.int64))  # callers see int64, as before values were narrowed

    int32 = int32_nodes(graph)
    watching = activity is not None or observe is not None  # else whole steps-at-once values need not exist
    return execute(graph, x, int_kernel, keep=keep, observe=watch if watching else None, stats=stats, int32=int32,
                   float32=float32_nodes(graph, int32), chunk_bytes=chunk_bytes, release_bytes=release_bytes,
                   release_slack=release_slack)


def dequantized_output(graph: ir.Graph, out: dict[str, torch.Tensor]) -> np.ndarray:
    """The first output as float ``[B, C, H, W]``."""
    name = graph.outputs[0]
    return out[name][0].to(torch.float64).numpy() * 2.0 ** -graph.node(name).frac
