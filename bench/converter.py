"""Conversion time, fast-simulator speed against the float PyTorch forward, and peak memory.

For each network at dim 48 (random weights; the numbers do not depend on training), in a fresh process:
conversion time (frontend, passes, calibration on the shipped set, quantization, report); then, at 256x256,
the median float forward (PyTorch model, inference mode) and the median fast-simulator run of the artifact on
the same image, and their ratio; and the peak RSS of the process.

    python -m bench.converter [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import (
    entry,
    machine,
    machine_line,
    median_time,
    peak_rss_during,
    peak_rss_mb,
    run_per_network,
    write_results,
)


def worker(spec: dict) -> dict:
    import torch

    from spikerain.hardware.fastsim.executor import execute
    from spikerain.hardware.fastsim.int_kernels import int_kernel
    from spikerain.hardware.fastsim.simulate import simulate
    from spikerain.models.inference import prepare_for_inference
    from spikerain.models.registry import build_model
    from spikerain.pipeline.convert import convert_model

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model = build_model(spec["net"], dim=spec["dim"]).eval()
    t0 = time.perf_counter()
    _, qg, _ = convert_model(model, report_images=1)
    convert_s = time.perf_counter() - t0
    x = torch.rand(1, 3, spec["size"], spec["size"])
    fast = prepare_for_inference(model)

    def fwd():
        with torch.inference_mode():
            fast(x)

    # each pass's own peak (the high-water mark reset before it; both include the models, graph and torch)
    float_s, _ = median_time(fwd, spec["repeats"])
    float_peak = peak_rss_during(fwd)
    sim_s, _ = median_time(lambda: simulate(qg, x), spec["repeats"])
    sim_peak = peak_rss_during(lambda: simulate(qg, x))

    def sim_int64():  # the same kernels with every value int64 (before int32 storage), for its memory lever
        with torch.inference_mode():
            execute(qg, x, int_kernel)

    int64_peak = peak_rss_during(sim_int64)
    return {**spec, "convert_s": convert_s, "float_s": float_s, "fastsim_s": sim_s, "ratio": sim_s / float_s,
            "float_peak_rss_mb": float_peak, "fastsim_peak_rss_mb": sim_peak,
            "fastsim_int64_peak_rss_mb": int64_peak, "peak_rss_mb": peak_rss_mb(),
            "threads": torch.get_num_threads()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="dim 16 at 128x128")
    ap.add_argument("--threads", type=int, help="torch threads in the workers (default: torch's own choice)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    dim, size = (16, 128) if args.quick else (48, 256)
    rows = run_per_network("bench.converter", {"dim": dim, "size": size, "repeats": args.repeats,
                                               "threads": args.threads})
    table = ["## Converter and fast simulator (`bench/converter.py`)", "",
             f"dim {dim}, random weights; conversion uses the shipped calibration set (8 crops of 64x64); the "
             f"fast simulator runs the quantized artifact on one {size}x{size} image, against the float PyTorch "
             f"forward of the same model in the same process (median of {args.repeats}, torch threads: "
             f"{rows[0]['threads']}). Peak RSS: the process's high-water "
             "mark reset before one float forward and before one simulator pass (both include the model, the "
             "graph and torch), the simulator's again with every value int64 (as before int32 storage), and the "
             "whole process's peak.", "",
             "| network | convert | float forward | fast simulator | ratio | peak RSS float / simulator / "
             "simulator on int64 / process |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['net']} | {r['convert_s']:.1f} s | {r['float_s']:.2f} s | {r['fastsim_s']:.2f} s | "
                     f"{r['ratio']:.2f}x | {r['float_peak_rss_mb']:.0f} / {r['fastsim_peak_rss_mb']:.0f} / "
                     f"{r['fastsim_int64_peak_rss_mb']:.0f} / "
                     f"{r['peak_rss_mb']:.0f} MB |")
    m = machine()
    table += ["", machine_line(m)]
    write_results("converter", {"machine": m, "rows": rows}, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(entry(worker, main))
