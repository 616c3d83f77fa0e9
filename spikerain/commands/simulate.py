"""``spikerain simulate``: run an artifact on an image (fast simulator, Lava's CPU simulator or a Loihi 2)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from spikerain import scaleout
from spikerain.console import print_json

HELP = "run a quantized artifact on an image and write the restored image (backend: auto, fast, lava, loihi2)"
EXAMPLE = "spikerain simulate model.h5 --backend lava --input rainy.png --crop 16 16 -o out.png"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--input", help="rainy image, a folder of them (default: the shipped sample), or a .npy raster "
                                   "[T, C, H, W] (or [T, N]) fed one frame per step (integers: the input's q values; "
                                   "output .npy)")
    p.add_argument("-o", "--output", help="restored image (default simulated.png; .npy: the output integers); for a "
                                          "folder input, the folder that gets one PNG per image (default simulated/)")
    p.add_argument("--backend", default="auto", choices=["auto", "fast", "lava", "loihi2"],
                   help="auto: Loihi 2 if present, else Lava's CPU simulator for small images, else fast")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                   help="run only a centred H x W crop of the input (Lava's CPU simulator needs small ones)")
    p.add_argument("--tile", type=int, metavar="S",
                   help="run the image in S x S tiles, as the authors' tiled test does (overlapping, the last flush "
                        "with the border, merged with centre-weighted blending); a Lava run of an image larger than "
                        "one tile uses 80 x 80 tiles with 8 px overlap by default (docs/lava.md)")
    p.add_argument("--overlap", type=int, metavar="P",
                   help="pixels by which neighbouring tiles overlap (default: 8, or half the tile below 16)")
    p.add_argument("--record", help="write per-layer, per-timestep activity to this HDF5 file, with every neuron "
                                    "layer's spikes, u and v after each step (one untiled image; docs/lava.md)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for a Lava run")
    scaleout.add_arguments(p)


# Set in the driver for an in-process run: Lava's steps and finished tiles show on the progress bar.
_lava_report: dict | None = None


def _image_size(path: Path, crop) -> tuple[int, int] | None:
    """(H, W) of the image that will run, from the file's header; None when it cannot be read (the task that
    reads it reports why)."""
    if crop:
        return int(crop[0]), int(crop[1])
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except Exception:  # noqa: BLE001 (read_image gives the proper error in the task)
        return None


def default_tile(m: int) -> int:
    """The authors' 80 px tile side, rounded up to a multiple of the network's size multiple ``m``."""
    from spikerain.models.tile_grid import TILE

    return -(-TILE // m) * m


def default_overlap(tile: int) -> int:
    """The authors' 8 px overlap, or half the tile for tiles below 16 px."""
    from spikerain.models.tile_grid import OVERLAP

    return min(OVERLAP, tile // 2)


def chunks(items: list, n: int) -> list[list]:
    """``items`` in at most ``n`` consecutive runs of nearly equal length."""
    n = max(1, min(n, len(items)))
    k, r = divmod(len(items), n)
    out, i = [], 0
    for j in range(n):
        size = k + (1 if j < r else 0)
        out.append(items[i:i + size])
        i += size
    return out


def simulate_unit(shared: dict, payload: dict) -> dict:
    """One image, or some tiles of one, through one backend: read, crop, pad, cut; the float outputs
    ``[C, h, w]``. Lava runs all the unit's tiles in one process graph, built once (``run_lava(tiles=True)``)."""
    import numpy as np

    from spikerain.converter.ir import size_multiple
    from spikerain.hardware.fastsim.simulate import dequantized_output, simulate
    from spikerain.imageio import read_image
    from spikerain.models.tile_grid import pad_to, pad_to_multiple

    g = shared["graph"]
    img = read_image(payload["path"])
    if payload["crop"]:
        from spikerain.pipeline.verify import center_crop

        img = center_crop(img, tuple(payload["crop"])).transpose(1, 2, 0).astype(np.float32)
    boxes, tile = payload["boxes"], payload["tile"]
    if boxes is None:  # the whole image, padded to the network's size multiple
        work = pad_to_multiple(img, size_multiple(g))
        pieces = [work.transpose(2, 0, 1)]
    else:  # the authors' tiles of the image, padded to at least one tile
        work = pad_to(img, tile, tile)
        pieces = [work[y:y + tile, x:x + tile].transpose(2, 0, 1) for y, x in boxes]
    stats: dict = {}
    lava_meta = None
    if payload["backend"] == "fast":
        outs = [dequantized_output(g, simulate(g, p[None].astype(np.float32), stats=stats))[0] for p in pieces]
    else:
        from spikerain.hardware.backend import run_lava, step_reporter

        report = _lava_report or {}
        lava = run_lava(shared["artifact"], np.stack(pieces) if boxes is not None else pieces[0],
                        hardware=payload["backend"] == "loihi2", timeout=payload["timeout"], tiles=boxes is not None,
                        progress=step_reporter(report.get("steps", lambda done, total: None), log.debug,
                                               tile=report.get("tile")))
        scale = 2.0 ** -g.node(g.outputs[0]).frac
        outs = ([o[0].astype(np.float64) * scale for o in lava.output] if boxes is not None
                else [lava.output[0].astype(np.float64) * scale])
        lava_meta = {k: lava.meta[k] for k in ("graph_builds", "runtime_compiles", "processes", "steps",
                                               "steps_run")}
        lava_meta["seconds"] = {k: round(v, 3) for k, v in lava.meta["seconds"].items()}
    events = {k: sum(s.get(k, 0) for s in stats.values()) for k in ("clipped", "wrapped", "saturated")}
    return {"boxes": boxes, "outs": outs, "size": img.shape[:2], "padded": work.shape[:2], "events": events,
            "lava": lava_meta}


def run(args) -> int:
    from spikerain import checks
    from spikerain.console import progress, progress_enabled
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import size_multiple
    from spikerain.errors import DatasetError, UsageError
    from spikerain.hardware.backend import select_backend
    from spikerain.imageio import IMAGE_SUFFIXES, write_image
    from spikerain.models.samples import sample_pair

    folder = args.input is not None and Path(args.input).is_dir()
    # every path and number first: a bad --record must not cost a run, nor leave the image behind
    if not folder:
        checks.output_file(args.output or "simulated.png", "-o", (*checks.IMAGE_SUFFIXES, ".npy"))
    if args.record:
        checks.output_file(args.record, "--record", checks.HDF5_SUFFIXES)
    checks.distinct_outputs(("-o", args.output), ("--record", args.record), ("artifact", args.artifact))
    checks.size_pair(args.crop, "--crop")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: it must be positive", fix="e.g. --timeout 600")
    g = load_artifact(args.artifact)
    if "io" in g.meta:  # converted with --torch: the input is a tensor in the module's own layout
        return run_module_layout(args, g)
    if args.input and str(args.input).endswith(".npy"):
        return run_sequence(args, g)
    from spikerain.hardware.sequence import fixed_input

    if not folder and (fixed_input(g) or args.record or str(args.output or "").endswith(".npy")):
        # one image through one backend, keeping what a record or the output integers need
        if args.tile is not None or args.overlap is not None:
            raise UsageError("--tile runs deraining images in pieces; this run keeps one whole image (--record, a "
                             ".npy output or a fixed-input network)", fix="leave out --tile, or use --crop")
        return run_image(args, g)
    m = size_multiple(g)
    tile, overlap = tiling(args, m)
    if folder:
        paths = sorted(p for p in Path(args.input).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DatasetError(f"{args.input} holds no images", fix=f"put {'/'.join(IMAGE_SUFFIXES)} files there")
        out_dir = Path(args.output or "simulated")
        outputs = [out_dir / f"{p.stem}.png" for p in paths]
        twins = sorted({o.name for o in outputs if outputs.count(o) > 1})
        if twins:
            raise UsageError(f"{args.input} holds images with the same name stem: {', '.join(twins)}",
                             fix="rename them; each becomes NAME.png in the output folder")
    else:
        paths = [Path(args.input) if args.input else Path(sample_pair()[0])]
        outputs = [Path(args.output or "simulated.png")]

    lava_info = None
    if args.backend != "fast":
        from spikerain.lava_env import describe_lava

        lava_info = describe_lava()
    from spikerain.models.tile_grid import blend, tile_boxes

    plan = []  # per image: (backend choice, tile boxes or None for the whole image)
    for path in paths:
        size = _image_size(path, args.crop)
        padded = (-(-size[0] // m) * m, -(-size[1] // m) * m) if size else None
        choice = select_backend(args.backend, pixels=padded[0] * padded[1] if padded else 0, lava_info=lava_info)
        tiled = args.tile is not None or args.overlap is not None
        if size and not tiled and choice.name != "fast" and (size[0] > tile or size[1] > tile):
            tiled = True  # Lava's CPU simulator takes an image larger than a tile in the authors' tiles
            log.info("%s: %dx%d is larger than one tile: %dx%d tiles with %d px overlap", path.name, size[1],
                     size[0], tile, tile, overlap)
        boxes = tile_boxes(*size, tile, overlap) if size and tiled else None
        if choice not in [c for c, _ in plan]:  # once per distinct choice, not once per image
            log.info("%sbackend %s: %s", "" if len(paths) == 1 else f"{path.name} and others like it: ", choice.name,
                     choice.reason)
        plan.append((choice, boxes))

    pieces: dict[int, list] = {}
    rows: list[dict | None] = [None] * len(paths)
    units: list[scaleout.Unit] = []

    def on_result(i: int, r: dict) -> None:
        """Collect a unit's tiles; when an image is complete, merge and write it (atomically), forget its pieces."""
        img = units[i].payload["image"]
        pieces.setdefault(img, []).append(r)
        choice, boxes = plan[img]
        if sum(len(p["outs"]) for p in pieces[img]) < (len(boxes) if boxes else 1):
            return
        parts = pieces.pop(img)
        H, W = parts[0]["size"]
        if boxes is None:
            out = parts[0]["outs"][0]
        else:  # in the order of the boxes, whatever order the units finished in
            found = {tuple(b): o for p in parts for b, o in zip(p["boxes"], p["outs"], strict=True)}
            out = blend([found[tuple(b)] for b in boxes], boxes, tuple(parts[0]["padded"]), tile)
        write_image(outputs[img], out.transpose(1, 2, 0)[:H, :W])
        events = {k: sum(p["events"][k] for p in parts) for k in parts[0]["events"]}
        rows[img] = {"name": paths[img].name, "input": str(paths[img]), "output": str(outputs[img]),
                     "size": [H, W], "backend": choice.name, "backend_reason": choice.reason,
                     "tiles": len(boxes) if boxes else 1, "tile": tile if boxes else None,
                     "overlap": overlap if boxes else None, "events": events}
        runs = [p["lava"] for p in parts if p["lava"]]
        if runs:  # every Lava run builds its process graph and compiles its runtime once, for all its tiles
            rows[img]["lava"] = {"runs": len(runs), "graph_builds": sum(r["graph_builds"] for r in runs),
                                 "runtime_compiles": sum(r["runtime_compiles"] for r in runs),
                                 "processes": runs[0]["processes"], "steps_per_tile": runs[0]["steps"],
                                 # tiles run pipelined: the steps all of one run's tiles took together
                                 "steps_run": sum(r["steps_run"] for r in runs),
                                 "seconds": {k: round(sum(r["seconds"].get(k, 0.0) for r in runs), 3)
                                             for k in ("compile", "run", "readback", "stop")}}
        for p in parts:
            p["outs"] = None  # the bytes are on disk; keep only the small summary

    global _lava_report
    t0 = time.perf_counter()
    with scaleout.engine(args) as eng:
        for k, (path, (choice, boxes)) in enumerate(zip(paths, plan, strict=True)):
            common = {"path": str(path), "crop": args.crop, "tile": tile, "backend": choice.name,
                      "timeout": args.timeout, "image": k}
            if boxes is None:
                units.append(scaleout.Unit(path.name, {**common, "boxes": None}))
                continue
            # the fast simulator: a unit per tile; Lava: one process graph per unit, so as few units as there are
            # workers to run them
            groups = [[b] for b in boxes] if choice.name == "fast" else chunks(boxes, eng.cpus if eng else 1)
            for group in groups:
                first = boxes.index(group[0]) + 1
                span = f"tile {first}" if len(group) == 1 else f"tiles {first}-{first + len(group) - 1}"
                units.append(scaleout.Unit(f"{path.name} {span}/{len(boxes)}", {**common, "boxes": group}))
        sizes = {u.name: len(u.payload["boxes"] or [None]) for u in units}
        what = "images" if folder else ("tiles" if plan[0][1] else plan[0][0].name)
        total = len(units) if folder else sum(sizes.values())
        with progress(what, total, enabled=progress_enabled(args.quiet > 0)) as advance:
            finished = [0]  # tiles (images, for a folder) of the units done so far

            def unit_done(d: int, t: int, name: str) -> None:
                finished[0] += 1 if folder else sizes[name]
                advance(finished[0], total, name)

            if eng is None:  # in this process: Lava's steps and tiles show as they happen
                _lava_report = {
                    "steps": lambda done, tot: advance(finished[0], total, f"step {done}/{tot}"),
                    "tile": lambda k, n: None if folder else advance(finished[0] + k, total, f"tile {k}/{n}")}
            try:
                scaleout.run_units(eng, simulate_unit, {"graph": g, "artifact": str(Path(args.artifact).resolve())},
                                   units, on_result=on_result, progress=unit_done)
            finally:
                _lava_report = None
    seconds = time.perf_counter() - t0
    events = {k: sum(r["events"][k] for r in rows) for k in ("clipped", "wrapped", "saturated")}
    if folder:
        result = {"artifact": args.artifact, "input": str(args.input), "output": str(out_dir),
                  "backend": args.backend, "seconds": round(seconds, 3), "events": events, "images": rows}
        if args.json:
            print_json(result)
        else:
            print(f"wrote {len(rows)} images to {out_dir} in {seconds:.1f} s")
        return 0
    row = rows[0]
    H, W = row["size"]
    result = {"artifact": args.artifact, "input": str(paths[0]), "output": str(outputs[0]), "backend": row["backend"],
              "backend_reason": row["backend_reason"], "seconds": round(seconds, 3), "events": events,
              "record": None, "tiles": row["tiles"], "tile": row["tile"], "overlap": row["overlap"]}
    if "lava" in row:
        result["lava"] = row["lava"]
    if args.json:
        print_json(result)
    else:
        print(f"wrote {outputs[0]} ({W}x{H}) with backend {row['backend']} ({row['backend_reason']}) in "
              f"{seconds:.1f} s")
    return 0


def tiling(args, m: int) -> tuple[int, int]:
    """The tile side and overlap asked for (or the authors' defaults), checked against the network's size
    multiple ``m``."""
    from spikerain.errors import UsageError

    if args.tile is not None and (args.tile < m or args.tile % m):
        raise UsageError(f"--tile {args.tile} is not a positive multiple of {m}, which this network needs",
                         fix=f"use a multiple of {m}")
    tile = args.tile if args.tile is not None else default_tile(m)
    overlap = args.overlap if args.overlap is not None else default_overlap(tile)
    if overlap < 0 or overlap >= tile:
        raise UsageError(f"--overlap {overlap} must be at least 0 and smaller than the {tile} px tile",
                         fix=f"e.g. --overlap {default_overlap(tile)}")
    return tile, overlap


def run_image(args, g) -> int:
    """One image, whole, through one backend: what --record (every neuron's s, u, v), a .npy output (the
    integers) and fixed-input networks (netx, dense chains) need."""
    import numpy as np

    from spikerain.converter.ir import infer_shapes, size_multiple
    from spikerain.errors import UsageError
    from spikerain.hardware.backend import run_lava, select_backend
    from spikerain.hardware.fastsim.simulate import Activity, dequantized_output, simulate
    from spikerain.imageio import read_image, write_image
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import pad_to_multiple

    output = args.output or "simulated.png"
    path = args.input or sample_pair()[0]
    img = read_image(path)
    if args.crop:
        from spikerain.pipeline.verify import center_crop

        img = center_crop(img, tuple(args.crop)).transpose(1, 2, 0).astype(np.float32)
    H, W = img.shape[:2]
    from spikerain.hardware.sequence import fixed_input

    # a missing backend (--backend loihi2 without lava-loihi) is said before anything about the image
    select_backend(args.backend, pixels=H * W)

    if fixed_input(g):  # netx networks and dense chains run at their own input size only
        if (img.shape[2], H, W) != tuple(g.input_shape[1:]):
            from spikerain.errors import InputError

            raise InputError(f"this network takes {tuple(g.input_shape[1:])} inputs (C, H, W); the image is "
                             f"{(img.shape[2], H, W)}", fix="give an image of that size, or a .npy raster")
        work = img
    else:
        work = pad_to_multiple(img, size_multiple(g))
    choice = select_backend(args.backend, pixels=work.shape[0] * work.shape[1])
    log.info("backend %s: %s", choice.name, choice.reason)
    stats: dict = {}
    t0 = time.perf_counter()
    if choice.name == "fast":
        act = Activity()
        kept: dict = {}  # with --record: what the neuron record needs, from this same run
        wanted = neuron_values(g) if args.record else set()

        def keep(node, value):
            if node.name in wanted:
                kept[node.name] = value.numpy()

        out = simulate(g, work.transpose(2, 0, 1)[None].astype(np.float32), activity=act, stats=stats,
                       observe=keep if wanted else None)
        restored = dequantized_output(g, out)[0]
        integers = out[g.outputs[0]][:, 0].numpy()
    else:
        from spikerain.console import progress, progress_enabled
        from spikerain.hardware.backend import step_reporter

        with progress(choice.name, 1, enabled=progress_enabled(args.quiet > 0)) as advance:
            lava = run_lava(args.artifact, work.transpose(2, 0, 1), hardware=choice.name == "loihi2",
                            timeout=args.timeout, progress=step_reporter(lambda d, t: advance(d, t, "steps"),
                                                                         log.debug),
                            record=bool(args.record) and monitored(g))
        restored = lava.output[0].astype(np.float64) * 2.0 ** -g.node(g.outputs[0]).frac
        integers = lava.output
        gs = g.with_nodes(g.nodes, input_shape=(1, work.shape[2], *work.shape[:2]))
        infer_shapes(gs)
        act = Activity(nonzero=lava.counts,
                       per_step={k: int(np.prod(gs.shapes[k][1:])) for k in lava.counts if k in gs.shapes})
    seconds = time.perf_counter() - t0
    if output.endswith(".npy"):  # the output integers [T, C, H, W] (netx networks' spikes)
        from spikerain.atomic import atomic_path

        with atomic_path(output) as tmp:
            np.save(tmp, np.asarray(integers, np.int64)[..., :H, :W])
    elif restored.shape[0] not in (1, 3):
        from spikerain.errors import UsageError

        raise UsageError(f"the output has {restored.shape[0]} channels, not an image",
                         fix="write its integers to a .npy file: -o out.npy")
    else:
        write_image(output, restored.transpose(1, 2, 0)[:H, :W])
    if args.record:
        # every neuron layer's spikes, u and v after each step, with the activity counts in the same file
        from spikerain.hardware.sequence import record_neurons, write_record

        gs = g.with_nodes(g.nodes, input_shape=(1, work.shape[2], *work.shape[:2]))
        infer_shapes(gs)
        if choice.name == "fast" or not monitored(g):
            if choice.name != "fast":
                log.info("%d LIF layers: too many for Lava monitors (they would slow the run several-fold); "
                         "their s, u, v come from the fast simulator, which is bit-exact with Lava",
                         sum(n.op == "q_lif" for n in g.nodes))
            frames = work.transpose(2, 0, 1)[None].astype(np.float32)
            record = record_neurons(gs, frames, kept if choice.name == "fast" else neuron_inputs(gs, frames))
        else:
            record = lava.meta.get("record", {})
        write_record(args.record, gs, record, act, stats)
    events = {k: sum(s.get(k, 0) for s in stats.values()) for k in ("clipped", "wrapped", "saturated")}
    result = {"artifact": args.artifact, "input": str(path), "output": output, "backend": choice.name,
              "backend_reason": choice.reason, "seconds": round(seconds, 3), "events": events,
              "record": args.record}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {output} ({W}x{H}) with backend {choice.name} ({choice.reason}) in {seconds:.1f} s")
    return 0


def run_sequence(args, g) -> int:
    """``--input raster.npy``: one frame per step, the output integers ``[T, C, H, W]`` to a .npy file."""
    import numpy as np

    from spikerain.atomic import atomic_path
    from spikerain.errors import InputError, UsageError
    from spikerain.hardware.backend import run_lava, select_backend
    from spikerain.hardware.sequence import record_neurons, sequence_frames, with_steps, write_record

    out_path = args.output or "simulated.npy"
    if not str(out_path).endswith(".npy"):
        raise UsageError(f"a raster input gives integer frames, which {out_path} cannot hold",
                         fix="write them to a .npy file: -o out.npy")
    if args.crop:
        raise UsageError("--crop applies to images, not to rasters", fix="crop the raster before saving it")
    try:
        raster = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read raster {args.input}: {e}", fix="save it with numpy.save") from None
    g = g.with_nodes(g.nodes)
    frames = sequence_frames(g, raster)
    g = with_steps(g, frames.shape[0])
    C, H, W = g.input_shape[1:]
    choice = select_backend(args.backend, pixels=H * W)
    log.info("backend %s: %s", choice.name, choice.reason)
    t0 = time.perf_counter()
    record = None
    if choice.name == "fast":
        from spikerain.hardware.fastsim.simulate import simulate

        values = neuron_inputs(g, frames) if args.record else {}
        out = values[g.outputs[0]][:, 0] if args.record else simulate(g, frames)[g.outputs[0]][:, 0].numpy()
        if args.record:
            record = record_neurons(g, frames, values)
    else:
        res = run_lava(args.artifact, frames[:, 0], hardware=choice.name == "loihi2", timeout=args.timeout,
                       record=bool(args.record) and monitored(g))
        out, record = res.output, res.meta.get("record")
        if args.record and not monitored(g):  # as for images: too many LIF layers for Lava monitors
            record = record_neurons(g, frames, neuron_inputs(g, frames))
    seconds = time.perf_counter() - t0
    with atomic_path(out_path) as tmp:
        np.save(tmp, np.asarray(out, np.int64))
    if args.record:
        write_record(args.record, g, record or {})
    result = {"artifact": args.artifact, "input": args.input, "output": out_path, "backend": choice.name,
              "backend_reason": choice.reason, "steps": int(frames.shape[0]), "seconds": round(seconds, 3),
              "record": args.record}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {out_path} ({frames.shape[0]} steps) with backend {choice.name} ({choice.reason}) in "
              f"{seconds:.1f} s")
    return 0


#: LIF layers up to which a Lava run records s, u, v with Lava monitors (three processes per layer: with VLIF-Net's
#: 31 layers a 16x16 crop that takes about 60 s did not finish in 600 s)
MONITORED_LIF_LAYERS = 16


def monitored(g) -> bool:
    return sum(n.op == "q_lif" for n in g.nodes) <= MONITORED_LIF_LAYERS


def neuron_values(g) -> set[str]:
    """The values a neuron record needs: the outputs, every neuron layer's output and input."""
    wanted = set(g.outputs)
    for n in g.nodes:
        if n.op in ("q_lif", "q_delta", "q_sigma_delta", "q_sigma"):
            wanted |= {n.name, *n.inputs}
    return wanted


def neuron_inputs(g, frames) -> dict:
    """One fast-simulator run keeping only what the neuron record needs: neuron outputs and LIF inputs."""
    from spikerain.hardware.fastsim.simulate import simulate

    wanted = neuron_values(g)
    values: dict = {}

    def keep(node, value):
        if node.name in wanted:
            values[node.name] = value.numpy()

    simulate(g, frames, observe=keep)
    return values
def run_module_layout(args, g) -> int:
    """An artifact converted from a module (``convert --torch``): ``--input X.npy`` in the module's layout, ``-o
    Y.npy`` what the module would return (its first output), as the quantized network computes it."""
    import numpy as np

    from spikerain.atomic import atomic_path
    from spikerain.errors import UsageError
    from spikerain.pipeline.byo import load_npy, simulate_module_layout

    if not str(args.input or "").endswith(".npy") or not str(args.output or "").endswith(".npy"):
        raise UsageError("this artifact takes a tensor: --input X.npy (the module's input layout) and -o Y.npy",
                         fix=f"spikerain simulate {args.artifact} --input x.npy -o y.npy")
    if args.record or args.crop or args.tile is not None:
        raise UsageError("--record, --crop and --tile apply to images and rasters; a module input runs whole",
                         fix=f"spikerain simulate {args.artifact} --input x.npy -o y.npy")
    if args.backend not in ("auto", "fast", "lava"):
        raise UsageError(f"--backend {args.backend}: module-layout artifacts run in the fast simulator or in Lava",
                         fix="use --backend fast or --backend lava")
    backend = "lava" if args.backend == "lava" else "fast"
    t0 = time.perf_counter()
    if backend == "lava":
        from spikerain.pipeline.byo import run_lava_module_layout

        y = run_lava_module_layout(args.artifact, g, load_npy(args.input, "--input"), timeout=args.timeout)
    else:
        y = simulate_module_layout(g, load_npy(args.input, "--input"))
    with atomic_path(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, y.astype(np.float32))
    seconds = time.perf_counter() - t0
    if args.json:
        print_json({"artifact": args.artifact, "input": args.input, "output": args.output, "backend": backend,
                    "shape": list(y.shape), "seconds": round(seconds, 3)})
    else:
        print(f"wrote {args.output} {list(y.shape)} with backend {backend} in {seconds:.2f} s")
    return 0
