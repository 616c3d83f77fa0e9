"""The supported-ops table, generated from the registries (``python -m spikerain.converter.support``).

docs/supported-ops.md is this module's output; ``tests/converter/test_support.py`` fails when it is stale.
"""

from __future__ import annotations

import sys

#: quantized ops of the bring-your-own frontend that the Lava backend does not schedule yet
BYO_FAST_ONLY = ("q_tensor_input", "q_neuron", "q_maxpool2d", "q_reshape", "q_upsample_nearest", "q_depth_to_space")


def rows() -> list[list[str]]:
    from spikerain.converter.interchange.netx_io import NETX_OPS
    from spikerain.converter.ir.node import OPS
    from spikerain.hardware.fastsim.float_kernels import FLOAT_KERNELS
    from spikerain.hardware.fastsim.int_kernels import INT_KERNELS
    from spikerain.hardware.kernels.reference import REFERENCE
    from spikerain.hardware.lava.schedule import NEURON_OPS, SYNAPSE_OPS

    out = []
    for op, cls in sorted(OPS.items(), key=lambda kv: (kv[0].startswith("q_"), kv[0])):
        quantized = op.startswith("q_")
        if quantized:
            lava = NEURON_OPS.get(op) or SYNAPSE_OPS.get(op) or "Segment (spikerain)"
            if op == "q_input":
                lava = "RingBuffer source (host quantizes)"
            if op == "q_conv2d":
                lava = "Conv (+ a Segment requantizes, unless it is the identity)"
            if op in BYO_FAST_ONLY:
                lava = "not yet (bring-your-own: fast simulator and reference only)"
            kernels = ("yes" if op in REFERENCE else "-", "yes" if op in INT_KERNELS else "-")
        else:
            lava, kernels = "-", ("-", "yes" if op in FLOAT_KERNELS else "-")
        out.append([f"`{op}`", "quantized" if quantized else "float", cls.placement, *kernels, lava,
                    "yes" if op in NETX_OPS else "-", "-" if quantized else "yes"])
    return out


def frontend_modules() -> list[str]:
    from spikerain.converter.frontends.torch_frontend import supported_types

    return supported_types()


def markdown() -> str:
    head = ["IR op", "level", "placement", "numpy reference", "fast simulator", "Lava process", "netx", "ONNX"]
    lines = ["# Supported ops", "",
             "Generated from the registries by `python -m spikerain.converter.support`; a test fails when this "
             "page is stale. Float ops come from the PyTorch frontend and run in the float fast simulator and in "
             "ONNX; quantized ops are what the artifact holds: the numpy reference defines their integers, the "
             "fast simulator matches it bit for bit, and the Lava backend realises each with a stock process or a "
             "spikerain `Segment`. netx: the ops a lava-dl netx file can hold (import and export).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows()]
    lines += ["", "## PyTorch modules the frontend converts", "",
              "Any other module type is refused with an error naming it (`UnsupportedOpError`).", ""]
    lines += [f"- `{t}`" for t in frontend_modules()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
