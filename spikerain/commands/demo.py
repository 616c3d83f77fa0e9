"""``spikerain demo``: the main job on the shipped defaults.

Today it runs the first three steps of the planned story: derain the shipped sample with the float model, tiled,
scored against its clean original; convert to a quantized Loihi fixed-point artifact; run that artifact on the
whole image in the fast bit-exact simulator. It writes the images, ``model.h5``, ``report.json`` and a
self-contained ``report.html``. The later steps (Lava run checked bit-exact, Loihi 2 mapping, energy against
ESDNet) are listed in the report as not yet available, never as done.
"""

from __future__ import annotations

import logging
import time

from spikerain.console import print_json, progress, progress_enabled

HELP = "run the whole story on the shipped sample: derain, convert, simulate (deploy, map, energy as they land)"
EXAMPLE = "spikerain demo --out spikerain-demo"

log = logging.getLogger("spikerain")

PENDING = [
    ("deploy on Lava", "run the Lava CPU simulator on a crop and verify it bit-exact against the fast simulator"),
    ("map", "map onto Loihi 2 cores for the full image"),
    ("energy", "energy per image for VLIF-Net and ESDNet, and the verdict on the 13% claim"),
]


def add_arguments(p) -> None:
    p.add_argument("--input", help="rainy image (default: the shipped sample, whose clean original is known)")
    p.add_argument("--target", help="clean original of --input, if known")
    p.add_argument("--model", default="vlifnet", choices=["vlifnet", "esdnet"])
    p.add_argument("--checkpoint", help="default: the shipped checkpoint for --model")
    p.add_argument("--out", default="spikerain-demo", help="output folder")
    p.add_argument("--fast", action="store_true", help="skip the slow steps (Lava simulation)")


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from spikerain._version import __version__
    from spikerain.imageio import read_image, write_image
    from spikerain.models.checkpoint import load_default_or, shipped_checkpoint
    from spikerain.models.metrics import all_metrics
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import restore
    from spikerain.report import write_html_report

    out = Path(args.out)
    t_start = time.perf_counter()
    if args.input is None:
        rainy_path, clean_path = sample_pair()
        target_path = clean_path
    else:
        rainy_path, target_path = Path(args.input), (Path(args.target) if args.target else None)
    rainy = read_image(rainy_path)
    clean = read_image(target_path) if target_path else None
    steps = []

    log.info("[1/6] derain %s with %s (float, 80x80 tiles)", rainy_path, args.model)
    model = load_default_or(args.checkpoint, args.model)
    t0 = time.perf_counter()
    with progress("derain", 1, enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        restored = restore(model, rainy, tiled=True, progress=advance)
    step = {"name": "derain", "status": "ok", "seconds": round(time.perf_counter() - t0, 3),
            "checkpoint": str(args.checkpoint or shipped_checkpoint(args.model)), "model": model.config.to_dict()}
    write_image(out / "derained.png", restored)
    panels = [rainy, restored] + ([clean] if clean is not None else [])
    gap = np.ones((rainy.shape[0], 4, 3), np.float32)
    write_image(out / "side_by_side.png", np.concatenate(sum(([p, gap] for p in panels), [])[:-1], axis=1))
    if clean is not None and clean.shape == rainy.shape:
        step["metrics"] = {"input": all_metrics(rainy, clean), "output": all_metrics(restored, clean)}
        mi, mo = step["metrics"]["input"], step["metrics"]["output"]
        log.info("      Y-PSNR %.2f -> %.2f dB, Y-SSIM %.4f -> %.4f", mi["psnr_y"], mo["psnr_y"], mi["ssim_y"],
                 mo["ssim_y"])
    steps.append(step)

    log.info("[2/6] convert to Loihi fixed point (calibration: the shipped set)")
    from spikerain.converter.artifact import save_artifact
    from spikerain.converter.convert import convert_model
    from spikerain.hardware.fastsim.simulate import dequantized_output, simulate

    t0 = time.perf_counter()
    _, qgraph, qreport = convert_model(model)
    digest = save_artifact(out / "model.h5", qgraph)
    qs = qreport["summary"]
    steps.append({"name": "convert", "status": "ok", "seconds": round(time.perf_counter() - t0, 3),
                  "artifact": "model.h5", "checksum": digest, "summary": qs})
    log.info("      %d nodes (%d on the host), output SQNR %.1f dB, clipped %d, wrapped %d, saturated %d",
             qs["nodes"], qs["host_nodes"], qs["output_sqnr_db"], qs["clipped"], qs["wrapped"], qs["saturated"])

    log.info("[3/6] run the quantized artifact on the whole image (fast bit-exact simulator)")
    import torch

    from spikerain.models.tiling import pad_to_multiple

    t0 = time.perf_counter()
    m = model.size_multiple
    H, W = rainy.shape[:2]
    work = pad_to_multiple(rainy, m)
    x = torch.from_numpy(np.ascontiguousarray(work.transpose(2, 0, 1)))[None]
    quantized = dequantized_output(qgraph, simulate(qgraph, x))[0].transpose(1, 2, 0)[:H, :W]
    write_image(out / "quantized.png", quantized)
    step = {"name": "fast simulator", "status": "ok", "seconds": round(time.perf_counter() - t0, 3),
            "backend": "fast", "backend_reason": "whole images run in the fast simulator; the Lava backend is "
                                                 "not available in this version"}
    if clean is not None and clean.shape == rainy.shape:
        step["metrics"] = all_metrics(quantized, clean)
        log.info("      quantized Y-PSNR %.2f dB", step["metrics"]["psnr_y"])
    steps.append(step)
    for name, what in PENDING:
        steps.append({"name": name, "status": "not available yet", "what": what})
        log.info("[%d/6] %s: not available in this version (%s)", len(steps), name, what)

    report = {
        "spikerain": __version__,
        "input": str(rainy_path),
        "target": str(target_path) if target_path else None,
        "size": list(rainy.shape[:2]),
        "steps": steps,
        "files": {"derained": "derained.png", "quantized": "quantized.png", "side_by_side": "side_by_side.png",
                  "artifact": "model.h5", "report_html": "report.html"},
        "seconds": round(time.perf_counter() - t_start, 3),
        "provenance": _provenance(),
    }
    import json

    from spikerain.atomic import write_text

    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_html_report(out / "report.html", report, out)
    if args.json:
        print_json(report)
    else:
        print(f"demo written to {out}/ (report.html, report.json, derained.png, side_by_side.png) "
              f"in {report['seconds']:.1f} s")
    return 0


def _provenance() -> dict:
    import platform

    import numpy
    import torch

    from spikerain._version import __version__

    return {"spikerain": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "platform": platform.platform()}
