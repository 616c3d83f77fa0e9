"""The fast simulator's step-at-a-time chains (``executor.frame_chains``) against whole-T execution and the numpy
reference kernels, bit for bit, on small networks with every chain forced to run one step at a time."""

import numpy as np
import pytest
import torch

from spikerain.hardware.fastsim.executor import frame_chains
from spikerain.hardware.fastsim.simulate import simulate
from spikerain.hardware.kernels.reference import run_reference

RNG = np.random.default_rng(1919)


@pytest.fixture(scope="module", params=["vlifnet", "esdnet"])
def graph_and_image(request):
    from spikerain.models import ESDNet, VLIFNet
    from spikerain.pipeline.convert import convert_model

    torch.manual_seed(0)
    small = dict(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1))
    model = VLIFNet(**small) if request.param == "vlifnet" else ESDNet(**small)
    imgs = [RNG.random((8, 8, 3)).astype(np.float32) for _ in range(2)]
    _, qg, _ = convert_model(model.eval(), calib_images=imgs, calib_source="test", report_images=1)
    return request.param, qg, np.stack([imgs[0].transpose(2, 0, 1)])


def test_chains_cover_the_large_per_step_ops(graph_and_image):
    net, qg, _ = graph_and_image
    chains = frame_chains(qg)
    ops = [tuple(m.op for m in c) for c in chains.values()]
    assert sum(len(c) for c in chains.values()) == len({m.name for c in chains.values() for m in c})  # disjoint
    if net == "vlifnet":  # VLIF's resize runs one step at a time into its 1x1 conv: the wide value never exists
        assert ("q_upsample2x", "q_conv2d") in {c[:2] for c in ops}
    assert any(len(c) > 1 for c in ops)


def test_step_at_a_time_is_bit_exact_with_whole_steps_and_the_reference(graph_and_image):
    _, qg, x = graph_and_image
    whole_stats, step_stats = {}, {}
    whole = simulate(qg, torch.from_numpy(x), stats=whole_stats, chunk_bytes=None)
    by_step = simulate(qg, torch.from_numpy(x), stats=step_stats, chunk_bytes=0)  # every chain, every size
    ref = run_reference(qg, x.astype(np.float64))
    for o in qg.outputs:
        assert by_step[o].dtype == torch.int64
        np.testing.assert_array_equal(by_step[o].numpy(), whole[o].numpy())
        np.testing.assert_array_equal(by_step[o].numpy(), ref[o])
    assert step_stats == whole_stats


# Freed pages handed back at every free (release_bytes=0), or at any growth beyond a slack of 0, against kept.
@pytest.mark.parametrize(("kept_kw", "released_kw"), [({"release_bytes": None}, {"release_bytes": 0}),
                                                     ({"release_slack": None}, {"release_slack": 0})],
                         ids=["every-free", "beyond-a-slack"])
def test_freed_pages_handed_back_change_no_bit(graph_and_image, kept_kw, released_kw):
    _, qg, x = graph_and_image
    kept_stats, released_stats = {}, {}
    kept = simulate(qg, torch.from_numpy(x), stats=kept_stats, chunk_bytes=0, **kept_kw)
    released = simulate(qg, torch.from_numpy(x), stats=released_stats, chunk_bytes=0, **released_kw)
    for o in qg.outputs:
        np.testing.assert_array_equal(released[o].numpy(), kept[o].numpy())
    assert released_stats == kept_stats
