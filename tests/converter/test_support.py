"""docs/supported-ops.md is generated from the registries and must be current."""

from pathlib import Path

from spikerain.converter.support import markdown, rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "supported-ops.md"


def test_supported_ops_page_is_current():
    assert DOC.read_text() == markdown(), "regenerate: python -m spikerain.converter.support > docs/supported-ops.md"


def test_every_quantized_op_has_both_kernels_and_a_lava_process():
    for op, level, _, ref, fast, lava, _, _ in rows():
        if level == "quantized":
            assert ref == "yes" and fast == "yes" and lava != "-", op
        else:
            assert fast == "yes", op
