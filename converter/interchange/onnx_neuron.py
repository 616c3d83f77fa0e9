"""The general neuron (``ir.Neuron``) as an ONNX local function, unrolled over its T steps: the same equations,
in the same order, as ``neuron_multistep`` in the fast simulator's float kernels."""

from __future__ import annotations

import math

from onnx import TensorProto, helper

from spikerain.converter import ir


def neuron_function(name: str, T: int, n: ir.Neuron, domain: str, opset: int):
    nodes = []
    k = [0]

    def c(val, dt=TensorProto.FLOAT):
        nm = f"c{len(nodes)}"
        nodes.append(helper.make_node("Constant", [], [nm], value=helper.make_tensor("", dt, [], [val])))
        return nm

    def op(kind, ins, **attrs):
        k[0] += 1
        out = f"t{k[0]}"
        nodes.append(helper.make_node(kind, ins, [out], **attrs))
        return out

    ax0 = f"ax{len(nodes)}"
    nodes.append(helper.make_node("Constant", [], [ax0], value=helper.make_tensor("", TensorProto.INT64, [1], [0])))
    thr = n.threshold if math.isfinite(n.threshold) else 3.0e38
    th, one, zero = c(thr), c(1.0), c(0.0)
    x0 = op("Gather", ["x", c(0, TensorProto.INT64)], axis=0)
    zeros = op("Mul", [x0, zero])
    v = op("Add", [zeros, c(n.v_rest)])
    i = carry = fired = zeros
    outs = []
    for t in range(T):
        xt = op("Gather", ["x", c(t, TensorProto.INT64)], axis=0)
        if n.syn_decay is None:
            cur = xt
        else:
            i_new = op("Add", [op("Mul", [i, c(n.syn_decay)]), xt])
            cur, i = (i if n.current_lag else i_new), i_new
        if n.reset_next and n.reset == "zero":
            v = op("Mul", [v, op("Sub", [one, fired])])
        dv = v if n.v_rest == 0 else op("Sub", [v, c(n.v_rest)])
        h = op("Mul", [dv, c(n.leak)]) if n.leak != 1 else dv
        if n.v_rest != 0:
            h = op("Add", [h, c(n.v_rest)])
        h = op("Add", [h, cur if n.gain == 1 else op("Mul", [cur, c(n.gain)])])
        if n.reset_next and n.reset == "subtract":
            h = op("Sub", [h, carry])
        if n.multi:
            ge = op("GreaterOrEqual", [h, th])
            s = op("Where", [ge, op("Floor", [op("Div", [h, th])]), zero])
            r = op("Cast", [ge], to=TensorProto.FLOAT)
        else:
            s = op("Cast", [op("Greater" if n.strict else "GreaterOrEqual", [h, th])], to=TensorProto.FLOAT)
            r = s
        if n.reset_next or n.reset == "none":
            v, carry, fired = h, op("Mul", [s, th]), r
        elif n.reset == "subtract":
            v = op("Sub", [h, op("Mul", [s, th])])
        else:
            v = op("Add", [op("Mul", [h, op("Sub", [one, r])]), op("Mul", [r, c(n.v_reset)])])
        if n.min_v is not None:
            v = op("Max", [v, c(n.min_v)])
        outs.append(op("Unsqueeze", [v if n.emit == "v" else s, ax0]))
    nodes.append(helper.make_node("Concat", outs, ["y"], axis=0))
    return helper.make_function(domain, name, ["x"], ["y"], nodes, [helper.make_opsetid("", opset)])
