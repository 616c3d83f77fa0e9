"""PyTorch models of VLIF-Net and ESDNet, with their neurons, data, training and metrics.

Everything here needs torch; the deployment side (``spikerain.converter`` IR/artifact, ``spikerain.hardware``)
does not import it.
"""

import importlib

# Imported on first use, so that ``spikerain.models.registry`` (model names for the CLI) stays torch-free.
_WHERE = {"ESDNet": "esdnet", "ESDNetConfig": "esdnet", "LIF": "neurons", "NILIF": "neurons",
          "LIFParameters": "neurons", "NILIFParameters": "neurons", "SDEM": "vlifnet", "SMU": "vlifnet",
          "VLIF": "vlifnet", "VLIFNet": "vlifnet", "VLIFNetConfig": "vlifnet"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"spikerain.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'spikerain.models' has no attribute {name!r}")


__all__ = [
    "ESDNet",
    "ESDNetConfig",
    "LIF",
    "LIFParameters",
    "NILIF",
    "NILIFParameters",
    "SDEM",
    "SMU",
    "VLIF",
    "VLIFNet",
    "VLIFNetConfig",
]
