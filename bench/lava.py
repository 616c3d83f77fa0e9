"""Lava CPU simulator against the fast simulator on the same artifact and crop, and mapping time.

For each shipped network (dim 16) and crop (16x16, 32x32 of the shipped sample image): the Lava run's compile,
run and read-back times, its process count and steps, the fast simulator's time on the same crop, and their
ratio (every run is also checked bit-exact), and the Lava processes by class (stock / custom / host,
``hardware/realisation.py``). Then the time to map a dim-48 VLIF-Net (random weights) onto Loihi 2 at 481x321.
When ``bench/results/lava_before.json`` exists (the same benchmark run on an earlier Lava graph, on the same
machine in the same session), a before/after table compares processes, steps and wall time.

    python -m bench.lava
    python -m bench.lava --no-upsample-lowering   # the same with every bilinear x2 in the chip segment instead of
                                                  # stock Sparse processes: writes lava_before.json only
    python -m bench.lava --no-relu-lowering   # the same with every ReLU in the chip segment (the graph before
                                              # the ReLU lowering): writes bench/results/lava_before.json only
    python -m bench.lava --one-chip-segment   # the same with every custom on-chip node in one ChipSegment
                                              # instead of one process per neuron program: lava_before.json only
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench.common import cores_line, machine, write_results


def main(argv=None) -> int:
    import torch

    argv = sys.argv[1:] if argv is None else argv
    lower = "--no-relu-lowering" not in argv
    lower_up = "--no-upsample-lowering" not in argv
    by_program = "--one-chip-segment" not in argv

    from spikerain.converter.artifact import save_artifact
    from spikerain.hardware.constraints import load_constraints
    from spikerain.hardware.mapping import map_to_cores
    from spikerain.imageio import read_image
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.registry import build_model
    from spikerain.models.samples import sample_pair
    from spikerain.pipeline.convert import convert_model
    from spikerain.pipeline.verify import center_crop, fast_reference, verify_crop

    img = read_image(sample_pair()[0])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for net in ("vlifnet", "esdnet"):
            _, g, _ = convert_model(load_default_or(None, net), report_images=1)
            path = str(Path(tmp) / f"{net}.h5")
            save_artifact(path, g)
            for size in (16, 32):
                crop = center_crop(img, size)
                r = verify_crop(path, g, crop, timeout=1800, lower_relu=lower, lower_upsample=lower_up,
                                custom_by_program=by_program)
                # the fast simulator warm (its first call on a new shape prepares kernels): best of three
                fast_s = min(fast_reference(g, crop)[2] for _ in range(3))
                c = r["realisation"]
                row = {"net": net, "size": size, "bit_exact": r["bit_exact"], "processes": r["lava_processes"],
                       "stock": c["processes"]["stock"], "custom": c["processes"]["custom"],
                       "host": c["processes"]["host"], "misplaced_nodes": c["misplaced_nodes"],
                       "on_chip_nodes": c["on_chip_nodes"],
                       "steps": r["lava_steps"], **{f"lava_{k}_s": v for k, v in r["lava_seconds"].items()},
                       "lava_wall_s": r["lava_wall_seconds"], "fast_s": fast_s,
                       "fast_first_call_s": r["fast_seconds"], "ratio": r["lava_wall_seconds"] / fast_s}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if not lower or not lower_up or not by_program:
        out = Path(__file__).parent / "results" / "lava_before.json"
        what = ("the same code with every ReLU in the chip segment (--no-relu-lowering)" if not lower else
                "the same code with every bilinear x2 in the chip segment (--no-upsample-lowering)" if not lower_up
                else "the same code with every custom on-chip node in one ChipSegment (--one-chip-segment)")
        out.write_text(json.dumps({"commit": what, "machine": machine(), "rows": rows}, indent=2) + "\n")
        return 0
    torch.manual_seed(0)
    _, g48, _ = convert_model(build_model("vlifnet", dim=48), report_images=1)
    t0 = time.perf_counter()
    m = map_to_cores(g48, load_constraints("loihi2"), (321, 481))
    map_s = time.perf_counter() - t0
    mapping = {"net": "vlifnet", "dim": 48, "size": [321, 481], "seconds": map_s, "cores": m.cores, "chips": m.chips,
               "steps_per_image": m.steps_per_image}
    print(json.dumps(mapping), flush=True)
    table = ["## Lava backend (`bench/lava.py`)", "",
             "Shipped checkpoints (dim 16), centre crops of the shipped sample image. Lava: `Loihi2SimCfg("
             "select_tag='fixed_pt')` in a child process of `.venv-lava`, spikerain's vectorised model for the "
             "stock `Conv` process; wall time includes starting the child. Fast: the bit-exact fast simulator on "
             "the same crop, in this process, warm (best of three after the verification's own call). Every run is "
             "checked bit-exact (output and per-layer counts).", "",
             "| network | crop | processes (stock / custom / host) | steps | compile | run | read-back | Lava wall | "
             "fast | ratio | exact |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['net']} | {r['size']}x{r['size']} | {r['processes']} ({r['stock']} / {r['custom']} / "
                     f"{r['host']}) | {r['steps']} | "
                     f"{r['lava_compile_s']:.1f} s | {r['lava_run_s']:.1f} s | {r['lava_readback_s']:.2f} s | "
                     f"{r['lava_wall_s']:.1f} s | {r['fast_s']:.3f} s | {r['ratio']:.0f}x | {r['bit_exact']} |")
    table += ["", f"Mapping VLIF-Net dim 48 at 481x321 onto Loihi 2: {map_s:.2f} s ({m.cores} cores on {m.chips} "
              f"chips, {m.steps_per_image} steps per image).", ""]
    before = _before(rows)
    if before:
        table += ["", f"Before and after (the same benchmark on the Lava graph of {before['commit']}, run on this "
                  "machine in the same session; the machine was shared, so wall times carry noise; both ratios are "
                  "to this run's warm fast simulator):", "",
                  "| network | crop | processes before / after | steps before / after | Lava wall before / after | "
                  "ratio to fast before / after |", "|---|---|---|---|---|---|"]
        for r in before["rows"]:
            table.append(f"| {r['net']} | {r['size']}x{r['size']} | {r['processes_before']} / {r['processes']} | "
                         f"{r['steps_before']} / {r['steps']} | {r['wall_before']:.1f} s / {r['wall']:.1f} s | "
                         f"{r['ratio_before']:.0f}x / {r['ratio']:.0f}x |")
        table.append("")
    table.append(cores_line())
    write_results("lava", {"machine": machine(), "rows": rows, "mapping": mapping, "before": before}, "\n".join(table))
    return 0


def _before(rows: list[dict]) -> dict | None:
    """The same rows from ``bench/results/lava_before.json`` (an earlier graph), matched by network and crop."""
    path = Path(__file__).parent / "results" / "lava_before.json"
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    by = {(r["net"], r["size"]): r for r in old["rows"]}
    out = []
    for r in rows:
        b = by.get((r["net"], r["size"]))
        if b:
            out.append({"net": r["net"], "size": r["size"], "processes_before": b["processes"],
                        "processes": r["processes"], "steps_before": b["steps"], "steps": r["steps"],
                        "wall_before": b["lava_wall_s"], "wall": r["lava_wall_s"],
                        # both against this run's warm fast simulator (the earlier run timed its first call)
                        "ratio_before": b["lava_wall_s"] / r["fast_s"],
                        "ratio": r["ratio"]})
    return {"commit": old.get("commit", "main"), "rows": out}


if __name__ == "__main__":
    sys.exit(main())
