"""Choosing and driving a simulation backend (torch-free).

Order when nothing is asked for: ``loihi2`` (``Loihi2HwCfg``) when Intel's lava-loihi is installed and a Loihi 2
system is reachable; else ``lava`` (Lava's CPU simulator, ``Loihi2SimCfg(select_tag='fixed_pt')``) for images
it can finish in reasonable time; else ``fast`` (spikerain's bit-exact fixed-point simulator), which is the one
that handles full images. The choice and its reason are returned so that callers log and report them.

A Lava run always lives in a child process of the Lava interpreter, in its own session, with a timeout
(:func:`spikerain.lava_env.run_lava_module`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikerain.errors import EnvironmentMissingError, UsageError

BACKENDS = ("auto", "fast", "lava", "loihi2")
#: images up to this many pixels go to Lava's CPU simulator when it is chosen automatically; a 32x32 crop of
#: VLIF-Net (dim 16) takes about two minutes there (docs/benchmarks.md); the 240x160 sample in 12 tiles 8-17 min
LAVA_AUTO_MAX_PIXELS = 32 * 32
LOIHI_HOST_ENV = ("NXSDKHOST", "SLURM", "LOIHI_GEN")


@dataclass(frozen=True)
class BackendChoice:
    name: str  # fast | lava | loihi2
    reason: str


def loihi2_reachable(info: dict) -> bool:
    return bool(info.get("lava_loihi")) and any(os.environ.get(k) for k in LOIHI_HOST_ENV)


def select_backend(requested: str = "auto", *, pixels: int, lava_info: dict | None = None) -> BackendChoice:
    """``lava_info``: :func:`spikerain.lava_env.describe_lava` (probed here when needed)."""
    from spikerain.lava_env import FIX_LAVA, describe_lava

    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested!r}", fix=f"use one of {', '.join(BACKENDS)}")
    if requested == "fast":
        return BackendChoice("fast", "requested with --backend fast")
    info = lava_info if lava_info is not None else describe_lava()
    if requested == "loihi2":
        if not info.get("ok"):
            raise EnvironmentMissingError("--backend loihi2 needs Lava, and no Lava interpreter works here",
                                          fix=FIX_LAVA)
        if not info.get("lava_loihi"):
            raise EnvironmentMissingError(
                "--backend loihi2 needs Intel's lava-loihi (Loihi2HwCfg), which is not installed",
                fix="install lava-loihi (Intel INRC members) into .venv-lava, or use --backend lava (CPU simulator)")
        return BackendChoice("loihi2", "requested with --backend loihi2")
    if requested == "lava":
        if not info.get("ok"):
            raise EnvironmentMissingError(f"--backend lava: no working Lava interpreter ({info.get('error')})",
                                          fix=FIX_LAVA)
        return BackendChoice("lava", "requested with --backend lava")
    if info.get("ok") and loihi2_reachable(info):
        return BackendChoice("loihi2", "lava-loihi is installed and a Loihi 2 host is configured")
    if not info.get("ok"):
        return BackendChoice("fast", f"no working Lava interpreter ({info.get('error', 'not found')}); "
                                     "using the bit-exact fast simulator")
    if pixels > LAVA_AUTO_MAX_PIXELS:
        return BackendChoice("fast", f"no Loihi 2 chip; the image has {pixels} pixels, more than the "
                                     f"{LAVA_AUTO_MAX_PIXELS} that Lava's CPU simulator handles in minutes, so the "
                                     "bit-exact fast simulator runs it")
    return BackendChoice("lava", "no Loihi 2 chip; the image is small enough for Lava's CPU simulator")


def step_reporter(advance, log_line=None, tile=None):
    """A ``progress`` callback for :func:`run_lava` that turns the child's ``[lava] step a/b`` lines into
    ``advance(a, b)``, its ``[lava] tile k/n`` lines (a tiled run) into ``tile(k, n)``, and passes every other
    line to ``log_line``."""

    def on_line(line: str) -> None:
        if line.startswith("[lava] step "):
            done, total = line.split()[-1].split("/")
            advance(int(done), int(total))
        elif line.startswith("[lava] tile ") and tile is not None:
            done, total = line.split()[-1].split("/")
            tile(int(done), int(total))
        elif log_line is not None:
            log_line(line)

    return on_line


@dataclass
class LavaRun:
    output: np.ndarray  # int64 [T, C, H, W]; [N, T, C, h, w] for N tiles
    counts: dict[str, list[int]]
    meta: dict


def run_lava(artifact: str | os.PathLike, image_chw: np.ndarray, *, hardware: bool = False,
             conv_model: str = "vectorised", timeout: float = 1800.0, progress=None, fail_at: int = 0,
             record: bool = False, tiles: bool = False, lower_relu: bool = True,
             lower_upsample: bool = True, custom_by_program: bool = True) -> LavaRun:
    """Run an artifact on one float image ``[C, H, W]``, or a sequence ``[T, C, H, W]`` (one frame per step), in
    Lava (child process); returns its integers. ``record``: every LIF layer's spikes, u and v after each step,
    read by Lava monitors, in ``meta["record"][layer][var]`` as ``[T, C, H, W]``. ``tiles``: ``image_chw`` is a
    stack of equal tiles ``[N, C, h, w]``, run one after the other in one Lava process graph built once; the
    output is ``[N, T, C, h, w]``, ``counts`` tile 0's, and ``meta["tiles"]`` every tile's counts and energy.
    ``lower_relu`` False keeps every ReLU in the chip segment (the graph before that lowering, for benchmarks);
    ``lower_upsample`` False every bilinear x2 upsampling (instead of stock ``Sparse`` processes);
    ``custom_by_program`` False puts every custom on-chip node in one ``ChipSegment`` (instead of one process per
    neuron program)."""
    from spikerain.lava_env import run_lava_module

    with tempfile.TemporaryDirectory(prefix="spikerain-lava-") as tmp:
        t = Path(tmp)
        np.save(t / "image.npy", np.asarray(image_chw, np.float64))
        job = {"artifact": str(Path(artifact).resolve()), "image": str(t / "image.npy"), "out": str(t / "out.npz"),
               "conv_model": conv_model, "hardware": hardware, "fail_at": fail_at, "record": record,
               "tiles": tiles, "lower_relu": lower_relu, "lower_upsample": lower_upsample,
               "custom_by_program": custom_by_program}
        (t / "job.json").write_text(json.dumps(job))
        run_lava_module("spikerain.hardware.lava.runner", [str(t / "job.json")], timeout=timeout,
                        stream_stderr=progress)
        with np.load(t / "out.npz") as r:
            output = r["output"].astype(np.int64)
            meta = json.loads(str(r["meta"]))
            rec: dict = {}
            for key in r.files:
                if key.startswith("record/"):
                    _, name, var = key.split("/")
                    rec.setdefault(name, {})[var] = r[key].astype(np.int64)
            meta["record"] = rec
    return LavaRun(output=output, counts=meta.pop("counts"), meta=meta)
