"""Whole images in Lava: the shipped 240x160 sample in the authors' tiles (80x80, 8 px overlap: 12 tiles), all
tiles pipelined through one Lava process graph built and compiled once, checked tile by tile against the fast
simulator (``spikerain verify --tiles``). The baseline in the same run is one tile alone (the sample's first
80x80 tile, the same graph): the ratio says what pipelining saves against running the tiles one after another.
About 8 minutes for both networks on 2 idle cores:

    python -m bench.lava_tiles [vlifnet] [esdnet]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import cores_line, machine, write_results


def main(argv=None) -> int:
    from spikerain.converter.artifact import save_artifact
    from spikerain.imageio import read_image
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.samples import sample_pair
    from spikerain.models.tile_grid import OVERLAP, TILE
    from spikerain.pipeline.convert import convert_model
    from spikerain.pipeline.verify import verify_tiles

    nets = list(argv if argv is not None else sys.argv[1:]) or ["esdnet", "vlifnet"]
    img = read_image(sample_pair()[0])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for net in nets:
            _, g, _ = convert_model(load_default_or(None, net), report_images=1)
            path = str(Path(tmp) / f"{net}.h5")
            save_artifact(path, g)
            load = os.getloadavg()[0]
            one = verify_tiles(path, g, img[:TILE, :TILE], tile=TILE, overlap=OVERLAP, timeout=3600)
            r = verify_tiles(path, g, img, tile=TILE, overlap=OVERLAP, timeout=3600)
            row = {"net": net, "size": r["size"], "tiles": len(r["tiles"]), "tile": r["tile"], "overlap": r["overlap"],
                   "bit_exact": r["bit_exact"] and one["bit_exact"], "processes": r["lava_processes"],
                   "steps_per_tile": r["lava_steps_per_tile"], "steps_run": r["lava_steps_run"],
                   "one_tile_steps": one["lava_steps_run"], "one_tile_run_s": one["lava_seconds"]["run"],
                   "one_tile_wall_s": one["lava_wall_seconds"], "one_tile_bit_exact": one["bit_exact"],
                   "graph_builds": r["graph_builds"],
                   "runtime_compiles": r["runtime_compiles"],
                   **{f"lava_{k}_s": v for k, v in r["lava_seconds"].items()},
                   "lava_wall_s": r["lava_wall_seconds"], "fast_s": r["fast_seconds"], "load_before": load,
                   "load_after": os.getloadavg()[0]}
            # pipelined run of all tiles against the tiles run one by one (one tile's run, times the tiles)
            row["run_vs_one_by_one"] = round(row["lava_run_s"] / (row["tiles"] * row["one_tile_run_s"]), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = ["## Whole images in Lava (`bench/lava_tiles.py`)", "",
             "The shipped 240x160 sample in the authors' tiles (80x80, 8 px overlap), all tiles pipelined through "
             "one Lava process graph (built and compiled once; a tile enters every `tile_period` steps), every "
             "tile checked bit-exact against the fast simulator (outputs, per-layer counts, energy counts) and the "
             "merged images identical. Baseline in the same run: one tile alone; 'vs one by one' is the "
             "pipelined run over (tiles x one tile's run). Load: the 1-minute load average before and after.", "",
             "| network | tiles | processes | steps: one tile / all tiles | compile | run (all tiles) | "
             "one tile's run | vs one by one | Lava wall | fast (all tiles) | exact | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['net']} | {r['tiles']} x {r['tile']}x{r['tile']} | {r['processes']} | "
                     f"{r['one_tile_steps']} / {r['steps_run']} | {r['lava_compile_s']:.1f} s | "
                     f"{r['lava_run_s']:.0f} s | {r['one_tile_run_s']:.0f} s | {r['run_vs_one_by_one']:.2f}x | "
                     f"{r['lava_wall_s']:.0f} s | {r['fast_s']:.1f} s | {r['bit_exact']} | "
                     f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    table += ["", cores_line()]
    write_results("lava_tiles", {"machine": machine(), "rows": rows}, "\n".join(table))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
