"""The bring-your-own zoo: small networks built with the SNN libraries themselves (SpikingJelly, snnTorch, norse,
sinabs), traced by the fx frontend. For each: the float IR equals the library's forward (1e-5 of the output's
scale), the quantized network runs with its SQNR and worst layers reported, and the fast simulator equals the
numpy reference kernels bit for bit. Tiny models, T <= 4, 8x8 to 16x16 inputs: the whole module runs in seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from spikerain.pipeline.byo import convert_module, run_float_module_layout, simulate_module_layout

sj = pytest.importorskip("spikingjelly.activation_based")
snn = pytest.importorskip("snntorch")
norse = pytest.importorskip("norse.torch")
sl = pytest.importorskip("sinabs.layers")
from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402

T = 4


def _randomise_bn(net: nn.Module, g: torch.Generator) -> None:
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            C = m.num_features
            m.running_mean.copy_(torch.rand(C, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(C, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(C, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(C, generator=g) * 0.4)


class SJUNet(nn.Module):
    """SpikingJelly multi-step U-Net: stride-2 conv down, transposed-conv and bilinear up, concat skip, residual
    add, readout by the mean over time."""

    def __init__(self):
        super().__init__()
        self.stem = layer.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = layer.BatchNorm2d(4)
        self.sn0 = neuron.LIFNode(tau=2.0)
        self.down = layer.Conv2d(4, 8, 3, stride=2, padding=1)
        self.sn1 = neuron.IFNode(v_reset=None)
        self.up = layer.ConvTranspose2d(8, 4, 2, stride=2)
        self.sn2 = neuron.LIFNode(tau=2.0, decay_input=False)
        self.down2 = layer.Conv2d(4, 4, 3, stride=2, padding=1, groups=2)
        self.up2 = layer.Upsample(scale_factor=2, mode="bilinear")
        self.fuse = layer.Conv2d(12, 4, 1)
        self.sn3 = neuron.ParametricLIFNode(init_tau=3.0)
        self.head = layer.Conv2d(4, 2, 3, padding=2, dilation=2)
        functional.set_step_mode(self, "m")

    def forward(self, x):
        e = self.sn0(self.bn(self.stem(x)))
        d = self.sn1(self.down(e))
        u = self.sn2(self.up(d))
        u2 = self.up2(self.down2(e))
        y = self.sn3(self.fuse(torch.cat([u, e, u2], dim=2))) + e
        return self.head(y).mean(0)


class SJClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            layer.Conv2d(2, 6, 3, padding=1), layer.BatchNorm2d(6), neuron.LIFNode(tau=2.0, v_reset=None),
            layer.MaxPool2d(2), layer.Conv2d(6, 8, 3, padding=1), neuron.IFNode(),
            layer.AvgPool2d(2), layer.Flatten(), layer.Dropout(0.5), layer.Linear(8 * 2 * 2, 5),
            neuron.LIFNode(tau=2.0, decay_input=False, v_threshold=0.5))
        functional.set_step_mode(self, "m")

    def forward(self, x):
        return self.features(x).mean(0)


class SnnTorchConv(nn.Module):
    """snnTorch conv net, static image, time loop in forward, Leaky with reset by subtraction and to zero."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.8)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.lif2 = snn.Leaky(beta=0.9, reset_mechanism="zero", threshold=0.5)
        self.fc = nn.Linear(4 * 4 * 4, 3)
        self.lif3 = snn.Leaky(beta=0.7, threshold=0.3, init_hidden=True)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        rec = []
        for _ in range(T):
            spk1, mem1 = self.lif1(nn.functional.max_pool2d(self.conv1(x), 2), mem1)
            spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
            rec.append(self.lif3(self.fc(spk2.flatten(1))))
        return torch.stack(rec)


class SnnTorchSynaptic(nn.Module):
    """snnTorch Synaptic over a time-major input, indexed per step."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 12)
        self.syn1 = snn.Synaptic(alpha=0.6, beta=0.85)
        self.fc2 = nn.Linear(12, 4)
        self.syn2 = snn.Synaptic(alpha=0.5, beta=0.9, threshold=0.7)

    def forward(self, x):
        syn1, mem1 = self.syn1.init_synaptic()
        syn2, mem2 = self.syn2.init_synaptic()
        rec = []
        for t in range(T):
            s1, syn1, mem1 = self.syn1(self.fc1(x[t]), syn1, mem1)
            s2, syn2, mem2 = self.syn2(self.fc2(s1), syn2, mem2)
            rec.append(s2)
        return torch.stack(rec)


class NorseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = norse.SequentialState(
            nn.Conv2d(1, 4, 3, padding=1), norse.LIFCell(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10),
            norse.LIFBoxCell(), nn.Linear(10, 3), norse.LICell())

    def forward(self, x):
        s = None
        out = []
        for t in range(T):
            y, s = self.net(x[t], s)
            out.append(y)
        return torch.stack(out)


class OpsNet(nn.Module):
    """Plain torch ops around SpikingJelly multi-step neurons: pixel (un)shuffle, nearest upsampling, sigmoid
    gating (mul), subtraction, adaptive pooling, unbind/stack over time, sum over time."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.sn = neuron.LIFNode(tau=2.0, step_mode="m")
        self.mix = nn.Conv2d(16, 4, 1)
        self.gate = nn.Conv2d(4, 4, 1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(16, 3)
        self.sn2 = neuron.IFNode(step_mode="m")

    def forward(self, x):  # [T, B, 2, 8, 8]
        T_, B = x.shape[0], x.shape[1]
        y = self.conv(x.flatten(0, 1)).view(T_, B, 4, 8, 8)
        s = self.sn(y).flatten(0, 1)
        u = nn.functional.pixel_unshuffle(s, 2)                      # [TB, 16, 4, 4]
        z = nn.functional.interpolate(self.mix(u), scale_factor=2)   # nearest back to 8x8
        g = torch.sigmoid(self.gate(z)) * z - 0.5 * z
        p = nn.functional.pixel_shuffle(torch.cat([g, g, g, g], dim=1), 2)  # [TB, 4, 16, 16]
        h = self.pool(p).flatten(1)
        o = self.sn2(self.fc(h).view(T_, B, 3))
        steps = o.unbind(0)  # fx cannot iterate a traced tuple: index it
        return torch.stack([steps[0], steps[1], steps[2], steps[3]]).sum(0)


def sinabs_net():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), sl.IAFSqueeze(batch_size=1), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6), sl.LIFSqueeze(tau_mem=4.0, batch_size=1), nn.Linear(6, 3),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))


def _boost(net: nn.Module, gain: float) -> nn.Module:
    """Default initialisations make tiny deep SNNs silent; scale the synapses so every layer spikes."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(gain)
                if m.bias is not None:
                    m.bias.add_(0.1)
    return net


def _models():
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, scale=1.0):
        return torch.rand(*shape, generator=g) * scale

    torch.manual_seed(1)
    zoo = {}
    unet = SJUNet()
    _randomise_bn(unet, g)
    zoo["sj_unet"] = (unet, rnd(T, 1, 1, 16, 16, scale=3.0))
    clf = SJClassifier()
    _randomise_bn(clf, g)
    zoo["sj_classifier"] = (_boost(clf, 2.5), rnd(T, 1, 2, 8, 8, scale=3.0))
    zoo["snntorch_conv"] = (_boost(SnnTorchConv(), 2.5), rnd(1, 1, 8, 8, scale=4.0))
    zoo["snntorch_synaptic"] = (SnnTorchSynaptic(), rnd(T, 1, 10, scale=2.0))
    zoo["norse_sequential_state"] = (NorseNet(), rnd(T, 1, 1, 8, 8, scale=30.0))
    zoo["torch_ops"] = (_boost(OpsNet(), 2.0), rnd(T, 1, 2, 8, 8, scale=3.0))
    zoo["sinabs"] = (_boost(sinabs_net(), 2.5), rnd(T, 1, 8, 8, scale=3.0))
    return zoo


def _reset(module: nn.Module) -> None:
    from spikerain.converter.frontends.fx_frontend import _reset_state

    _reset_state(module)


ZOO = _models()


@pytest.fixture(scope="module", params=sorted(ZOO))
def converted(request):
    module, x = ZOO[request.param]
    module.eval()
    _reset(module)
    with torch.no_grad():
        ref = module(x).numpy()
    calib = torch.stack([x, x * 0.5, x.flip(-1)])
    f, q, report = convert_module(module, x, calib)
    return request.param, module, x, ref, f, q, report


def test_float_ir_equals_library(converted):
    name, module, x, ref, f, q, report = converted
    got = run_float_module_layout(f, x)
    assert got.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max()))
    assert float(np.abs(got - ref).max()) <= 1e-5 * scale, name
    assert np.count_nonzero(ref), f"{name}: the example must exercise the network (all-zero output)"


def test_quantized_report_and_fast_sim_bit_exact(converted):
    name, module, x, ref, f, q, report = converted
    s = report["summary"]
    assert not math.isnan(s["output_sqnr_db"]) and s["worst_layers"], name
    fast = simulate_module_layout(q, x)
    numpy_ref = simulate_module_layout(q, x, reference=True)
    assert fast.shape == ref.shape
    assert np.array_equal(fast, numpy_ref), name
    print(f"{name}: output SQNR {s['output_sqnr_db']:.1f} dB, worst layers {s['worst_layers']}, "
          f"ops {sorted(set(n.op for n in q.nodes))}")


def test_every_parameter_is_used():
    from spikerain.converter.frontends.fx_frontend import from_module
    from spikerain.errors import UnsupportedOpError

    class Dropped(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 4)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(UnsupportedOpError, match="unused"):
        from_module(Dropped(), torch.rand(1, 4))


def test_weights_off_the_output_path_are_refused():
    from spikerain.converter.frontends.fx_frontend import from_module
    from spikerain.errors import UnsupportedOpError

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 2)

        def forward(self, x):
            return self.a(x), self.b(x)  # the first tensor is the output: b's weights would be lost

    with pytest.raises(UnsupportedOpError, match="'b'"):
        from_module(TwoHeads(), torch.rand(1, 4))


def test_unsupported_module_named_with_path_and_type():
    from spikerain.converter.frontends.fx_frontend import from_module
    from spikerain.errors import UnsupportedOpError

    net = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.GELU()))
    with pytest.raises(UnsupportedOpError) as e:
        from_module(net, torch.rand(1, 4))
    msg = str(e.value) + str(e.value.fix)
    assert "1.0" in msg and "GELU" in msg and "Conv2d" in msg


def test_onnxruntime_matches_library(converted, tmp_path):
    """--onnx exports the float IR; onnxruntime runs it (neurons as local functions) to the module's output."""
    ort = pytest.importorskip("onnxruntime")
    from spikerain.converter.interchange.onnx_io import export_onnx, import_onnx
    from spikerain.converter.ir import graphs_equal
    from spikerain.pipeline.byo import from_graph_output, to_graph_input

    name, module, x, ref, f, q, report = converted
    export_onnx(f, tmp_path / "m.onnx")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), so, providers=["CPUExecutionProvider"])
    xin = to_graph_input(f, x).numpy()[:, 0]  # the ONNX graph is batch-free [T, C, H, W]
    y = sess.run(None, {"input": xin})[0]
    got = from_graph_output(f, y[:, None])
    assert float(np.abs(got - ref).max()) <= 1e-4 * max(1.0, float(np.abs(ref).max())), name
    assert graphs_equal(f, import_onnx(tmp_path / "m.onnx"))


def test_python_api_convert_and_simulate():
    import spikerain

    module, x = ZOO["snntorch_synaptic"]
    graph = spikerain.convert(module, x, calibration=torch.stack([x, x * 0.8]))
    assert graph.meta["quantization_summary"]["worst_layers"]
    y = spikerain.simulate(graph, x)
    _reset(module)
    with torch.no_grad():
        ref = module(x).numpy()
    assert y.shape == ref.shape and float(np.mean(y == ref)) >= 0.8
