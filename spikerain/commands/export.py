"""``spikerain export``: write a deployment artifact in another format (lava-dl netx HDF5, NIR)."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "export an artifact to lava-dl netx HDF5 or NIR (what a format cannot express is refused with the reason)"
EXAMPLE = "spikerain export tiny.h5 --format netx -o tiny.net"


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--format", required=True, choices=["netx", "nir"],
                   help="netx: lava-dl HDF5; nir: NIR 1.0 (module artifacts; ONNX of the float graph is "
                        "`spikerain convert --onnx`)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--dt", type=float, default=1e-3, help="nir: the step that discretised the neurons (seconds)")


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.interchange.netx_io import export_netx

    suffixes = (".nir", *checks.HDF5_SUFFIXES) if args.format == "nir" else (".net", *checks.HDF5_SUFFIXES)
    checks.output_file(args.output, "-o", suffixes)
    if args.format == "nir" and not args.dt > 0:
        from spikerain.errors import UsageError

        raise UsageError(f"--dt {args.dt}: it must be positive", fix="e.g. --dt 1e-3")
    checks.distinct_outputs(("artifact", args.artifact), ("-o", args.output))
    g = load_artifact(args.artifact)
    if args.format == "nir":
        from spikerain.converter.interchange.nir_io import export_nir, write_nir

        write_nir(export_nir(g, dt=args.dt), args.output)
    else:
        export_netx(g, args.output)
    if args.json:
        print_json({"artifact": args.artifact, "format": args.format, "output": args.output})
    else:
        print(f"wrote {args.output} ({args.format})")
    return 0
