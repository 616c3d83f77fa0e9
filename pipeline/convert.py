"""The conversion pipeline: torch model -> float IR -> passes -> calibration -> quantized IR + report.

Needs torch (frontend, calibration); the graph it returns and the artifact it feeds do not.
"""

from __future__ import annotations

import time

import numpy as np

from spikerain.converter.quantize import QuantConfig, quantize
from spikerain.errors import QuantizationError

CALIB_SEED = 11
CALIB_COUNT = 8
CALIB_SIZE = 64


def default_calibration_images(size: int = CALIB_SIZE, count: int = CALIB_COUNT) -> list[np.ndarray]:
    """The shipped calibration set: the sample image's centre crop plus seeded synthetic rainy crops of the
    training photos (light and heavy alternating), generated offline and deterministically."""
    from spikerain.imageio import read_image
    from spikerain.models.rain import SynthSpec, synth_pairs
    from spikerain.models.samples import sample_pair

    sample = read_image(sample_pair()[0])
    H, W = sample.shape[:2]
    y, x = (H - size) // 2, (W - size) // 2
    images = [sample[y:y + size, x:x + size]]
    spec = SynthSpec(preset="mixed", size=size, seed=CALIB_SEED)
    images += [r for _, r, _ in synth_pairs("train", count - 1, spec)]
    return images


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
                  strict: bool = False, report_images: int = 2, calib_source: str = "shipped") -> tuple:
    """Returns (float graph, quantized graph, report)."""
    from spikerain.converter.frontends.torch_frontend import from_torch
    from spikerain.converter.passes.pipeline import run_passes
    from spikerain.hardware.fastsim.calibrate import calibration_maxima
    from spikerain.hardware.fastsim.compare import quantization_errors

    t0 = time.perf_counter()
    images = calib_images if calib_images is not None else default_calibration_images()
    hw = images[0].shape[:2]
    trace: list = []
    fgraph = run_passes(from_torch(model.eval(), hw), trace=trace)
    maxima = calibration_maxima(fgraph, images)
    qgraph, report = quantize(fgraph, maxima, cfg)
    errors = quantization_errors(fgraph, qgraph, images[:report_images])
    for name, e in errors.items():
        report["layers"].setdefault(name, {}).update(e)
    bad = {k: v for k, v in errors.items() if v["clipped"] or v["wrapped"] or v["saturated"]}
    report["passes"] = trace
    report["calibration"] = {"source": calib_source, "images": len(images), "size": list(hw),
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
