"""Float forward time and peak memory of VLIF-Net and ESDNet, and the cost of their neurons.

For each network at dim 48 and 16, at 128x128 and 256x256: median forward time per image (batch 1, the
inference copy of ``spikerain.models.inference``, inference mode, T=4) and peak RSS, each in a fresh process;
and the same network with every spiking neuron replaced by ReLU, measured in the same run.
time(SNN) / time(ReLU) is the cost of the neurons.

    python -m bench.models [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.common import entry, machine, machine_line, median_time, peak_rss_mb, run_worker, write_results


def relu_variant(model):
    """A copy of ``model`` with every LIF/NI-LIF module replaced by ReLU."""
    import copy

    from torch import nn

    from spikerain.models.neurons import SPIKING_NEURONS

    m = copy.deepcopy(model)
    for mod in list(m.modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, SPIKING_NEURONS):
                setattr(mod, child_name, nn.ReLU())
    return m


def worker(spec: dict) -> dict:
    import torch

    from spikerain.models import inference
    from spikerain.models.registry import build_model

    if spec.get("before"):  # models/inference.py as it was at that commit, in this process only
        from bench.memory import _inference_at

        inference = _inference_at(spec["before"])
    torch.manual_seed(0)
    model = inference.prepare_for_inference(build_model(spec["net"], dim=spec["dim"]))
    if spec["variant"] == "relu":
        model = relu_variant(model)
    x = torch.rand(1, 3, spec["size"], spec["size"])
    base = peak_rss_mb()

    def fwd():
        with torch.inference_mode():
            model(x)

    med, times = median_time(fwd, spec["repeats"])
    return {**spec, "median_s": med, "times_s": times, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="dim 16 at 128x128 only")
    ap.add_argument("--dim", type=int, action="append", help="only these dims (repeatable; default 48 and 16)")
    ap.add_argument("--before", metavar="COMMIT", help="also measure models/inference.py of COMMIT, row by row "
                    "(a before column from the same run)")
    args = ap.parse_args(argv)
    grid = [(n, d, s) for n in ("vlifnet", "esdnet") for d in (args.dim or (48, 16)) for s in (128, 256)]
    if args.quick:
        grid = [(n, 16, 128) for n in ("vlifnet", "esdnet")]
    rows = []
    for net, dim, size in grid:
        reps = 3 if dim == 48 and size == 256 else 5
        runs = [("", None)] + ([("before_", args.before)] if args.before else [])
        res = {p + v: run_worker("bench.models", {"net": net, "dim": dim, "size": size, "variant": v,
                                                  "repeats": reps, "before": c})
               for p, c in runs[::-1] for v in ("snn", "relu")}  # the old code first, then the new
        row = {"net": net, "dim": dim, "size": size}
        for p, c in runs:
            row |= {p + "snn_s": res[p + "snn"]["median_s"], p + "relu_s": res[p + "relu"]["median_s"],
                    p + "neuron_overhead": res[p + "snn"]["median_s"] / res[p + "relu"]["median_s"],
                    p + "snn_peak_rss_mb": res[p + "snn"]["peak_rss_mb"],
                    p + "relu_peak_rss_mb": res[p + "relu"]["peak_rss_mb"]} | ({"before": c} if c else {})
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = ["## Float models (`bench/models.py`)", "",
             "Median forward time per image (batch 1, the inference copy, `inference_mode`, T=4) and peak RSS of a "
             "fresh process; "
             "the ReLU column is the same network with every spiking neuron replaced by ReLU, in the same run.", "",
             "| network | dim | input | forward | ReLU twin | neuron overhead | peak RSS |",
             "|---|---|---|---|---|---|---|"]
    if args.before:
        table[2] += (f" Before -> after: `models/inference.py` of {args.before} against the current one, each row's "
                     "four processes in turn (the old code first).")
    for r in rows:
        if args.before:
            table.append(f"| {r['net']} | {r['dim']} | {r['size']}x{r['size']} | {r['before_snn_s']:.2f} -> "
                         f"{r['snn_s']:.2f} s | {r['before_relu_s']:.2f} -> {r['relu_s']:.2f} s | "
                         f"{r['before_neuron_overhead']:.2f}x -> {r['neuron_overhead']:.2f}x | "
                         f"{r['before_snn_peak_rss_mb']:.0f} -> {r['snn_peak_rss_mb']:.0f} MB |")
        else:
            table.append(f"| {r['net']} | {r['dim']} | {r['size']}x{r['size']} | {r['snn_s']:.2f} s | "
                         f"{r['relu_s']:.2f} s | {r['neuron_overhead']:.2f}x | {r['snn_peak_rss_mb']:.0f} MB |")
    m = machine()
    table += ["", machine_line(m)]
    write_results("models", {"machine": m, "rows": rows}, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(entry(worker, main))
