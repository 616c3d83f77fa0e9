"""Quantized vs float on images unlike the calibration set: where the loss comes from, and what the range rules
buy.

    python -m bench.quantization [--models vlifnet esdnet] [--size 128] [--per 2]

Held-out set: the test photos (never used for training or calibration) drawn by every renderer of the mix and
by ``stress``, a renderer used nowhere else (bright sparse streaks screen-blended over a gamma-brightened scene
under heavy white veiling). Each configuration converts the shipped checkpoint and runs the artifact in the fast
simulator; the loss is mean Y-PSNR(float) - mean Y-PSNR(quantized) against the clean images, and "q vs f" the
Y-PSNR of the quantized output against the float output. Writes bench/results/quantization.json and the table
in docs/quantization.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from bench.common import DOC, machine, machine_line, write_results

#: (name, calibration set, range rule); "legacy" is the calibration set before the renderer mix
CONFIGS = (("legacy set, max", "legacy", "max"), ("renderer mix, max", "mix", "max"),
           ("renderer mix, spread (default)", "mix", "spread"))


def stress_rain(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    H, W = clean.shape[:2]
    base = clean ** rng.uniform(0.4, 0.8)
    R = np.zeros((H, W), np.float32)
    for _ in range(int(H * W / 150)):
        y, x = rng.integers(0, H), rng.integers(0, W)
        L, v = int(rng.integers(8, 30)), rng.uniform(0.5, 1.0)
        for t in range(L):
            if y + t < H and x + t // 4 < W:
                R[y + t, x + t // 4] = v
    a, A = rng.uniform(0.4, 0.7), rng.uniform(0.9, 1.0)
    out = a * (1 - (1 - base) * (1 - R[..., None])) + (1 - a) * A
    return np.clip(out, 0, 1).astype(np.float32)


def held_out(size: int, per: int, seed: int = 2024) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(renderer, name, rainy, clean) over the test photos: ``per`` images per photo and renderer."""
    from spikerain.models.rain import photos, varied_crop
    from spikerain.models.renderers import RENDERERS, render_with

    rng = np.random.default_rng(seed)
    out = []
    for src, img in photos("test"):
        for r in (*RENDERERS, "stress"):
            for k in range(per):
                clean = (np.round(varied_crop(img, size, rng) * 255) / 255).astype(np.float32)
                rainy = stress_rain(clean, rng) if r == "stress" else render_with(clean, r, rng)
                out.append((r, f"{src}_{r}_{k}", rainy, clean))
    return out


def legacy_calibration_images() -> list[np.ndarray]:
    """The calibration set before the renderer mix: the sample's centre crop and 7 light/heavy 64x64 crops."""
    from spikerain.imageio import read_image
    from spikerain.models.rain import SynthSpec, synth_pairs
    from spikerain.models.samples import sample_pair

    s = read_image(sample_pair()[0])
    y, x = (s.shape[0] - 64) // 2, (s.shape[1] - 64) // 2
    return [s[y:y + 64, x:x + 64]] + [r for _, r, _ in synth_pairs("train", 7, SynthSpec(preset="mixed", size=64,
                                                                                           seed=11))]


def evaluate(model_name: str, pairs, calib: str, rule: str) -> dict:
    from spikerain.hardware.fastsim.compare import quantization_errors
    from spikerain.hardware.fastsim.simulate import dequantized_output, simulate
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.metrics import psnr_y, quantize8
    from spikerain.models.tiling import restore_whole
    from spikerain.pipeline.convert import convert_model

    model = load_default_or(None, model_name)
    images = legacy_calibration_images() if calib == "legacy" else None
    t0 = time.perf_counter()
    fg, qg, report = convert_model(model, calib_images=images, report_images=1, range_rule=rule)
    t_convert = time.perf_counter() - t0
    rows = []
    for renderer, name, rainy, clean in pairs:
        f = restore_whole(model, rainy)
        x = torch.from_numpy(np.ascontiguousarray(rainy.transpose(2, 0, 1)))[None]
        qo = dequantized_output(qg, simulate(qg, x))[0].transpose(1, 2, 0)
        t = quantize8(clean)
        rows.append({"renderer": renderer, "name": name, "float": psnr_y(quantize8(f), t),
                     "quantized": psnr_y(quantize8(qo), t), "q_vs_f": psnr_y(quantize8(qo), quantize8(f))})
    errs = quantization_errors(fg, qg, [p[2] for p in pairs[:: max(1, len(pairs) // 6)]])
    clipped = sorted(((k, v["clipped"]) for k, v in errs.items() if v["clipped"]), key=lambda kv: -kv[1])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("float", "quantized", "q_vs_f")}
    by_r = {}
    for r in rows:
        by_r.setdefault(r["renderer"], []).append(r["float"] - r["quantized"])
    return {"model": model_name, "calibration": calib, "rule": rule, "images": rows, "mean": mean,
            "loss_db": mean["float"] - mean["quantized"], "loss_by_renderer": {k: float(np.mean(v))
                                                                              for k, v in by_r.items()},
            "clipped_layers": clipped[:8], "clipped_total": int(sum(c for _, c in clipped)),
            "output_sqnr_db": errs[qg.outputs[0]]["sqnr_db"], "convert_s": t_convert}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["vlifnet", "esdnet"])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--per", type=int, default=2, help="images per test photo and renderer")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    pairs = held_out(args.size, args.per)
    results = []
    for m in args.models:
        for label, calib, rule in CONFIGS:
            r = evaluate(m, pairs, calib, rule)
            r["config"] = label
            results.append(r)
            print(m, label, f"loss {r['loss_db']:+.3f} dB, q vs f {r['mean']['q_vs_f']:.2f} dB, "
                  f"clipped {r['clipped_total']}", flush=True)
    renderers = list(results[0]["loss_by_renderer"])
    table = ["## Quantized vs float on held-out images (`bench/quantization.py`)", "",
             f"{len(pairs)} images of {args.size}x{args.size}: the test photos (never used for training or "
             "calibration) drawn by each renderer of the mix and by `stress`, a renderer used nowhere else. "
             "Loss = mean Y-PSNR(float) - mean Y-PSNR(quantized), against the clean images; q vs f = Y-PSNR of "
             "the quantized output against the float output; clipped = clipped values over a sixth of the set.",
             "", "| model | calibration, range rule | float | quantized | loss | q vs f | clipped | "
             + " | ".join(f"loss {r}" for r in renderers) + " |",
             "|---|---|---|---|---|---|---|" + "---|" * len(renderers)]
    for r in results:
        m = r["mean"]
        table.append(f"| {r['model']} | {r['config']} | {m['float']:.2f} dB | {m['quantized']:.2f} dB | "
                     f"{r['loss_db']:+.3f} dB | {m['q_vs_f']:.1f} dB | {r['clipped_total']} | "
                     + " | ".join(f"{r['loss_by_renderer'][k]:+.2f}" for k in renderers) + " |")
    table += ["", machine_line(machine())]
    write_results("quantization", {"results": results}, "\n".join(table), doc=DOC.parent / "quantization.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
