"""``spikerain data synth``: write a seeded synthetic rain dataset in the authors' layout."""

from __future__ import annotations

from spikerain.console import print_json, progress, progress_enabled

HELP = "make synthetic rainy/clean pairs from photos shipped in the scikit-image and matplotlib wheels"
EXAMPLE = "spikerain data synth data/synth --preset mixed --n-train 64 --n-test 24 --size 128 --seed 0"


def add_arguments(p) -> None:
    p.add_argument("action", choices=["synth"], help="what to do (synth: render a dataset)")
    p.add_argument("out_dir", nargs="?", help="output root; gets {train,test}/{input,target}/")
    p.add_argument("-o", "--output", dest="out_opt", metavar="DIR", help="the same as OUT_DIR")
    p.add_argument("--preset", default="mixed", choices=["light", "heavy", "mixed"])
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

    spec = SynthSpec(preset=args.preset, n_train=args.n_train, n_test=args.n_test, size=args.size, seed=args.seed)
    with progress("synth", args.n_train + args.n_test,
                  enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        summary = write_synthetic(args.out_dir, spec, advance)
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {summary['counts']['train']} train and {summary['counts']['test']} test pairs to "
              f"{summary['out']}")
    return 0
