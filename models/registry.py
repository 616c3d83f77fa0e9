"""Model names, constructors and configurations: one place that turns a name and a config into a network."""

from __future__ import annotations

from torch import nn

from spikerain.errors import ConfigError
from spikerain.models.esdnet import ESDNet
from spikerain.models.vlifnet import VLIFNet

MODELS: dict[str, type[nn.Module]] = {"vlifnet": VLIFNet, "esdnet": ESDNet}

_CONFIG_KEYS = {
    "vlifnet": {"dim", "T", "refinement", "en_num_blocks", "de_num_blocks", "inp_channels", "out_channels"},
    "esdnet": {"dim", "T", "en_num_blocks", "de_num_blocks", "inp_channels", "out_channels"},
}


def model_names() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, **config) -> nn.Module:
    """Build ``name`` ('vlifnet' or 'esdnet') with the given constructor arguments."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        raise ConfigError(f"unknown model {name!r}", fix=f"choose one of {', '.join(model_names())}")
    unknown = set(config) - _CONFIG_KEYS[key]
    if unknown:
        raise ConfigError(f"unknown {key} option(s) {sorted(unknown)}",
                          fix=f"valid options are {sorted(_CONFIG_KEYS[key])}")
    return MODELS[key](**config)


def model_config(model: nn.Module) -> dict:
    """The JSON-ready config dict of a built network (includes its name under ``model``)."""
    return model.config.to_dict()


def build_from_config(config: dict) -> nn.Module:
    cfg = dict(config)
    name = cfg.pop("model")
    return build_model(name, **cfg)
