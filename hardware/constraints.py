"""Loihi core constraints as data (``hardware/data/*.json``, each value with its source). Torch-free."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from spikerain.errors import UsageError

TARGETS = ("loihi1", "loihi2")


@dataclass(frozen=True, kw_only=True)
class CoreConstraints:
    name: str
    title: str
    neurons_per_core: int
    synapse_memory_bits_per_core: int
    input_axons_per_core: int
    output_axons_per_core: int
    weight_bits: int
    state_bits: int
    graded_payload_bits: int
    cores_per_chip: int
    embedded_cpus_per_chip: int
    conv_weight_sharing: bool
    latency_ns: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)


def load_constraints(target: str) -> CoreConstraints:
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}", fix=f"choose one of {', '.join(TARGETS)}")
    text = (resources.files("spikerain.hardware") / "data" / f"{target}.json").read_text()
    return CoreConstraints(**json.loads(text))
