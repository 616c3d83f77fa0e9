"""``spikerain import-nir``: a NIR graph (snnTorch, norse, sinabs, spikerain exports) -> quantized artifact."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "import a NIR graph (nir 1.0) and quantize it into a deployment artifact (docs/bring-your-own.md)"
EXAMPLE = "spikerain import-nir model.nir -o model.h5 --dt 1e-4 --steps 10"


def add_arguments(p) -> None:
    p.add_argument("nir", help="NIR HDF5 file")
    p.add_argument("-o", "--output", default="model.h5", help="artifact to write (atomically)")
    p.add_argument("--dt", type=float, required=True,
                   help="time step that discretises the neurons (snnTorch exports: 1e-4; sinabs: 1 with --method exp;"
                        " norse 1.1: its dt squared, 1e-6 for the default)")
    p.add_argument("--steps", type=int, default=10, help="time steps per input (the input is [T, B, *shape])")
    p.add_argument("--method", default="euler", choices=["euler", "exp"], help="discretisation of the neurons")
    p.add_argument("--calib", metavar="C.npy", help="stack of inputs [N, T, B, *shape] (default: 4 seeded random "
                                                    "binary rasters)")
    p.add_argument("--headroom", type=float, default=1.25, help="calibration maximum multiplier")
    p.add_argument("--payload-bits", type=int, default=16, help="graded-spike payload width")


def run(args) -> int:
    import numpy as np

    from spikerain import checks
    from spikerain.converter.artifact import save_artifact
    from spikerain.converter.interchange.nir_io import import_nir
    from spikerain.converter.quantize import QuantConfig
    from spikerain.errors import UsageError
    from spikerain.pipeline.byo import load_npy, quantize_graph

    checks.input_file(args.nir, "nir")
    checks.output_file(args.output, "-o", checks.HDF5_SUFFIXES)
    checks.distinct_outputs(("nir", args.nir), ("-o", args.output))
    if args.calib:
        checks.input_file(args.calib, "--calib")
    checks.positive(args.steps, "--steps")
    checks.positive(args.payload_bits, "--payload-bits", minimum=2, maximum=24)
    if not args.dt > 0:
        raise UsageError(f"--dt {args.dt}: it must be positive", fix="e.g. --dt 1e-4")
    if not 0 < args.headroom <= 64:
        raise UsageError(f"--headroom {args.headroom}: it must be in (0, 64]", fix="e.g. --headroom 1.25")
    fgraph = import_nir(args.nir, dt=args.dt, steps=args.steps, method=args.method)
    io = fgraph.meta["io"]["input"]
    if args.calib:
        calib = list(load_npy(args.calib, "--calib"))
    else:
        rng = np.random.default_rng(0)
        calib = [(rng.random((args.steps, 1, *io["feat"])) < 0.5).astype(np.float32) for _ in range(4)]
    cfg = QuantConfig(headroom=args.headroom, payload_bits=args.payload_bits)
    qgraph, report = quantize_graph(fgraph, calib, cfg)
    qgraph = qgraph.with_meta(nir_file=str(args.nir))
    digest = save_artifact(args.output, qgraph)
    s = report["summary"]
    if args.json:
        print_json({"nir": args.nir, "output": args.output, "checksum": digest, "summary": s})
    else:
        print(f"wrote {args.output}: {s['nodes']} nodes, {args.steps} steps, output SQNR {s['output_sqnr_db']:.1f} dB")
    return 0
