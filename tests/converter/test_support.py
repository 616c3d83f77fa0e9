"""docs/supported-ops.md is generated from the registries and must be current."""

from pathlib import Path

from spikerain.pipeline.support import markdown, rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "supported-ops.md"


def test_supported_ops_page_is_current():
    assert DOC.read_text() == markdown(), "regenerate: python -m spikerain.pipeline.support > docs/supported-ops.md"


def test_every_quantized_op_has_both_kernels_a_lava_process_a_core_cost_and_an_energy_rule():
    # every column is read from a stage registry with no default: "-" is what a missing entry shows
    for op, level, _, _, quant, ref, fast, lava, cost, energy, _, onnx in rows():
        if level == "quantized":
            assert (ref, fast) == ("yes", "yes") and "-" not in (lava, cost, energy), op
            assert (quant, onnx) == ("-", "-"), op
        else:
            assert (fast, onnx) == ("yes", "yes") and energy != "-", op
            assert quant == ("-" if op == "`batchnorm`" else "yes"), op
