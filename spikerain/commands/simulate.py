"""``spikerain simulate``: run an artifact on an image (fast simulator, Lava's CPU simulator or a Loihi 2)."""

from __future__ import annotations

import logging
import time

from spikerain.console import print_json

HELP = "run a quantized artifact on an image and write the restored image (backend: auto, fast, lava, loihi2)"
EXAMPLE = "spikerain simulate model.h5 --backend lava --input rainy.png --crop 16 16 -o out.png"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--input", help="rainy image (default: the shipped sample)")
    p.add_argument("-o", "--output", default="simulated.png")
    p.add_argument("--backend", default="auto", choices=["auto", "fast", "lava", "loihi2"],
                   help="auto: Loihi 2 if present, else Lava's CPU simulator for small images, else fast")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                   help="run only a centred H x W crop of the input (Lava's CPU simulator needs small ones)")
    p.add_argument("--record", help="write per-layer, per-timestep activity to this HDF5 file")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for a Lava run")


def run(args) -> int:
    import numpy as np

    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import infer_shapes, size_multiple
    from spikerain.hardware.backend import run_lava, select_backend
    from spikerain.hardware.fastsim.activity import write_activity
    from spikerain.hardware.fastsim.simulate import Activity, dequantized_output, simulate
    from spikerain.imageio import read_image, write_image
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import pad_to_multiple

    g = load_artifact(args.artifact)
    if "io" in g.meta:  # converted with --torch: the input is a tensor in the module's own layout
        return run_module_layout(args, g)
    path = args.input or sample_pair()[0]
    img = read_image(path)
    if args.crop:
        from spikerain.hardware.verify import center_crop

        img = center_crop(img, tuple(args.crop)).transpose(1, 2, 0).astype(np.float32)
    H, W = img.shape[:2]
    work = pad_to_multiple(img, size_multiple(g))
    choice = select_backend(args.backend, pixels=work.shape[0] * work.shape[1])
    log.info("backend %s: %s", choice.name, choice.reason)
    stats: dict = {}
    t0 = time.perf_counter()
    if choice.name == "fast":
        act = Activity()
        out = simulate(g, work.transpose(2, 0, 1)[None].astype(np.float32), activity=act, stats=stats)
        restored = dequantized_output(g, out)[0]
    else:
        from spikerain.console import progress, progress_enabled
        from spikerain.hardware.backend import step_reporter

        with progress(choice.name, 1, enabled=progress_enabled(args.quiet > 0)) as advance:
            lava = run_lava(args.artifact, work.transpose(2, 0, 1), hardware=choice.name == "loihi2",
                            timeout=args.timeout, progress=step_reporter(lambda d, t: advance(d, t, "steps"),
                                                                         log.debug))
        restored = lava.output[0].astype(np.float64) * 2.0 ** -g.node(g.outputs[0]).frac
        gs = g.with_nodes(g.nodes, input_shape=(1, 3, *work.shape[:2]))
        infer_shapes(gs)
        act = Activity(nonzero=lava.counts,
                       per_step={k: int(np.prod(gs.shapes[k][1:])) for k in lava.counts if k in gs.shapes})
    seconds = time.perf_counter() - t0
    write_image(args.output, restored.transpose(1, 2, 0)[:H, :W])
    if args.record:
        write_activity(args.record, g, act, stats)
    events = {k: sum(s.get(k, 0) for s in stats.values()) for k in ("clipped", "wrapped", "saturated")}
    result = {"artifact": args.artifact, "input": str(path), "output": args.output, "backend": choice.name,
              "backend_reason": choice.reason, "seconds": round(seconds, 3), "events": events,
              "record": args.record}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {args.output} ({W}x{H}) with backend {choice.name} ({choice.reason}) in {seconds:.1f} s")
    return 0


def run_module_layout(args, g) -> int:
    """An artifact converted from a module (``convert --torch``): ``--input X.npy`` in the module's layout, ``-o
    Y.npy`` what the module would return (its first output), as the quantized network computes it."""
    import numpy as np

    from spikerain.atomic import atomic_path
    from spikerain.converter.byo import load_npy, simulate_module_layout
    from spikerain.errors import UsageError

    if not args.input or not args.output.endswith(".npy"):
        raise UsageError("this artifact takes a tensor: --input X.npy (the module's input layout) and -o Y.npy",
                         fix=f"spikerain simulate {args.artifact} --input x.npy -o y.npy")
    if args.backend not in ("auto", "fast"):
        raise UsageError(f"--backend {args.backend}: module-layout artifacts run in the fast simulator only",
                         fix="use --backend fast (docs/bring-your-own.md lists what Lava runs)")
    t0 = time.perf_counter()
    y = simulate_module_layout(g, load_npy(args.input, "--input"))
    with atomic_path(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, y.astype(np.float32))
    seconds = time.perf_counter() - t0
    if args.json:
        print_json({"artifact": args.artifact, "input": args.input, "output": args.output, "backend": "fast",
                    "shape": list(y.shape), "seconds": round(seconds, 3)})
    else:
        print(f"wrote {args.output} {list(y.shape)} with backend fast in {seconds:.2f} s")
    return 0
