"""Float and quantized graphs run side by side, node by node, for the quantization report.

Memory stays bounded: each value is freed once its last consumer in its own graph has run.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.float_kernels import float_kernel
from spikerain.hardware.fastsim.int_kernels import int_kernel


class _Runner:
    def __init__(self, graph: ir.Graph, kernel_of):
        self.graph = graph
        self.by_name = graph.by_name()
        cons = graph.consumers()
        self.left = {k: len(v) for k, v in cons.items()}
        self.values: dict[str, torch.Tensor] = {}
        self.kernel_of = kernel_of

    def run(self, name: str, x, stats=None) -> torch.Tensor:
        n = self.by_name[name]
        args = [self.values[i] for i in n.inputs] if n.inputs else [x]
        kw = {} if stats is None else {"stats": stats}
        v = self.kernel_of(n)(n, *args, **kw)
        self.values[name] = v
        return v

    def release(self, name: str) -> None:
        for i in self.by_name[name].inputs:
            self.left[i] -= 1
            if self.left[i] == 0 and i not in self.graph.outputs:
                self.values.pop(i, None)


@torch.inference_mode()
def quantization_errors(fgraph: ir.Graph, qgraph: ir.Graph, images: list[np.ndarray], *,
                        local: bool = False, outputs: list | None = None) -> dict[str, dict]:
    """Per node: SQNR (dB) of the dequantized value against the float value, clipped fraction, wrap and
    saturation counts, over ``images`` (float RGB ``H x W x 3``).

    With ``local``, also ``local_sqnr_db``: the error this node adds by itself, its integer kernel run on the
    float values of its inputs quantized at their edges' scales. The plain SQNR accumulates every upstream
    error; the local one says where the loss comes from. ``outputs``, when given, receives per image the float
    and the dequantized value of the graph's first output at its last time step (numpy, ``C x H x W``)."""
    acc: dict[str, dict] = {}
    fnames = set(fgraph.by_name())
    for img in images:
        x = img if isinstance(img, torch.Tensor) else \
            torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float()  # tensors: as is
        fr, qr = _Runner(fgraph, float_kernel), _Runner(qgraph, int_kernel)
        for n in qgraph.nodes:
            st: dict = {}
            qv = qr.run(n.name, x, st)
            a = acc.setdefault(n.name, {"signal": 0.0, "noise": 0.0, "clipped": 0, "wrapped": 0, "saturated": 0,
                                        "elements": 0, "local_noise": None})
            for k in ("clipped", "wrapped", "saturated"):
                a[k] += st.get(k, 0)
            a["elements"] += qv.numel()
            if n.name in fnames:
                fv = fr.run(n.name, x).to(torch.float64)
                d = qv.to(torch.float64) * 2.0 ** -n.frac
                a["signal"] += float((fv * fv).sum())
                a["noise"] += float(((fv - d) ** 2).sum())
                if local and n.inputs and all(i in fr.values for i in n.inputs):
                    args = [_on_edge(fr.values[i], qr.by_name[i], qr.values[i]) for i in n.inputs]
                    lv = int_kernel(n.op)(n, *args).to(torch.float64) * 2.0 ** -n.frac
                    a["local_noise"] = (a["local_noise"] or 0.0) + float(((fv - lv) ** 2).sum())
                if outputs is not None and n.name == qgraph.outputs[0]:
                    outputs.append((fv[-1, 0].numpy(), d[-1, 0].numpy()))
                fr.release(n.name)
            qr.release(n.name)
    out = {}
    for name, a in acc.items():
        sqnr = _db(a["signal"], a["noise"])
        out[name] = {"sqnr_db": sqnr, "clipped_fraction": a["clipped"] / max(1, a["elements"]),
                     "clipped": a["clipped"], "wrapped": a["wrapped"], "saturated": a["saturated"]}
        if a["local_noise"] is not None:
            out[name]["local_sqnr_db"] = _db(a["signal"], a["local_noise"])
    return out


def _db(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    return -math.inf if signal == 0 else 10 * math.log10(signal / noise)


def _on_edge(fv: torch.Tensor, qnode, like: torch.Tensor) -> torch.Tensor:
    """A float value quantized as the integer edge ``qnode`` carries it (its scale, clipped to its width)."""
    v = torch.round(fv.to(torch.float64) * 2.0 ** qnode.frac)
    if getattr(qnode, "bits", 0) > 1:
        lim = (1 << (qnode.bits - 1)) - 1
        v = v.clamp(-lim, lim)
    return v.to(like.dtype)
