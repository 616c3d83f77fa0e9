"""spikerain: spiking deraining networks from PyTorch to Loihi-style neuromorphic hardware.

Subpackages: ``spikerain.models`` (PyTorch networks, data, training, metrics), ``spikerain.converter``,
``spikerain.hardware``, ``spikerain.counting``, ``spikerain.energy`` and ``spikerain.pipeline`` (the workflows
chaining them; ``docs/architecture.md``). This top-level package holds the CLI, the errors and the version, and
imports nothing heavy.
"""

from spikerain._version import __version__

__all__ = ["__version__"]
