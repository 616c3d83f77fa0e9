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
        v = self.kernel_of(n.op)(n, *args, **kw)
        self.values[name] = v
        return v

    def release(self, name: str) -> None:
        for i in self.by_name[name].inputs:
            self.left[i] -= 1
            if self.left[i] == 0 and i not in self.graph.outputs:
                self.values.pop(i, None)


@torch.inference_mode()
def quantization_errors(fgraph: ir.Graph, qgraph: ir.Graph, images: list[np.ndarray]) -> dict[str, dict]:
    """Per node: SQNR (dB) of the dequantized value against the float value, clipped fraction, wrap and
    saturation counts, over ``images`` (float RGB ``H x W x 3``)."""
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
                                        "elements": 0})
            for k in ("clipped", "wrapped", "saturated"):
                a[k] += st.get(k, 0)
            a["elements"] += qv.numel()
            if n.name in fnames:
                fv = fr.run(n.name, x).to(torch.float64)
                d = qv.to(torch.float64) * 2.0 ** -n.frac
                a["signal"] += float((fv * fv).sum())
                a["noise"] += float(((fv - d) ** 2).sum())
                fr.release(n.name)
            qr.release(n.name)
    out = {}
    for name, a in acc.items():
        if a["noise"] == 0:
            sqnr = math.inf
        elif a["signal"] == 0:
            sqnr = -math.inf
        else:
            sqnr = 10 * math.log10(a["signal"] / a["noise"])
        out[name] = {"sqnr_db": sqnr, "clipped_fraction": a["clipped"] / max(1, a["elements"]),
                     "clipped": a["clipped"], "wrapped": a["wrapped"], "saturated": a["saturated"]}
    return out
