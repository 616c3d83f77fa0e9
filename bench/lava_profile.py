"""Where the wall time of one Lava crop goes: the opt-in profile (``SPIKERAIN_LAVA_PROFILE``,
``hardware/lava/profile.py``) of the shipped networks on the 32x32 centre crop of the shipped sample image.

Per process kind: processes, CPU in ``run_spk`` split into port I/O (Lava's channels) and compute, and the CPU of the
whole OS process over the run (the rest is Lava's command loop and the helper thread of every channel port); Lava's
runtime service; the run's compile and run wall times. Every run is checked bit-exact against the fast simulator
(outputs and per-layer counts), as ``bench/lava.py`` does.

    python -m bench.lava_profile          # writes bench/results/lava_profile.json and its docs/benchmarks.md table
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import cores_line, machine, write_results

OURS = ("PyConvModelFixedVectorised", "PySparseModelFixedActive", "PyChipSegment", "PyHostSegment",
        "PyActivityProbe")


def main(argv=None) -> int:
    from spikerain.converter.artifact import save_artifact
    from spikerain.hardware.backend import run_lava
    from spikerain.imageio import read_image
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.samples import sample_pair
    from spikerain.pipeline.convert import convert_model
    from spikerain.pipeline.verify import center_crop, compare, fast_reference

    crop = center_crop(read_image(sample_pair()[0]), 32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for net in ("vlifnet", "esdnet"):
            _, g, _ = convert_model(load_default_or(None, net), report_images=1)
            path = Path(tmp) / f"{net}.h5"
            save_artifact(path, g)
            prof = Path(tmp) / f"prof-{net}"
            prof.mkdir()
            os.environ["SPIKERAIN_LAVA_PROFILE"] = str(prof)
            try:
                res = run_lava(path, crop, timeout=1800)
            finally:
                del os.environ["SPIKERAIN_LAVA_PROFILE"]
            fast_out, fast_counts, _ = fast_reference(g, crop)
            exact = compare(fast_out, fast_counts, res.output, res.counts)["bit_exact"]
            rows.append(_row(net, res.meta, exact))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "per_process"}), flush=True)
    write_results("lava_profile", {"machine": machine(), "rows": rows}, table(rows))
    return 0


def _row(net: str, meta: dict, exact: bool) -> dict:
    p = meta["profile"]
    ours = {k: v for k, v in p["by_model"].items() if k.startswith(OURS)}
    return {"net": net, "size": 32, "bit_exact": exact, "processes": meta["processes"], "steps": meta["steps"],
            "seconds": meta["seconds"], "run_ms_per_step": 1000 * meta["seconds"]["run"] / meta["steps"],
            "cpu_s": {"ours_compute": sum(v["spk_cpu_s"] - v["port_io_cpu_s"] for v in ours.values()),
                      "stock_compute": p["compute_cpu_s"] - sum(v["spk_cpu_s"] - v["port_io_cpu_s"]
                                                                for v in ours.values()),
                      "port_io": p["port_io_cpu_s"], "lava_loop_and_channel_threads": p["lava_loop_and_channels_cpu_s"],
                      "runtime_service": p["runtime_service_and_other_children_cpu_s"],
                      "runner": p["runner_cpu_s"]},
            "by_model": p["by_model"], "per_process": p["per_process"]}


def table(rows: list[dict]) -> str:
    out = ["## Where a Lava crop's time goes (`bench/lava_profile.py`)", "",
           "Shipped networks (dim 16), 32x32 centre crop, `SPIKERAIN_LAVA_PROFILE` on (`hardware/lava/profile.py`). "
           "CPU seconds over the run phase, all processes together (2 cores: the run's wall time is at least half "
           "the total). `compute`: inside `run_spk` minus the ports' `recv`/`send`; `port I/O`: those calls; "
           "`Lava loop`: the rest of each model process (command loop, the helper thread of every channel port); "
           "`runtime service`: Lava's process that drives every step.", "",
           "| network | processes | steps | run wall | ms / step | spikerain models' compute | stock models' compute "
           "| port I/O | Lava loop + channel threads | runtime service | exact |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["cpu_s"]
        out.append(f"| {r['net']} | {r['processes']} | {r['steps']} | {r['seconds']['run']:.1f} s | "
                   f"{r['run_ms_per_step']:.0f} | {c['ours_compute']:.1f} s | {c['stock_compute']:.1f} s | "
                   f"{c['port_io']:.1f} s | {c['lava_loop_and_channel_threads']:.1f} s | "
                   f"{c['runtime_service']:.1f} s | {r['bit_exact']} |")
    for r in rows:
        out += ["", f"{r['net']}, by process model (CPU seconds: in `run_spk`, of which port I/O; whole processes):",
                "", "| model | processes | run_spk | port I/O | whole processes |", "|---|---|---|---|---|"]
        for k, v in r["by_model"].items():
            out.append(f"| {k} | {v['processes']} | {v['spk_cpu_s']:.1f} s | {v['port_io_cpu_s']:.1f} s | "
                       f"{v['process_cpu_s']:.1f} s |")
    out += ["", cores_line()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
