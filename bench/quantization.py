"""Quality of the quantized models: float vs fast-simulator Y-PSNR on the held-out synthetic test set.

    python -m bench.quantization [--data DIR] [--models vlifnet esdnet]

Uses the shipped checkpoints and the default conversion (shipped calibration set), scores whole images
(reflect-padded to the size multiple), writes bench/results/quantization.json and the table in
docs/quantization.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np
import torch

from bench.common import DOC, write_results


def evaluate(model_name: str, pairs) -> dict:
    from spikerain.hardware.fastsim.simulate import dequantized_output, simulate
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.metrics import psnr_y, quantize8
    from spikerain.models.tiling import restore_whole
    from spikerain.pipeline.convert import convert_model

    model = load_default_or(None, model_name)
    t0 = time.perf_counter()
    _, qg, report = convert_model(model)
    t_convert = time.perf_counter() - t0
    rows = []
    for name, rainy, clean in pairs:
        f = restore_whole(model, rainy)
        x = torch.from_numpy(np.ascontiguousarray(rainy.transpose(2, 0, 1)))[None]
        qo = dequantized_output(qg, simulate(qg, x))[0].transpose(1, 2, 0)
        target = quantize8(clean)
        rows.append({"name": name, "input": psnr_y(quantize8(rainy), target), "float": psnr_y(quantize8(f), target),
                     "quantized": psnr_y(quantize8(qo), target)})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("input", "float", "quantized")}
    return {"model": model_name, "images": rows, "mean": mean, "loss_db": mean["float"] - mean["quantized"],
            "convert_s": t_convert, "summary": report["summary"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="dataset root with test/ (default: synthesize the documented test set)")
    ap.add_argument("--models", nargs="+", default=["vlifnet", "esdnet"])
    args = ap.parse_args(argv)
    from spikerain.models.data import discover, load_pairs

    if args.data is None:
        from spikerain.models.rain import SynthSpec, write_synthetic

        tmp = tempfile.mkdtemp()
        write_synthetic(tmp, SynthSpec(preset="mixed", n_train=0, n_test=24, size=128, seed=0))
        args.data = tmp
    pairs = load_pairs(discover(args.data, "test"))
    results = [evaluate(m, pairs) for m in args.models]
    for r in results:
        print(json.dumps({k: v for k, v in r.items() if k != "images"}), flush=True)
    table = ["## Quantized vs float (`bench/quantization.py`)", "",
             f"Held-out synthetic test set ({len(pairs)} images, 128x128, photos never used in training), mean "
             "Y-PSNR of whole images; quantized = the default `spikerain convert` artifact run in the fast "
             "simulator. SQNR and event counts are from the conversion report (first 2 calibration images).", "",
             "| model | rainy input | float | quantized | loss | output SQNR | clipped | wrapped | saturated |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m, s = r["mean"], r["summary"]
        table.append(f"| {r['model']} | {m['input']:.2f} dB | {m['float']:.2f} dB | {m['quantized']:.2f} dB | "
                     f"{r['loss_db']:+.3f} dB | {s['output_sqnr_db']:.1f} dB | {s['clipped']} | {s['wrapped']} | "
                     f"{s['saturated']} |")
    write_results("quantization", {"results": results}, "\n".join(table), doc=DOC.parent / "quantization.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
