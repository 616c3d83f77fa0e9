"""Model names, constructors, configurations and their limits: one place that turns a name and a config into a
network.

Importing this module does not import torch (the CLI reads :func:`model_names` for its choices, also in the
torch-free Lava interpreter); the network classes are imported when a model is built. :func:`check_config`
validates a config (from a checkpoint file or the command line) against :data:`LIMITS` before anything is
built, so a file cannot make spikerain allocate memory for a network it then refuses.
"""

from __future__ import annotations

import importlib
import math

from spikerain.errors import ConfigError

#: model name -> (module, class); imported on first use
_CLASSES = {"vlifnet": ("spikerain.models.vlifnet", "VLIFNet"), "esdnet": ("spikerain.models.esdnet", "ESDNet")}

_CONFIG_KEYS = {
    "vlifnet": {"dim", "T", "refinement", "en_num_blocks", "de_num_blocks", "inp_channels", "out_channels"},
    "esdnet": {"dim", "T", "en_num_blocks", "de_num_blocks", "inp_channels", "out_channels"},
}

#: What a config may ask for. dim: 16 is the narrowest width whose channel attention (reduction 16) keeps a
#: channel; 128 (about 100 M parameters, 0.4 GB) is well above the released models (48). T: both architectures
#: hard-wire 4 steps in their attention modules. Blocks: the released models use up to 8 per level. Channels:
#: RGB images in and out.
LIMITS = {"dim": (16, 128), "T": (4, 4), "blocks": (0, 16), "levels": 4, "channels": (3, 3)}


def model_names() -> list[str]:
    return sorted(_CLASSES)


def model_class(name: str):
    """The network class of ``name`` (imports torch)."""
    module, cls = _CLASSES[_key(name)]
    return getattr(importlib.import_module(module), cls)


def _key(name) -> str:
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in _CLASSES:
        raise ConfigError(f"unknown model {name!r}", fix=f"choose one of {', '.join(model_names())}")
    return key


def _int_in(config: dict, key: str, lo: int, hi: int, where: str) -> None:
    v = config[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or int(v) != v:
        raise ConfigError(f"{where}: {key} is {v!r}, not an integer", fix=f"use an integer in [{lo}, {hi}]")
    if not lo <= v <= hi:
        raise ConfigError(f"{where}: {key} {v} is outside [{lo}, {hi}]", fix=f"use {key} in [{lo}, {hi}]")


def check_config(config, where: str = "model config") -> dict:
    """Return a clean copy of ``config`` ({"model": name, **options}) or raise :class:`ConfigError` naming the
    first key that is missing, unknown, of the wrong type or outside :data:`LIMITS`. Builds nothing."""
    if not isinstance(config, dict):
        raise ConfigError(f"{where} is a {type(config).__name__}, not a mapping",
                          fix='save the config as a dict such as {"model": "vlifnet", "dim": 16}')
    if "model" not in config:
        raise ConfigError(f"{where} has no 'model' key", fix=f"set model to one of {', '.join(model_names())}")
    key = _key(config["model"])
    cfg = {k: v for k, v in config.items() if k != "model"}
    unknown = set(cfg) - _CONFIG_KEYS[key]
    if unknown:
        raise ConfigError(f"{where}: unknown {key} option(s) {sorted(map(str, unknown))}",
                          fix=f"valid options are {sorted(_CONFIG_KEYS[key])}")
    if "dim" in cfg:
        _int_in(cfg, "dim", *LIMITS["dim"], where)
    if "T" in cfg:
        _int_in(cfg, "T", *LIMITS["T"], where)
    for k in ("inp_channels", "out_channels"):
        if k in cfg:
            _int_in(cfg, k, *LIMITS["channels"], where)
    for k in ("en_num_blocks", "de_num_blocks"):
        if k in cfg:
            v = cfg[k]
            if not isinstance(v, (list, tuple)) or len(v) != LIMITS["levels"]:
                raise ConfigError(f"{where}: {k} is {v!r}, not a list of {LIMITS['levels']} block counts",
                                  fix=f"e.g. {k}: [4, 4, 8, 8]")
            for i in range(len(v)):
                _int_in({f"{k}[{i}]": v[i]}, f"{k}[{i}]", *LIMITS["blocks"], where)
            cfg[k] = tuple(int(x) for x in v)
    if "refinement" in cfg and not isinstance(cfg["refinement"], bool):
        raise ConfigError(f"{where}: refinement is {cfg['refinement']!r}, not true/false", fix="use a boolean")
    return {"model": key, **{k: (int(v) if k in ("dim", "T", "inp_channels", "out_channels") else v)
                             for k, v in cfg.items()}}


def build_model(name: str, **config):
    """Build ``name`` ('vlifnet' or 'esdnet') with the given constructor arguments, checked against
    :data:`LIMITS` first."""
    cfg = check_config({"model": name, **config})
    key = cfg.pop("model")
    return model_class(key)(**cfg)


def model_config(model) -> dict:
    """The JSON-ready config dict of a built network (includes its name under ``model``)."""
    return model.config.to_dict()


def build_from_config(config: dict):
    cfg = check_config(config)
    return build_model(cfg.pop("model"), **cfg)
