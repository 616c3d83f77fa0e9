"""Whole images in Lava: the shipped 240x160 sample in the authors' tiles (80x80, 8 px overlap: 12 tiles), all
tiles in one Lava process graph built and compiled once, checked tile by tile against the fast simulator
(``spikerain verify --tiles``). Long (minutes per network on 2 cores), so not part of ``make bench``:

    python -m bench.lava_tiles [vlifnet] [esdnet]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import machine, write_results


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
            r = verify_tiles(path, g, img, tile=TILE, overlap=OVERLAP, timeout=3600)
            row = {"net": net, "size": r["size"], "tiles": len(r["tiles"]), "tile": r["tile"], "overlap": r["overlap"],
                   "bit_exact": r["bit_exact"], "processes": r["lava_processes"],
                   "steps_per_tile": r["lava_steps_per_tile"], "graph_builds": r["graph_builds"],
                   "runtime_compiles": r["runtime_compiles"],
                   **{f"lava_{k}_s": v for k, v in r["lava_seconds"].items()},
                   "lava_wall_s": r["lava_wall_seconds"], "fast_s": r["fast_seconds"], "load_before": load,
                   "load_after": os.getloadavg()[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = ["## Whole images in Lava (`bench/lava_tiles.py`)", "",
             "The shipped 240x160 sample in the authors' tiles (80x80, 8 px overlap), all tiles in one Lava process "
             "graph (built and compiled once), every tile checked bit-exact against the fast simulator (outputs, "
             "per-layer counts, energy counts) and the merged images identical. Load: the 1-minute load average "
             "before and after (the machine is shared).", "",
             "| network | tiles | processes | steps per tile | compile | run (all tiles) | Lava wall | "
             "fast (all tiles) | exact | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['net']} | {r['tiles']} x {r['tile']}x{r['tile']} | {r['processes']} | "
                     f"{r['steps_per_tile']} | {r['lava_compile_s']:.1f} s | {r['lava_run_s']:.0f} s | "
                     f"{r['lava_wall_s']:.0f} s | {r['fast_s']:.1f} s | {r['bit_exact']} | "
                     f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    mc = machine()
    table += ["", f"Machine: {mc['cpu']}, {mc['cores']} cores."]
    write_results("lava_tiles", {"machine": mc, "rows": rows}, "\n".join(table))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
