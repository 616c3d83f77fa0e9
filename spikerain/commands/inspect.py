"""``spikerain inspect``: the layer table and quantization report of an artifact."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "show an artifact's layers, placement, scales and quantization report"
EXAMPLE = "spikerain inspect model.h5 --json"


def add_arguments(p) -> None:
    p.add_argument("artifact", help="model.h5 written by spikerain convert")
    p.add_argument("--limit", type=int, default=0, help="show only the first N layers")


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import format_table

    checks.positive(args.limit, "--limit", minimum=0)
    g = load_artifact(args.artifact)
    layers = g.meta.get("quantization_layers", {})
    if args.json:
        print_json({"artifact": args.artifact, "meta": {k: v for k, v in g.meta.items() if k != "quantization_layers"},
                    "nodes": [{"name": n.name, "op": n.op, "placement": n.placement, "inputs": list(n.inputs),
                               "shape": list(g.shapes[n.name]), "params": n.params(),
                               "quantization": layers.get(n.name, {})} for n in g.nodes]})
        return 0
    extra = {}
    for name, info in layers.items():
        bits = [f"f={info['frac']}"] if "frac" in info else []
        if "sqnr_db" in info:
            bits.append(f"SQNR {info['sqnr_db']:.1f}dB")
        if info.get("clipped"):
            bits.append(f"clip {info['clipped']}")
        extra[name] = " ".join(bits)
    print(format_table(g, extra=extra, limit=args.limit or None))
    s = g.meta.get("quantization_summary")
    if s:
        print(f"quantization: output SQNR {s['output_sqnr_db']:.1f} dB; clipped {s['clipped']}, wrapped "
              f"{s['wrapped']}, saturated {s['saturated']}; {s['host_nodes']} of {s['nodes']} nodes on the host")
    return 0
