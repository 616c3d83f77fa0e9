import json

import pytest

from spikerain.models import ESDNet, VLIFNet

CONFIGS = {
    "vlifnet": (lambda: VLIFNet(), 14_023_911),
    "vlifnet_rain200l": (lambda: VLIFNet(refinement=True), 14_312_031),
    "esdnet": (lambda: ESDNet(), 12_811_463),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_keys_and_shapes_equal_the_official_state_dict_in_order(reference, name):
    official = json.loads((reference / "official_state_dict_keys.json").read_text())[name]
    model = CONFIGS[name][0]()
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert len(ours) == official["n_state_dict_entries"]
    for i, (a, b) in enumerate(zip(ours, official["keys"], strict=True)):
        assert a == b, f"entry {i}: ours {a}, official {b}"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_parameter_counts(name):
    build, expected = CONFIGS[name]
    model = build()
    assert sum(p.numel() for p in model.parameters()) == expected


def test_official_shaped_state_dict_loads_strictly(reference):
    official = json.loads((reference / "official_state_dict_keys.json").read_text())["vlifnet"]
    import torch

    sd = {k: torch.zeros(s, dtype=torch.int64 if k.endswith("num_batches_tracked") else torch.float32)
          for k, s in official["keys"]}
    VLIFNet().load_state_dict(sd, strict=True)
