"""Training with the authors' recipe (``docs/sources.md`` §1.4), sized for a CPU.

AdamW (lr 1e-3, weight decay 0.01), linear warm-up over 3 epochs then cosine to 1e-7, loss 1 - SSIM, random
aligned 64x64 crops, batch 12. One "epoch" is one crop per training image. The schedule is stepped per
iteration (the authors step per epoch; per-iteration is the same curve, smoother, and lets ``--iters`` runs end
exactly at the floor).

Checkpoints are written atomically and hold the model config, state dict, optimizer, scheduler, step and RNG
states, so ``--resume`` continues exactly. A non-finite loss stops training with :class:`TrainingError`, leaving
the last good checkpoint in place. Under ``torchrun`` the model is wrapped in DistributedDataParallel (gloo on
CPU); each rank draws its own crops, and only rank 0 writes checkpoints.

``init`` warm-starts from another checkpoint's weights (fine-tuning: a fresh optimizer and schedule, usually
with a lower ``--lr``); the checkpoint then records ``warm_start`` (the source's steps, recipe and validation
history) and ``total_steps``, the iterations the weights have seen in all. ``extra_val`` adds named validation
sets (e.g. a renderer left out of the training data) whose Y-PSNR joins each history entry.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikerain.errors import TrainingError, UsageError
from spikerain.models.checkpoint import read_checkpoint, save_checkpoint
from spikerain.models.losses import LOSSES
from spikerain.models.metrics import psnr_y, quantize8
from spikerain.models.registry import build_from_config, build_model
from spikerain.models.tiling import restore_whole

log = logging.getLogger("spikerain.train")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    model: str = "vlifnet"
    dim: int = 48
    epochs: int = 1000  # used when iters is 0
    iters: int = 0  # total iterations; 0 = epochs * iterations per epoch
    batch: int = 12
    patch: int = 64
    lr: float = 1e-3
    lr_min: float = 1e-7
    warmup_epochs: int = 3
    weight_decay: float = 0.01
    seed: int = 1234
    val_every: int = 100  # iterations between validations (and checkpoints)
    loss: str = "ssim"  # a key of spikerain.models.losses.LOSSES


def lr_factor(step: int, total: int, warmup: int, lr: float, lr_min: float) -> float:
    """Multiplier on ``lr`` at ``step``: linear warm-up from 0, then cosine down to ``lr_min``."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    t = min(1.0, (step - warmup) / span)
    return (lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * t))) / lr


class CropSampler:
    """Random aligned crops from in-memory pairs, seeded; its state round-trips through a checkpoint."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], patch: int, seed: int):
        small = [i for i, (r, _) in enumerate(pairs) if min(r.shape[:2]) < patch]
        if small:
            raise UsageError(f"{len(small)} training images are smaller than the {patch}px patch",
                             fix="use a smaller --patch or larger images")
        self.pairs = pairs
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for _ in range(n):
            r, c = self.pairs[int(self.rng.integers(len(self.pairs)))]
            H, W = r.shape[:2]
            y, x = int(self.rng.integers(0, H - self.patch + 1)), int(self.rng.integers(0, W - self.patch + 1))
            xs.append(r[y:y + self.patch, x:x + self.patch])
            ys.append(c[y:y + self.patch, x:x + self.patch])
        to_t = lambda a: torch.from_numpy(np.stack(a).transpose(0, 3, 1, 2).copy())  # noqa: E731
        return to_t(xs), to_t(ys)


def evaluate_psnr(model: nn.Module, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean Y-PSNR of the model's 8-bit outputs on whole images."""
    was = model.training
    model.eval()
    scores = [psnr_y(quantize8(restore_whole(model, r)), quantize8(c)) for r, c in pairs]
    model.train(was)
    return float(np.mean(scores))


def _dist():
    import torch.distributed as dist

    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group("gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(cfg: TrainConfig, train_pairs, val_pairs, out: str | Path, *, resume: bool = False,
          model_kwargs: dict | None = None, on_step: Callable[[int, int, float, float], None] | None = None,
          replica_out: str | Path | None = None, stop_after: int | None = None, init: str | Path | None = None,
          extra_val: dict[str, list] | None = None, time_limit: float | None = None) -> dict:
    """Train and write checkpoints to ``out``; returns a summary. ``on_step(step, total, loss, lr)``.

    ``stop_after`` ends the run (with a checkpoint) after that many steps of the schedule, as an interruption
    would; ``resume=True`` then continues it exactly. ``time_limit`` (seconds) does the same after the first step
    that ends past it, so that a long run can take turns with other jobs in short slices.
    """
    rank, world = _dist()
    out = Path(out)
    iters_per_epoch = max(1, math.ceil(len(train_pairs) / (cfg.batch * world)))
    total = cfg.iters or cfg.epochs * iters_per_epoch
    warmup = min(cfg.warmup_epochs * iters_per_epoch, max(1, total // 10))

    torch.manual_seed(cfg.seed)
    step = 0
    state = None
    warm_start = None
    if resume:
        ckpt = read_checkpoint(out)
        state = ckpt.payload
        model = build_from_config(ckpt.config)
        model.load_state_dict(ckpt.state_dict)
        step = int(state["step"])
        saved_cfg = state.get("train_config", {})
        if saved_cfg.get("model") != cfg.model:
            raise UsageError(f"--resume: {out} was trained as {saved_cfg.get('model')}, not {cfg.model}")
        warm_start = state.get("warm_start")
    elif init is not None:
        src = read_checkpoint(init)
        if not src.config or src.config.get("model") != cfg.model:
            raise UsageError(f"--init: {init} is not a spikerain {cfg.model} checkpoint",
                             fix=f"pass a checkpoint written by spikerain train --model {cfg.model}")
        model = build_from_config(src.config)
        model.load_state_dict(src.state_dict)
        cfg = replace(cfg, dim=int(src.config.get("dim", cfg.dim)))  # the width is the source's
        p = src.payload
        warm_start = {"from": Path(init).name, "steps": int(p.get("total_steps", p.get("step", 0))),
                      "train_config": p.get("train_config", {}), "history": p.get("history", []),
                      "earlier": p.get("warm_start")}
    else:
        model = build_model(cfg.model, dim=cfg.dim, **(model_kwargs or {}))
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, warmup, cfg.lr, cfg.lr_min))
    loss_fn = LOSSES[cfg.loss]
    sampler = CropSampler([(r, c) for _, r, c in train_pairs], cfg.patch, cfg.seed + rank)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        sampler.rng.bit_generator.state = state["crop_rng"][rank] if rank < len(state["crop_rng"]) else \
            state["crop_rng"][0]
        torch.set_rng_state(state["torch_rng"])

    val = [(r, c) for _, r, c in val_pairs]
    extra = {k: [(r, c) for _, r, c in v] for k, v in (extra_val or {}).items()}
    prior = warm_start["steps"] if warm_start else 0
    best = state.get("best_val_psnr", -math.inf) if state else -math.inf
    history = list(state.get("history", [])) if state else []

    def sync_buffers() -> None:
        # DDP broadcasts BN buffers before each forward, so after the last one every rank holds its own
        # running statistics; average them so the replicas (and the checkpoint) agree.
        if world > 1:
            import torch.distributed as dist

            for b in model.buffers():
                if b.is_floating_point():
                    dist.all_reduce(b, op=dist.ReduceOp.SUM)
                    b.div_(world)

    def checkpoint(val_psnr: float | None) -> None:
        sync_buffers()
        rng_states = [sampler.rng.bit_generator.state]
        if world > 1:  # every rank takes part in the gather; only rank 0 writes
            import torch.distributed as dist

            rng_states = [None] * world
            dist.all_gather_object(rng_states, sampler.rng.bit_generator.state)
        if rank != 0:
            return
        more = {"warm_start": warm_start} if warm_start else {}
        save_checkpoint(out, model, optimizer=opt.state_dict(), scheduler=sched.state_dict(), step=step,
                        crop_rng=rng_states, torch_rng=torch.get_rng_state(), train_config=asdict(cfg),
                        best_val_psnr=best, history=history, last_val_psnr=val_psnr, total_steps=prior + step,
                        **more)

    net.train()
    t0 = time.perf_counter()
    start_step = step
    end = total if stop_after is None else min(total, stop_after)
    while step < end:
        x, y = sampler.batch(cfg.batch)
        loss = loss_fn(net(x), y)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"loss became {loss.item()} at step {step + 1}; stopped. The last good checkpoint {out} "
                "is kept", fix="lower --lr or resume from the checkpoint with --resume")
        loss_value = loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if on_step is not None:
            on_step(step, total, loss_value, sched.get_last_lr()[0])
        if step % cfg.val_every == 0 or step == end:
            v = evaluate_psnr(model, val) if val and rank == 0 else None
            if v is not None:
                best = max(best, v)
            entry = {"step": step, "loss": loss_value, "val_psnr_y": v}
            if rank == 0:
                entry.update({f"val_{k}_psnr_y": evaluate_psnr(model, p) for k, p in extra.items() if p})
            history.append(entry)
            log.info("step %d/%d loss %.4f val Y-PSNR %s%s", step, total, loss_value,
                     f"{v:.2f} dB" if v is not None else "-",
                     "".join(f", {k} {entry[f'val_{k}_psnr_y']:.2f} dB" for k in extra if extra[k]))
            checkpoint(v)
        elif time_limit is not None and time.perf_counter() - t0 > time_limit:
            log.info("time limit reached at step %d/%d; checkpoint written, continue with --resume", step, total)
            checkpoint(None)
            break
    sync_buffers()
    if replica_out is not None:
        torch.save(model.state_dict(), Path(replica_out).with_suffix(f".rank{rank}.pt"))
    seconds = time.perf_counter() - t0
    return {"steps": step, "total_steps": prior + step, "steps_this_run": step - start_step, "seconds": seconds,
            "best_val_psnr_y": best, "history": history, "world_size": world}

