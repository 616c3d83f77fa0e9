"""How much quantization costs on the user's own images, and which layers the loss comes from.

``spikerain convert --eval DIR`` and ``spikerain inspect model.h5 --eval DIR`` run the float and the quantized
graph side by side on centre crops of the images in DIR (needs torch: the fast simulator). Where DIR holds
rainy/clean pairs in a layout ``spikerain eval`` reads, the loss against the clean images is reported too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: centre crops: side (rounded down to the graph's size multiple) and how many images
EVAL_SIZE = 128
EVAL_LIMIT = 8


def eval_images(folder, size: int, multiple: int, limit: int = EVAL_LIMIT):
    """[(name, rainy crop, clean crop or None)] from ``folder``: pairs when its layout has them, else images."""
    from spikerain.errors import DatasetError, ToolchainError
    from spikerain.imageio import IMAGE_SUFFIXES, read_image

    root = Path(folder)
    try:
        from spikerain.models.data import discover, load_pairs

        items = [(n, r, c) for n, r, c in load_pairs(discover(root, "test")[:limit])]
    except (ToolchainError, ValueError, OSError):
        items = []
    if not items:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
        if not files:
            raise DatasetError(f"no images under {root}", fix="pass a folder of PNG/JPEG images")
        items = [(p.stem, read_image(p), None) for p in files]
    out = []
    for name, rainy, clean in items:
        H, W = rainy.shape[:2]
        s = min(size, H, W)
        s -= s % multiple
        if s < multiple:
            continue
        y, x = (H - s) // 2, (W - s) // 2
        out.append((name, rainy[y:y + s, x:x + s], None if clean is None else clean[y:y + s, x:x + s]))
    if not out:
        raise DatasetError(f"every image under {root} is smaller than {multiple} pixels",
                           fix=f"use images of at least {multiple}x{multiple}")
    return out


def evaluate_quantization(fgraph, qgraph, items, *, worst: int = 10) -> dict:
    """Per-layer errors (accumulated and local SQNR, clipping, saturation) and the output quality of the
    quantized graph against the float one on ``items`` from :func:`eval_images`."""
    from spikerain.hardware.fastsim.compare import quantization_errors
    from spikerain.models.metrics import psnr_y, quantize8

    outs: list = []
    layers = quantization_errors(fgraph, qgraph, [r for _, r, _ in items], local=True, outputs=outs)
    rows = []
    for (name, rainy, clean), (f, qo) in zip(items, outs, strict=True):
        f, qo = f.transpose(1, 2, 0), qo.transpose(1, 2, 0)
        row = {"name": name, "size": list(rainy.shape[:2]), "q_vs_f_db": psnr_y(quantize8(qo), quantize8(f))}
        if clean is not None:
            t = quantize8(clean)
            row.update(float_db=psnr_y(quantize8(f), t), quantized_db=psnr_y(quantize8(qo), t))
        rows.append(row)
    ranked = sorted((v.get("local_sqnr_db", float("inf")), k) for k, v in layers.items())
    summary = {"images": len(rows), "q_vs_f_db": float(np.mean([r["q_vs_f_db"] for r in rows])),
               "clipped": sum(v["clipped"] for v in layers.values()),
               "saturated": sum(v["saturated"] for v in layers.values()),
               "wrapped": sum(v["wrapped"] for v in layers.values()),
               "worst_layers": [{"name": k, "local_sqnr_db": s, **{m: layers[k][m] for m in
                                 ("sqnr_db", "clipped", "saturated", "wrapped")}} for s, k in ranked[:worst]],
               "clipping_layers": sorted((k for k, v in layers.items() if v["clipped"]),
                                         key=lambda k: -layers[k]["clipped"])[:worst]}
    if all("float_db" in r for r in rows):
        summary["loss_db"] = float(np.mean([r["float_db"] - r["quantized_db"] for r in rows]))
    return {"summary": summary, "images": rows, "layers": layers}


def format_evaluation(ev: dict) -> str:
    s = ev["summary"]
    lines = [f"evaluation on {s['images']} image(s): quantized vs float Y-PSNR {s['q_vs_f_db']:.2f} dB"
             + (f", loss against the clean images {s['loss_db']:+.3f} dB" if "loss_db" in s else "")
             + f"; clipped {s['clipped']}, saturated {s['saturated']}, wrapped {s['wrapped']}",
             "layers adding the most error (local SQNR: the layer's own error; SQNR: accumulated):"]
    for w in s["worst_layers"]:
        lines.append(f"  {w['name']:<48} local {w['local_sqnr_db']:6.1f} dB  SQNR {w['sqnr_db']:6.1f} dB"
                     + (f"  clipped {w['clipped']}" if w["clipped"] else ""))
    if s["clipping_layers"]:
        lines.append("clipping: " + ", ".join(s["clipping_layers"]))
    return "\n".join(lines)
