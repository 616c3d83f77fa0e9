"""``spikerain train``: train VLIF-Net or ESDNet with the authors' recipe (works under torchrun too)."""

from __future__ import annotations

import logging

from spikerain.console import print_json, progress, progress_enabled
from spikerain.models.registry import model_names

HELP = "train a network on paired rainy/clean images (AdamW, warm-up + cosine, 1 - SSIM loss by default)"
# The keys of spikerain.models.losses.LOSSES, spelled here so that --help does not import torch.
LOSS_NAMES = ("ssim", "ssim+psnr", "psnr")
EXAMPLE = "spikerain train --model vlifnet --data data/synth -o ckpt.pt --dim 16 --iters 2000 --batch 8"

log = logging.getLogger("spikerain")


def add_arguments(p) -> None:
    p.add_argument("--model", default="vlifnet", choices=model_names())
    p.add_argument("--data", required=True, help="dataset root (train/ and test/ are used when present)")
    p.add_argument("-o", "--output", "--out", dest="out", required=True, metavar="CKPT",
                   help="checkpoint to write (atomically, at every validation)")
    p.add_argument("--dim", type=int, default=48)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--iters", type=int, default=0, help="total iterations (overrides --epochs)")
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--loss", choices=LOSS_NAMES, default="ssim",
                   help="ssim: 1 - SSIM (the authors'); ssim+psnr: plus 0.02 x the negative PSNR in dB; "
                        "psnr: the negative PSNR in dB alone")
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--val-max", type=int, default=8, help="validation images used (first N of test/)")
    p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    p.add_argument("--init", metavar="CKPT", help="fine-tune: start from these weights (network and width come "
                                                   "from CKPT; fresh optimizer and schedule, e.g. with a lower --lr)")
    p.add_argument("--val-data", metavar="ROOT", help="a second validation set (its test split, first --val-max "
                                                      "images), e.g. a renderer left out of --data; logged as "
                                                      "val_heldout_psnr_y")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop with a checkpoint after this much wall time; --resume continues the schedule")
    p.add_argument("--refinement", action="store_true", help="VLIF-Net's Rain200L variant")
    p.add_argument("--save-replicas", help="also save each rank's final weights as PATH.rankN.pt")


def _check(args) -> None:
    from spikerain import checks
    from spikerain.models.registry import check_config

    checks.input_dir(args.data, "--data")
    checks.output_file(args.out, "-o", checks.CHECKPOINT_SUFFIXES)
    if args.resume:
        checks.input_file(args.out, "--resume: -o")
    if args.save_replicas:
        checks.output_file(args.save_replicas, "--save-replicas")
    check_config({"model": args.model, "dim": args.dim}, "--dim")
    checks.positive(args.epochs, "--epochs", minimum=1)
    checks.positive(args.iters, "--iters", minimum=0)
    checks.positive(args.batch, "--batch", minimum=1)
    checks.size_pair((args.patch, args.patch), "--patch", minimum=16, multiple=8)
    checks.positive(args.val_every, "--val-every", minimum=1)
    checks.positive(args.val_max, "--val-max", minimum=0)
    if not 0 < args.lr < 1:
        from spikerain.errors import UsageError

        raise UsageError(f"--lr {args.lr}: it must be in (0, 1)", fix="e.g. --lr 1e-3")


def run(args) -> int:
    import torch

    from spikerain.errors import UsageError
    from spikerain.models.data import discover, load_pairs
    from spikerain.models.train import TrainConfig, train

    _check(args)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    train_pairs = load_pairs(discover(args.data, "train"))
    try:
        val_pairs = load_pairs(discover(args.data, "test"))[: args.val_max]
    except Exception:  # a dataset without test/ trains without validation
        val_pairs = []
        log.warning("no test split under %s: training without validation", args.data)
    if args.init and args.resume:
        raise UsageError("--init and --resume exclude each other", fix="--resume continues --out; drop --init")
    extra = {"heldout": load_pairs(discover(args.val_data, "test"))[: args.val_max]} if args.val_data else None
    cfg = TrainConfig(model=args.model, dim=args.dim, epochs=args.epochs, iters=args.iters, batch=args.batch,
                      patch=args.patch, lr=args.lr, seed=args.seed, val_every=args.val_every,
                      loss=args.loss)
    kwargs = {"refinement": True} if args.refinement and args.model == "vlifnet" else {}
    with progress(f"train {args.model}", 1, enabled=progress_enabled(args.quiet > 0 or args.json)) as advance:
        import time

        state = {"shown": 0, "t0": time.perf_counter(), "s0": None}

        def on_step(step, total, loss, lr):
            if state["s0"] is None:
                state["s0"], state["t0"] = step - 1, time.perf_counter()
            rate = (step - state["s0"]) / max(1e-9, time.perf_counter() - state["t0"])
            advance(step, total, f"loss {loss:.4f}  lr {lr:.1e}  {rate:.2f} it/s")
            if not progress_enabled(args.quiet > 0 or args.json) and step - state["shown"] >= 10:
                state["shown"] = step
                log.debug("step %d/%d loss %.4f lr %.2e", step, total, loss, lr)

        summary = train(cfg, train_pairs, val_pairs, args.out, resume=args.resume, model_kwargs=kwargs,
                        on_step=on_step, replica_out=args.save_replicas, init=args.init, extra_val=extra,
                        time_limit=args.time_limit)
    summary["out"] = args.out
    if args.json:
        print_json(summary)
    else:
        print(f"trained {summary['steps']} steps in {summary['seconds']:.0f} s; best val Y-PSNR "
              f"{summary['best_val_psnr_y']:.2f} dB; wrote {args.out}")
    return 0
