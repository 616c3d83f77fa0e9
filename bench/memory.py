"""Where the peak memory of the float forward and of the fast simulator comes from.

One fresh process per network (dim 48 by default, 256x256, one torch thread). The float forward (the inference
copy) runs once with a hook on every block: the kernel's resident high-water mark is reset before each block and
read after it, so each block gets the peak the process reached while it ran, over what was resident when it
started. The fast simulator runs once with every node's kernel wrapped the same way. The rows with the highest
peaks are where the process's peak comes from; ``rss_before`` is what the live values (and everything else)
held when the block or node started, ``transient`` what the block or node added on top.

    python -m bench.memory [--dim 48] [--size 256] [--top 8]
    python -m bench.memory --levers    # the fast simulator's memory levers, each alone, in one process
    python -m bench.memory --float-levers --size 128   # the float forward's, a fresh process per variant
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.common import (
    entry,
    int_kernels_at,
    machine,
    machine_line,
    peak_rss_mb,
    run_per_network,
    run_worker,
    write_results,
)

MB = 1024.0 * 1024.0


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_mb() -> float:
    return _status("VmRSS:")


def reset_hwm() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class Probe:
    """Per block or node: RSS at its start and the high-water mark while it ran."""

    def __init__(self):
        self.rows: list[dict] = []
        self._start: list[tuple[str, float]] = []

    def enter(self, name: str) -> None:
        reset_hwm()
        self._start.append((name, rss_mb()))

    def leave(self, extra: dict | None = None) -> None:
        name, before = self._start.pop()
        peak = peak_rss_mb()
        self.rows.append({"name": name, "rss_before_mb": before, "peak_mb": peak, "transient_mb": peak - before,
                          **(extra or {})})
        reset_hwm()


def _trim() -> None:
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def float_profile(model, x) -> tuple[list[dict], float]:
    """Hooks on the leaves of the block tree (modules two levels below the network, and top-level leaves)."""
    import torch

    probe = Probe()
    handles = []
    for name, mod in model.named_modules():
        depth = name.count(".") + 1 if name else 0
        if depth == 0:
            continue
        if depth == 2 or (depth == 1 and not list(mod.children())) or (depth == 1 and name.startswith("up")):
            handles.append(mod.register_forward_pre_hook(lambda m, a, n=name: probe.enter(n)))
            handles.append(mod.register_forward_hook(
                lambda m, a, out, n=name: probe.leave({"out_mb": out.numel() * out.element_size() / MB})))
    _trim()
    reset_hwm()
    with torch.inference_mode():
        model(x)
    whole = peak_rss_mb()
    for h in handles:
        h.remove()
    # nested hooks (depth 1 "up*" contain depth-2 children): keep every row, sorted later
    return probe.rows, whole


def fastsim_profile(qg, x) -> tuple[list[dict], float]:
    import torch

    from spikerain.hardware.fastsim.executor import execute
    from spikerain.hardware.fastsim.int_kernels import int_kernel
    from spikerain.hardware.fastsim.narrow import float32_nodes, int32_nodes
    from spikerain.hardware.fastsim.simulate import CHUNK_BYTES

    probe = Probe()

    def kernel_of(n):
        k = int_kernel(n)

        def wrapped(node, *args, **kw):
            probe.enter(node.name)
            out = k(node, *args, **kw)
            probe.leave({"op": node.op, "out_mb": out.numel() * out.element_size() / MB,
                         "in_mb": sum(a.numel() * a.element_size() for a in args) / MB,
                         "shape": list(out.shape), "dtype": str(out.dtype).replace("torch.", "")})
            return out

        return wrapped

    int32 = int32_nodes(qg)
    _trim()
    reset_hwm()
    with torch.inference_mode():  # as simulate() runs it (chains one step at a time: one row per step)
        execute(qg, x, kernel_of, int32=int32, float32=float32_nodes(qg, int32), chunk_bytes=CHUNK_BYTES)
    return probe.rows, peak_rss_mb()


#: fast-simulator memory levers per pass: (commit of "before", {variant: (ops whose kernel is that commit's,
#: step-at-a-time chains)}); every other op runs today's kernel
LEVER_SETS = {
    # third pass: before it, a left-shift conv took the int64 path
    "third": ("0c785e5", {
        "before": ({"q_conv2d"}, False),
        "conv: left shifts in float32 too": (set(), False),
        "frame-local chains one time step at a time": ({"q_conv2d"}, True),
        "both (current)": (set(), True),
    }),
    # fourth pass: before it, the temporal conv made a float64 copy of its input and the mean reductions an int64
    "fourth": ("46ebf93", {
        "before": ({"q_temporal_conv", "q_reduce", "q_mean_t"}, True),
        "temporal conv one output step at a time": ({"q_reduce", "q_mean_t"}, True),
        "mean reductions in int32 partial sums": ({"q_temporal_conv"}, True),
        "both": (set(), True),
        "both + freed heap pages handed back every 8 MiB": (set(), True, 8 << 20),
        "both + freed heap pages handed back every 64 MiB": (set(), True, 64 << 20),
    }),
    # fifth pass: the LIF's reset without masked_fill_ (before: bc642bd's q_lif), and freed pages handed back
    # only when more than a slack of them are resident (``heap.SlackRelease``)
    "fifth": ("bc642bd", {
        "before": ({"q_lif"}, True),
        "LIF reset as a product": (set(), True),
        "+ freed pages handed back beyond 64 MiB of slack": (set(), True, None, 64 << 20),
        "+ freed pages handed back beyond 128 MiB of slack": (set(), True, None, 128 << 20),
        "+ freed pages handed back beyond 256 MiB of slack": (set(), True, None, 256 << 20),
    }),
}


def _setup(spec: dict):
    """Torch threads and seed, the network, its quantized graph, its float inference copy and the input."""
    import torch

    from spikerain.models.inference import prepare_for_inference
    from spikerain.models.registry import build_model
    from spikerain.pipeline.convert import convert_model

    torch.set_num_threads(spec.get("threads") or 1)
    torch.manual_seed(0)
    model = build_model(spec["net"], dim=spec["dim"]).eval()
    _, qg, _ = convert_model(model, report_images=1)
    return qg, prepare_for_inference(model), torch.rand(1, 3, spec["size"], spec["size"])


def levers_worker(spec: dict) -> dict:
    """Each fast-simulator memory lever alone and together, in one process: peak (high-water mark reset before
    each pass) and time of one pass each, round-robin, against the float forward's peak in the same process;
    every variant's output checked bit-identical with the first's."""
    import time

    import torch

    from bench.common import peak_rss_during
    from spikerain.hardware.fastsim.executor import execute
    from spikerain.hardware.fastsim.int_kernels import int_kernel
    from spikerain.hardware.fastsim.narrow import float32_nodes, int32_nodes
    from spikerain.hardware.fastsim.simulate import CHUNK_BYTES

    qg, fast, x = _setup(spec)
    int32 = int32_nodes(qg)
    f32 = float32_nodes(qg, int32)
    before, LEVERS = LEVER_SETS[spec.get("set", "fourth")]
    old = int_kernels_at(before)
    rows = {"float forward (inference copy)": {"peak_mb": [], "s": []}} | {k: {"peak_mb": [], "s": []}
                                                                          for k in LEVERS}
    ref = None

    def fwd():
        with torch.inference_mode():
            fast(x)

    for _ in range(spec.get("repeats", 2)):
        for name, row in rows.items():
            if name in LEVERS:
                old_ops, steps, release, slack = (*LEVERS[name], None, None)[:4]

                def kernel_of(n, old_ops=old_ops):
                    return old[n.op] if n.op in old_ops else int_kernel(n)

                out = {}

                def run(kernel_of=kernel_of, steps=steps, out=out, release=release, slack=slack):
                    with torch.inference_mode():
                        out.update(execute(qg, x, kernel_of, int32=int32, float32=f32,
                                           chunk_bytes=CHUNK_BYTES if steps else None, release_bytes=release,
                                           release_slack=slack))
            else:
                run, out = fwd, None
            t0 = time.perf_counter()
            row["peak_mb"].append(peak_rss_during(run))
            row["s"].append(time.perf_counter() - t0)
            if out is not None:
                if ref is None:
                    ref = out
                assert all(torch.equal(out[k], ref[k]) for k in ref), f"{name}: output differs"
                out.clear()
    return {**spec, "rows": {k: {"peak_mb": min(v["peak_mb"]), "peaks_mb": v["peak_mb"], "s": min(v["s"]),
                                 "times_s": v["s"]} for k, v in rows.items()},
            "bit_identical": True, "threads": torch.get_num_threads()}


FLOAT_BEFORE = "46ebf93"  # the inference copy before the seventh session's memory levers


def _inference_at(commit: str):
    """``models/inference.py`` as it was at ``commit``, as a module of its own (its lean classes are its own)."""
    import importlib.util
    import subprocess
    import tempfile

    from bench.common import ROOT

    src = subprocess.run(["git", "show", f"{commit}:models/inference.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"inference_{commit}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"inference_{commit}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: float forward memory levers: name -> (module: "before" or "current", fused_conv from: "before" or "current",
#: freed heap pages handed back before large blocks: ``inference.RELEASE``)
FLOAT_LEVERS = {
    "before": ("before", "before", False),
    "BN folded into the conv's own weights": ("before", "current", False),
    "attention and SRB shortcut in place": ("current", "before", False),
    "both": ("current", "current", False),
    "both + freed heap pages handed back before large blocks (current)": ("current", "current", True),
}
#: the fifth pass (``inference.RELEASE_SLACK``): (module, fused_conv from, RELEASE, RELEASE_SLACK)
FLOAT_LEVERS_FIFTH = {
    "freed pages handed back before every large block (before)": ("current", "current", True, None),
    "no release": ("current", "current", False, None),
    "handed back beyond 16 MiB of slack": ("current", "current", True, 16 << 20),
    "handed back beyond 32 MiB of slack": ("current", "current", True, 32 << 20),
    "handed back beyond 64 MiB of slack": ("current", "current", True, 64 << 20),
}
FLOAT_LEVER_SETS = {"fourth": FLOAT_LEVERS, "fifth": FLOAT_LEVERS_FIFTH}


def float_levers_worker(spec: dict) -> dict:
    """One float-forward variant in a fresh process (as ``bench/models.py`` measures it): the process's peak
    RSS over building, preparing and the forwards, and the median forward time."""
    import torch

    from bench.common import median_time
    from spikerain.models import inference
    from spikerain.models.registry import build_model

    torch.manual_seed(0)
    module, fold_from, release, slack = (*FLOAT_LEVER_SETS[spec.get("set", "fourth")][spec["variant"]], None)[:4]
    mod = inference if module == "current" else _inference_at(FLOAT_BEFORE)
    mod.fused_conv = (inference if fold_from == "current" else _inference_at(FLOAT_BEFORE)).fused_conv
    inference.RELEASE = release
    inference.RELEASE_SLACK = slack
    x = torch.rand(1, 3, spec["size"], spec["size"])
    model = mod.prepare_for_inference(build_model(spec["net"], dim=spec["dim"]))
    base = rss_mb()
    out = {}

    def fwd():
        with torch.inference_mode():
            out["y"] = model(x)

    med, times = median_time(fwd, spec["repeats"])
    return {**spec, "median_s": med, "times_s": times, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base,
            "output_sum": float(out["y"].double().sum())}


def float_levers_main(args) -> int:
    rows = {}
    fset = args.set if args.set in FLOAT_LEVER_SETS else "fourth"
    for _ in range(args.repeats):  # rounds of fresh processes, variants round-robin
        for net in args.nets:
            for v in FLOAT_LEVER_SETS[fset]:
                res = run_worker("bench.memory", {"mode": "float_levers", "net": net, "dim": args.dim,
                                                  "size": args.size, "variant": v, "repeats": 3, "set": fset})
                print(json.dumps(res), flush=True)
                rows.setdefault((net, v), []).append(res)
    return float_levers_report(rows, args.dim, args.size, args.repeats, fset, args.nets)


def float_levers_report(rows: dict, dim: int, size: int, repeats: int, fset: str = "fourth",
                        nets=("vlifnet", "esdnet")) -> int:
    """The table and JSON of ``--float-levers`` from its workers' rows ((net, variant) -> one per round)."""
    FLOAT_LEVERS = FLOAT_LEVER_SETS[fset]  # noqa: N806 (the set's variants, the first one the baseline)
    first = next(iter(FLOAT_LEVERS))
    name = f"float_memory_{dim}_{size}" + ("" if fset == "fourth" else f"_{fset}")
    md = [f"## Float forward memory levers (`bench/memory.py --float-levers`, dim {dim}, "
          f"{size}x{size})", "",
          f"Each variant in a fresh process (as `bench/models.py`: build, prepare, one warm-up and three forwards, "
          f"two threads), {repeats} rounds round-robin; peak RSS of the process (lowest and highest of the "
          f"rounds), resident before the first forward, median forward time (fastest round). "
          + (f"'before' is `models/inference.py` of {FLOAT_BEFORE}" if fset == "fourth" else
             f"'vs before' is against '{first}'")
          + "; every variant's output is the same (checked by its sum).", ""]
    table = []
    for net in nets:
        b = min(x["peak_rss_mb"] for x in rows[(net, first)])
        md += [f"**{net}**", "",
               "| variant | peak RSS (low-high) | vs before | resident before the forward | forward |",
               "|---|---|---|---|---|"]
        sums = {x["output_sum"] for v in FLOAT_LEVERS for x in rows[(net, v)]}
        assert len(sums) == 1, f"{net}: outputs differ between variants"
        for v in FLOAT_LEVERS:
            rs = rows[(net, v)]
            lo, hi = min(x["peak_rss_mb"] for x in rs), max(x["peak_rss_mb"] for x in rs)
            t = min(x["median_s"] for x in rs)  # the fastest round: load only ever adds time
            md.append(f"| {v} | {lo:.0f}-{hi:.0f} MB | {lo / b:.2f}x | {min(x['rss_before_mb'] for x in rs):.0f} MB "
                      f"| {t:.2f} s |")
            table.append({"net": net, "variant": v, "peak_rss_mb": [x["peak_rss_mb"] for x in rs],
                          "rss_before_mb": [x["rss_before_mb"] for x in rs], "median_s": t})
        md.append("")
    m = machine()
    md.append(machine_line(m))
    write_results(name, {"machine": m, "rows": table}, "\n".join(md))
    return 0


def worker(spec: dict) -> dict:
    if spec.get("mode") == "levers":
        return levers_worker(spec)
    if spec.get("mode") == "float_levers":
        return float_levers_worker(spec)
    import torch

    qg, fast, x = _setup(spec)
    with torch.inference_mode():  # warm-up at the same size (lazy allocations, kernel caches)
        fast(x)
    _trim()
    base = rss_mb()
    f_rows, f_peak = float_profile(fast, x)
    _trim()
    s_rows, s_peak = fastsim_profile(qg, x)
    top = spec.get("top", 8)
    return {**spec, "baseline_rss_mb": base, "float_peak_mb": f_peak, "fastsim_peak_mb": s_peak,
            "float_top": sorted(f_rows, key=lambda r: -r["peak_mb"])[:top],
            "fastsim_top": sorted(s_rows, key=lambda r: -r["peak_mb"])[:top],
            "fastsim_top_transient": sorted(s_rows, key=lambda r: -r["transient_mb"])[:top]}


def _table(rows: list[dict], kind: str) -> list[str]:
    out = [f"| {kind} | peak | resident at start | added while it ran | output |", "|---|---|---|---|---|"]
    for r in rows:
        what = r["name"] + (f" ({r['op']}, {r['dtype']} {r['shape']})" if "op" in r else "")
        out.append(f"| {what} | {r['peak_mb']:.0f} MB | {r['rss_before_mb']:.0f} MB | {r['transient_mb']:.0f} MB | "
                   f"{r['out_mb']:.0f} MB |")
    return out


def levers_main(args) -> int:
    rows = run_per_network("bench.memory", {"mode": "levers", "dim": args.dim, "size": args.size,
                                            "threads": args.threads, "repeats": args.repeats, "set": args.set})
    name = f"fastsim_memory_{args.dim}_{args.size}" + ("" if args.set == "third" else f"_{args.set}")
    before, levers = LEVER_SETS[args.set]
    md = [f"## Fast-simulator memory levers (`bench/memory.py --levers`, dim {args.dim}, "
          f"{args.size}x{args.size})", "",
          f"One process per network, one torch thread; every variant and the float forward round-robin "
          f"({args.repeats} rounds), the resident high-water mark reset before each pass (lowest of the rounds; "
          "it includes Python, torch, both models and the graph). 'before' runs the kernels of "
          f"{before} for {', '.join(sorted(levers['before'][0]))}"
          f"{'' if levers['before'][1] else ' with whole-T execution'}; every variant's output is bit-identical "
          "with it. Times are of the same passes (fastest round) on a shared machine: read them to +-20 %.", ""]
    for r in rows:
        f = r["rows"]["float forward (inference copy)"]
        b = r["rows"]["before"]
        md += [f"**{r['net']}**", "", "| variant | peak RSS | vs before | vs float forward | time |",
               "|---|---|---|---|---|"]
        for k, v in r["rows"].items():
            md.append(f"| {k} | {v['peak_mb']:.0f} MB | {v['peak_mb'] / b['peak_mb']:.2f}x | "
                      f"{v['peak_mb'] / f['peak_mb']:.2f}x | {v['s']:.2f} s |")
        md.append("")
    m = {**machine(), "threads": rows[0]["threads"]}  # the workers' thread count
    md.append(machine_line(m))
    write_results(name, {"machine": m, "rows": rows}, "\n".join(md))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=48)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--top", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--levers", action="store_true", help="the fast-simulator memory levers instead")
    ap.add_argument("--set", choices=sorted(LEVER_SETS), default="fourth", help="which pass's levers (--levers)")
    ap.add_argument("--float-levers", action="store_true", help="the float forward's memory levers instead")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--nets", nargs="+", default=["vlifnet", "esdnet"], help="networks (--float-levers)")
    args = ap.parse_args(argv)
    if args.levers:
        return levers_main(args)
    if args.float_levers:
        return float_levers_main(args)
    rows = run_per_network("bench.memory", {"dim": args.dim, "size": args.size, "top": args.top,
                                            "threads": args.threads})
    name = f"memory_{args.dim}_{args.size}"
    md = [f"## Where the peaks come from (`bench/memory.py`, dim {args.dim}, {args.size}x{args.size})", "",
          "One process per network, one torch thread; the resident high-water mark reset before each block of "
          "the float forward and each node of the fast simulator and read after it. Highest peaks first; "
          "'resident at start' includes Python, torch, both models and the graph (the baseline line).", ""]
    for r in rows:
        md += [f"**{r['net']}**: baseline {r['baseline_rss_mb']:.0f} MB, float forward peak "
               f"{r['float_peak_mb']:.0f} MB, fast simulator peak {r['fastsim_peak_mb']:.0f} MB", ""]
        md += _table(r["float_top"], "float forward block") + [""]
        md += _table(r["fastsim_top"], "fast-simulator node") + [""]
    m = {**machine(), "threads": args.threads}  # the workers' thread count
    md.append(machine_line(m))
    write_results(name, {"machine": m, "rows": rows}, "\n".join(md))
    print(json.dumps({"written": name}))
    return 0


if __name__ == "__main__":
    sys.exit(entry(worker, main))
