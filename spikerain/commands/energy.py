"""``spikerain energy``: energy per image of two networks under every energy model, and the 13 % claim."""

from __future__ import annotations

import logging
from pathlib import Path

from spikerain import scaleout
from spikerain.console import print_json
from spikerain.models.registry import model_names

HELP = "estimate energy per image (VLIF-Net vs ESDNet) under cited energy models and check the 13% claim"
EXAMPLE = "spikerain energy --images rainy.png -o energy-report --json"

log = logging.getLogger("spikerain")
#: the smallest side scored: the Y metrics crop 4 px from every border and SSIM slides a 7 px window
MIN_SIDE = 16


def add_arguments(p) -> None:
    p.add_argument("--model", default="vlifnet", choices=model_names())
    p.add_argument("--baseline", default="esdnet", choices=model_names())
    p.add_argument("--images", help="an image, a dataset folder (pairs: quality is scored) or a folder of images "
                                    "(default: the shipped sample pair)")
    p.add_argument("--checkpoint", help="checkpoint of --model (default: shipped)")
    p.add_argument("--baseline-checkpoint", help="checkpoint of --baseline (default: shipped)")
    p.add_argument("--source", default="fast", choices=["torch", "fast", "lava"],
                   help="activity from the float network (torch hooks), the deployed integer network (fast), or "
                        "Lava's CPU simulator (lava; crops of at most 32x32)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W first")
    p.add_argument("--limit", type=int, default=8, help="at most this many images from a folder")
    p.add_argument("--tile", type=int, default=256, help="tile side for large images")
    p.add_argument("--tables", help="extra or replacement energy constants/models (JSON or TOML)")
    p.add_argument("--dim", type=int, help="build both networks at this width (e.g. 48, the released width) with "
                                           "seeded random weights, or load --checkpoint/--baseline-checkpoint at it")
    p.add_argument("--explain", action="store_true",
                   help="also decompose the ratio from spikerain's exact count to the authors' accounting "
                        "(authors-thop), one factor at a time (runs VLIF-Net dim 24 and ESDNet dim 48, float)")
    p.add_argument("-o", "--output", "--out", dest="out", metavar="DIR",
                   help="write energy.json, energy.md and the plots (PNG) into this folder")
    scaleout.add_arguments(p)


def energy_unit(shared: dict, image) -> dict:
    """One image's report row (a work unit of :mod:`spikerain.scaleout`)."""
    from spikerain.pipeline.estimate import estimate

    return estimate([image], shared["nets"], shared["tables"], source=shared["source"], tile=shared["tile"],
                    rows_only=True)[0]


def load_images(arg: str | None, size, limit: int) -> list:
    import numpy as np

    from spikerain.imageio import read_image
    from spikerain.models.samples import sample_pair

    if arg is None:
        rainy, clean = sample_pair()
        items = [(Path(rainy).name, read_image(rainy), read_image(clean))]
    elif Path(arg).is_dir():
        items = _folder(Path(arg), limit)
    else:
        items = [(Path(arg).name, read_image(arg), None)]
    if size:
        from PIL import Image

        def fit(a):
            if a is None:
                return None
            im = Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
            return np.asarray(im.resize((size[1], size[0]), Image.BICUBIC), np.float32) / 255.0

        items = [(n, fit(r), fit(c)) for n, r, c in items]
    return items


def _folder(root: Path, limit: int) -> list:
    """A dataset folder (pairs: quality is scored too), or else any folder of rainy images."""
    from spikerain.errors import DatasetError, InputError
    from spikerain.imageio import IMAGE_SUFFIXES, read_image
    from spikerain.models.data import discover

    try:
        return [(p.name, *p.load()) for p in discover(root)[:limit]]
    except DatasetError as e:
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
        if not files:
            raise InputError(f"{root} holds no images ({e})",
                             fix=f"put {'/'.join(IMAGE_SUFFIXES)} files there") from None
        return [(p.name, read_image(p), None) for p in files]


def run(args) -> int:
    from spikerain.console import progress, progress_enabled
    from spikerain.energy.models import load_models
    from spikerain.errors import UsageError
    from spikerain.pipeline.estimate import estimate, prepare, workdir

    if args.model == args.baseline:
        raise UsageError("--model and --baseline are the same network", fix="compare two different networks")
    from spikerain import checks

    checks.size_pair(args.size, "--size", minimum=MIN_SIDE)
    checks.positive(args.limit, "--limit", minimum=1)
    from spikerain.models.registry import model_class

    m = max(model_class(n).size_multiple for n in (args.model, args.baseline))
    checks.positive(args.tile, "--tile", minimum=m)
    if args.tile % m:
        raise UsageError(f"--tile {args.tile} is not a multiple of {m}, which {args.model} and {args.baseline} need",
                         fix=f"e.g. --tile {-(-args.tile // m) * m}")
    for flag, path in (("--checkpoint", args.checkpoint), ("--baseline-checkpoint", args.baseline_checkpoint),
                       ("--tables", args.tables)):
        if path is not None:
            checks.input_file(path, flag)
    if args.images is not None and not Path(args.images).is_dir():
        checks.input_file(args.images, "--images")
    if args.out:
        checks.output_dir(args.out, "-o")
    if args.checkpoint or args.baseline_checkpoint:  # an unsafe or broken file is refused before any conversion
        from spikerain.models.checkpoint import read_checkpoint

        for path in (args.checkpoint, args.baseline_checkpoint):
            if path:
                read_checkpoint(path)
    if args.dim is not None and (args.dim < 16 or args.dim % 8):
        raise UsageError(f"--dim {args.dim}: the attention bottlenecks need a multiple of 8 of at least 16",
                         fix="use e.g. --dim 16, 24 or 48")
    tables = load_models(args.tables)
    images = load_images(args.images, args.size, args.limit)
    small = [(n, r.shape[:2]) for n, r, _ in images if min(r.shape[:2]) < MIN_SIDE]
    if small:
        raise UsageError(f"image {small[0][0]} is {small[0][1][0]}x{small[0][1][1]}: energy scores images of at least "
                         f"{MIN_SIDE}x{MIN_SIDE} (the Y metrics crop 4 px per border, SSIM needs a 7 px window)",
                         fix=f"use larger images or --size {MIN_SIDE} {MIN_SIDE}")
    with workdir() as tmp:
        wd = Path(tmp) if args.source == "lava" else None
        log.info("converting %s and %s", args.model, args.baseline)
        nets = [prepare(args.model, args.checkpoint, wd, args.dim),
                prepare(args.baseline, args.baseline_checkpoint, wd, args.dim)]
        done = [0]

        if args.workers is not None or args.cluster:  # images as Ray tasks, summarised in image order
            from spikerain.pipeline.estimate import summarise

            shared = {"nets": nets, "tables": tables, "source": args.source, "tile": args.tile}
            with scaleout.engine(args) as eng, \
                    progress("energy", len(images), enabled=progress_enabled(args.quiet > 0)) as advance:
                rows = scaleout.run_units(eng, energy_unit, shared, [scaleout.Unit(im[0], im) for im in images],
                                          progress=lambda d, t, name: advance(d, t, name))
            report = summarise(rows, nets, tables, args.source, args.tile)
        else:
            with progress("energy", total=len(images) * 2, enabled=progress_enabled(args.quiet > 0)) as advance:
                def step(i, name):
                    done[0] += 1
                    advance(done[0], info=f"{name} on image {i + 1}")

                report = estimate(images, nets, tables, source=args.source, tile=args.tile, progress=step)
    if args.explain:
        from spikerain.pipeline.explain import explain

        log.info("explain: the authors' configurations (VLIF-Net dim 24, ESDNet dim 48) on the same images")
        ckpt = {args.model: args.checkpoint, args.baseline: args.baseline_checkpoint}
        report["explain"] = explain(report, images, tables, tile=args.tile, vlif_checkpoint=ckpt.get("vlifnet"),
                                    esd_checkpoint=ckpt.get("esdnet"))
    files = None
    if args.out:
        from spikerain.energy.report import write_report

        files = write_report(report, Path(args.out))
        report["files"] = files
    if args.json:
        print_json(report)
        return 0
    from spikerain.energy.report import markdown

    print(markdown(report), end="")
    if files:
        print(f"\nwrote {', '.join(files.values())}")
    return 0
