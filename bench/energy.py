"""Energy estimation overhead and time per image.

For each network at dim 48 (random weights) on one 256x256 image: the median fast-simulator pass, the median
estimating pass (the same simulation with every frame counted), their ratio (aim <= 1.2x), and pricing time.

    python -m bench.energy [--quick]
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
    peak_rss_mb,
    run_per_network,
    write_results,
)


def worker(spec: dict) -> dict:
    import numpy as np
    import torch

    from spikerain.energy.models import load_models, price
    from spikerain.energy.sources import collect_fast
    from spikerain.hardware.fastsim.simulate import simulate
    from spikerain.models.registry import build_model
    from spikerain.pipeline.convert import convert_model

    torch.manual_seed(0)
    _, q, _ = convert_model(build_model(spec["net"], dim=spec["dim"]).eval(), report_images=1)
    x = np.random.default_rng(0).random((3, spec["size"], spec["size"]))
    plain_s, _ = median_time(lambda: simulate(q, x[None].astype(np.float32)), spec["repeats"])
    est_s, _ = median_time(lambda: collect_fast(q, x), spec["repeats"])
    counts, _ = collect_fast(q, x)
    tables = load_models()
    t0 = time.perf_counter()
    for m, v in tables.models.items():
        if v["kind"] == "paper":
            price(counts, tables, m)
    price_s = time.perf_counter() - t0
    return {**spec, "plain_s": plain_s, "estimate_s": est_s, "ratio": est_s / plain_s, "price_s": price_s,
            "peak_rss_mb": peak_rss_mb()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="dim 16 at 128x128")
    args = ap.parse_args(argv)
    dim, size = (16, 128) if args.quick else (48, 256)
    rows = run_per_network("bench.energy", {"dim": dim, "size": size, "repeats": 3})
    table = ["## Energy estimation (`bench/energy.py`)", "",
             f"dim {dim}, random weights, one {size}x{size} image; median of 3. Plain: the fast simulator alone. "
             "Estimate: the same pass with every frame of every value counted (exact SOPs, events, spikes). "
             "Aim: at most 1.2x.", "",
             "| network | plain pass | estimating pass | ratio | pricing (paper models) | peak RSS |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['net']} | {r['plain_s']:.2f} s | {r['estimate_s']:.2f} s | {r['ratio']:.2f}x | "
                     f"{r['price_s'] * 1000:.1f} ms | {r['peak_rss_mb']:.0f} MB |")
    m = machine()
    table += ["", machine_line(m)]
    write_results("energy", {"machine": m, "rows": rows}, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(entry(worker, main))
