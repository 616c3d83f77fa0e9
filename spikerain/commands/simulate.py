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
    p.add_argument("--input", help="rainy image (default: the shipped sample), or a .npy raster [T, C, H, W] (or "
                                   "[T, N]) fed one frame per step (integers: the input's q values; output .npy)")
    p.add_argument("-o", "--output", default="simulated.png")
    p.add_argument("--backend", default="auto", choices=["auto", "fast", "lava", "loihi2"],
                   help="auto: Loihi 2 if present, else Lava's CPU simulator for small images, else fast")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                   help="run only a centred H x W crop of the input (Lava's CPU simulator needs small ones)")
    p.add_argument("--record", help="write per-layer, per-timestep activity to this HDF5 file, with every neuron "
                                    "layer's spikes, u and v after each step (docs/lava.md)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for a Lava run")


def run(args) -> int:
    import numpy as np

    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import infer_shapes, size_multiple
    from spikerain.errors import UsageError
    from spikerain.hardware.backend import run_lava, select_backend
    from spikerain.hardware.fastsim.simulate import Activity, dequantized_output, simulate
    from spikerain.imageio import read_image, write_image
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import pad_to_multiple

    # every path and number first: a bad --record must not cost a run, nor leave the image behind
    checks.output_file(args.output, "-o", (*checks.IMAGE_SUFFIXES, ".npy"))
    if args.record:
        checks.output_file(args.record, "--record", checks.HDF5_SUFFIXES)
    checks.distinct_outputs(("-o", args.output), ("--record", args.record), ("artifact", args.artifact))
    checks.size_pair(args.crop, "--crop")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: it must be positive", fix="e.g. --timeout 600")
    g = load_artifact(args.artifact)
    if args.input and str(args.input).endswith(".npy"):
        return run_sequence(args, g)
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
    if str(args.output).endswith(".npy"):  # the output integers [T, C, H, W] (netx networks' spikes)
        from spikerain.atomic import atomic_path

        with atomic_path(args.output) as tmp:
            np.save(tmp, np.asarray(integers, np.int64)[..., :H, :W])
    elif restored.shape[0] not in (1, 3):
        from spikerain.errors import UsageError

        raise UsageError(f"the output has {restored.shape[0]} channels, not an image",
                         fix="write its integers to a .npy file: -o out.npy")
    else:
        write_image(args.output, restored.transpose(1, 2, 0)[:H, :W])
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
    result = {"artifact": args.artifact, "input": str(path), "output": args.output, "backend": choice.name,
              "backend_reason": choice.reason, "seconds": round(seconds, 3), "events": events,
              "record": args.record}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {args.output} ({W}x{H}) with backend {choice.name} ({choice.reason}) in {seconds:.1f} s")
    return 0


def run_sequence(args, g) -> int:
    """``--input raster.npy``: one frame per step, the output integers ``[T, C, H, W]`` to a .npy file."""
    import numpy as np

    from spikerain.atomic import atomic_path
    from spikerain.errors import InputError, UsageError
    from spikerain.hardware.backend import run_lava, select_backend
    from spikerain.hardware.sequence import record_neurons, sequence_frames, with_steps, write_record

    out_path = args.output if args.output != "simulated.png" else "simulated.npy"
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
