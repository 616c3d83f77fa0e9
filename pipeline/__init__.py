"""Workflows that chain the stages: convert (frontend -> passes -> calibration -> quantize -> report), verify (the
Lava graph against the fast simulator), estimate (counts -> energy under every model) and the supported-ops page.

The stages below (``converter``, ``hardware``, ``energy``, ``counting``) keep pure steps and never import this
package or the CLI; ``spikerain.cli`` and its commands call these workflows.
"""
