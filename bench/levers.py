"""Each float-inference lever of ``spikerain.models.inference`` measured on its own, in one process.

For one network, dim and input size: every variant below runs round-robin in the same process (so machine load
hits all of them alike), and the median time of each is divided by the median of ``inference_mode`` alone (the
forward spikerain shipped before these levers). Peak memory needs a fresh process per variant: each variant then
runs once in its own worker, and its peak RSS is reported against the same baseline's.

    python -m bench.levers [--net vlifnet] [--dim 48] [--size 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.common import ROOT, entry, machine, machine_line, peak_rss_mb, run_worker, write_results

#: name -> (grad mode, prepare_for_inference kwargs or None for the unprepared model)
VARIANTS = {
    "no_grad (before)": ("no_grad", None),
    "inference_mode (baseline)": ("inference", None),
    "fold_bn": ("inference", {"fold_bn": True, "lean": False, "vlif_commute": False}),
    "lean": ("inference", {"fold_bn": False, "lean": True, "vlif_commute": False, "by_step": False}),
    "lean + by_step": ("inference", {"fold_bn": False, "lean": True, "vlif_commute": False}),
    "vlif_commute": ("inference", {"fold_bn": False, "lean": False, "vlif_commute": True}),
    "channels_last": ("inference", {"fold_bn": False, "lean": False, "vlif_commute": False, "channels_last": True}),
    "all kept but by_step (default before it)": ("inference", {"by_step": False}),
    "all kept (default)": ("inference", {}),
    "all kept, ReLU twin": ("inference", {}),
}
BASELINE = "inference_mode (baseline)"


def _build(spec: dict, name: str):
    import torch

    from bench.models import relu_variant
    from spikerain.models.inference import prepare_for_inference
    from spikerain.models.registry import build_model

    torch.manual_seed(0)
    model = build_model(spec["net"], dim=spec["dim"]).eval()
    mode, kw = VARIANTS[name]
    if kw is not None:
        model = prepare_for_inference(model, **kw)
    if "ReLU" in name:
        model = relu_variant(model)
    ctx = torch.no_grad if mode == "no_grad" else torch.inference_mode
    x = torch.rand(1, 3, spec["size"], spec["size"])
    if kw and kw.get("channels_last"):
        x = x.contiguous(memory_format=torch.channels_last)

    def fwd():
        with ctx():
            return model(x)

    return fwd


def worker(spec: dict) -> dict:
    """Memory worker: one variant, one warm-up and one timed forward, peak RSS."""
    fwd = _build(spec, spec["variant"])
    fwd()
    return {**spec, "peak_rss_mb": peak_rss_mb()}


def measure(net: str, dim: int, size: int, repeats: int, variants=None) -> dict:
    names = [v for v in (variants or VARIANTS) if not (v == "vlif_commute" and net != "vlifnet")]
    spec = {"net": net, "dim": dim, "size": size}
    fns = {n: _build(spec, n) for n in names}
    for f in fns.values():  # warm-up
        f()
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(repeats):
        for n in names:
            t = time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t)
    del fns
    med = {n: sorted(v)[len(v) // 2] for n, v in times.items()}
    mem = {n: run_worker("bench.levers", {**spec, "variant": n})["peak_rss_mb"] for n in names}
    rows = [
        {
            "lever": n,
            "median_s": med[n],
            "times_s": times[n],
            "time_ratio": med[n] / med[BASELINE],
            "peak_rss_mb": mem[n],
            "memory_ratio": mem[n] / mem[BASELINE],
        }
        for n in names
    ]
    return {
        **spec,
        "repeats": repeats,
        "rows": rows,
        "neuron_overhead": med["all kept (default)"] / med["all kept, ReLU twin"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", action="append", choices=("vlifnet", "esdnet"))
    ap.add_argument("--dim", type=int, default=48)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variant", action="append", choices=list(VARIANTS),
                    help=f"only these variants (repeatable; {BASELINE!r} and the default are always run)")
    args = ap.parse_args(argv)
    variants = None
    if args.variant:
        variants = [v for v in VARIANTS if v in args.variant or v in (BASELINE, "all kept (default)",
                                                                      "all kept, ReLU twin")]
    runs = []
    for net in args.net or ["vlifnet", "esdnet"]:
        r = measure(net, args.dim, args.size, args.repeats, variants)
        runs.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "rows"}), flush=True)
        for row in r["rows"]:
            print(
                f"  {row['lever']:28s} {row['median_s']:7.3f} s  {row['time_ratio']:.2f}x  "
                f"{row['peak_rss_mb']:6.0f} MB  {row['memory_ratio']:.2f}x",
                flush=True,
            )
    table = [
        "## Float inference levers (`bench/levers.py`)",
        "",
        "Each lever of `spikerain.models.inference.prepare_for_inference` alone, against the plain eval model "
        "under `inference_mode` (spikerain's forward before the levers), all variants round-robin in one "
        "process (median time); peak RSS from one fresh process per variant. Below 1 is better.",
        "",
    ]
    for r in runs:
        table += [
            f"**{r['net']}, dim {r['dim']}, {r['size']}x{r['size']}** (median of {r['repeats']}; neuron "
            f"overhead of the default, SNN against its ReLU twin: {r['neuron_overhead']:.2f}x)",
            "",
            "| lever | forward | time ratio | peak RSS | memory ratio |",
            "|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            table.append(
                f"| {row['lever']} | {row['median_s']:.2f} s | {row['time_ratio']:.2f}x | "
                f"{row['peak_rss_mb']:.0f} MB | {row['memory_ratio']:.2f}x |"
            )
        table.append("")
    m = machine()
    table.append(machine_line(m))
    name = f"levers_{args.dim}_{args.size}" + ("_some" if args.variant else "")
    write_results(name, {"machine": m, "runs": runs}, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(entry(worker, main))
