"""``spikerain data synth``: write a seeded synthetic rain dataset in the authors' layout."""

from __future__ import annotations

from spikerain.console import print_json, progress, progress_enabled

HELP = "make synthetic rainy/clean pairs from photos shipped in the scikit-image and matplotlib wheels"
EXAMPLE = "spikerain data synth data/synth --n-train 640 --n-test 24 --size 128 --seed 0 --exclude-renderer layers"


def add_arguments(p) -> None:
    p.add_argument("action", choices=["synth"], help="what to do (synth: render a dataset)")
    p.add_argument("out_dir", nargs="?", help="output root; gets {train,test}/{input,target}/")
    p.add_argument("-o", "--output", dest="out_opt", metavar="DIR", help="the same as OUT_DIR")
    p.add_argument("--preset", default="varied", choices=["varied", "light", "heavy", "mixed"],
                   help="varied: a random renderer per image (the default); light/heavy/mixed: the single "
                        "noise-and-blur streak renderer of the first shipped checkpoints")
    p.add_argument("--renderers", help="varied: comma-separated renderers to pick from (default all: "
                                        "blur,segments,layers,drops,drizzle)")
    p.add_argument("--exclude-renderer", action="append", default=[], metavar="NAME",
                   help="varied: leave this renderer out (repeatable), e.g. for a leave-one-out run")
    p.add_argument("--n-train", type=int, default=64)
    p.add_argument("--n-test", type=int, default=24)
    p.add_argument("--size", type=int, default=128, help="side of each square image")
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from spikerain import checks
    from spikerain.errors import UsageError

    if args.size < 16 or args.n_train < 0 or args.n_test < 0:
        raise UsageError(f"--size {args.size}, --n-train {args.n_train}, --n-test {args.n_test}: the size must be "
                         ">= 16 and the counts >= 0", fix="e.g. --size 128 --n-train 64 --n-test 24")
    if args.out_dir and args.out_opt and args.out_dir != args.out_opt:
        raise UsageError(f"two outputs given ({args.out_dir} and -o {args.out_opt})", fix="give one")
    args.out_dir = args.out_dir or args.out_opt
    if not args.out_dir:
        raise UsageError("no output folder given", fix="spikerain data synth DIR (or -o DIR)")
    checks.output_dir(args.out_dir, "out_dir")
    from spikerain.models.rain import SynthSpec, write_synthetic  # (imports scikit-image: after the checks)

    renderers = tuple(n.strip() for n in args.renderers.split(",") if n.strip()) if args.renderers else ()
    if (renderers or args.exclude_renderer) and args.preset != "varied":
        raise UsageError("--renderers/--exclude-renderer need --preset varied")
    try:
        from spikerain.models.renderers import resolve

        resolve(renderers, args.exclude_renderer)
    except ValueError as e:
        raise UsageError(str(e), fix="pick from blur, segments, layers, drops, drizzle") from None
    spec = SynthSpec(preset=args.preset, n_train=args.n_train, n_test=args.n_test, size=args.size, seed=args.seed,
                     renderers=renderers, exclude=tuple(args.exclude_renderer))
    with progress("synth", args.n_train + args.n_test,
                  enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        summary = write_synthetic(args.out_dir, spec, advance)
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {summary['counts']['train']} train and {summary['counts']['test']} test pairs to "
              f"{summary['out']}")
    return 0
