"""The supported-ops table, generated from the registries (``python -m spikerain.pipeline.support``).

docs/supported-ops.md is this module's output; ``tests/converter/test_support.py`` fails when it is stale.
"""

from __future__ import annotations

import sys


def _load_stages() -> None:
    """Import every stage module, so that each registers its table."""
    import spikerain.converter.interchange.netx_io  # noqa: F401
    import spikerain.converter.interchange.onnx_io  # noqa: F401
    import spikerain.converter.quantize  # noqa: F401
    import spikerain.counting.plan  # noqa: F401
    import spikerain.hardware.fastsim.float_kernels  # noqa: F401
    import spikerain.hardware.fastsim.int_kernels  # noqa: F401
    import spikerain.hardware.kernels.reference  # noqa: F401
    import spikerain.hardware.mapping  # noqa: F401
    import spikerain.hardware.schedule  # noqa: F401


HEAD = ["IR op", "level", "role", "placement", "quantize", "numpy reference", "fast simulator", "Lava process",
        "mapping", "energy", "netx", "ONNX"]


def rows() -> list[list[str]]:
    """One row per IR op; each stage column is that stage's registry entry ("-": the stage refuses the op)."""
    from spikerain.converter.ir.node import OPS
    from spikerain.converter.ir.registry import STAGES

    _load_stages()

    def has(stage: str, cls) -> str:
        return "yes" if cls in STAGES[stage] else "-"

    out = []
    for op, cls in sorted(OPS.items(), key=lambda kv: (kv[0].startswith("q_"), kv[0])):
        quantized = op.startswith("q_")
        lava = STAGES["Lava"].get(cls)
        fast = "fast simulator (integer)" if quantized else "fast simulator (float)"
        out.append([f"`{op}`", "quantized" if quantized else "float", cls.role, cls.placement,
                    has("quantize", cls), has("numpy reference", cls), has(fast, cls),
                    lava.process if lava else "-", STAGES["mapping"].get(cls, "-"),
                    STAGES["energy"].get(cls).kind if cls in STAGES["energy"] else "-", has("netx export", cls),
                    has("ONNX export", cls)])
    return out


def frontend_modules() -> list[str]:
    from spikerain.converter.frontends.torch_frontend import supported_types

    return supported_types()


def markdown() -> str:
    head = HEAD
    lines = ["# Supported ops", "",
             "Generated from the registries by `python -m spikerain.pipeline.support`; a test fails when this "
             "page is stale. Each column after `placement` is one stage's registry (keyed on the op class, next to "
             "the code it dispatches to; `docs/architecture.md` lists where): `-` means the stage refuses the op "
             "with `UnsupportedOpError` naming op, stage and node. Float ops come from the PyTorch frontend and "
             "run in the float fast simulator and in ONNX; quantized ops are what the artifact holds: the numpy "
             "reference defines their integers, the fast simulator matches it bit for bit, and the Lava backend "
             "realises each with a stock process, a spikerain custom on-chip process of its neuron program "
             "(`hardware/lava/processes/segment.py`) or `HostSegment` (host). mapping: how the op costs cores; "
             "energy: how it is counted. netx: the ops a lava-dl netx file can hold (import and export).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows()]
    lines += ["", "## PyTorch modules the frontend converts", "",
              "The network's forward and the modules that only chain these are traced with torch.fx; any other "
              "module type or op is refused with an error naming it (`UnsupportedOpError`).", ""]
    lines += [f"- `{t}`" for t in frontend_modules()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
