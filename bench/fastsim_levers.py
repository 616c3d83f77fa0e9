"""Each fast-simulator lever measured on its own, in one process, against the kernels before them.

The kernels before the levers are read from git (``BEFORE``, the commit this work started from) into their own
module; a lever is a set of ops whose kernels come from the current ``int_kernels`` while every other op keeps
its old kernel, run with int64 values or with the int32 storage ``narrow.int32_nodes`` proves safe. All variants
and the float forward (the inference copy) run round-robin in one process, and every variant's output is checked
bit-identical with the old kernels' output.

    python -m bench.fastsim_levers [--dim 48] [--size 128] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.common import RESULTS, ROOT, int_kernels_at, machine, machine_line, write_results

BEFORE = "8622b89"
#: variant -> (ops whose current kernels replace the old ones, None: all; storage: int64, "int32" where proven,
#: "int32+float32": also exact float32 for the values only convolutions read)
LEVERS = {
    "before": (set(), None),
    "conv: shift and bias inside the float32 convolution": ({"q_conv2d"}, None),
    "LIF / upsample: range checks without a temporary": ({"q_lif", "q_upsample2x"}, None),
    "all current kernels, int64 values": (None, None),
    "all current kernels, int32 values where proven": (None, "int32"),
    "all (current): int32, float32 for what only convolutions read": (None, "int32+float32"),
}


def measure(net: str, dim: int, size: int, repeats: int) -> dict:
    import torch

    from spikerain.hardware.fastsim.executor import execute
    from spikerain.hardware.fastsim.int_kernels import INT_KERNELS
    from spikerain.hardware.fastsim.narrow import float32_nodes, int32_nodes
    from spikerain.models.inference import prepare_for_inference
    from spikerain.models.registry import build_model
    from spikerain.pipeline.convert import convert_model

    torch.manual_seed(0)
    model = build_model(net, dim=dim).eval()
    _, qg, _ = convert_model(model, report_images=1)
    fast = prepare_for_inference(model)
    x = torch.rand(1, 3, size, size)
    old = int_kernels_at(BEFORE)
    narrow = int32_nodes(qg)
    exact_f32 = float32_nodes(qg, narrow)
    tables = {
        name: ({**old, **{op: INT_KERNELS[op] for op in ops}} if ops is not None else dict(INT_KERNELS.items()),
               storage)
        for name, (ops, storage) in LEVERS.items()
    }

    def sim(variant):
        table, storage = variant
        with torch.inference_mode():
            return execute(qg, x, lambda n: table[n.op], int32=narrow if storage else None,
                           float32=exact_f32 if storage == "int32+float32" else frozenset())

    def fwd():
        with torch.inference_mode():
            return fast(x)

    fns = {"float forward (inference copy)": fwd, **{n: (lambda t=t: sim(t)) for n, t in tables.items()}}
    ref = sim(tables["before"])
    for n, t in tables.items():
        out = sim(t)
        assert all(torch.equal(out[k], ref[k]) for k in ref), f"{n} changed an output bit"
    times = {n: [] for n in fns}
    for _ in range(repeats):
        for n, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[n].append(time.perf_counter() - t0)
    med = {n: sorted(v)[len(v) // 2] for n, v in times.items()}
    fl = med["float forward (inference copy)"]
    rows = [
        {
            "variant": n,
            "median_s": med[n],
            "times_s": times[n],
            "vs_before": med[n] / med["before"],
            "vs_float": med[n] / fl,
        }
        for n in fns
    ]
    return {"net": net, "dim": dim, "size": size, "repeats": repeats, "rows": rows,
            "int32_nodes": len(narrow), "float32_nodes": len(exact_f32), "nodes": len(qg.nodes)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", action="append", choices=("vlifnet", "esdnet"))
    ap.add_argument("--dim", type=int, default=48)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    nets = args.net or ["vlifnet", "esdnet"]
    runs = []
    for net in nets:
        r = measure(net, args.dim, args.size, args.repeats)
        runs.append(r)
        for row in r["rows"]:
            print(json.dumps({"net": net, **{k: v for k, v in row.items() if k != "times_s"}}), flush=True)
    table = [
        "## Fast-simulator levers (`bench/fastsim_levers.py`)",
        "",
        f"dim {args.dim}, random weights, one {args.size}x{args.size} image; every variant and the float "
        f"forward round-robin in one process (median of {args.repeats}); each lever swaps in the current "
        f"kernels of its ops only, over the kernels of commit {BEFORE}, with int64 values or with int32 where "
        "`narrow.int32_nodes` proves it (and float32 for `narrow.float32_nodes`)."
        " Every variant's output is checked bit-identical with the old "
        "kernels'.",
        "",
    ]
    name = f"fastsim_levers_{args.dim}_{args.size}"
    if args.net:  # keep the other networks' runs of the same configuration from the last full run
        try:
            kept = json.loads((RESULTS / f"{name}.json").read_text())["runs"]
        except (OSError, ValueError, KeyError):
            kept = []
        runs = [r for r in kept if r["net"] not in nets and r.get("int32_nodes")] + runs
    for r in runs:
        f32 = f", {r['float32_nodes']} of them held as float32" if "float32_nodes" in r else ""
        table += [f"**{r['net']}** ({r['int32_nodes']} of {r['nodes']} nodes on int32{f32})", "",
                  "| variant | time | vs before | vs float forward |", "|---|---|---|---|"]
        for row in r["rows"]:
            table.append(
                f"| {row['variant']} | {row['median_s']:.2f} s | {row['vs_before']:.2f}x | {row['vs_float']:.2f}x |"
            )
        table.append("")
    m = machine()
    table.append(machine_line(m))
    write_results(name, {"machine": m, "threads": args.threads, "runs": runs}, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
