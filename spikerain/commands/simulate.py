"""``spikerain simulate``: run an artifact on an image with the bit-exact fast simulator."""

from __future__ import annotations

import logging
import time

from spikerain.console import print_json

HELP = "run a quantized artifact on an image (fast bit-exact simulator) and write the restored image"
EXAMPLE = "spikerain simulate model.h5 --input rainy.png -o out.png --record activity.h5"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--input", help="rainy image (default: the shipped sample)")
    p.add_argument("-o", "--output", default="simulated.png")
    p.add_argument("--backend", default="fast", choices=["fast"], help="simulator (Lava arrives with issue #5)")
    p.add_argument("--record", help="write per-layer, per-timestep activity to this HDF5 file")


def run(args) -> int:
    import numpy as np

    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import size_multiple
    from spikerain.hardware.fastsim.activity import write_activity
    from spikerain.hardware.fastsim.simulate import Activity, dequantized_output, simulate
    from spikerain.imageio import read_image, write_image
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import pad_to_multiple

    g = load_artifact(args.artifact)
    path = args.input or sample_pair()[0]
    img = read_image(path)
    H, W = img.shape[:2]
    m = size_multiple(g)
    work = pad_to_multiple(img, m)
    act = Activity() if args.record else None
    stats: dict = {}
    t0 = time.perf_counter()
    out = simulate(g, work.transpose(2, 0, 1)[None].astype(np.float32), activity=act, stats=stats)
    seconds = time.perf_counter() - t0
    restored = dequantized_output(g, out)[0].transpose(1, 2, 0)[:H, :W]
    write_image(args.output, restored)
    if act is not None:
        write_activity(args.record, g, act, stats)
    events = {k: sum(s.get(k, 0) for s in stats.values()) for k in ("clipped", "wrapped", "saturated")}
    result = {"artifact": args.artifact, "input": str(path), "output": args.output, "backend": "fast",
              "backend_reason": "requested" if args.backend == "fast" else "", "seconds": round(seconds, 3),
              "events": events, "record": args.record}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {args.output} ({W}x{H}) with the fast simulator in {seconds:.1f} s; events {events}")
    return 0
