"""``spikerain export``: write a deployment artifact in another format (lava-dl netx HDF5)."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "export an artifact to lava-dl netx HDF5 (chain-shaped networks; others are refused with the reason)"
EXAMPLE = "spikerain export tiny.h5 --format netx -o tiny.net"


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--format", required=True, choices=["netx"],
                   help="netx: lava-dl HDF5 (ONNX export of the float graph is `spikerain convert --onnx`)")
    p.add_argument("-o", "--output", required=True)


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.interchange.netx_io import export_netx

    checks.output_file(args.output, "-o", (".net", *checks.HDF5_SUFFIXES))
    checks.distinct_outputs(("artifact", args.artifact), ("-o", args.output))
    g = load_artifact(args.artifact)
    export_netx(g, args.output)
    if args.json:
        print_json({"artifact": args.artifact, "format": args.format, "output": args.output})
    else:
        print(f"wrote {args.output} ({args.format})")
    return 0
