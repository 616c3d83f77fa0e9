"""``spikerain verify``: run an artifact in Lava's CPU simulator and in the fast simulator on crops, and check
that every output integer and every layer's per-timestep activity is identical."""

from __future__ import annotations

import logging

from spikerain.console import print_json

HELP = "check the Lava process graph bit-exact against the fast simulator on image crops"
EXAMPLE = "spikerain verify model.h5 --input rainy.png --crop 16 16 --crop 32 32"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--input", help="image to crop (default: the shipped sample); for an artifact converted with "
                                   "--torch or import-nir, the module input X.npy")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), action="append",
                   help="crop size; repeat for several crops (default: 16 16)")
    p.add_argument("--at", type=int, nargs=2, metavar=("Y", "X"), help="top-left corner (default: centred)")
    p.add_argument("--conv-model", default="vectorised", choices=["vectorised", "stock"],
                   help="ProcessModels for Lava's Conv and Sparse: spikerain's vectorised ones or Lava's own "
                        "(slow)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per Lava run")
    p.add_argument("--tiles", action="store_true",
                   help="run the whole image (or one --crop of it) in the authors' tiles in both backends, as "
                        "`simulate --backend lava` does, and check every tile (docs/lava.md)")
    p.add_argument("--tile", type=int, metavar="S", help="tile side with --tiles (default 80)")
    p.add_argument("--overlap", type=int, metavar="P", help="tile overlap with --tiles (default 8)")


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import size_multiple
    from spikerain.errors import UsageError, VerificationError
    from spikerain.imageio import read_image
    from spikerain.models.samples import sample_pair
    from spikerain.pipeline.verify import center_crop, verify_crop

    crops = [checks.size_pair(c, "--crop") for c in (args.crop or [(16, 16)])]
    if args.at is not None and min(args.at) < 0:
        raise UsageError(f"--at {args.at[0]} {args.at[1]}: a corner cannot be negative", fix="e.g. --at 0 0")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: it must be positive", fix="e.g. --timeout 600")
    g = load_artifact(args.artifact)
    if "io" in g.meta:  # converted with --torch or import-nir (docs/bring-your-own.md)
        return run_module_input(args, g)
    m = size_multiple(g)
    if args.tiles or args.tile is not None or args.overlap is not None:
        return run_tiles(args, g, m)
    bad = [c for c in crops if c[0] % m or c[1] % m]
    if bad:
        raise UsageError(f"crop sizes {bad} are not multiples of {m}, which this graph needs",
                         fix=f"use multiples of {m}, e.g. --crop {m * 2} {m * 2}")
    img = read_image(args.input or sample_pair()[0])
    results = []
    from spikerain.console import progress, progress_enabled
    from spikerain.hardware.backend import step_reporter
    from spikerain.hardware.realisation import summary_line

    at = tuple(args.at) if args.at else None
    pieces = [center_crop(img, size, at) for size in crops]  # every crop must fit before the first Lava run
    for size, piece in zip(crops, pieces, strict=True):
        log.info("verifying a %dx%d crop in Lava (Loihi2SimCfg fixed_pt) against the fast simulator", *size)
        with progress(f"Lava {size[0]}x{size[1]}", 1, enabled=progress_enabled(args.quiet > 0)) as advance:
            r = verify_crop(args.artifact, g, piece,
                            conv_model=args.conv_model, timeout=args.timeout,
                            progress=step_reporter(lambda d, t: advance(d, t, "steps"), log.debug))
        results.append(r)
        if not args.json:
            verdict = "bit-exact" if r["bit_exact"] else "MISMATCH"
            print(f"{size[0]}x{size[1]}: {verdict}: {r['output_values']} output values, {r['layers_compared']} "
                  f"layers x timesteps; Lava {r['lava_processes']} processes, {r['lava_steps']} steps, "
                  f"{r['lava_wall_seconds']:.1f} s; fast simulator {r['fast_seconds']:.2f} s")
            print(f"  {summary_line(r['realisation'])}")
            f = r["first_mismatch"]
            if f:
                print(f"  first difference: layer {f['layer']}, timestep {f['timestep']}: fast {f['fast']} non-zero, "
                      f"lava {f['lava']}")
            elif not r["output_equal"]:
                print(f"  output: {r['output_mismatches']} values differ (max {r['output_max_abs_diff']})")
    ok = all(r["bit_exact"] for r in results)
    if args.json:
        print_json({"artifact": args.artifact, "bit_exact": ok, "crops": results})
    if not ok:
        first = next(r for r in results if not r["bit_exact"])
        f = first["first_mismatch"] or {}
        where = (f"first at layer {f.get('layer')}, timestep {f.get('timestep')}" if f else
                 f"{first['output_mismatches']} output values")
        raise VerificationError(f"Lava and the fast simulator differ on the {first['size']} crop: {where}",
                                fix="report it with the artifact; run with -v for the Lava log")
    return 0


def run_tiles(args, g, m: int) -> int:
    """``--tiles``: the image (or one crop of it) in tiles through Lava (one process graph for all tiles) and the
    fast simulator; every tile bit-exact, or exit 1."""
    from spikerain.commands.simulate import tiling
    from spikerain.console import progress, progress_enabled
    from spikerain.errors import UsageError, VerificationError
    from spikerain.hardware.backend import step_reporter
    from spikerain.imageio import read_image
    from spikerain.models.samples import sample_pair
    from spikerain.pipeline.verify import center_crop, verify_tiles

    tile, overlap = tiling(args, m)
    if args.crop and len(args.crop) > 1:
        raise UsageError("--tiles runs one image: give at most one --crop", fix="e.g. --tiles --crop 160 160")
    img = read_image(args.input or sample_pair()[0])
    if args.crop:
        img = center_crop(img, tuple(args.crop[0]), tuple(args.at) if args.at else None).transpose(1, 2, 0)
    H, W = img.shape[:2]
    log.info("verifying a %dx%d image in %dx%d tiles with %d px overlap in Lava against the fast simulator", H, W,
             tile, tile, overlap)
    from spikerain.models.tile_grid import tile_boxes

    n = len(tile_boxes(H, W, tile, overlap))
    with progress("tiles", n, enabled=progress_enabled(args.quiet > 0)) as advance:
        state = {"done": 0}

        def on_tile(k: int, total: int) -> None:
            state["done"] = k
            advance(k, total, f"tile {k}/{total}")

        r = verify_tiles(args.artifact, g, img, tile=tile, overlap=overlap, conv_model=args.conv_model,
                         timeout=args.timeout,
                         progress=step_reporter(lambda d, t: advance(state["done"], n, f"step {d}/{t}"), log.debug,
                                                tile=on_tile))
    if args.json:
        print_json({"artifact": args.artifact, **r})
    else:
        for t in r["tiles"]:
            verdict = "bit-exact" if t["bit_exact"] else "MISMATCH"
            print(f"tile {t['tile']}/{n} at (y {t['at'][0]}, x {t['at'][1]}): {verdict}: {t['output_values']} output "
                  f"values, {t['layers_compared']} layers x timesteps")
        print(f"{W}x{H} in {n} tiles of {tile}x{tile} ({overlap} px overlap): merged image "
              f"{'identical' if r['image_equal'] else 'DIFFERS'}; Lava {r['lava_processes']} processes built "
              f"{r['graph_builds']}x, compiled {r['runtime_compiles']}x, {r['lava_steps_per_tile']} steps per tile, "
              f"{r['lava_wall_seconds']:.1f} s; fast simulator {r['fast_seconds']:.2f} s")
    if not r["bit_exact"]:
        bad = [t for t in r["tiles"] if not t["bit_exact"]]
        where = (f"tile {bad[0]['tile']} at {tuple(bad[0]['at'])} (and {len(bad) - 1} more)" if bad
                 else "the merged image")
        raise VerificationError(f"Lava and the fast simulator differ on {where}",
                                fix="report it with the artifact; run with -v for the Lava log")
    return 0


def run_module_input(args, g) -> int:
    """An artifact converted from a module (``convert --torch``, ``import-nir``): ``--input X.npy`` in the module's
    layout, run whole in Lava and in the fast simulator."""
    from spikerain import checks
    from spikerain.console import progress, progress_enabled
    from spikerain.errors import UsageError, VerificationError
    from spikerain.hardware.backend import step_reporter
    from spikerain.pipeline.byo import load_npy, to_graph_input, verify_module_input

    if not args.input or not str(args.input).endswith(".npy"):
        raise UsageError("this artifact takes a tensor in the module's layout, not an image",
                         fix=f"spikerain verify {args.artifact} --input x.npy")
    if args.crop or args.at or args.tiles or args.tile is not None or args.overlap is not None:
        raise UsageError("--crop, --at and --tiles cut images; a module input runs whole", fix="leave them out")
    checks.input_file(args.input, "--input")
    x = load_npy(args.input, "--input")
    to_graph_input(g, x)  # the shape is checked before any work
    log.info("verifying the module input in Lava (Loihi2SimCfg fixed_pt) against the fast simulator")
    with progress("Lava", 1, enabled=progress_enabled(args.quiet > 0)) as advance:
        r = verify_module_input(args.artifact, g, x, conv_model=args.conv_model, timeout=args.timeout,
                                progress=step_reporter(lambda d, t: advance(d, t, "steps"), log.debug))
    if args.json:
        print_json({"artifact": args.artifact, "bit_exact": r["bit_exact"], "input": args.input, "result": r})
    else:
        verdict = "bit-exact" if r["bit_exact"] else "MISMATCH"
        print(f"{args.input}: {verdict}: {r['output_values']} output values, {r['layers_compared']} layers x "
              f"timesteps; Lava {r['lava_processes']} processes, {r['lava_steps']} steps, "
              f"{r['lava_wall_seconds']:.1f} s; fast simulator {r['fast_seconds']:.2f} s")
    if not r["bit_exact"]:
        f = r["first_mismatch"] or {}
        where = (f"first at layer {f.get('layer')}, timestep {f.get('timestep')}" if f else
                 f"{r['output_mismatches']} output values" if not r["output_equal"] else "the energy counts")
        raise VerificationError(f"Lava and the fast simulator differ on {args.input}: {where}",
                                fix="report it with the artifact; run with -v for the Lava log")
    return 0
