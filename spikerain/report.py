"""The demo's single self-contained HTML page: images inlined as base64, tables from the report dict, no network.

A small inline script marks the body with how many images decoded (``data-images-ok``) and how many tables the
page holds, which the headless-Chromium test reads.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from spikerain.atomic import write_text
from spikerain.hardware.realisation import programs_text

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.6em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em} td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#176d2c;font-weight:bold} .bad{color:#a11;font-weight:bold} .muted{color:#777}
img{max-width:100%;border:1px solid #ddd} figure{margin:1em 0} figcaption{color:#555;font-size:.9em}
.headline{background:#f6f8fa;border-left:4px solid #4c72b0;padding:.6em 1em}
"""

_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-images-ok', ok);
  document.body.setAttribute('data-tables', document.getElementsByTagName('table').length);
});
</script>"""


def _img(path: Path, alt: str) -> str:
    if not path.exists():
        return f"<p class='muted'>({html.escape(path.name)} was not produced)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>' \
           f"{html.escape(alt)}</figcaption></figure>"


def _cell(c) -> str:
    if isinstance(c, float):
        return f"<td class='num'>{c:,.4g}</td>"
    if isinstance(c, int):
        return f"<td class='num'>{c:,}</td>"
    return f"<td>{html.escape(str(c))}</td>"


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _step(report: dict, name: str) -> dict | None:
    return next((s for s in report["steps"] if s["name"] == name), None)


def _quality(report: dict) -> str:
    derain, sim = _step(report, "derain"), _step(report, "simulate")
    if not derain or "metrics" not in derain:
        return "<p class='muted'>No clean original given: quality is not scored.</p>"
    rows = [["rainy input", derain["metrics"]["input"]], ["derained (float)", derain["metrics"]["output"]]]
    if sim and "metrics" in sim:
        rows.append(["derained (quantized, fast simulator)", sim["metrics"]])
    return _table(["", "Y-PSNR (dB)", "Y-SSIM", "RGB PSNR (dB)", "RGB SSIM"],
                  [[k, round(m["psnr_y"], 2), round(m["ssim_y"], 4), round(m["psnr_rgb"], 2), round(m["ssim_rgb"], 4)]
                   for k, m in rows])


def _quantization(report: dict) -> str:
    conv = _step(report, "convert")
    if not conv:
        return ""
    q = conv["summary"]
    parts = [_table(["nodes", "on the host", "output SQNR (dB)", "clipped", "wrapped", "saturated", "seconds"],
                    [[q["nodes"], q["host_nodes"], round(q["output_sqnr_db"], 1), q["clipped"], q["wrapped"],
                      q["saturated"], round(conv["seconds"], 1)]])]
    if conv.get("worst_layers"):
        parts.append("<p>Layers with the lowest signal-to-quantization-noise ratio:</p>" + _table(
            ["layer", "SQNR (dB)", "clipped", "wrapped", "saturated"],
            [[w["layer"], round(w["sqnr_db"], 1), w["clipped"], w["wrapped"], w["saturated"]]
             for w in conv["worst_layers"]]))
    ops = conv.get("ops", {})
    if ops:
        parts.append(_table(["IR op", "nodes"], [[k, v] for k, v in sorted(ops.items(), key=lambda kv: -kv[1])]))
    return "".join(parts)


def _lava(report: dict) -> str:
    sim, ver = _step(report, "simulate"), _step(report, "verify in Lava")
    parts = []
    if sim:
        parts.append(f"<p>Whole image: backend <b>{html.escape(sim['backend'])}</b> "
                     f"({html.escape(sim['backend_reason'])}).</p>")
    if ver and ver.get("result"):
        r = ver["result"]
        verdict = "<span class='ok'>bit-exact</span>" if r["bit_exact"] else "<span class='bad'>MISMATCH</span>"
        parts.append(f"<p>Lava CPU simulator on a {r['size'][0]}x{r['size'][1]} crop: {verdict} against the fast "
                     f"simulator ({html.escape(ver['backend_reason'])}).</p>")
        s = r["lava_seconds"]
        parts.append(_table(
            ["crop", "processes", "steps", "compile (s)", "run (s)", "read-back (s)", "output values", "mismatches",
             "layers compared", "layer mismatches", "energy counts equal"],
            [[f"{r['size'][0]}x{r['size'][1]}", r["lava_processes"], r["lava_steps"], round(s["compile"], 1),
              round(s["run"], 1), round(s["readback"], 2), r["output_values"], r["output_mismatches"],
              r["layers_compared"], len(r["layer_mismatches"]), str(r.get("energy_equal"))]]))
        kinds = r["schedule"]["kinds"]
        parts.append(_table(["Lava process kind", "count"], [[k, v] for k, v in kinds.items()]))
        if r.get("realisation"):
            parts.append(_realisation(r["realisation"]))
    elif ver:
        parts.append(f"<p class='muted'>Lava: {html.escape(ver['status'])}: {html.escape(ver.get('what', ''))}</p>")
    return "".join(parts)


def _mapping(report: dict) -> str:
    m = report.get("mapping") or {}
    if not m:
        step = _step(report, "map")
        return f"<p class='muted'>{html.escape(step.get('what', '') if step else 'not run')}</p>"
    parts = [_table(["target", "image (padded)", "cores", "chips", "host share of ops", "timestep latency (us)",
                     "steps per image", "image latency (ms)"],
                    [[m["target"], f"{m['padded_size'][1]}x{m['padded_size'][0]}", m["cores"], m["chips"],
                      f"{m['host_op_share']:.1%}", round(m["timestep_latency_us"], 2), m["steps_per_image"],
                      round(m["image_latency_ms"], 2)]])]
    if m.get("realisation"):
        parts.append(_realisation(m["realisation"]))
    parts.append("<p>Layers taking the most cores:</p>" + _table(
        ["layer", "op", "cores", "neurons", "axons in", "axons out", "synapse KiB", "utilisation"],
        [[x["layer"], x["op"], x["cores"], x["neurons"], x["axons_in"], x["axons_out"], round(x["synapse_kib"], 1),
          f"{x['utilisation']:.0%}"] for x in m["largest_layers"]]))
    return "".join(parts)


def _realisation(c: dict) -> str:
    """The one stock / custom / host classification of the Lava processes (hardware/realisation.py)."""
    p, n, oc = c["processes"], c["nodes"], c["on_chip_nodes"]
    return ("<p>Lava processes by what a chip would run (stock lava-nc processes, spikerain custom on-chip "
            f"processes, host processes); misplaced nodes: <b>{c['misplaced_nodes']}</b>.</p>"
            + _table(["class", "processes", "IR nodes held", "on-chip IR nodes held"],
                     [[k, p[k], n[k], oc.get(k, 0)] for k in ("stock", "custom", "host")])
            + (f"<p>Custom processes, one per neuron program a chip would need (IR nodes each): {progs}.</p>"
               if (progs := programs_text(c)) else ""))


def _energy(report: dict, folder: Path) -> str:
    e = report.get("energy") or {}
    if not e:
        return "<p class='muted'>not run</p>"
    a, b = e["network"], e["baseline"]
    rows = []
    for m in e["models"]:
        ea, eb, r = e["energy_pj"][a][m], e["energy_pj"][b][m], e["ratio"][m]
        if r is None:
            rows.append([m, "-", "-", "-", "not available"])
            continue
        rows.append([m, f"{ea / 1e6:,.0f}", f"{eb / 1e6:,.0f}", f"{r:.1%}",
                     "holds" if e["verdict"][m]["holds"] else "fails"])
    parts = [_table(["energy model", f"{a} (uJ/image)", f"{b} (uJ/image)", "ratio", "13% claim"], rows)]
    qa, qb = e["quality"][a]["psnr_y"], e["quality"][b]["psnr_y"]
    if qa is not None:
        parts.append(f"<p>Quality on the same run (quantized networks): Y-PSNR {qa:.2f} dB ({html.escape(a)}) and "
                     f"{qb:.2f} dB ({html.escape(b)}).</p>")
    sa, sb = e["shares"][a], e["shares"][b]
    parts.append(_table(["network", "binary-input share of dense synaptic work", "analog-input share",
                         "exact synaptic ops", "dense MACs", "mean firing rate"],
                        [[n, f"{s['binary_input_dense_share']:.1%}", f"{s['analog_input_dense_share']:.1%}",
                          int(s["exact_sops"]), int(s["dense_macs"]),
                          round(_avg(list(e["firing_rates"][n].values())), 3)] for n, s in ((a, sa), (b, sb))]))
    parts.append(_table(["energy model", "definition"], [[m, t] for m, t in e["models"].items()]))
    parts.append(_explain(e))
    parts.append(_img(folder / "energy_ratio.png", "energy ratio under each model, against the claimed 13%"))
    parts.append(_img(folder / "energy_layers.png", "energy per network block under three models"))
    parts.append(_img(folder / "firing_rates.png", "per-layer firing rates of both networks on the same image"))
    parts.append(_table(["constant", "value", "source"],
                        [[k, v["value"], v["source"]] for k, v in e["constants"].items()]))
    return "".join(parts)


def _explain(e: dict) -> str:
    """The decomposition from spikerain's exact count to the authors' accounting (pipeline/explain.py)."""
    x = e.get("explain")
    if not x:
        return ""
    a, b = e["network"], e["baseline"]
    crop = x.get("crop")
    where = (f" Rows after the first: the authors' configurations on a {crop[0]}x{crop[1]} centre crop of the "
             "input (the demo keeps its time; `spikerain energy --explain` runs whole images)." if crop else "")
    nets = "; ".join(f"{n}: dim {v['config'].get('dim')}, weights {v['weights']}"
                     for n, v in x["authors_networks"].items())
    rows = [[r["factor"], r["change"], f"{r['ratio']:.1%}", f"{r['factor_x']:.3g}" if r["factor_x"] else ""]
            for r in x["rows"]]
    return (f"<h3>Where 13% comes from: one factor at a time</h3><p>The authors' energy step: "
            f"{html.escape(x['authors_source'])}. Their networks here: {html.escape(nets)}.{html.escape(where)}</p>"
            + _table(["step", "change", f"{a} / {b}", "x previous"], rows)
            + f"<p class='headline'>{html.escape(x['statement'])}</p>")


def _avg(v):
    return sum(v) / len(v) if v else 0.0


def _headline(report: dict) -> str:
    e = report.get("energy") or {}
    held = [m for m, v in e.get("verdict", {}).items() if v["holds"]]
    failed = [m for m, v in e.get("verdict", {}).items() if v["holds"] is False]
    ver = _step(report, "verify in Lava")
    lava = ("the Lava process graph matched the fast simulator bit for bit" if ver and ver["status"] == "ok"
            else f"Lava check: {ver['status'] if ver else 'not run'}")
    claim = (f"The 13% energy claim holds under {', '.join(held) or 'no energy model'} and fails under "
             f"{', '.join(failed) or 'none'}." if e else "")
    return f"<p class='headline'>{html.escape(lava[0].upper() + lava[1:])}. {html.escape(claim)}</p>"


def write_html_report(path: str | Path, report: dict, folder: str | Path) -> None:
    folder = Path(folder)
    parts = [f"<h1>spikerain demo</h1><p>Input <code>{html.escape(report['input'])}</code>, "
             f"{report['size'][1]}x{report['size'][0]} px, model {html.escape(report.get('model', ''))}, total "
             f"{report['seconds']:.1f} s.</p>", _headline(report)]
    parts.append("<h2>Steps</h2>" + _table(
        ["step", "status", "seconds", "details"],
        [[s["name"], s["status"], s.get("seconds", ""), s.get("what", "")] for s in report["steps"]]))
    parts.append(_img(folder / "side_by_side.png", "rainy input | derained (float) | clean original"))
    parts.append("<h2>Quality</h2>" + _quality(report))
    parts.append("<h2>Quantization</h2>" + _quantization(report))
    parts.append("<h2>Deployment: fast simulator and Lava</h2>" + _lava(report))
    parts.append("<h2>Loihi 2 mapping</h2>" + _mapping(report))
    parts.append("<h2>Energy and the 13% claim</h2>" + _energy(report, folder))
    prov = report.get("provenance", {})
    parts.append("<h2>Provenance</h2>" + _table(["item", "value"], [[k, v] for k, v in prov.items()]))
    doc = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>spikerain demo</title>"
           f"<style>{_CSS}</style></head><body>{''.join(parts)}{_CHECK}</body></html>\n")
    write_text(path, doc)
