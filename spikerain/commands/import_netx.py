"""``spikerain import-netx``: read a lava-dl netx ``.net`` network into a spikerain artifact."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "import a lava-dl netx HDF5 network (.net) into a deployment artifact"
EXAMPLE = "spikerain import-netx tiny.net -o tiny.h5 --steps 20 --reset-interval 17"


def add_arguments(p) -> None:
    p.add_argument("netx", help="netx HDF5 file")
    p.add_argument("-o", "--output", default="model.h5", help="artifact to write (atomically)")
    p.add_argument("--steps", type=int, help="time steps per sample (default: the file's simulation/tSample)")
    p.add_argument("--input-frac", type=int, default=8,
                   help="inputs are integers q fed as images q / 2**F (default 8: |q| <= 256)")
    p.add_argument("--reset-interval", type=int, default=0, help="zero LIF states every N steps (0 = never)")
    p.add_argument("--reset-offset", type=int, default=0, help="phase of the first layer's reset")
    p.add_argument("--spike-exp", type=int, default=6, help="SDNN spike exponent (netx default 6)")
    p.add_argument("--num-layers", type=int, help="read only the first N layer entries (netx's num_layers)")
    p.add_argument("--input-message-bits", type=int, default=0,
                   help="without an input neuron: 0 feeds unary spikes into the first synapse (netx default), "
                        "more feeds graded integers")


def _check(args) -> None:
    from spikerain import checks

    checks.input_file(args.netx, "netx")
    checks.output_file(args.output, "-o", checks.HDF5_SUFFIXES)
    checks.distinct_outputs(("netx", args.netx), ("-o", args.output))
    checks.positive(args.steps, "--steps", minimum=1, maximum=1 << 20)
    checks.positive(args.input_frac, "--input-frac", minimum=0, maximum=24)
    checks.positive(args.reset_interval, "--reset-interval", minimum=0)
    checks.positive(args.reset_offset, "--reset-offset", minimum=0)
    checks.positive(args.spike_exp, "--spike-exp", minimum=0, maximum=24)


def run(args) -> int:
    from spikerain.converter import ir
    from spikerain.converter.artifact import save_artifact
    from spikerain.converter.interchange.netx_io import import_netx

    _check(args)
    g = import_netx(args.netx, steps=args.steps, input_frac=args.input_frac, reset_interval=args.reset_interval,
                    reset_offset=args.reset_offset, spike_exp=args.spike_exp, num_layers=args.num_layers,
                    input_message_bits=args.input_message_bits)
    digest = save_artifact(args.output, g)
    ops = dict(g.ops())
    if args.json:
        print_json({"netx": args.netx, "output": args.output, "nodes": len(g.nodes), "ops": ops,
                    "steps": g.meta["steps"], "checksum": digest})
    else:
        print(ir.format_table(g))
        print(f"wrote {args.output}: {len(g.nodes)} nodes, {g.meta['steps']} steps per sample")
    return 0
