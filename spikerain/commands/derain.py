"""``spikerain derain``: restore one image with the float network, tiled as the authors do."""

from __future__ import annotations

import logging
import time

from spikerain.console import print_json, progress, progress_enabled
from spikerain.models.registry import model_names

HELP = "derain an image with VLIF-Net or ESDNet (float PyTorch, 80x80 tiles)"
EXAMPLE = "spikerain derain rainy.png clean.png --model vlifnet"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("input", nargs="?", help="rainy image (default: the shipped sample)")
    p.add_argument("output", nargs="?", help="where to write the result (default derained.png)")
    p.add_argument("-o", "--output", dest="output_opt", metavar="OUTPUT", help="the same as the OUTPUT argument")
    p.add_argument("--model", default="vlifnet", choices=model_names())
    p.add_argument("--checkpoint", help="checkpoint (.pt/.pth); default: the shipped one for --model")
    p.add_argument("--dim", type=int, help="network width, for checkpoints that do not record it")
    p.add_argument("--target", help="clean reference image, to report PSNR/SSIM")
    p.add_argument("--no-tile", action="store_true", help="run the whole image in one forward pass")


def _check(args) -> None:
    """Everything the command was given, before the model is loaded."""
    from spikerain import checks
    from spikerain.errors import UsageError

    if args.output and args.output_opt and args.output != args.output_opt:
        raise UsageError(f"two outputs given ({args.output} and -o {args.output_opt})", fix="give one")
    args.output = args.output_opt or args.output or "derained.png"
    checks.output_file(args.output, "output", checks.IMAGE_SUFFIXES)
    for flag, path in (("input", args.input), ("--target", args.target), ("--checkpoint", args.checkpoint)):
        if path is not None:
            checks.input_file(path, flag)


def run(args) -> int:
    import torch

    from spikerain.imageio import read_image, write_image
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.metrics import all_metrics
    from spikerain.models.samples import sample_pair
    from spikerain.models.tiling import restore

    _check(args)
    target = None
    if args.input is None:
        args.input, default_target = sample_pair()
        target = read_image(default_target)
        log.info("no input given: using the shipped sample %s", args.input)
    img = read_image(args.input)
    if args.target:
        target = read_image(args.target)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_default_or(args.checkpoint, args.model, args.dim)
    t0 = time.perf_counter()
    with progress("derain", 1, enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        out = restore(model, img, tiled=not args.no_tile, **({} if args.no_tile else {"progress": advance}))
    seconds = time.perf_counter() - t0
    write_image(args.output, out)
    result = {"input": str(args.input), "output": str(args.output), "model": model.config.to_dict(),
              "tiled": not args.no_tile, "seconds": round(seconds, 3), "size": list(img.shape[:2])}
    if target is not None:
        if target.shape != img.shape:
            log.warning("target size %s differs from input %s: no metrics", target.shape, img.shape)
        else:
            result["metrics"] = {"input": all_metrics(img, target), "output": all_metrics(out, target)}
    if args.json:
        print_json(result)
    else:
        log.info("wrote %s (%dx%d, %.2f s)", args.output, img.shape[1], img.shape[0], seconds)
        if "metrics" in result:
            mi, mo = result["metrics"]["input"], result["metrics"]["output"]
            print(f"Y-PSNR {mi['psnr_y']:.2f} -> {mo['psnr_y']:.2f} dB, Y-SSIM {mi['ssim_y']:.4f} -> "
                  f"{mo['ssim_y']:.4f}")
    return 0
