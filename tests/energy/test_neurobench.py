"""Cross-check with NeuroBench 2.3: its SynapticOperations (effective MACs / ACs / dense) and ActivationSparsity on
spikerain's float networks, wrapped as NeuroBench expects (``TorchModel``, neurons registered as activation
modules), against spikerain's own counts of the same input. docs/energy.md explains where the two differ."""

import numpy as np
import pytest
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
from neurobench.models import TorchModel
from torch.utils.data import DataLoader, TensorDataset

from spikerain.converter.frontends.torch_frontend import from_torch
from spikerain.converter.passes.pipeline import run_passes
from spikerain.counting.plan import EnergyPlan
from spikerain.energy.sources import collect_torch
from spikerain.models.esdnet import ESDNet
from spikerain.models.neurons import LIF, NILIF
from spikerain.models.vlifnet import VLIFNet


def neurobench(net, x):
    model = TorchModel(net)
    model.activation_modules = [LIF, NILIF]  # the spiking neurons only (not the attention's ReLU/Sigmoid)
    loader = DataLoader(TensorDataset(x, torch.zeros(1)), batch_size=1)
    return Benchmark(model, loader, [], [], [[], [SynapticOperations, ActivationSparsity]]).run(quiet=True)


@pytest.mark.parametrize("cls", [ESDNet, VLIFNet])
def test_neurobench_counts_equal_spikerain_counts(cls):
    torch.manual_seed(0)
    net = cls(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1)).eval()
    x = torch.rand(1, 3, 16, 16)
    nb = neurobench(net, x)
    g = run_passes(from_torch(net, (16, 16)))
    counts, _ = collect_torch(g, x[0].numpy().astype(np.float64))
    # NeuroBench hooks nn.Linear/Conv1d-3d only: spikerain's bilinear x2 (a fixed-weight synaptic layer) is not seen
    syn = {k: v for k, v in counts["synapses"].items() if v["op"] != "upsample2x"}
    ops = nb["SynapticOperations"]
    # effective ops: NeuroBench runs an all-ones copy of each layer on the binarised input, i.e. each non-zero
    # input's fan-out with padding and stride: spikerain's exact synaptic operations, layer class by layer class
    assert ops["Effective_ACs"] == sum(sum(v["exact_sops"]) for v in syn.values() if v["binary"]) > 0
    assert ops["Effective_MACs"] == sum(sum(v["exact_sops"]) for v in syn.values() if not v["binary"]) > 0
    # NeuroBench's Dense excludes the taps that fall on zero padding; spikerain's dense MACs (the papers' FLOPs)
    # include them. NeuroBench's number is spikerain's fan-out map applied to an all-non-zero input
    plan = EnergyPlan.build(g)
    dense_no_padding = sum(int(s.fanmap.sum()) * (s.elements_per_step // s.fanmap.size) * s.frames
                           for k, s in plan.synapses.items() if k in syn)
    assert ops["Dense"] == dense_no_padding
    assert ops["Dense"] < sum(sum(v["dense_macs"]) for v in syn.values())
    # activation sparsity over the spiking neurons: 1 - spikes / neuron updates
    neu = counts["neurons"].values()
    rate = sum(sum(n["spikes"]) for n in neu) / sum(sum(n["updates"]) for n in neu)
    assert nb["ActivationSparsity"] == pytest.approx(1 - rate, abs=1e-12)
    assert 0 < rate < 1
