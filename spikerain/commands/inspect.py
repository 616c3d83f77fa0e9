"""``spikerain inspect``: the layer table and quantization report of an artifact."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "show an artifact's layers, placement, scales and quantization report"
EXAMPLE = "spikerain inspect model.h5 --json"


def add_arguments(p) -> None:
    p.add_argument("artifact", help="model.h5 written by spikerain convert")
    p.add_argument("--limit", type=int, default=0, help="show only the first N layers")
    p.add_argument("--eval", metavar="DIR", help="measure the quantization loss per layer on these images (rebuilds "
                                                 "the float network from the artifact's checkpoint; needs torch)")
    p.add_argument("--checkpoint", help="with --eval: the checkpoint the artifact was converted from, when the "
                                        "artifact's recorded path is not on this machine")


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import format_table

    checks.positive(args.limit, "--limit", minimum=0)
    g = load_artifact(args.artifact)
    if args.eval:
        return _evaluate(g, args)
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


def _evaluate(g, args) -> int:
    """Float network (from the artifact's checkpoint) and artifact side by side on the user's images."""
    from pathlib import Path

    from spikerain.converter.frontends.torch_frontend import from_torch
    from spikerain.converter.ir import size_multiple
    from spikerain.converter.passes.pipeline import run_passes
    from spikerain.errors import InputError
    from spikerain.models.checkpoint import load_default_or
    from spikerain.pipeline.evaluate import EVAL_SIZE, eval_images, evaluate_quantization, format_evaluation

    config = g.meta.get("model")
    if not config:
        raise InputError(f"{args.artifact} records no source network, so there is no float network to compare with",
                         fix="--eval works on artifacts written by spikerain convert")
    recorded = g.meta.get("checkpoint", "shipped")
    ckpt = args.checkpoint or (None if recorded == "shipped" else recorded)
    if ckpt is not None and not Path(ckpt).is_file():
        raise InputError(f"the artifact was converted from {ckpt}, which is not here",
                         fix="pass --checkpoint PATH to the same checkpoint")
    model = load_default_or(ckpt, config["model"])
    items = eval_images(args.eval, EVAL_SIZE, size_multiple(g))
    fgraph = run_passes(from_torch(model.eval(), items[0][1].shape[:2]))
    ev = evaluate_quantization(fgraph, g, items)
    if args.json:
        print_json({"artifact": args.artifact, "evaluation": ev})
    else:
        print(format_evaluation(ev))
    return 0
