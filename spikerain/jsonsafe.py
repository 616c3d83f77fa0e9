"""Strict-JSON helpers shared by the reports and the CLI (no CLI imports here: stages use it too)."""

from __future__ import annotations


def finite_json(obj):
    """Replace non-finite floats (which strict JSON cannot hold) by the strings "inf", "-inf", "nan"."""
    if isinstance(obj, float) and obj != obj:
        return "nan"
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj
