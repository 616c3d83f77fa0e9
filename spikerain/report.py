"""A single self-contained HTML report: images inlined as base64, tables from the report dict, no network."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from spikerain.atomic import write_text

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em} table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3} .ok{color:#176d2c;font-weight:bold} .pending{color:#8a6d00}
img{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>' \
           f"{html.escape(alt)}</figcaption></figure>"


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html_report(path: str | Path, report: dict, folder: str | Path) -> None:
    folder = Path(folder)
    parts = [f"<h1>spikerain demo</h1><p>Input <code>{html.escape(report['input'])}</code>, "
             f"{report['size'][1]}x{report['size'][0]} px, total {report['seconds']:.1f} s.</p>"]
    parts.append("<h2>Steps</h2>" + _table(
        ["step", "status", "details"],
        [[s["name"], s["status"], s.get("what", f"{s.get('seconds', '')} s")] for s in report["steps"]]))
    parts.append(_img(folder / "side_by_side.png", "rainy input | derained | clean original"))
    derain = next(s for s in report["steps"] if s["name"] == "derain")
    if "metrics" in derain:
        mi, mo = derain["metrics"]["input"], derain["metrics"]["output"]
        parts.append("<h2>Quality</h2>" + _table(
            ["", "Y-PSNR (dB)", "Y-SSIM", "RGB PSNR (dB)", "RGB SSIM"],
            [[k, f"{m['psnr_y']:.2f}", f"{m['ssim_y']:.4f}", f"{m['psnr_rgb']:.2f}", f"{m['ssim_rgb']:.4f}"]
             for k, m in (("rainy input", mi), ("derained", mo))]))
    conv = next((s for s in report["steps"] if s["name"] == "convert"), None)
    if conv:
        q = conv["summary"]
        parts.append("<h2>Quantization</h2>" + _table(
            ["nodes", "on the host", "output SQNR (dB)", "clipped", "wrapped", "saturated"],
            [[q["nodes"], q["host_nodes"], f"{q['output_sqnr_db']:.1f}", q["clipped"], q["wrapped"], q["saturated"]]]))
    sim = next((s for s in report["steps"] if s["name"] == "fast simulator"), None)
    if sim and "metrics" in sim:
        parts.append(f"<p>Quantized model in the fast simulator ({html.escape(sim['backend_reason'])}): "
                     f"Y-PSNR {sim['metrics']['psnr_y']:.2f} dB.</p>")
    prov = report.get("provenance", {})
    parts.append("<h2>Provenance</h2>" + _table(["item", "value"], [[k, v] for k, v in prov.items()]))
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>spikerain demo</title>"
           f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    write_text(path, doc)
