"""PyTorch models of VLIF-Net and ESDNet, with their neurons, data, training and metrics.

Everything here needs torch; the deployment side (``spikerain.converter`` IR/artifact, ``spikerain.hardware``)
does not import it.
"""

from spikerain.models.esdnet import ESDNet, ESDNetConfig
from spikerain.models.neurons import LIF, NILIF, LIFParameters, NILIFParameters
from spikerain.models.vlifnet import SDEM, SMU, VLIF, VLIFNet, VLIFNetConfig

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
