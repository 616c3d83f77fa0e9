"""``spikerain eval``: score a checkpoint on a paired dataset (Y-PSNR/SSIM as the authors' evaluation.py)."""

from __future__ import annotations

from spikerain import scaleout
from spikerain.console import print_json, progress, progress_enabled, stdout_console
from spikerain.models.registry import model_names

HELP = "evaluate a checkpoint: per-image Y/RGB PSNR and SSIM of input and output against the target"
EXAMPLE = "spikerain eval --model vlifnet --data data/synth --json"


def add_arguments(p) -> None:
    p.add_argument("--model", default="vlifnet", choices=model_names())
    p.add_argument("--checkpoint", help="default: the shipped checkpoint for --model")
    p.add_argument("--dim", type=int)
    p.add_argument("--data", help="dataset root (its test/ split is used when present)")
    p.add_argument("--input-dir", help="folder of rainy images (with --target-dir)")
    p.add_argument("--target-dir", help="folder of clean images (with --input-dir)")
    p.add_argument("--side-by-side", choices=["rainy-left", "rainy-right"], help="Rain1200-style pairs")
    p.add_argument("--no-tile", action="store_true")
    p.add_argument("--limit", type=int, default=0, help="score only the first N pairs")
    scaleout.add_arguments(p)


def eval_unit(shared: dict, pair) -> dict:
    """One pair (a work unit of :mod:`spikerain.scaleout`): load it, restore, score."""
    from spikerain.models.evaluate import score

    return score(shared["model"], pair.name, *pair.load(), tiled=shared["tiled"])


def run(args) -> int:
    from spikerain import checks
    from spikerain.errors import UsageError
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.data import discover, pair_folders
    from spikerain.models.evaluate import summarise

    checks.positive(args.limit, "--limit", minimum=0)
    if args.checkpoint:
        checks.input_file(args.checkpoint, "--checkpoint")
    for flag, path in (("--data", args.data), ("--input-dir", args.input_dir), ("--target-dir", args.target_dir)):
        if path is not None:
            checks.input_dir(path, flag)
    if args.input_dir or args.target_dir:
        if not (args.input_dir and args.target_dir):
            raise UsageError("--input-dir and --target-dir go together")
        pairs = pair_folders(args.input_dir, args.target_dir)
    elif args.data:
        pairs = discover(args.data, "test", side_by_side=args.side_by_side)
    else:
        raise UsageError("give --data DIR or --input-dir/--target-dir")
    if args.limit:
        pairs = pairs[: args.limit]
    model = load_default_or(args.checkpoint, args.model, args.dim)
    units = [scaleout.Unit(p.name, p) for p in pairs]
    with scaleout.engine(args) as eng, \
            progress("eval", len(pairs), enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        rows = scaleout.run_units(eng, eval_unit, {"model": model, "tiled": not args.no_tile}, units,
                                  progress=lambda done, total, name: advance(done, total, name))
    result = summarise(rows)
    result["model"] = model.config.to_dict()
    if args.json:
        print_json(result)
        return 0
    from rich.table import Table

    console = stdout_console()

    table = Table(title=f"{args.model} on {len(pairs)} images (Y: BT.601, 4 px crop; RGB: channel mean)")
    for col in ("image", "input Y-PSNR", "output Y-PSNR", "input Y-SSIM", "output Y-SSIM"):
        table.add_column(col, justify="right" if col != "image" else "left")
    for r in result["images"] + [{"name": "mean", **result["mean"]}]:
        table.add_row(r["name"], f"{r['input']['psnr_y']:.2f}", f"{r['output']['psnr_y']:.2f}",
                      f"{r['input']['ssim_y']:.4f}", f"{r['output']['ssim_y']:.4f}")
    console.print(table)
    if "by_renderer" in result:
        by = Table(title="per renderer (file names say which drew each image)")
        for col in ("renderer", "images", "input Y-PSNR", "output Y-PSNR", "gain"):
            by.add_column(col, justify="right" if col != "renderer" else "left")
        for name, g in result["by_renderer"].items():
            by.add_row(name, str(g["n"]), f"{g['mean']['input']['psnr_y']:.2f}", f"{g['mean']['output']['psnr_y']:.2f}",
                       f"{g['gain_psnr_y']:+.2f}")
        console.print(by)
    return 0
