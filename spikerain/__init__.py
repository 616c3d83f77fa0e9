"""spikerain: spiking deraining networks from PyTorch to Loihi-style neuromorphic hardware.

Subpackages: ``spikerain.models`` (PyTorch networks, data, training, metrics), ``spikerain.converter``,
``spikerain.hardware``, ``spikerain.counting``, ``spikerain.energy`` and ``spikerain.pipeline`` (the workflows
chaining them; ``docs/architecture.md``). This top-level package holds the CLI, the errors and the version, and
imports nothing heavy.
"""

from spikerain._version import __version__

__all__ = ["__version__", "convert", "simulate"]


def convert(module, example, calibration=None, **options):
    """Any traceable PyTorch SNN -> the quantized artifact graph (``spikerain.converter.artifact.save_artifact``
    writes it). ``example``: one input exactly as ``module(example)`` takes it; ``calibration``: a stack of such
    inputs (default: the example). See docs/bring-your-own.md."""
    from spikerain.pipeline.byo import convert_module

    return convert_module(module, example, calibration, **options)[1]


def simulate(graph, x, *, reference: bool = False):
    """Run a converted graph on ``x`` (the module's input layout) in the fast simulator; returns what the module
    would return (its first output), as the quantized network computes it."""
    from spikerain.pipeline.byo import simulate_module_layout

    return simulate_module_layout(graph, x, reference=reference)
