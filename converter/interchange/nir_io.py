"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0.8) both ways. Torch-free: numpy and h5py only.

Import: a NIR graph -> float IR (``ir.Neuron`` for the neurons), the input in the layout ``[T, B, *shape]``.
NIR neurons are continuous-time; with the step ``dt`` they are discretised (docs/bring-your-own.md):

* ``euler`` (default; what snnTorch and norse do): tau dv/dt = (v_leak - v) + r I becomes
  v_t = v + (dt / tau) (v_leak - v + r I_t), i.e. leak 1 - dt/tau, gain r dt/tau;
  CubaLIF's current tau_syn dI/dt = -I + w_in x becomes I_t = (1 - dt/tau_syn) I + (dt/tau_syn) w_in x;
  IF (dv/dt = r I) and I: v_t = v + r dt I_t.
* ``exp`` (what sinabs does): leak exp(-dt/tau), gain r (1 - leak) (the exact solution for an input held over
  the step).

Spikes when v > v_threshold (strict), then v = v_reset. LI and I emit their voltage. Several edges into one node
sum. ``Threshold``, ``Delay``, ``Conv1d``, ``CubaLI`` and nested graphs are refused, naming the node.

Export: a quantized artifact -> NIR with the dequantized weights and the neurons' parameters; IR ops NIR cannot
express (time reshuffles, max pooling, concatenation, subtraction, products, subtract-resets, ...) are refused
with the node and the op.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from spikerain.converter import ir
from spikerain.converter.ir import loihi
from spikerain.errors import InputError, UnsupportedOpError

METHODS = ("euler", "exp")


def _nir():
    try:
        import nir
    except ImportError:  # an optional dependency: say how to get it
        raise UnsupportedOpError("NIR needs the `nir` package", supported=["pip install nir==1.0.8"]) from None
    return nir


def _arr(v) -> np.ndarray:
    if v is None:
        return np.zeros(0)
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)


def _scalar(name: str, field: str, v) -> float:
    a = _arr(v).reshape(-1)
    if a.size == 0:
        raise UnsupportedOpError(f"NIR node {name!r}: {field} is empty")
    if not np.all(a == a[0]):
        raise UnsupportedOpError(f"NIR node {name!r}: per-neuron {field} values are not supported (one value per "
                                 "layer)", supported=["a scalar or a constant array"])
    return float(a[0])


def _shape(t) -> tuple[int, ...]:
    if isinstance(t, dict):
        t = next(iter(t.values()))
    return tuple(int(d) for d in _arr(t).reshape(-1))


def _discretise(tau: float, r: float, dt: float, method: str) -> tuple[float, float]:
    """(leak, gain) of tau dv/dt = -v + r I over one step dt."""
    if tau <= 0:
        raise UnsupportedOpError(f"time constant {tau} must be positive")
    if method == "exp":
        leak = math.exp(-dt / tau)
        return leak, r * (1.0 - leak)
    return 1.0 - dt / tau, r * dt / tau


def neuron_from_nir(name: str, node, dt: float, method: str) -> dict:
    kind = type(node).__name__
    vth = lambda: _scalar(name, "v_threshold", node.v_threshold)  # noqa: E731
    vreset = lambda: _scalar(name, "v_reset", node.v_reset) if _arr(node.v_reset).size else 0.0  # noqa: E731
    if kind == "LIF":
        leak, gain = _discretise(_scalar(name, "tau", node.tau), _scalar(name, "r", node.r), dt, method)
        return dict(leak=leak, gain=gain, v_rest=_scalar(name, "v_leak", node.v_leak), threshold=vth(),
                    strict=True, reset="zero", v_reset=vreset())
    if kind == "CubaLIF":
        leak, gain = _discretise(_scalar(name, "tau_mem", node.tau_mem), _scalar(name, "r", node.r), dt, method)
        syn, syn_gain = _discretise(_scalar(name, "tau_syn", node.tau_syn), 1.0, dt, method)
        w_in = _scalar(name, "w_in", node.w_in)
        # the current is linear in its input: I = syn_gain * w_in * I' with I' = syn * I' + x
        return dict(leak=leak, gain=gain * syn_gain * w_in, v_rest=_scalar(name, "v_leak", node.v_leak),
                    threshold=vth(), strict=True, reset="zero", v_reset=vreset(), syn_decay=syn)
    if kind == "IF":
        return dict(leak=1.0, gain=_scalar(name, "r", node.r) * dt, threshold=vth(), strict=True, reset="zero",
                    v_reset=vreset())
    if kind == "LI":
        leak, gain = _discretise(_scalar(name, "tau", node.tau), _scalar(name, "r", node.r), dt, method)
        return dict(leak=leak, gain=gain, v_rest=_scalar(name, "v_leak", node.v_leak), threshold=math.inf,
                    reset="none", emit="v")
    if kind == "I":
        return dict(leak=1.0, gain=_scalar(name, "r", node.r) * dt, threshold=math.inf, reset="none", emit="v")
    raise KeyError(kind)


def import_nir(source, *, dt: float, steps: int, method: str = "euler") -> ir.Graph:
    """A NIR graph (file path or ``nir.NIRGraph``) -> float IR graph for ``steps`` time steps."""
    nir = _nir()
    if method not in METHODS:
        raise UnsupportedOpError(f"discretisation {method!r}", supported=list(METHODS))
    if dt <= 0 or steps < 1:
        raise InputError(f"--dt {dt} and --steps {steps}: both must be positive")
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise InputError(f"NIR file {source} does not exist", fix="pass a file written by nir.write")
        try:
            g = nir.read(str(source), type_check=False)  # shapes are checked by the IR's own inference
        except Exception as e:  # a corrupt or foreign file: one line
            raise InputError(f"{source} is not a readable NIR file: {type(e).__name__}: {e}") from None
    else:
        g = source
    nodes = dict(g.nodes)
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in g.edges:
        if a not in nodes or b not in nodes:
            raise InputError(f"NIR edge {a} -> {b} names a node that does not exist")
        preds[b].append(a)
    inputs = [k for k, v in nodes.items() if type(v).__name__ == "Input"]
    outputs = [k for k, v in nodes.items() if type(v).__name__ == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedOpError(f"NIR graphs with {len(inputs)} inputs and {len(outputs)} outputs: one of each")
    order = _topological(nodes, preds)
    built: list[ir.Node] = []
    shapes: dict[str, tuple] = {}
    feat: dict[str, tuple] = {}
    out_of: dict[str, str] = {}  # NIR node -> IR node carrying its output

    def add(node: ir.Node) -> str:
        built.append(node)
        if node.arity != 0:
            shapes[node.name] = tuple(int(d) for d in node.out_shape(*[shapes[i] for i in node.inputs]))
        return node.name

    in_shape = _shape(nodes[inputs[0]].input_type)
    if len(in_shape) in (2, 4) and in_shape[0] == 1:
        in_shape = in_shape[1:]  # a batch dimension of 1 (norse's exporter writes one)
    irf = (in_shape[0], 1, 1) if len(in_shape) == 1 else tuple(in_shape)
    if len(irf) != 3:
        raise UnsupportedOpError(f"NIR input of shape {in_shape}: only (N,) and (C, H, W)")
    add(ir.TensorInput(name="input", channels=irf[0]))
    shapes["input"] = (steps, *irf)
    feat["input"] = tuple(in_shape)
    for key in order:
        node = nodes[key]
        kind = type(node).__name__
        name = f"nir.{key}"
        if kind == "Input":
            out_of[key] = "input"
            continue
        srcs = [out_of[p] for p in preds[key]]
        if not srcs:
            raise UnsupportedOpError(f"NIR node {key!r} ({kind}) has no input edge")
        x = srcs[0]
        for i, s in enumerate(srcs[1:], 1):  # fan-in: several edges into one node sum
            x = add(ir.Add(name=f"{name}.sum{i}", inputs=(x, s)))
        fx = feat[srcs[0]]
        if kind == "Output":
            out_of[key] = add(ir.Output(name="output", inputs=(x,)))
            feat["output"] = fx
            continue
        if kind in ("Affine", "Linear"):
            w = _arr(node.weight).astype(np.float32)
            if len(fx) != 1:
                raise UnsupportedOpError(f"NIR node {key!r} ({kind}) reads features {fx}: flatten first")
            b = _arr(node.bias).astype(np.float32) if kind == "Affine" else np.zeros(0, np.float32)
            y = add(ir.Conv2d(name=name, inputs=(x,), weight=w[:, :, None, None], bias=b))
            f = (w.shape[0],)
        elif kind == "Conv2d":
            from spikerain.converter.frontends.conv_expand import expand_groups_dilation

            w = expand_groups_dilation(_arr(node.weight).astype(np.float32), int(node.groups),
                                       tuple(int(d) for d in np.broadcast_to(_arr(node.dilation), 2)))
            pad = node.padding
            if isinstance(pad, str):
                raise UnsupportedOpError(f"NIR node {key!r}: string padding {pad!r}")
            b = _arr(node.bias).astype(np.float32)
            y = add(ir.Conv2d(name=name, inputs=(x,), weight=w, bias=b,
                              stride=tuple(int(d) for d in np.broadcast_to(_arr(node.stride), 2)),
                              padding=tuple(int(d) for d in np.broadcast_to(_arr(pad), 2))))
            f = shapes[y][1:]
        elif kind in ("AvgPool2d", "SumPool2d"):
            k = tuple(int(d) for d in np.broadcast_to(_arr(node.kernel_size), 2))
            s = tuple(int(d) for d in np.broadcast_to(_arr(node.stride), 2))
            p = tuple(int(d) for d in np.broadcast_to(_arr(node.padding), 2))
            C = shapes[x][1]
            w = np.zeros((C, C, *k), np.float32)
            w[np.arange(C), np.arange(C)] = 1.0 / (k[0] * k[1]) if kind == "AvgPool2d" else 1.0
            y = add(ir.Conv2d(name=name, inputs=(x,), weight=w, stride=s, padding=p))
            f = shapes[y][1:]
        elif kind == "Flatten":
            n = int(np.prod(shapes[x][1:]))
            y = add(ir.Reshape(name=name, inputs=(x,), shape=(n, 1, 1)))
            f = (n,)
        elif kind == "Scale":
            y = add(ir.Scale(name=name, inputs=(x,), factor=_scalar(key, "scale", node.scale)))
            f = fx
        elif kind in ("LIF", "CubaLIF", "IF", "LI", "I"):
            y = add(ir.Neuron(name=name, inputs=(x,), **neuron_from_nir(key, node, dt, method)))
            f = fx
        else:
            raise UnsupportedOpError(f"NIR node {key!r} of type {kind} has no IR mapping",
                                     supported=["Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d",
                                                "SumPool2d", "Flatten", "Scale", "LIF", "CubaLIF", "IF", "LI", "I"])
        out_of[key] = y
        feat[y] = tuple(f)
    out_feat = feat["output"]
    meta = {"io": {"input": {"lead": "TB", "feat": list(in_shape), "T": steps},
                   "output": {"lead": "TB", "feat": list(out_feat), "T": steps}},
            "source": "nir", "nir": {"dt": dt, "method": method}}
    graph = ir.Graph(nodes=built, outputs=("output",), input_shape=(steps, *irf), meta=meta)
    return ir.validate(graph)


def _topological(nodes: dict, preds: dict) -> list[str]:
    order, done, visiting = [], set(), set()

    def visit(k):
        if k in done:
            return
        if k in visiting:
            raise UnsupportedOpError(f"NIR graph has a cycle through {k!r} (recurrent connections are not supported)")
        visiting.add(k)
        for p in preds[k]:
            visit(p)
        visiting.discard(k)
        done.add(k)
        order.append(k)

    for k in nodes:
        visit(k)
    return order


def write_nir(graph, path) -> None:
    """``nir.write``, atomically, after giving 0-d parameters one dimension: nir 1.0.8 writes every array with
    compression, which h5py refuses for scalars ("Scalar datasets don't support chunk/filter options"); graphs
    from snnTorch's and norse's exporters hold such scalars. Values are unchanged."""
    import dataclasses

    from spikerain.atomic import atomic_path

    nir = _nir()

    def fix(node):
        if isinstance(node, nir.NIRGraph):
            for v in node.nodes.values():
                fix(v)
            return
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            if isinstance(v, np.ndarray) and v.ndim == 0:
                setattr(node, f.name, v.reshape(1))
            elif isinstance(v, np.ndarray):
                setattr(node, f.name, v)

    fix(graph)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)


# ---- export ---------------------------------------------------------------------------------------------------

def _refuse_export(n, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"NIR export: node {n.name!r} (op {n.op}) {why}",
                              supported=["q_tensor_input", "q_output", "q_conv2d", "q_reshape", "q_scale",
                                         "q_add", "q_lif", "q_neuron (reset to a value or none)"])


def export_nir(graph: ir.Graph, *, dt: float = 1e-3):
    """A quantized artifact graph -> ``nir.NIRGraph`` (dequantized weights, neurons discretised back with ``dt``
    under the Euler rule of :func:`import_nir`)."""
    nir = _nir()
    if not graph.meta.get("io"):
        raise UnsupportedOpError("NIR export needs an artifact converted from a module or a NIR file (convert "
                                 "--torch / import-nir): image models start with direct encoding NIR cannot say")
    by = graph.by_name()
    frac = {n.name: n.frac for n in graph.nodes}
    nodes: dict = {}
    edges: list = []
    alias: dict[str, str] = {}  # IR node -> NIR node carrying its value
    shapes = ir.infer_shapes(graph.with_nodes(graph.nodes)).shapes

    def src(name: str) -> str:
        return alias.get(name, name)

    def neuron_node(n, f_in: int):
        lsb = 2.0**-f_in
        leak = (n.leak_mant if n.op == "q_neuron" else loihi.DECAY_UNITY - n.dv) / loihi.DECAY_UNITY
        tau = dt / (1.0 - leak) if leak < 1.0 else None
        C = shapes[n.name][1]
        full = lambda v: np.full(C, v, np.float64)  # noqa: E731
        if n.op == "q_lif":
            if n.du != 4095 or n.bias_mant or n.bias_map.size or n.reset_interval:
                raise _refuse_export(n, "has a current decay, a bias or periodic resets")
            th = n.vth * lsb
            if tau is None:
                return nir.IF(r=full(1.0 / dt), v_threshold=full(th), v_reset=full(0.0))
            return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(0.0), v_threshold=full(th),
                           v_reset=full(0.0))
        if n.reset_next or n.multi or n.has_min_v or n.current_lag or n.reset == "subtract":
            raise _refuse_export(n, "uses a reset-by-subtraction, a delayed reset, multi-spikes, a floor on v or a "
                                    "lagged current: NIR neurons reset to a value")
        v_leak, th, v_reset = n.v_rest * lsb, n.threshold * lsb, n.v_reset * lsb
        if n.emit == "v":
            if n.syn_mant >= 0:
                raise _refuse_export(n, "is a current-based leaky integrator (NIR CubaLI is not supported)")
            if tau is None:
                return nir.I(r=full(1.0 / dt))
            return nir.LI(tau=full(tau), r=full(tau / dt), v_leak=full(v_leak))
        if n.syn_mant >= 0:
            syn = n.syn_mant / loihi.DECAY_UNITY
            if tau is None or syn >= 1.0:
                raise _refuse_export(n, "has a current but no membrane leak")
            tau_syn = dt / (1.0 - syn)
            return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau), r=full(tau / dt), v_leak=full(v_leak),
                               v_threshold=full(th), v_reset=full(v_reset), w_in=full(tau_syn / dt))
        if tau is None:
            return nir.IF(r=full(1.0 / dt), v_threshold=full(th), v_reset=full(v_reset))
        return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(v_leak), v_threshold=full(th),
                       v_reset=full(v_reset))

    for n in graph.nodes:
        key = n.name
        if n.op == "q_tensor_input":
            feat = tuple(graph.meta["io"]["input"]["feat"])
            nodes[key] = nir.Input(input_type={"input": np.array(feat)})
            continue
        ins = [src(i) for i in n.inputs]
        f_in = frac[n.inputs[0]] if n.inputs else 0
        if n.op == "q_output":
            nodes[key] = nir.Output(output_type={"output": np.array(graph.meta["io"]["output"]["feat"])})
        elif n.op == "q_conv2d":
            if n.delay:
                raise _refuse_export(n, "has a synaptic delay")
            w = n.weight_mant.astype(np.float64) * 2.0**n.weight_exp
            b = (n.bias_mant.astype(np.float64) * 2.0 ** (n.bias_exp + n.weight_exp - f_in) if n.bias_mant.size
                 else np.zeros(w.shape[0]))
            in_shape = shapes[n.inputs[0]]
            if w.shape[2:] == (1, 1) and in_shape[2:] == (1, 1):
                nodes[key] = nir.Affine(weight=w[:, :, 0, 0], bias=b)
            else:
                from spikerain.converter.ir.synapse import pair

                nodes[key] = nir.Conv2d(input_shape=np.array(in_shape[2:]), weight=w, stride=np.array(pair(n.stride)),
                                        padding=np.array(pair(n.padding)), dilation=np.array([1, 1]), groups=1, bias=b)
        elif n.op == "q_reshape":
            if tuple(n.shape[1:]) != (1, 1):
                raise _refuse_export(n, f"reshapes to {n.shape}; only flattening is expressible")
            nodes[key] = nir.Flatten(input_type={"input": np.array(shapes[n.inputs[0]][1:])}, start_dim=0,
                                     end_dim=-1)
        elif n.op == "q_scale":
            factor = n.mant * 2.0 ** (f_in - n.shift - n.frac)
            if abs(factor - 1.0) < 2.0**-12:  # an inserted rescale: the real value is unchanged
                alias[key] = ins[0]
                continue
            nodes[key] = nir.Scale(scale=np.full(shapes[key][1], factor))
        elif n.op == "q_add" and not n.subtract:
            nodes[key] = nir.Scale(scale=np.ones(shapes[key][1]))  # two edges in: NIR sums them
        elif n.op in ("q_lif", "q_neuron"):
            nodes[key] = neuron_node(n, f_in)
        else:
            raise _refuse_export(n, "has no NIR equivalent")
        edges.extend((i, key) for i in ins)
    del by
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
