"""ONNX export and import of the float IR.

Export: every IR node becomes a small group of standard ONNX ops (opset 17) on batch-free ``[T, C, H, W]``
tensors; each neuron becomes a call to a model-local function in the ``spikerain`` domain (``LIF_*``,
``NILIF_*``) whose body unrolls the time loop with standard ops, so onnxruntime runs the whole network.
The last ONNX node of each group carries, in ``doc_string``, the IR node it came from (op, name, inputs, scalar
parameters); array parameters are initializers named ``<node>::<field>``.

Import reads those annotations back, so files written by :func:`export_onnx` round-trip exactly. An ONNX file
without them (from another exporter) is refused with a clear error rather than guessed at.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from spikerain.converter import ir
from spikerain.converter.ir.registry import OpRegistry
from spikerain.converter.ir.synapse import pair
from spikerain.errors import InputError, UnsupportedOpError

OPSET = 17
DOMAIN = "spikerain"
TAG = "spikerain-ir:"


class _Exporter:
    def __init__(self, graph: ir.Graph):
        self.g = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.functions: dict[str, onnx.FunctionProto] = {}
        self.k = 0

    def tmp(self, base: str) -> str:
        self.k += 1
        return f"{base}::t{self.k}"

    def const(self, base: str, value, dtype=np.float32) -> str:
        name = self.tmp(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def array(self, node: ir.Node, field: str) -> str:
        name = f"{node.name}::{field}"
        self.inits.append(numpy_helper.from_array(np.asarray(getattr(node, field)), name))
        return name

    def emit(self, op: str, inputs: list[str], output: str, domain: str = "", **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output


def _tag(n: ir.Node) -> str:
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in n.params().items()}
    stored = sorted(k for k, v in n.arrays().items() if v.size)  # empty arrays (no bias) keep their default
    return TAG + json.dumps({"op": n.op, "name": n.name, "inputs": list(n.inputs), "params": params,
                             "arrays": stored})


def _lif_function(name: str, T: int, n: ir.LIF) -> onnx.FunctionProto:
    """H = V*(1 - 1/tau) + v_reset/tau + X; S = H >= th; V = H*(1 - S) + v_reset*S, unrolled over T."""
    nodes = [helper.make_node("Constant", [], ["keep"], value=helper.make_tensor("", TensorProto.FLOAT, [],
                                                                              [1.0 - 1.0 / n.tau])),
             helper.make_node("Constant", [], ["th"], value=helper.make_tensor("", TensorProto.FLOAT, [],
                                                                            [n.v_threshold])),
             helper.make_node("Constant", [], ["vr"], value=helper.make_tensor("", TensorProto.FLOAT, [], [n.v_reset])),
             helper.make_node("Constant", [], ["one"], value=helper.make_tensor("", TensorProto.FLOAT, [], [1.0])),
             helper.make_node("Constant", [], ["ax0"], value=helper.make_tensor("", TensorProto.INT64, [1], [0]))]
    outs = []
    v = None
    for t in range(T):
        nodes.append(helper.make_node("Constant", [], [f"i{t}"], value=helper.make_tensor("", TensorProto.INT64, [],
                                                                                       [t])))
        nodes.append(helper.make_node("Gather", ["x", f"i{t}"], [f"x{t}"], axis=0))
        if v is None:
            nodes.append(helper.make_node("Identity", [f"x{t}"], [f"h{t}"]))
        else:
            nodes += [helper.make_node("Sub", [v, "vr"], [f"d{t}"]),
                      helper.make_node("Mul", [f"d{t}", "keep"], [f"k{t}"]),
                      helper.make_node("Add", [f"k{t}", "vr"], [f"kr{t}"]),
                      helper.make_node("Add", [f"kr{t}", f"x{t}"], [f"h{t}"])]
        nodes += [helper.make_node("GreaterOrEqual", [f"h{t}", "th"], [f"b{t}"]),
                  helper.make_node("Cast", [f"b{t}"], [f"s{t}"], to=TensorProto.FLOAT),
                  helper.make_node("Where", [f"b{t}", "vr", f"h{t}"], [f"v{t}"]),
                  helper.make_node("Unsqueeze", [f"s{t}", "ax0"], [f"o{t}"])]
        v = f"v{t}"
        outs.append(f"o{t}")
    nodes.append(helper.make_node("Concat", outs, ["y"], axis=0))
    return helper.make_function(DOMAIN, name, ["x"], ["y"], nodes, [helper.make_opsetid("", OPSET)])


def _nilif_function(name: str, T: int, n: ir.NILIF) -> onnx.FunctionProto:
    """u = (u - s)*decay + x; s = Round(Clip(u, 0, D)) / D (Round is half to even), unrolled over T."""

    def c(nm, val, dt=TensorProto.FLOAT, dims=()):
        return helper.make_node("Constant", [], [nm], value=helper.make_tensor("", dt, list(dims),
                                                                            val if dims else [val]))

    nodes = [c("decay", n.decay), c("lo", 0.0), c("hi", float(n.levels)), c("D", float(n.levels)),
             c("ax0", [0], TensorProto.INT64, (1,))]
    outs, u, s = [], None, None
    for t in range(T):
        nodes += [c(f"i{t}", t, TensorProto.INT64), helper.make_node("Gather", ["x", f"i{t}"], [f"x{t}"], axis=0)]
        if u is None:
            nodes.append(helper.make_node("Identity", [f"x{t}"], [f"u{t}"]))
        else:
            nodes += [helper.make_node("Sub", [u, s], [f"d{t}"]), helper.make_node("Mul", [f"d{t}", "decay"],
                                                                                   [f"m{t}"]),
                      helper.make_node("Add", [f"m{t}", f"x{t}"], [f"u{t}"])]
        nodes += [helper.make_node("Clip", [f"u{t}", "lo", "hi"], [f"c{t}"]),
                  helper.make_node("Round", [f"c{t}"], [f"r{t}"]),
                  helper.make_node("Div", [f"r{t}", "D"], [f"s{t}"]),
                  helper.make_node("Unsqueeze", [f"s{t}", "ax0"], [f"o{t}"])]
        u, s = f"u{t}", f"s{t}"
        outs.append(f"o{t}")
    nodes.append(helper.make_node("Concat", outs, ["y"], axis=0))
    return helper.make_function(DOMAIN, name, ["x"], ["y"], nodes, [helper.make_opsetid("", OPSET)])


#: float op class -> its exporter ``(exporter, node, last)``; ``last(op, inputs, **attrs)`` emits the ONNX node
#: that produces the IR value. Quantized ops have no entry: ONNX carries the float graph.
EXPORT: OpRegistry = OpRegistry("ONNX export", what="ONNX export rule")


def _export_node(e: _Exporter, n: ir.Node) -> None:
    tag = _tag(n)

    def last(op, inputs, **attrs):
        e.nodes.append(helper.make_node(op, inputs, [n.name], doc_string=tag, **attrs))

    EXPORT.lookup(n)(e, n, last)


@EXPORT.register(ir.Input)
def _x_input(e, n, last):
    return


@EXPORT.register(ir.Output)
def _x_output(e, n, last):
    last("Identity", list(n.inputs))


@EXPORT.register(ir.RepeatT)
def _x_repeat(e, n, last):
    last("Tile", [n.inputs[0], e.const(n.name, [n.T, 1, 1, 1], np.int64)])


@EXPORT.register(ir.Conv2d)
def _x_conv(e, n, last):
    ins = [n.inputs[0], e.array(n, "weight")] + ([e.array(n, "bias")] if n.bias.size else [])
    (ph, pw) = pair(n.padding)
    last("Conv", ins, strides=list(pair(n.stride)), pads=[ph, pw, ph, pw])


@EXPORT.register(ir.BatchNorm)
def _x_bn(e, n, last):
    last("BatchNormalization", [n.inputs[0], e.array(n, "gamma"), e.array(n, "beta"), e.array(n, "mean"),
                                e.array(n, "var")], epsilon=n.eps)


@EXPORT.register(ir.LIF, ir.NILIF)
def _x_neuron(e, n, last):
    T = e.g.shapes[n.inputs[0]][0]
    if isinstance(n, ir.LIF):
        fname = f"LIF_T{T}_tau{n.tau:g}_th{n.v_threshold:g}_vr{n.v_reset:g}".replace(".", "p").replace("-", "m")
        e.functions.setdefault(fname, _lif_function(fname, T, n))
    else:
        fname = f"NILIF_T{T}_D{n.levels}_b{n.decay:g}".replace(".", "p")
        e.functions.setdefault(fname, _nilif_function(fname, T, n))
    e.nodes.append(helper.make_node(fname, list(n.inputs), [n.name], domain=DOMAIN, doc_string=_tag(n)))


@EXPORT.register(ir.PatchToTime)
def _x_p2t(e, n, last):
    T, C, H, W = e.g.shapes[n.inputs[0]]
    r = n.r
    a = e.emit("Reshape", [n.inputs[0], e.const(n.name, [T, C, H // r, r, W // r, r], np.int64)], e.tmp(n.name))
    b = e.emit("Transpose", [a], e.tmp(n.name), perm=[0, 3, 5, 1, 2, 4])
    last("Reshape", [b, e.const(n.name, [T * r * r, C, H // r, W // r], np.int64)])


@EXPORT.register(ir.TimeToPatch)
def _x_t2p(e, n, last):
    L, C, h, w = e.g.shapes[n.inputs[0]]
    r2 = n.r * n.r
    a = e.emit("Reshape", [n.inputs[0], e.const(n.name, [L // r2, r2, C, h, w], np.int64)], e.tmp(n.name))
    b = e.emit("Transpose", [a], e.tmp(n.name), perm=[0, 2, 1, 3, 4])
    last("Reshape", [b, e.const(n.name, [L // r2, C * r2, h, w], np.int64)])


@EXPORT.register(ir.Upsample2x)
def _x_up(e, n, last):
    last("Resize", [n.inputs[0], "", e.const(n.name, [1, 1, 2, 2])], mode="linear",
         coordinate_transformation_mode="half_pixel")


@EXPORT.register(ir.TemporalConv)
def _x_tconv(e, n, last):
    L, C, H, W = e.g.shapes[n.inputs[0]]
    k = n.weight.shape[2]
    a = e.emit("Reshape", [n.inputs[0], e.const(n.name, [L // k, k, C, H, W], np.int64)], e.tmp(n.name))
    last("Einsum", [e.array(n, "weight"), a], equation="ock,tkchw->tohw")


@EXPORT.register(ir.Dense)
def _x_dense(e, n, last):
    perm = [1, 2, 3, 0] if n.axis == 0 else [0, 2, 3, 1]
    back = [3, 0, 1, 2] if n.axis == 0 else [0, 3, 1, 2]
    a = e.emit("Transpose", [n.inputs[0]], e.tmp(n.name), perm=perm)
    wt = e.emit("Transpose", [e.array(n, "weight")], e.tmp(n.name), perm=[1, 0])
    b = e.emit("MatMul", [a, wt], e.tmp(n.name))
    last("Transpose", [b], perm=back)


@EXPORT.register(ir.Reduce)
def _x_reduce(e, n, last):
    last("ReduceMean" if n.mode == "mean" else "ReduceMax", list(n.inputs), axes=list(n.axes), keepdims=1)


@EXPORT.register(ir.MeanT)
def _x_mean_t(e, n, last):
    last("ReduceMean", list(n.inputs), axes=[0], keepdims=1)


@EXPORT.register(ir.Scale)
def _x_scale(e, n, last):
    last("Mul", [n.inputs[0], e.const(n.name, n.factor)])


@EXPORT.register(ir.Concat)
def _x_concat(e, n, last):
    last("Concat", list(n.inputs), axis=1)


@EXPORT.register(ir.TensorInput)
def _x_tensor_input(e, n, last):
    return


@EXPORT.register(ir.MaxPool2d)
def _x_maxpool(e, n, last):
    last("MaxPool", list(n.inputs), kernel_shape=[n.kernel] * 2, strides=[n.stride] * 2, pads=[n.padding] * 4)


@EXPORT.register(ir.Reshape)
def _x_reshape(e, n, last):
    last("Reshape", [n.inputs[0], e.const(n.name, [e.g.shapes[n.inputs[0]][0], *n.shape], np.int64)])


@EXPORT.register(ir.Upsample)
def _x_upsample_nearest(e, n, last):
    last("Resize", [n.inputs[0], "", e.const(n.name, [1, 1, n.factor, n.factor])], mode="nearest",
         coordinate_transformation_mode="asymmetric", nearest_mode="floor")


@EXPORT.register(ir.DepthToSpace)
def _x_d2s(e, n, last):
    last("DepthToSpace", list(n.inputs), blocksize=n.r, mode="CRD")


@EXPORT.register(ir.Neuron)
def _x_general_neuron(e, n, last):
    from spikerain.converter.interchange.onnx_neuron import neuron_function

    fname = "Neuron_" + "".join(c if c.isalnum() else "_" for c in n.name)
    e.functions.setdefault(fname, neuron_function(fname, e.g.shapes[n.inputs[0]][0], n, DOMAIN, OPSET))
    e.nodes.append(helper.make_node(fname, list(n.inputs), [n.name], domain=DOMAIN, doc_string=_tag(n)))


_SIMPLE = {ir.Add: "Add", ir.Sub: "Sub", ir.Mul: "Mul", ir.Sigmoid: "Sigmoid", ir.ReLU: "Relu"}


@EXPORT.register(*_SIMPLE)
def _x_simple(e, n, last):
    last(_SIMPLE[type(n)], list(n.inputs))


def export_onnx(graph: ir.Graph, path=None) -> onnx.ModelProto:
    """Export a float graph; writes ``path`` (atomically) when given. Quantized graphs are refused."""
    ir.validate(graph)
    if any(n.op.startswith("q_") for n in graph.nodes):
        raise UnsupportedOpError("ONNX export takes the float IR; this graph is quantized",
                                 supported=["float graphs (before quantize)"])
    e = _Exporter(graph)
    inp = next(n for n in graph.nodes if n.arity == 0)
    for n in graph.nodes:
        _export_node(e, n)
    # rename the input tensor to the IR input node's name
    g_in = helper.make_tensor_value_info(inp.name, TensorProto.FLOAT, list(graph.input_shape))
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(graph.shapes[o])) for o in graph.outputs]
    g = helper.make_graph(e.nodes, "spikerain", [g_in], outs, initializer=e.inits,
                          doc_string=TAG + json.dumps({"meta": graph.meta, "input": inp.name, "input_op": inp.op,
                                                       "channels": getattr(inp, "channels", 3)}))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)],
                              functions=list(e.functions.values()), producer_name="spikerain")
    onnx.checker.check_model(model)
    if path is not None:
        from spikerain.atomic import atomic_path

        with atomic_path(path) as tmp:
            onnx.save(model, str(tmp))
    return model


def import_onnx(source) -> ir.Graph:
    """Read a file (or ModelProto) written by :func:`export_onnx` back to the IR, exactly."""
    try:
        model = source if isinstance(source, onnx.ModelProto) else onnx.load(str(source))
    except Exception as e:  # onnx raises DecodeError and friends
        raise InputError(f"cannot read ONNX file {source}: {e}", fix="pass a .onnx file") from e
    g = model.graph
    if not g.doc_string.startswith(TAG):
        raise InputError("this ONNX file was not written by spikerain, and only spikerain's own annotated "
                         "exports can be imported", fix="export it with `spikerain` (ONNX -> IR of foreign "
                         "graphs is not supported)")
    head = json.loads(g.doc_string[len(TAG):])
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    nodes: list[ir.Node] = [ir.op_class(head.get("input_op", "input"))(name=head["input"], channels=head["channels"])]
    for pn in g.node:
        if not pn.doc_string.startswith(TAG):
            continue
        info = json.loads(pn.doc_string[len(TAG):])
        cls = ir.op_class(info["op"])
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in info["params"].items()}
        arrays = {a: inits[f"{info['name']}::{a}"] for a in info["arrays"]}
        nodes.append(cls(name=info["name"], inputs=tuple(info["inputs"]), **params, **arrays))
    outputs = tuple(o.name for o in g.output)
    return ir.validate(ir.Graph(nodes=nodes, outputs=outputs, input_shape=tuple(shape), meta=head["meta"]))
