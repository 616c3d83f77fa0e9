"""The conversion pipeline: torch model -> float IR -> passes -> calibration -> quantized IR + report.

Needs torch (frontend, calibration); the graph it returns and the artifact it feeds do not.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from spikerain.converter.quantize import QuantConfig, quantize
from spikerain.errors import QuantizationError

CALIB_SEED = 11
#: the shipped calibration set: (crop side, count) per size, so that scales see the statistics of small crops,
#: of the authors' 80x80 inference tiles and of larger views
CALIB_SIZES = ((48, 4), (64, 4), (80, 4), (96, 2))
CALIB_COUNT = sum(c for _, c in CALIB_SIZES)
CALIB_SIZE = 64


def default_calibration_images(size: int | None = None, count: int | None = None) -> list[np.ndarray]:
    return [img.copy() for img in _calibration_set(size, count)]


@functools.lru_cache(maxsize=4)
def _calibration_set(size: int | None, count: int | None) -> tuple[np.ndarray, ...]:
    """The shipped calibration set, generated offline and deterministically: the sample image's centre crop plus
    seeded rainy crops of the training photos drawn by the whole renderer mix (``models/renderers.py``), at the
    sizes of ``CALIB_SIZES``. ``size`` (and ``count``) ask for one size only, as ``--calib-size`` does."""
    from spikerain.imageio import read_image
    from spikerain.models.rain import SynthSpec, synth_pairs
    from spikerain.models.samples import sample_pair

    sizes = CALIB_SIZES if size is None else ((size, count or CALIB_COUNT),)
    first = sizes[0][0]
    sample = read_image(sample_pair()[0])
    H, W = sample.shape[:2]
    y, x = (H - first) // 2, (W - first) // 2
    images = [sample[y:y + first, x:x + first]]
    for i, (side, n) in enumerate(sizes):
        spec = SynthSpec(preset="varied", size=side, seed=CALIB_SEED + i)
        images += [r for _, r, _ in synth_pairs("train", n - (1 if i == 0 else 0), spec)]
    return tuple(images)


def load_calibration_dir(folder, size: int = CALIB_SIZE, limit: int = 16) -> list[np.ndarray]:
    """Centre crops (``size``, a multiple of 8) of up to ``limit`` images in ``folder`` (or its input/)."""
    from pathlib import Path

    from spikerain.errors import DatasetError
    from spikerain.imageio import IMAGE_SUFFIXES, read_image

    root = Path(folder)
    for sub in ("train/input", "input", "test/input", ""):
        cand = root / sub if sub else root
        files = sorted(p for p in cand.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if cand.is_dir() else []
        if files:
            break
    else:
        raise DatasetError(f"no calibration images under {root}", fix="pass a folder of rainy PNG/JPEG images")
    images = [(p, read_image(p)) for p in files[:limit]]
    small = [(p, img.shape[:2]) for p, img in images if min(img.shape[:2]) < 16]
    if small:
        raise DatasetError(f"calibration image {small[0][0]} is {small[0][1][0]}x{small[0][1][1]}, smaller than the "
                           "16x16 a calibration crop needs", fix="use larger calibration images")
    out = []
    for _, img in images:
        H, W = img.shape[:2]
        s = min(size, H - H % 8, W - W % 8)
        y, x = (H - s) // 2, (W - s) // 2
        out.append(img[y:y + s, x:x + s])
    return out


def convert_model(model, *, calib_images: list[np.ndarray] | None = None, cfg: QuantConfig | None = None,
                  strict: bool = False, report_images: int = 2, calib_source: str = "shipped",
                  range_rule: str = "spread") -> tuple:
    """Returns (float graph, quantized graph, report)."""
    from spikerain.converter.frontends.torch_frontend import from_torch
    from spikerain.converter.passes.pipeline import run_passes
    from spikerain.hardware.fastsim.calibrate import calibration_ranges
    from spikerain.hardware.fastsim.compare import quantization_errors

    t0 = time.perf_counter()
    images = calib_images if calib_images is not None else default_calibration_images()
    hw = images[0].shape[:2]
    trace: list = []
    fgraph = run_passes(from_torch(model.eval(), hw), trace=trace)
    maxima = calibration_ranges(fgraph, images, range_rule)
    qgraph, report = quantize(fgraph, maxima, cfg)
    errors = quantization_errors(fgraph, qgraph, images[:report_images])
    for name, e in errors.items():
        report["layers"].setdefault(name, {}).update(e)
    bad = {k: v for k, v in errors.items() if v["clipped"] or v["wrapped"] or v["saturated"]}
    report["passes"] = trace
    report["calibration"] = {"source": calib_source, "images": len(images), "size": list(hw),
                             "sizes": sorted({img.shape[0] for img in images}), "range_rule": range_rule,
                             "report_images": min(report_images, len(images))}
    report["summary"] = {
        "nodes": len(qgraph.nodes),
        "host_nodes": sum(n.placement == "host" for n in qgraph.nodes),
        "layers_with_events": sorted(bad),
        "clipped": sum(v["clipped"] for v in errors.values()),
        "wrapped": sum(v["wrapped"] for v in errors.values()),
        "saturated": sum(v["saturated"] for v in errors.values()),
        "output_sqnr_db": errors[qgraph.outputs[0]]["sqnr_db"],
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if strict and bad:
        first = ", ".join(f"{k} (clipped {v['clipped']}, wrapped {v['wrapped']}, saturated {v['saturated']})"
                          for k, v in list(bad.items())[:5])
        raise QuantizationError(f"--strict: {len(bad)} layer(s) clipped, wrapped or saturated on the calibration "
                                f"images: {first}", fix="raise --headroom, or drop --strict to accept them")
    meta = dict(qgraph.meta)
    meta["calibration"] = report["calibration"]
    # the wall time stays in the report: in the artifact it would make two conversions of one model differ
    meta["quantization_summary"] = {k: v for k, v in report["summary"].items() if k != "seconds"}
    meta["quantization_layers"] = report["layers"]
    from spikerain.converter import ir

    qgraph = ir.Graph(nodes=qgraph.nodes, outputs=qgraph.outputs, input_shape=qgraph.input_shape, meta=meta)
    return fgraph, ir.validate(qgraph), report
