"""lava-dl netx HDF5 (``.net``) import and export, with h5py only (netx itself needs torch; spec §0, §9).

A netx network is a chain of layers: ``input``, ``conv``, ``flatten``, ``dense``, each synapse followed by a
neuron group (``CUBA``/``LOIHI`` LIF, or ``SDNN`` sigma-delta). It becomes a quantized IR chain:

    QInput -> QRepeatT(steps) -> [input neuron] -> (QConv2d | QDenseSynapse, delay 1) -> neuron -> ... -> QOutput

Synapses keep Lava's one-step delay (``delay=1``), so the fast simulator reproduces a Lava run step for step,
including the start-up transient that lava-dl's recorded outputs contain. Dense weights go through netx's
``optimize_weight_bits`` and Lava's bit-accurate clip and truncation at import, so the IR holds the weights the
chip would use. Anything the format or this importer cannot express raises :class:`NetxError`; nothing is
silently dropped.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np

from spikerain.atomic import atomic_hdf5
from spikerain.converter import ir
from spikerain.converter.ir import loihi
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir.registry import OpRegistry
from spikerain.converter.ir.synapse import pair
from spikerain.errors import InputError, NetxError, UsageError

#: netx layer types this importer reads; netx itself raises on pool/convT/unpool/average/concat
LAYERS = ("input", "conv", "flatten", "dense")
#: Lava's weightutils.SignMode values
MIXED, EXCITATORY, INHIBITORY = 1, 2, 3


def _text(ds) -> str:
    v = ds[()]
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0]
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def _num(group, key, default=None):
    if key not in group:
        if default is None:
            raise NetxError(f"netx layer {group.name} has no '{key}'", fix="re-export the network with lava-dl")
        return default
    return group[key][()]


def optimize_weight_bits(w: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """netx ``utils.optimize_weight_bits``: (weights << scale_bits, num_weight_bits, weight_exp, sign_mode)."""
    w = np.asarray(w, np.int64)
    mx, mn = int(w.max()), int(w.min())
    if mx < 0:
        sign, signed, scale = INHIBITORY, 0, -256 / mn
    elif mn >= 0:
        sign, signed = EXCITATORY, 0
        scale = 255 / mx if mx > 0 else 1.0
    else:
        sign, signed, scale = MIXED, 1, min(127 / mx, -128 / mn)
    scale_bits = int(math.floor(math.log2(scale)) + signed)
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= signed
    shifted = w << scale_bits if scale_bits >= 0 else w >> -scale_bits
    return shifted, 8 - scale_bits - n, -scale_bits, sign


def lava_dense_weights(w: np.ndarray, num_weight_bits: int, sign: int) -> np.ndarray:
    """Lava's bit-accurate Dense: ``clip_weights(w, sign, 8)`` then ``truncate_weights(w, sign, bits)``."""
    w = np.asarray(w, np.int64)
    if sign == INHIBITORY:
        w = -w
    mixed = int(sign == MIXED)
    w = np.clip(w, -(1 << 8) * mixed, (1 << 8) - 1)
    drop = 8 - num_weight_bits + mixed
    w = (w >> drop) << drop
    return -w if sign == INHIBITORY else w


def _neuron(name: str, inp: str, cfg, *, first: bool, bias, reset: tuple[int, int], spike_exp: int) -> ir.Node:
    kind = _text(cfg["type"])
    if kind in ("CUBA", "LOIHI"):
        i_decay = int(_num(cfg, "iDecay"))
        if first and i_decay != loihi.DECAY_UNITY:
            raise NetxError(f"netx input layer with iDecay {i_decay}: its image enters through the neuron bias, "
                            "which spikerain feeds as input current and so needs iDecay 4096",
                            fix="re-export the network with a non-leaky input current (iDecay 4096)")
        return q.QLIF(name=name, inputs=(inp,), du=i_decay - 1, dv=int(_num(cfg, "vDecay")),
                      vth=int(_num(cfg, "vThMant")), bias_exp=loihi.NETX_BIAS_EXP, frac=0, bits=1,
                      bias_map=np.zeros(0, np.int64) if bias is None else bias,
                      reset_interval=reset[0], reset_offset=reset[1])
    if kind == "SDNN":
        vth = int(_num(cfg, "vThMant", 0))
        if first:
            return q.QDelta(name=name, inputs=(inp,), vth=vth, spike_exp=spike_exp, state_exp=loihi.NETX_STATE_EXP,
                            frac=0, bits=24)
        if "sigma_output" in cfg and bool(cfg["sigma_output"][()]):
            if bias is not None and np.any(bias):
                raise NetxError(f"netx layer {name}: a Sigma output neuron has no bias in Lava",
                                fix="drop the bias of the sigma_output layer")
            return q.QSigma(name=name, inputs=(inp,), frac=0, bits=32)
        act = _text(cfg["activation"]) if "activation" in cfg else "relu"
        if act.lower() != "relu":
            raise NetxError(f"netx layer {name}: SDNN activation {act!r}", fix="use ReLU SDNN neurons")
        return q.QSigmaDelta(name=name, inputs=(inp,), vth=vth, spike_exp=spike_exp, state_exp=loihi.NETX_STATE_EXP,
                             frac=0, bits=24,
                             bias_map=np.zeros(0, np.int64) if bias is None else bias)
    raise NetxError(f"netx neuron type {kind!r} in {name}", fix="use CUBA, LOIHI or SDNN neurons")


#: netx's neuron for a dense layer without one (``hdf5.Network.create_dense``): a non-leaky integrator
DEFAULT_NEURON = {"type": np.array(b"CUBA"), "iDecay": np.array(0), "vDecay": np.array(4096),
                  "vThMant": np.array(1 << 17)}
#: layer types netx 0.6.0 knows but that have no spikerain form (netx raises on the pooling ones itself)
REFUSED = {"dense_rec": "recurrent dense layers", "dense_comp": "complex (resonate-and-fire) dense layers",
           "pool": "pooling", "convT": "transposed convolution", "unpool": "unpooling", "average": "averaging",
           "concat": "concatenation"}


def _shape(v) -> tuple[int, int, int]:
    """A netx ``shape`` as (C, H, W): netx stores (C, H, W), (H, W) or (N,)."""
    s = tuple(int(x) for x in np.atleast_1d(v))
    if len(s) == 1:
        return s[0], 1, 1
    if len(s) == 2:
        return 1, s[0], s[1]
    return s[0], s[1], s[2]


def _per_axis(v) -> tuple[int, int]:
    """A conv stride/padding as netx stores it: one number, or (H, W) (netx reverses it to Lava's (X, Y))."""
    a = np.atleast_1d(np.asarray(v)).astype(np.int64)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def import_netx(path: str | os.PathLike, *, steps: int | None = None, input_frac: int = 8,
                reset_interval: int = 0, reset_offset: int = 0, spike_exp: int = 6,
                num_layers: int | None = None, input_message_bits: int = 0) -> ir.Graph:
    """Read a netx ``.net`` file into a quantized IR chain running ``steps`` steps (default: the file's
    ``simulation/tSample``). Inputs are images q / 2**input_frac (signed), or a sequence of them (a raster).
    ``reset_interval`` > 0 zeroes LIF layer i's state before frames t with t % interval == (reset_offset + i) %
    interval, as netx's LIFReset does (i counts the layers netx builds: the input layer only when it has a
    neuron). ``num_layers`` reads only the first layer entries, as netx's argument of the same name.

    The input layer is optional, and it may lack a neuron: then the input goes straight into the first synapse, as
    netx connects a source to ``net.inp``, with ``input_message_bits`` (netx's argument): 0 (netx's default) sends
    binary spikes (any non-zero value is a spike, as Lava's synapses read unary messages), more sends the
    integers q as graded messages."""
    p = Path(path)
    if steps is not None and steps < 1:
        raise UsageError(f"steps {steps}: a network runs at least one step", fix="pass --steps 1 or more")
    if not p.is_file() or not h5py.is_hdf5(p):
        raise InputError(f"{p} is not a netx HDF5 file", fix="pass a .net file written by lava-dl")
    try:
        return _import(p, steps, input_frac, reset_interval, reset_offset, spike_exp, num_layers, input_message_bits)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, OSError) as e:
        # h5py and numpy name what is missing or malformed, not where: say it is this file's structure
        detail = " ".join(str(e).split()) or type(e).__name__
        raise NetxError(f"{p} is not a netx network spikerain can read ({type(e).__name__}: {detail})",
                        fix="re-export the network with lava-dl") from e


def _layer_keys(p: Path, layers) -> list[str]:
    keys = list(layers.keys())
    if not keys:
        raise NetxError(f"{p}: the 'layer' group is empty", fix="export a network with at least an input layer")
    bad = [k for k in keys if not k.isdigit()]
    if bad:
        raise NetxError(f"{p}: layer key {bad[0]!r} is not a layer number", fix="netx numbers its layers 0, 1, ...")
    keys.sort(key=int)
    for k in keys:
        if not isinstance(layers[k], h5py.Group) or "type" not in layers[k]:
            raise NetxError(f"{p}: layer {k} has no 'type'", fix="re-export the network with lava-dl")
    return keys


def _import(p: Path, steps, input_frac, reset_interval, reset_offset, spike_exp, num_layers,
            input_message_bits) -> ir.Graph:
    with h5py.File(p, "r") as f:
        if "layer" not in f or not isinstance(f["layer"], h5py.Group):
            raise InputError(f"{p} has no 'layer' group, so it is not a netx network", fix="pass a lava-dl .net file")
        layers = f["layer"]
        keys = _layer_keys(p, layers)
        if num_layers is not None:
            keys = keys[:num_layers]
        if steps is None:
            steps = int(f["simulation/tSample"][()]) if "simulation/tSample" in f else 16
            if steps < 1:
                raise NetxError(f"{p}: simulation/tSample is {steps}", fix="pass --steps 1 or more")
        nodes: list[ir.Node] = []
        first = layers[keys[0]]
        meta: dict = {}
        kind0 = _text(first["type"])
        if kind0 == "input":
            C, H, W = _shape(first["shape"][()])
            meta["input_transform"] = {"weight": int(np.asarray(first["weight"][()]).reshape(-1)[0])
                                       if "weight" in first else 64,
                                       "bias": int(np.asarray(first["bias"][()]).reshape(-1)[0])
                                       if "bias" in first else 0}
        elif kind0 == "dense":
            C, H, W = int(_num(first, "inFeatures")), 1, 1
            keys = [None, *keys]  # no input layer: the input goes straight into this dense synapse
        else:
            raise NetxError(f"netx layer {keys[0]} ({kind0}) comes first, with no input layer to give its input "
                            "shape", fix="export the network with an input layer (netx needs one too)")
        if (kind0 != "input" or "neuron" not in first) and input_message_bits == 0:
            # unary spikes into the first synapse: q in {0, 1}
            nodes.append(q.QInput(name="input", channels=C, frac=0, signed=False, bits=1))
            nodes.append(q.QRepeatT(name="input.steps", inputs=("input",), T=steps, frac=0, bits=1))
        else:
            nodes.append(q.QInput(name="input", channels=C, frac=input_frac, signed=True, bits=32))
            nodes.append(q.QRepeatT(name="input.steps", inputs=("input",), T=steps, frac=input_frac, bits=32))
        prev = "input.steps"
        index = 0

        def reset():
            return (reset_interval, (reset_offset + index) % reset_interval) if reset_interval else (0, 0)

        if kind0 == "input" and "neuron" in first:
            nodes.append(_neuron("layer0", prev, first["neuron"], first=True, bias=None, reset=reset(),
                                 spike_exp=spike_exp))
            prev, index = "layer0", 1
        shape = (C, H, W)
        for key in keys[1:]:
            g = layers[key]
            kind = _text(g["type"])
            if kind in REFUSED:
                raise NetxError(f"netx layer {key} has type {kind!r} ({REFUSED[kind]}), which spikerain cannot "
                                "import", fix=f"netx networks with {', '.join(LAYERS)} layers can be imported; "
                                "import the layers before it with num_layers (--num-layers)")
            if kind not in LAYERS:
                raise NetxError(f"netx layer {key} has type {kind!r}, which spikerain cannot import",
                                fix=f"netx networks with {', '.join(LAYERS)} layers can be imported")
            if kind == "flatten":
                continue  # a dense synapse flattens its input in C, H, W order, as netx connects it
            if kind == "input":
                raise NetxError(f"netx layer {key} is a second input layer", fix="netx networks have one input")
            if "weight" not in g:
                raise NetxError(f"netx layer {key} ({kind}) has no 'weight'", fix="re-export the network with lava-dl")
            bias = np.asarray(g["bias"][()]).astype(np.int64).reshape(-1) if "bias" in g else None
            syn = f"layer{key}.synapse"
            if kind == "conv":
                if "neuron" not in g:
                    raise NetxError(f"netx layer {key} (conv) has no neuron group", fix="export it with a neuron")
                if "delay" in g:
                    raise NetxError(f"netx conv layer {key} has synaptic delays, which netx itself ignores",
                                    fix="export conv layers without delays")
                w = np.asarray(g["weight"][()])
                if w.ndim not in (4, 5):  # netx writes (out, in, kh, kw), with a trailing delay axis in 5-D
                    raise NetxError(f"netx layer {key} (conv) has a weight of shape {w.shape}, not 4-D or 5-D",
                                    fix="re-export the network with lava-dl")
                w = w.reshape(w.shape[:4]).astype(np.int64)
                if int(_num(g, "groups", 1)) != 1 or np.any(np.asarray(_num(g, "dilation", [1, 1])) != 1):
                    raise NetxError(f"netx conv layer {key} uses groups or dilation",
                                    fix="spikerain imports groups=1, dilation=1 convolutions")
                stride, padding = _per_axis(_num(g, "stride")), _per_axis(_num(g, "padding"))
                nodes.append(q.QConv2d(name=syn, inputs=(prev,), weight_mant=w, stride=stride, padding=padding,
                                       delay=1, frac=0, bits=32))
                shape = nodes[-1].out_shape((1, *shape))[1:]
            else:
                if "weight/imag" in g or "weight_rec" in g:
                    raise NetxError(f"netx dense layer {key} is complex or recurrent",
                                    fix="spikerain imports real feed-forward dense layers")
                n_out = int(np.prod(np.atleast_1d(g["shape"][()])))
                w = np.asarray(g["weight"][()]).astype(np.int64)
                if w.ndim == 1:  # netx: weight.reshape(outFeatures, -1)
                    w = w.reshape(n_out, -1)
                if w.shape[1] != int(np.prod(shape)):
                    raise NetxError(f"netx dense layer {key} has {w.shape[1]} inputs, its input has "
                                    f"{int(np.prod(shape))} values", fix="re-export the network with lava-dl")
                shifted, bits, exp, sign = optimize_weight_bits(w)
                delays = _delays(g, w.shape, key) if "delay" in g else np.zeros(0, np.int64)
                nodes.append(q.QDenseSynapse(name=syn, inputs=(prev,), weight_mant=lava_dense_weights(shifted, bits,
                                             sign), weight_exp=exp, num_weight_bits=bits, delay=1, delays=delays,
                                             frac=0, bits=32))
                shape = (w.shape[0], 1, 1)
            name = f"layer{key}"
            cfg = g["neuron"] if "neuron" in g else DEFAULT_NEURON
            nodes.append(_neuron(name, syn, cfg, first=False, bias=bias, reset=reset(), spike_exp=spike_exp))
            prev, index = name, index + 1
    nodes.append(q.QOutput(name="output", inputs=(prev,), frac=0, bits=32))
    g = ir.Graph(nodes=nodes, outputs=("output",), input_shape=(1, C, H, W),
                 meta={"source": "netx", "file": p.name, "steps": steps, "input_frac": input_frac,
                       "reset_interval": reset_interval, "reset_offset": reset_offset, "spike_exp": spike_exp,
                       "input_message_bits": input_message_bits, **meta})
    ir.validate(g)
    ir.infer_shapes(g)
    return g


MAX_DELAY = loihi.MAX_DELAY  # netx clamps larger synaptic delays (6 bits on Loihi)


def _delays(g, shape, key) -> np.ndarray:
    """A dense layer's ``delay``: a full ``[out, in]`` matrix, or a vector per output (axonal) or per input."""
    d = np.rint(np.asarray(g["delay"][()], np.float64)).astype(np.int64)
    if d.ndim == 0:  # one delay for every synapse
        d = np.full(shape, int(d))
    if d.ndim == 1 and d.size == shape[0]:
        d = np.repeat(d[:, None], shape[1], axis=1)
    elif d.ndim == 1 and d.size == shape[1]:
        d = np.repeat(d[None, :], shape[0], axis=0)
    if d.shape != tuple(shape):
        raise NetxError(f"netx dense layer {key}: delay of shape {d.shape} fits neither the weights {shape} nor "
                        "one value per output or input", fix="export one delay per synapse")
    if d.min() < 0:
        raise NetxError(f"netx dense layer {key} has negative delays", fix="use delays 0..62")
    if d.max() > MAX_DELAY:
        import logging

        logging.getLogger("spikerain").warning("netx layer %s: delays above %d clamped (as netx does)", key,
                                               MAX_DELAY)
    return np.minimum(d, MAX_DELAY)


def netx_input(values: np.ndarray, frac: int) -> np.ndarray:
    """Integer inputs ``[C, H, W]`` (|v| <= 2**frac) as the float image the imported graph quantizes back."""
    v = np.asarray(values, np.int64)
    if np.abs(v).max(initial=0) > (1 << frac):
        raise InputError(f"netx input values reach {np.abs(v).max()}, more than 2**{frac}",
                         fix="import with a larger input_frac")
    return v.astype(np.float64) / (1 << frac)


# --------------------------------------------------------------------------------------------- export


def _write_neuron(grp, node: ir.Node) -> None:
    ng = grp.create_group("neuron")
    if isinstance(node, q.QLIF):
        if node.bias_exp != loihi.NETX_BIAS_EXP or node.bias_mant:
            raise NetxError(f"LIF {node.name} has bias_exp {node.bias_exp} / scalar bias {node.bias_mant}; netx "
                            "stores per-channel biases with exponent 6", fix="fold the bias into bias_map")
        ng["type"] = np.array([b"LOIHI"], dtype="S10")
        ng["iDecay"], ng["vDecay"], ng["vThMant"], ng["refDelay"] = node.du + 1, node.dv, node.vth, 1
    elif isinstance(node, (q.QDelta, q.QSigmaDelta)):
        ng["type"] = np.array([b"SDNN"], dtype="S10")
        ng["vThMant"], ng["activation"] = node.vth, "relu"
    elif isinstance(node, q.QSigma):
        ng["type"] = np.array([b"SDNN"], dtype="S10")
        ng["vThMant"], ng["activation"], ng["sigma_output"] = 0, "relu", True
    else:
        raise NetxError(f"{node.name} ({node.op}) is not a netx neuron", fix="netx neurons are LIF or SDNN")


NEURONS = (q.QLIF, q.QDelta, q.QSigmaDelta, q.QSigma)
#: IR ops a netx file holds (import produces them, export writes them)
#: quantized op class -> its part of a netx file; other ops have no netx form (export refuses the graph)
NETX_EXPORT: OpRegistry[str] = OpRegistry("netx export", what="netx form")
for _cls, _form in ((q.QInput, "input layer"), (q.QRepeatT, "input layer (steps)"), (q.QConv2d, "conv synapse"),
                    (q.QDenseSynapse, "dense synapse"), *((c, "neuron group") for c in NEURONS),
                    (q.QOutput, "network output")):
    NETX_EXPORT.add(_cls, _form)
NETX_OPS = frozenset(NETX_EXPORT.ops())


def export_netx(graph: ir.Graph, path: str | os.PathLike) -> None:
    """Write a chain-shaped quantized graph (input, conv/dense synapses with delay 1, LIF/SDNN neurons) as netx
    HDF5. Anything else raises :class:`NetxError` naming the first node netx cannot express."""
    if not graph.shapes:
        ir.infer_shapes(graph)
    nodes = list(graph.nodes)
    cons = graph.consumers()
    for n in nodes:
        if len(cons.get(n.name, ())) > 1:
            raise NetxError(f"{n.name} ({n.op}) feeds {len(cons[n.name])} layers; netx files are chains",
                            fix="export a chain-shaped network (no branches or skips)")
    if len(nodes) < 3 or not isinstance(nodes[0], q.QInput) or not isinstance(nodes[1], q.QRepeatT):
        raise NetxError("a netx export starts with the input and its repetition over steps",
                        fix="export a graph imported from netx or built the same way")
    C, H, W = graph.input_shape[1:]
    with atomic_hdf5(path) as f:
        f["simulation/Ts"], f["simulation/tSample"] = 1, int(nodes[1].T)
        layers = f.create_group("layer")
        g0 = layers.create_group("0")
        g0["type"] = np.array([b"input"], dtype="S10")
        g0["shape"] = np.array([C, H, W])
        i = 2
        if i < len(nodes) and isinstance(nodes[i], NEURONS):
            _write_neuron(g0, nodes[i])
            i += 1
        index = 1
        while i < len(nodes) and not isinstance(nodes[i], q.QOutput):
            syn = nodes[i]
            if i + 1 >= len(nodes) or not isinstance(nodes[i + 1], NEURONS):
                raise NetxError(f"{syn.name} ({syn.op}) is not followed by a netx neuron",
                                fix="netx layers are a synapse followed by a neuron group")
            neuron = nodes[i + 1]
            shape = graph.shapes[neuron.name][1:]
            if isinstance(syn, q.QConv2d) and syn.identity_requant and syn.delay == 1:
                g = layers.create_group(str(index))
                g["type"] = np.array([b"conv"], dtype="S10")
                w = syn.weight_mant
                g["weight"] = w.astype(np.float32)
                g["inChannels"], g["outChannels"] = w.shape[1], w.shape[0]
                g["kernelSize"] = np.array(w.shape[2:])
                g["stride"], g["padding"] = np.array(pair(syn.stride)), np.array(pair(syn.padding))
                g["dilation"], g["groups"] = np.array([1, 1]), 1
                g["shape"] = np.array(shape)
            elif isinstance(syn, q.QDenseSynapse) and syn.delay == 1:
                src = graph.shapes[syn.inputs[0]][1:]
                if src[1:] != (1, 1):
                    f_ = layers.create_group(str(index))
                    f_["type"] = np.array([b"flatten"], dtype="S10")
                    f_["shape"] = np.array([int(np.prod(src)), 1, 1])
                    index += 1
                g = layers.create_group(str(index))
                g["type"] = np.array([b"dense"], dtype="S10")
                w = syn.weight_mant.astype(np.int64)
                w = w << syn.weight_exp if syn.weight_exp >= 0 else w >> -syn.weight_exp
                g["weight"] = w.astype(np.float32)
                g["inFeatures"], g["outFeatures"] = w.shape[1], w.shape[0]
                g["shape"] = np.array([w.shape[0]])
                if syn.delays.size:
                    g["delay"] = syn.delays.astype(np.float32)
            else:
                raise NetxError(f"{syn.name} ({syn.op}) cannot be expressed in netx",
                                fix="netx holds conv and dense synapses (delay 1, no requantization) only")
            bias = getattr(neuron, "bias_map", np.zeros(0))
            if bias.size:
                g["bias"] = bias.reshape(-1).astype(np.float32)
            _write_neuron(g, neuron)
            index += 1
            i += 2
        if i >= len(nodes) or not isinstance(nodes[i], q.QOutput):
            raise NetxError("the graph does not end in its output after the last neuron",
                            fix="export a chain-shaped network")
