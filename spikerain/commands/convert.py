"""``spikerain convert``: checkpoint -> quantized Loihi fixed-point deployment artifact (model.h5)."""

from __future__ import annotations

import logging

from spikerain.console import print_json
from spikerain.models.registry import model_names

HELP = "trace, fold, calibrate and quantize a network to Loihi fixed point; write the HDF5 artifact"
EXAMPLE = "spikerain convert --model vlifnet -o model.h5"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("-o", "--output", default="model.h5", help="artifact to write (atomically)")
    p.add_argument("--model", default="vlifnet", choices=model_names())
    p.add_argument("--checkpoint", help="default: the shipped checkpoint for --model")
    p.add_argument("--calib", help="folder of calibration images (default: the shipped calibration set); with "
                                   "--torch a .npy stack of inputs [N, *example]")
    p.add_argument("--calib-size", type=int, default=64, help="calibration crop side (multiple of 8)")
    p.add_argument("--headroom", type=float, default=1.25, help="calibration maximum multiplier")
    p.add_argument("--range-rule", choices=["spread", "max"], default="spread",
                   help="per-layer range: 'spread' keeps headroom where maxima vary between images, 'max' the "
                        "largest value seen")
    p.add_argument("--eval", metavar="DIR", help="report the quantization loss per layer on centre crops of "
                                                 "these images (your domain, not the calibration set)")
    p.add_argument("--payload-bits", type=int, default=16, help="graded-spike payload width")
    p.add_argument("--strict", action="store_true", help="fail if any layer clips, wraps or saturates")
    p.add_argument("--onnx", metavar="FILE", help="also export the float graph to ONNX (neurons as local functions)")
    p.add_argument("--torch", metavar="FILE.py:FACTORY",
                   help="bring your own SNN: FACTORY() returns the nn.Module (docs/bring-your-own.md); needs --example")
    p.add_argument("--example", metavar="X.npy", help="with --torch: one input exactly as module(X) takes it")


def run(args) -> int:
    if args.torch or args.example:
        return run_torch(args)
    from spikerain import checks
    from spikerain.converter.artifact import save_artifact
    from spikerain.converter.quantize import QuantConfig
    from spikerain.errors import UsageError
    from spikerain.models.checkpoint import load_default_or
    from spikerain.pipeline.convert import convert_model, default_calibration_images, load_calibration_dir

    if args.calib_size % 8 or args.calib_size < 16:
        raise UsageError(f"--calib-size {args.calib_size}: it must be a multiple of 8, at least 16",
                         fix="e.g. --calib-size 64")
    checks.output_file(args.output, "-o", checks.HDF5_SUFFIXES)
    if args.onnx:
        checks.output_file(args.onnx, "--onnx", (".onnx",))
    checks.distinct_outputs(("-o", args.output), ("--onnx", args.onnx))
    if args.checkpoint:
        checks.input_file(args.checkpoint, "--checkpoint")
    if args.calib:
        checks.input_dir(args.calib, "--calib")
    if not 0 < args.headroom <= 64:
        raise UsageError(f"--headroom {args.headroom}: it must be in (0, 64]", fix="e.g. --headroom 1.25")
    checks.positive(args.payload_bits, "--payload-bits", minimum=2, maximum=24)
    if args.eval:
        checks.input_dir(args.eval, "--eval")
    model = load_default_or(args.checkpoint, args.model)
    if args.calib:
        images, source = load_calibration_dir(args.calib, args.calib_size), str(args.calib)
    else:
        images, source = default_calibration_images(args.calib_size), "shipped"
    cfg = QuantConfig(headroom=args.headroom, payload_bits=args.payload_bits)
    log.info("converting %s (%d calibration images, %s)", args.model, len(images), source)
    fgraph, qgraph, report = convert_model(model, calib_images=images, cfg=cfg, strict=args.strict,
                                           calib_source=source, range_rule=args.range_rule)
    evaluation = None
    if args.eval:
        from spikerain.converter.ir import size_multiple
        from spikerain.pipeline.evaluate import EVAL_SIZE, eval_images, evaluate_quantization, format_evaluation

        evaluation = evaluate_quantization(fgraph, qgraph, eval_images(args.eval, EVAL_SIZE, size_multiple(qgraph)))
    if args.onnx:
        from spikerain.converter.interchange.onnx_io import export_onnx

        export_onnx(fgraph, args.onnx)
    qgraph = qgraph.with_meta(checkpoint=str(args.checkpoint or "shipped"))
    digest = save_artifact(args.output, qgraph)
    s = report["summary"]
    if args.json:
        print_json({"output": args.output, "checksum": digest, "summary": s, "calibration": report["calibration"],
                    "layers": report["layers"],
                    **({"evaluation": evaluation} if evaluation else {})})
    else:
        print(f"wrote {args.output}: {s['nodes']} nodes ({s['host_nodes']} on the host), output SQNR "
              f"{s['output_sqnr_db']:.1f} dB, clipped {s['clipped']}, wrapped {s['wrapped']}, "
              f"saturated {s['saturated']} ({s['seconds']:.1f} s)")
        if evaluation:
            print(format_evaluation(evaluation))
    return 0


def run_torch(args) -> int:
    """``--torch FILE.py:FACTORY --example X.npy [--calib C.npy]``: any traceable PyTorch SNN."""
    from spikerain import checks
    from spikerain.converter.artifact import save_artifact
    from spikerain.converter.quantize import QuantConfig
    from spikerain.errors import QuantizationError, UsageError
    from spikerain.pipeline.byo import convert_module, load_factory, load_npy

    if not (args.torch and args.example):
        raise UsageError("--torch and --example go together", fix="spikerain convert --torch net.py:build "
                         "--example x.npy -o model.h5")
    if args.eval:
        raise UsageError("--eval takes a folder of images; a module's quantization loss is in the report",
                         fix="leave out --eval (the per-layer SQNR is printed with --json)")
    checks.output_file(args.output, "-o", checks.HDF5_SUFFIXES)
    if args.onnx:
        checks.output_file(args.onnx, "--onnx", (".onnx",))
    checks.distinct_outputs(("-o", args.output), ("--onnx", args.onnx))
    for path, flag in ((args.example, "--example"), (args.calib, "--calib"), (args.checkpoint, "--checkpoint")):
        if path:
            checks.input_file(path, flag)
    module = load_factory(args.torch, args.checkpoint)
    example = load_npy(args.example, "--example")
    calib = load_npy(args.calib, "--calib") if args.calib else None
    cfg = QuantConfig(headroom=args.headroom, payload_bits=args.payload_bits)
    fgraph, qgraph, report = convert_module(module, example, calib, cfg=cfg)
    bad = report["summary"]["layers_with_events"]
    if args.strict and bad:
        raise QuantizationError(f"--strict: {len(bad)} layer(s) clipped, wrapped or saturated on the calibration "
                                f"inputs: {', '.join(bad[:5])}", fix="raise --headroom, or drop --strict")
    if args.onnx:
        from spikerain.converter.interchange.onnx_io import export_onnx

        export_onnx(fgraph, args.onnx)
    qgraph = qgraph.with_meta(checkpoint=str(args.checkpoint or "factory"), torch=args.torch)
    digest = save_artifact(args.output, qgraph)
    s = report["summary"]
    if args.json:
        print_json({"output": args.output, "checksum": digest, "summary": s, "calibration": report["calibration"],
                    "layers": report["layers"]})
    else:
        worst = ", ".join(f"{n} {v:.1f} dB" for n, v in s["worst_layers"])
        print(f"wrote {args.output}: {s['nodes']} nodes, output SQNR {s['output_sqnr_db']:.1f} dB (worst layers: "
              f"{worst or 'none'}), clipped {s['clipped']}, wrapped {s['wrapped']}, saturated {s['saturated']}")
    return 0
