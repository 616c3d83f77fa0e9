"""Time-varying inputs and per-step neuron state (spikes, u, v) of a quantized graph.

A graph whose input feeds a repetition over T (every imported netx network, every deraining model) can be run
on a sequence of frames instead of one image: frame t replaces the repeated image at step t. For a netx
network whose first layer is an input neuron, a frame is that neuron's input current for one step, which is
the same as its bias (``iDecay`` 4096): this is how an input layer's bias is given per step. For a network
whose input layer has no neuron, the frames (spikes or graded values) go straight into the first synapse, as
netx connects a source to ``net.inp``.

Recording: every neuron layer's spikes, and a LIF layer's current ``u`` and voltage ``v`` after each step, as
Lava's ``PyLifModelBitAcc`` holds them (``v`` after the spike reset), in lava-dl's index convention: a
convolutional layer's array is ``(X, Y, C, T)`` = ``(W, H, C, T)``, a dense layer's ``(N, T)``.
"""

from __future__ import annotations

import numpy as np

from spikerain.atomic import atomic_path
from spikerain.converter import ir
from spikerain.errors import InputError

RECORD_FORMAT = "spikerain-neuron-record"


def fixed_input(graph: ir.Graph) -> bool:
    """Whether the graph runs only at its own input size: a dense synapse fixes it, and netx networks are made
    for their input shape, as are modules traced from their example input (``convert --torch``, ``import-nir``);
    deraining models take any size, padded to their size multiple."""
    return (any(n.op == "q_dense_synapse" for n in graph.nodes) or graph.meta.get("source") == "netx"
            or graph.nodes[0].op == "q_tensor_input")


def repeat_node(graph: ir.Graph) -> ir.Node:
    """The repetition over T that the graph's input feeds (the node a sequence replaces)."""
    first = graph.nodes[0]
    for n in graph.nodes:
        if n.op == "q_repeat_t" and n.inputs == (first.name,):
            return n
    raise InputError("this graph repeats no input over time, so it cannot take a sequence of frames",
                     fix="give one image, or a graph whose input feeds a repetition over T")


def with_steps(graph: ir.Graph, steps: int) -> ir.Graph:
    """The graph running ``steps`` steps (its input repetition set to ``steps``), shapes inferred."""
    rep = repeat_node(graph)
    g = graph.with_nodes([n.replace(T=int(steps)) if n.name == rep.name else n for n in graph.nodes])
    return ir.infer_shapes(g.with_meta(steps=int(steps)))


def sequence_frames(graph: ir.Graph, raster: np.ndarray) -> np.ndarray:
    """A raster ``[T, C, H, W]`` (or ``[T, N]`` for an input of ``N = C*H*W`` values) as the float frames
    ``[T, 1, C, H, W]`` the graph's input quantizes. Integer rasters hold the input integers q themselves (spikes,
    lava-dl's recorded inputs); float rasters are in the units of an image (q / 2**frac)."""
    r = np.asarray(raster)
    C, H, W = graph.input_shape[1:]
    if r.ndim < 2 or int(np.prod(r.shape[1:])) != C * H * W:
        raise InputError(f"an input raster of shape {r.shape} does not fit the graph's input [T, {C}, {H}, {W}]",
                         fix=f"give a .npy array [T, {C}, {H}, {W}] (or [T, {C * H * W}])")
    if r.shape[0] < 1:
        raise InputError("the input raster has no frames", fix="give at least one frame")
    first = graph.nodes[0]
    frames = r.reshape(r.shape[0], 1, C, H, W)
    if first.bits == 1:  # a unary spike input: any non-zero value is a spike, as Lava's synapses read it
        return (frames != 0).astype(np.float64)
    if np.issubdtype(r.dtype, np.integer) or np.issubdtype(r.dtype, np.bool_):
        q = frames.astype(np.int64)
        lim = 1 << first.frac
        if np.abs(q).max(initial=0) > lim or (not getattr(first, "signed", False) and q.min(initial=0) < 0):
            raise InputError(f"input raster values reach {np.abs(q).max()}, beyond the input's range (2**"
                             f"{first.frac})", fix="import the network with a larger input_frac")
        return q.astype(np.float64) / lim
    return frames.astype(np.float64)


def lava_layout(a: np.ndarray, dense: bool) -> np.ndarray:
    """Per-step values ``[T, C, H, W]`` in lava-dl's convention: ``(W, H, C, T)``, or ``(N, T)`` if ``dense``."""
    a = np.asarray(a)
    if dense:
        return np.ascontiguousarray(a.reshape(a.shape[0], -1).T)
    return np.ascontiguousarray(a.transpose(3, 2, 1, 0))


def dense_shaped(graph: ir.Graph, name: str) -> bool:
    """Whether a neuron layer is a vector in Lava (after a dense synapse, or a 1-D input)."""
    node = graph.node(name)
    src = graph.node(node.inputs[0]) if node.inputs else None
    if src is not None and src.op == "q_dense_synapse":
        return True
    return tuple(graph.shapes[name][2:]) == (1, 1) and src is not None and src.op == "q_repeat_t"


def record_neurons(graph: ir.Graph, frames: np.ndarray, values: dict | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Run ``graph`` with the numpy reference on ``frames`` (an image ``[1, C, H, W]`` or a sequence ``[T, 1, C,
    H, W]``) and return, per neuron layer, ``s`` and (LIF) ``u``, ``v`` as ``[T, C, H, W]`` integers. ``values``:
    the values of a run already made (the fast simulator's, bit-exact with the reference: at least every neuron
    layer's input and output); then only the LIF states are computed."""
    from spikerain.hardware.kernels.reference import lif_states, run_reference

    if values is None:
        values = run_reference(graph, frames, keep=True)
    values = {k: np.asarray(v) for k, v in values.items()}
    out: dict[str, dict[str, np.ndarray]] = {}
    for n in graph.nodes:
        if n.op == "q_lif":
            s, u, v = lif_states(n, values[n.inputs[0]])
            out[n.name] = {"s": s[:, 0], "u": u[:, 0], "v": v[:, 0]}
        elif n.op in ("q_delta", "q_sigma_delta", "q_sigma"):
            out[n.name] = {"s": values[n.name][:, 0]}
    return out


def write_record(path, graph: ir.Graph, record: dict[str, dict[str, np.ndarray]], activity=None,
                 stats: dict | None = None) -> None:
    """``layers/<name>/{s,u,v}`` in lava-dl's index convention (see the module docstring), atomically; with
    ``activity`` the same file is also an activity record (``nodes/``, which the energy estimator reads)."""
    import h5py

    with atomic_path(path, suffix=".tmp") as tmp:
        if activity is not None:
            from spikerain.hardware.fastsim.activity import write_activity

            write_activity(tmp, graph, activity, stats)
        with h5py.File(tmp, "a" if activity is not None else "w") as f:
            _write_layers(f, graph, record)


def _write_layers(f, graph: ir.Graph, record: dict[str, dict[str, np.ndarray]]) -> None:
    f.attrs["neuron_record"] = RECORD_FORMAT
    f.attrs["layout"] = "conv layers (X, Y, C, T) = (W, H, C, T); dense layers (N, T); lava-dl's convention"
    for i, (name, arrays) in enumerate(record.items()):
        g = f.create_group(f"layers/{name}")
        g.attrs["index"] = i
        g.attrs["op"] = graph.node(name).op
        dense = dense_shaped(graph, name)
        for k, a in arrays.items():
            g.create_dataset(k, data=lava_layout(a, dense).astype(np.int32), compression="gzip")


def read_record(path) -> dict[str, dict[str, np.ndarray]]:
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("neuron_record") != RECORD_FORMAT:
            raise InputError(f"{path} is not a spikerain neuron record", fix="write one with simulate --record")
        if "layers" not in f:
            return {}
        return {name: {k: g[k][()] for k in g} for name, g in f["layers"].items()}
