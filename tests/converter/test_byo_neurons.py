"""Each library neuron, step by step against the library's own module: the IR neuron (``ir.Neuron`` with the
fields ``neuron_fields`` reads off the module) reproduces its spikes (and, for leaky integrators, its voltage)
on random inputs; and the integer neuron's fast-sim kernel equals its numpy reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerain.converter import ir
from spikerain.converter.frontends.fx_frontend import Build, neuron_fields
from spikerain.hardware.fastsim.float_kernels import neuron_multistep

sj = pytest.importorskip("spikingjelly.activation_based")
snn = pytest.importorskip("snntorch")
norse = pytest.importorskip("norse.torch")
sl = pytest.importorskip("sinabs.layers")
sa = pytest.importorskip("sinabs.activation")
from spikingjelly.activation_based import functional, neuron  # noqa: E402

T, N = 12, 64


def _x(scale: float, seed: int = 0, signed: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(T, 2, N, generator=g)
    return (x * 2 - 1 if signed else x) * scale


def _ir(module, x: torch.Tensor) -> torch.Tensor:
    """The IR neuron over the whole series ``[T, B, N]`` (as ``[T, B, N, 1, 1]``)."""
    node = ir.Neuron(name="n", inputs=("x",), **neuron_fields(Build(module, None), module, "n"))
    return neuron_multistep(node, x[..., None, None])[..., 0, 0]


def _check(got: torch.Tensor, ref: torch.Tensor, *, voltage: bool = False) -> None:
    assert got.shape == ref.shape
    if voltage:
        scale = max(1.0, float(ref.abs().max()))
        assert float((got - ref).abs().max()) <= 1e-5 * scale
    else:
        assert torch.equal(got, ref), f"{int((got != ref).sum())} of {ref.numel()} spikes differ"
        assert 0 < float(ref.mean()) < 1 or ref.max() > 1, "the input must make the neuron both fire and rest"


SJ_CASES = {
    "IF hard": lambda m: neuron.IFNode(step_mode=m),
    "IF soft": lambda m: neuron.IFNode(v_reset=None, step_mode=m),
    "LIF decay_input": lambda m: neuron.LIFNode(tau=2.0, step_mode=m),
    "LIF no decay_input soft": lambda m: neuron.LIFNode(tau=3.0, decay_input=False, v_reset=None, step_mode=m),
    "LIF v_reset -0.2": lambda m: neuron.LIFNode(tau=2.5, v_threshold=0.8, v_reset=-0.2, step_mode=m),
    "LIF detach_reset": lambda m: neuron.LIFNode(tau=2.0, detach_reset=True, step_mode=m),
    "PLIF": lambda m: neuron.ParametricLIFNode(init_tau=2.5, step_mode=m),
    "PLIF no decay_input": lambda m: neuron.ParametricLIFNode(init_tau=4.0, decay_input=False, step_mode=m),
}


@pytest.mark.parametrize("mode", ["s", "m"])
@pytest.mark.parametrize("case", sorted(SJ_CASES))
def test_spikingjelly(case, mode):
    m = SJ_CASES[case](mode).eval()
    x = _x(2.0)
    with torch.no_grad():
        functional.reset_net(m)
        ref = m(x) if mode == "m" else torch.stack([m(x[t]) for t in range(T)])
    _check(_ir(m, x), ref)


SNNTORCH_CASES = {
    "Leaky subtract": lambda: snn.Leaky(beta=0.8),
    "Leaky zero": lambda: snn.Leaky(beta=0.7, reset_mechanism="zero", threshold=0.6),
    "Leaky none": lambda: snn.Leaky(beta=0.9, reset_mechanism="none"),
    "Leaky init_hidden": lambda: snn.Leaky(beta=0.85, init_hidden=True),
    "Synaptic subtract": lambda: snn.Synaptic(alpha=0.6, beta=0.8),
    "Synaptic none": lambda: snn.Synaptic(alpha=0.5, beta=0.9, reset_mechanism="none", threshold=1.5),
}


@pytest.mark.parametrize("case", sorted(SNNTORCH_CASES))
def test_snntorch(case):
    m = SNNTORCH_CASES[case]().eval()
    x = _x(1.5)
    out = []
    with torch.no_grad():
        if m.init_hidden:
            m.reset_hidden()
            out = [m(x[t]) for t in range(T)]
        elif isinstance(m, snn.Synaptic):
            syn, mem = m.init_synaptic()
            for t in range(T):
                s, syn, mem = m(x[t], syn, mem)
                out.append(s)
        else:
            mem = m.init_leaky()
            for t in range(T):
                s, mem = m(x[t], mem)
                out.append(s)
    _check(_ir(m, x), torch.stack(out))


NORSE_CASES = {
    "LIFCell": lambda: norse.LIFCell(),
    "LIFCell v_leak": lambda: norse.LIFCell(norse.LIFParameters(v_leak=torch.tensor(0.2), v_reset=torch.tensor(0.1),
                                                                tau_mem_inv=torch.tensor(200.0))),
    "LIFBoxCell": lambda: norse.LIFBoxCell(),
    "LICell": lambda: norse.LICell(),
}


@pytest.mark.parametrize("case", sorted(NORSE_CASES))
def test_norse(case):
    m = NORSE_CASES[case]().eval()
    x = _x(40.0, signed=False)
    out, s = [], None
    with torch.no_grad():
        for t in range(T):
            y, s = m(x[t], s)
            out.append(y)
    _check(_ir(m, x), torch.stack(out), voltage=case == "LICell")


SINABS_CASES = {
    "IAF": lambda: sl.IAF(),
    "IAF single reset": lambda: sl.IAF(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset()),
    "IAF min_v": lambda: sl.IAF(min_v_mem=-0.5, spike_threshold=0.7),
    "LIF": lambda: sl.LIF(tau_mem=3.0),
    "LIF no norm": lambda: sl.LIF(tau_mem=5.0, norm_input=False, spike_fn=sa.SingleSpike),
    "IAFSqueeze": lambda: sl.IAFSqueeze(batch_size=2),
    "LIFSqueeze": lambda: sl.LIFSqueeze(tau_mem=2.0, batch_size=2),
}


@pytest.mark.parametrize("case", sorted(SINABS_CASES))
def test_sinabs(case):
    m = SINABS_CASES[case]().eval()
    x = _x(2.5)
    with torch.no_grad():
        if "Squeeze" in case:  # [B*T, N], batch-major
            ref = m(x.transpose(0, 1).reshape(2 * T, N)).reshape(2, T, N).transpose(0, 1)
        else:  # [B, T, N]
            ref = m(x.transpose(0, 1)).transpose(0, 1)
    _check(_ir(m, x), ref)


@pytest.mark.parametrize("fields", [
    dict(leak_mant=3277, threshold=300, reset="subtract", reset_next=True, strict=True),
    dict(leak_mant=4096, threshold=200, reset="zero", v_reset=-20, v_rest=-20),
    dict(leak_mant=2048, threshold=150, multi=True, reset="subtract", has_min_v=True, min_v=-100),
    dict(leak_mant=3500, threshold=1 << 40, syn_mant=3000, current_lag=True, reset="none", emit="v"),
])
def test_integer_neuron_fast_equals_reference(fields):
    from spikerain.converter.ir import quantized as q
    from spikerain.hardware.fastsim.int_kernels import int_kernel
    from spikerain.hardware.kernels.reference import reference_kernel

    n = q.QNeuron(name="n", inputs=("x",), in_frac=8, frac=0, bits=16 if fields.get("emit") == "v" else 8,
                  **fields)
    x = np.random.default_rng(3).integers(-200, 300, size=(T, 2, 3, 4, 4))
    ref = reference_kernel("q_neuron")(n, x)
    fast = int_kernel("q_neuron")(n, torch.from_numpy(x)).numpy()
    assert np.array_equal(ref, fast)
    assert np.count_nonzero(ref) and not np.all(ref == ref.flat[0])
