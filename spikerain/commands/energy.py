"""``spikerain energy``: energy per image of two networks under every energy model, and the 13 % claim."""

from __future__ import annotations

import logging
from pathlib import Path

from spikerain import scaleout
from spikerain.console import print_json

HELP = "estimate energy per image (VLIF-Net vs ESDNet) under cited energy models and check the 13% claim"
EXAMPLE = "spikerain energy --images rainy.png -o energy-report --json"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("--model", default="vlifnet", choices=["vlifnet", "esdnet"])
    p.add_argument("--baseline", default="esdnet", choices=["vlifnet", "esdnet"])
    p.add_argument("--images", help="an image, or a dataset folder (default: the shipped sample pair)")
    p.add_argument("--checkpoint", help="checkpoint of --model (default: shipped)")
    p.add_argument("--baseline-checkpoint", help="checkpoint of --baseline (default: shipped)")
    p.add_argument("--source", default="fast", choices=["torch", "fast", "lava"],
                   help="activity from the float network (torch hooks), the deployed integer network (fast), or "
                        "Lava's CPU simulator (lava; crops of at most 32x32)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize every image to H x W first")
    p.add_argument("--limit", type=int, default=8, help="at most this many images from a folder")
    p.add_argument("--tile", type=int, default=256, help="tile side for large images")
    p.add_argument("--tables", help="extra or replacement energy constants/models (JSON or TOML)")
    p.add_argument("-o", "--out", help="write energy.json, energy.md and the plots (PNG) here")
    scaleout.add_arguments(p)


def energy_unit(shared: dict, image) -> dict:
    """One image's report row (a work unit of :mod:`spikerain.scaleout`)."""
    from spikerain.energy.estimate import estimate

    return estimate([image], shared["nets"], shared["tables"], source=shared["source"], tile=shared["tile"],
                    rows_only=True)[0]


def load_images(arg: str | None, size, limit: int) -> list:
    import numpy as np

    from spikerain.imageio import read_image
    from spikerain.models.data import discover
    from spikerain.models.samples import sample_pair

    if arg is None:
        rainy, clean = sample_pair()
        items = [(Path(rainy).name, read_image(rainy), read_image(clean))]
    elif Path(arg).is_dir():
        items = [(p.name, *p.load()) for p in discover(arg)[:limit]]
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


def run(args) -> int:
    from spikerain.console import progress, progress_enabled
    from spikerain.energy.estimate import estimate, prepare, workdir
    from spikerain.energy.models import load_models
    from spikerain.errors import UsageError

    if args.model == args.baseline:
        raise UsageError("--model and --baseline are the same network", fix="compare two different networks")
    tables = load_models(args.tables)
    images = load_images(args.images, args.size, args.limit)
    with workdir() as tmp:
        wd = Path(tmp) if args.source == "lava" else None
        log.info("converting %s and %s", args.model, args.baseline)
        nets = [prepare(args.model, args.checkpoint, wd), prepare(args.baseline, args.baseline_checkpoint, wd)]
        done = [0]

        if args.workers is not None or args.cluster:  # images as Ray tasks, summarised in image order
            from spikerain.energy.estimate import summarise

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
