"""Bring your own SNN: any traceable PyTorch spiking network -> quantized artifact, and running it in the module's
own tensor layout. The CLI (``spikerain convert --torch``, ``spikerain simulate --input X.npy``) and the Python
API (``spikerain.convert``, ``spikerain.simulate``) both go through here; docs/bring-your-own.md walks through it.
"""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import torch

from spikerain.converter import ir
from spikerain.converter.quantize import QuantConfig, quantize
from spikerain.errors import InputError, UsageError


def _io(graph: ir.Graph) -> dict:
    io = graph.meta.get("io")
    if not io:
        raise UsageError("this artifact was not converted from a module tensor (no input/output layout)",
                         fix="simulate it with an image (--input image.png), or convert with --torch")
    return io


def to_graph_input(graph: ir.Graph, x) -> torch.Tensor:
    """A module input (its own layout) -> the graph's ``[T, B, C, H, W]``, checked against the traced shape."""
    from spikerain.converter.frontends.fx_frontend import module_to_ir

    io = _io(graph)["input"]
    x = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    try:
        t = module_to_ir(x, io["lead"], tuple(io["feat"]))
    except ValueError as e:
        raise InputError(f"input of shape {x.shape} does not fit the module's layout {io['lead']} + "
                         f"{tuple(io['feat'])}: {e}", fix="pass a tensor shaped like the conversion example") from None
    if t.shape[0] != graph.input_shape[0] or tuple(t.shape[2:]) != tuple(graph.input_shape[1:]):
        raise InputError(f"input of shape {x.shape} gives {t.shape[0]} steps of {t.shape[2:]}; the graph was traced "
                         f"for {graph.input_shape[0]} steps of {tuple(graph.input_shape[1:])}",
                         fix="pass a tensor shaped like the conversion example")
    return torch.from_numpy(t)


def from_graph_output(graph: ir.Graph, y) -> np.ndarray:
    from spikerain.converter.frontends.fx_frontend import ir_to_module

    io = _io(graph)["output"]
    return ir_to_module(np.asarray(y), io["lead"], tuple(io["feat"]))


def run_float_module_layout(graph: ir.Graph, x) -> np.ndarray:
    """The float IR on a module input; the result in the module's output layout."""
    from spikerain.hardware.fastsim.executor import execute
    from spikerain.hardware.fastsim.float_kernels import float_kernel

    with torch.inference_mode():
        out = execute(graph, to_graph_input(graph, x), float_kernel)
    return from_graph_output(graph, out[graph.outputs[0]].numpy())


def simulate_module_layout(graph: ir.Graph, x, *, reference: bool = False) -> np.ndarray:
    """The quantized graph on a module input (fast simulator, or the numpy reference kernels), dequantized into
    the module's output layout."""
    xt = to_graph_input(graph, x)
    name = graph.outputs[0]
    if reference:
        from spikerain.hardware.kernels.reference import run_reference

        q = run_reference(graph, xt.numpy())[name]
    else:
        from spikerain.hardware.fastsim.simulate import simulate

        q = simulate(graph, xt)[name].numpy()
    return from_graph_output(graph, q.astype(np.float64) * 2.0 ** -graph.node(name).frac)


def calibration_inputs(example, calibration) -> list:
    """``calibration``: None (the example alone), or a stack of inputs shaped like the example ``[N, *example]``."""
    ex = np.asarray(example.detach().cpu().numpy() if isinstance(example, torch.Tensor) else example, np.float32)
    if calibration is None:
        return [ex]
    c = np.asarray(calibration.detach().cpu().numpy() if isinstance(calibration, torch.Tensor) else calibration,
                   np.float32)
    if c.shape[1:] != ex.shape:
        raise InputError(f"calibration stack of shape {c.shape}: expected [N, {', '.join(map(str, ex.shape))}]",
                         fix="stack N example inputs along a new first axis (np.stack)")
    return list(c)


def convert_module(module, example, calibration=None, *, cfg: QuantConfig | None = None, lead: str = "auto",
                   report_inputs: int = 2) -> tuple:
    """Returns (float graph after passes, quantized graph with the report in its meta, report)."""
    from spikerain.converter.frontends.fx_frontend import from_module
    from spikerain.converter.passes.pipeline import run_passes

    ex = example if isinstance(example, torch.Tensor) else torch.from_numpy(np.asarray(example, np.float32))
    trace: list = []
    fgraph = run_passes(from_module(module, ex, lead=lead), trace=trace)
    qgraph, report = quantize_graph(fgraph, calibration_inputs(ex, calibration), cfg, report_inputs=report_inputs)
    report["passes"] = trace
    report["calibration"]["source"] = "example" if calibration is None else "stack"
    return fgraph, qgraph, report


def quantize_graph(fgraph: ir.Graph, calibration: list, cfg: QuantConfig | None = None, *,
                   report_inputs: int = 2) -> tuple:
    """A float graph with a module layout (traced or imported from NIR) and calibration inputs in that layout ->
    (quantized graph with the report in its meta, report)."""
    from spikerain.hardware.fastsim.calibrate import calibration_maxima
    from spikerain.hardware.fastsim.compare import quantization_errors

    t0 = time.perf_counter()
    inputs = [to_graph_input(fgraph, c) for c in calibration]
    maxima = calibration_maxima(fgraph, inputs)
    qgraph, report = quantize(fgraph, maxima, cfg)
    errors = quantization_errors(fgraph, qgraph, inputs[:report_inputs])
    for name, e in errors.items():
        report["layers"].setdefault(name, {}).update(e)
    report["calibration"] = {"source": "given", "inputs": len(inputs)}
    out = qgraph.outputs[0]
    report["summary"] = {
        "nodes": len(qgraph.nodes), "host_nodes": sum(n.placement == "host" for n in qgraph.nodes),
        "clipped": sum(v["clipped"] for v in errors.values()), "wrapped": sum(v["wrapped"] for v in errors.values()),
        "saturated": sum(v["saturated"] for v in errors.values()), "output_sqnr_db": errors[out]["sqnr_db"],
        "worst_layers": worst_layers(errors), "seconds": round(time.perf_counter() - t0, 3),
        "layers_with_events": sorted(k for k, v in errors.items() if v["clipped"] or v["wrapped"] or v["saturated"]),
    }
    qgraph = ir.validate(qgraph.with_meta(calibration=report["calibration"], quantization_summary=report["summary"],
                                          quantization_layers=report["layers"]))
    return qgraph, report


def worst_layers(errors: dict, k: int = 3) -> list[list]:
    """The ``k`` layers with the lowest finite SQNR: where quantization lost most."""
    finite = [(name, e["sqnr_db"]) for name, e in errors.items() if math.isfinite(e["sqnr_db"])]
    return [[n, round(s, 2)] for n, s in sorted(finite, key=lambda p: p[1])[:k]]


def load_factory(spec: str, checkpoint: str | None = None):
    """``FILE.py:FACTORY`` -> ``FACTORY()`` (an nn.Module), with an optional state dict loaded weights-only."""
    if ":" not in spec:
        raise UsageError(f"--torch {spec!r}: expected FILE.py:FACTORY", fix="e.g. --torch mynet.py:build")
    file, name = spec.rsplit(":", 1)
    path = Path(file)
    if not path.is_file():
        raise InputError(f"--torch: {file} does not exist", fix="pass the Python file that defines the factory")
    mod_spec = importlib.util.spec_from_file_location(f"spikerain_user_{path.stem}", path)
    if mod_spec is None or path.suffix != ".py":
        raise InputError(f"--torch: {file} is not a Python file", fix="pass FILE.py:FACTORY")
    mod = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(mod)
    except Exception as e:  # the user's file failed: one line, their error
        raise InputError(f"--torch: importing {file} failed: {type(e).__name__}: {e}",
                         fix="run the file with python to see the error") from None
    factory = getattr(mod, name, None)
    if not callable(factory):
        raise InputError(f"--torch: {file} has no callable {name!r}", fix="name a function that returns the module")
    module = factory()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"--torch: {name}() returned {type(module).__name__}, not a torch.nn.Module")
    if checkpoint:
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            module.load_state_dict(state)
        except (OSError, RuntimeError, KeyError) as e:
            raise InputError(f"--checkpoint {checkpoint}: {type(e).__name__}: {str(e)[:200]}",
                             fix="pass a state_dict saved with torch.save(module.state_dict(), path)") from None
    return module.eval()


def load_npy(path: str, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{what} {path}: cannot read a .npy array ({e})", fix="save it with numpy.save") from None


def verify_module_input(artifact: str, graph: ir.Graph, x, *, conv_model: str = "vectorised",
                        timeout: float = 1800.0, progress=None) -> dict:
    """Lava against the fast simulator on one module input (its own layout), as ``verify_crop`` does for images:
    the output integers, every layer's non-zero count per timestep and the energy counts must be identical."""
    from spikerain.counting.plan import Accumulator, EnergyPlan
    from spikerain.energy.sources import _frames
    from spikerain.hardware.backend import run_lava
    from spikerain.hardware.fastsim.simulate import Activity, simulate
    from spikerain.pipeline.verify import compare

    xt = to_graph_input(graph, x)  # [T, 1, C, H, W]
    plan, acc, act = EnergyPlan.build(graph), Accumulator(), Activity()
    t0 = time.perf_counter()
    out = simulate(graph, xt, activity=act, observe=lambda n, v: _frames(plan, n.name, v, acc))
    fast_s = time.perf_counter() - t0
    fast_out = out[graph.outputs[0]][:, 0].numpy().astype(np.int64)
    t0 = time.perf_counter()
    lava = run_lava(artifact, xt[:, 0].numpy(), conv_model=conv_model, timeout=timeout, progress=progress)
    wall = time.perf_counter() - t0
    res = compare(fast_out, act.nonzero, lava.output, lava.counts, [n.name for n in graph.nodes])
    res["energy_equal"] = plan.finish(acc) == lava.meta.get("energy")
    res["bit_exact"] = res["bit_exact"] and res["energy_equal"]
    res.update({"size": list(graph.input_shape), "fast_seconds": round(fast_s, 3), "lava_wall_seconds": round(wall, 2),
                "lava_seconds": {k: round(v, 3) for k, v in lava.meta["seconds"].items()},
                "lava_processes": lava.meta["processes"], "lava_steps": lava.meta["steps"],
                "schedule": lava.meta["schedule"], "conv_model": conv_model})
    return res


def run_lava_module_layout(artifact: str, graph: ir.Graph, x, *, timeout: float = 1800.0, progress=None) -> np.ndarray:
    """The artifact in Lava (child process) on a module input; dequantized into the module's output layout."""
    from spikerain.hardware.backend import run_lava

    lava = run_lava(artifact, to_graph_input(graph, x)[:, 0].numpy(), timeout=timeout, progress=progress)
    q = lava.output[:, None]  # [T, B=1, C, H, W]
    return from_graph_output(graph, q.astype(np.float64) * 2.0 ** -graph.node(graph.outputs[0]).frac)
