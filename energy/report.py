"""The energy report's pictures (PNG) and Markdown summary, written atomically into a folder."""

from __future__ import annotations

from pathlib import Path

from spikerain.atomic import atomic_path

BREAKDOWN_MODELS = ("paper-45nm", "neurobench", "loihi1-event")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    _plt().close(fig)


def block_of(layer: str, depth: int = 1) -> str:
    """The network block a layer belongs to: its first ``depth`` dotted name parts (``encoder_level1``)."""
    return ".".join(layer.split(".")[:depth])


def plot_layers(report: dict, path: Path, top: int = 14) -> None:
    """Energy per network block of both networks under three models (the largest blocks, the rest summed)."""
    plt = _plt()
    nets = [report["network"], report["baseline"]]
    models = [m for m in BREAKDOWN_MODELS if m in report["models"]]
    fig, axes = plt.subplots(len(nets), len(models), figsize=(5.2 * len(models), 3.6 * len(nets)), squeeze=False)
    for i, n in enumerate(nets):
        for j, m in enumerate(models):
            ax = axes[i][j]
            blocks: dict[str, float] = {}
            for k, v in (report["layers"][n].get(m) or {}).items():
                blocks[block_of(k)] = blocks.get(block_of(k), 0.0) + (v or 0.0)
            items = sorted(blocks.items(), key=lambda kv: -kv[1])
            shown, rest = items[:top], sum(v for _, v in items[top:])
            labels = [k for k, _ in shown] + (["(other blocks)"] if rest else [])
            vals = [v / 1e9 for _, v in shown] + ([rest / 1e9] if rest else [])
            ax.barh(range(len(vals))[::-1], vals, color="#4c72b0" if i == 0 else "#dd8452")
            ax.set_yticks(range(len(vals))[::-1], labels, fontsize=7)
            ax.set_xlabel("energy per image (mJ)", fontsize=8)
            ax.set_title(f"{n} - {m}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_firing(report: dict, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.4))
    for n, color in ((report["network"], "#4c72b0"), (report["baseline"], "#dd8452")):
        rates = list(report["firing_rates"][n].values())
        ax.plot(range(len(rates)), rates, "o-", ms=3, lw=1, color=color, label=f"{n} (mean {_avg(rates):.3f})")
    ax.set_xlabel("neuron layer (network order)")
    ax.set_ylabel("firing rate (non-zero outputs / updates)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Per-layer firing rates on the same images")
    _save(fig, path)


def plot_ratio(report: dict, path: Path) -> None:
    plt = _plt()
    items = [(m, r) for m, r in report["ratio"].items() if r is not None]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    claim, tol = report["claim"]["ratio"], report["claim"]["tolerance"]
    ax.axhspan(0, claim + tol, color="#55a868", alpha=0.12, label=f"claim holds (<= {claim + tol:.0%})")
    ax.axhline(claim, color="#55a868", lw=1.5, ls="--", label=f"claimed {claim:.0%}")
    ax.bar([m for m, _ in items], [r for _, r in items],
           color=["#55a868" if r <= claim + tol else "#c44e52" for _, r in items])
    for k, (_, r) in enumerate(items):
        ax.text(k, r, f"{r:.0%}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(f"{report['network']} / {report['baseline']} energy")
    ax.set_title("Energy ratio per image under each energy model")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7)
    _save(fig, path)


def _avg(v):
    return sum(v) / len(v) if v else 0.0


def markdown(report: dict) -> str:
    a, b = report["network"], report["baseline"]
    lines = [f"# Energy: {a} against {b}", "",
             f"Source of activity: `{report['source']}`; {len(report['images'])} image(s); claim: {a} uses about "
             f"{report['claim']['ratio']:.0%} of {b}'s energy ({report['claim']['source']}). The claim is taken to "
             f"hold when the measured ratio is at most {report['claim']['ratio'] + report['claim']['tolerance']:.0%}.",
             "", _provenance(report),
             "", f"| energy model | {a} (uJ/image) | {b} (uJ/image) | ratio | verdict |", "|---|---|---|---|---|"]
    for m in report["models"]:
        ea, eb, r = report["energy_pj"][a][m], report["energy_pj"][b][m], report["ratio"][m]
        if r is None:
            lines.append(f"| {m} | - | - | - | not available |")
            continue
        lines.append(f"| {m} | {ea / 1e6:,.1f} | {eb / 1e6:,.1f} | {r:.1%} | "
                     f"{'holds' if report['verdict'][m]['holds'] else 'fails'} |")
    qa, qb = report["quality"][a]["psnr_y"], report["quality"][b]["psnr_y"]
    if qa is not None:
        lines += ["", f"Quality on the same run: Y-PSNR {qa:.2f} dB ({a}) and {qb:.2f} dB ({b})."]
    sa, sb = report["shares"][a], report["shares"][b]
    held = [m for m, v in report["verdict"].items() if v["holds"]]
    failed = [m for m, v in report["verdict"].items() if v["holds"] is False]
    lines += ["", "## Why", "",
              f"- {a}: {sa['binary_input_dense_share']:.1%} of its dense synaptic work has binary (spike) input and "
              f"can be accumulate-only; {1 - sa['binary_input_dense_share']:.1%} has graded or analog input. "
              f"{b}: {sb['binary_input_dense_share']:.1%} binary, {1 - sb['binary_input_dense_share']:.1%} graded.",
              f"- Mean firing rates: {a} {_avg(list(report['firing_rates'][a].values())):.3f}, "
              f"{b} {_avg(list(report['firing_rates'][b].values())):.3f}.",
              f"- The claim holds under: {', '.join(held) or 'no model'}; it fails under: "
              f"{', '.join(failed) or 'no model'}.",
              "- Models that charge every graded-input layer as multiply-accumulate (`neurobench`) follow the "
              "binary share above; models that charge everything after the first layer as accumulate-only "
              "(`paper-45nm`, `rolls-77fJ`) follow the synaptic event counts; the Loihi event model adds neuron "
              "updates, spike routing over the core mapping, host operations and static power.", "",
              "Constants and sources: see `report.json` (`constants`) and docs/energy.md."]
    real = {n: v.get("realisation") for n, v in report.get("networks", {}).items() if v.get("realisation")}
    if real:
        from spikerain.hardware.realisation import summary_line

        lines += ["", "## What runs where (the Lava graph's classification; only on-chip nodes cost cores)", ""]
        lines += [f"- {n}: {summary_line(c)}." for n, c in real.items()]
    if report.get("explain"):
        lines += ["", *explain_markdown(report["explain"], a, b)]
    return "\n".join(lines) + "\n"


def _provenance(report: dict) -> str:
    """Image sizes and which weights: a ratio means nothing without them."""
    sizes = sorted({f"{r['size'][0]}x{r['size'][1]}" for r in report["images"]})
    nets = "; ".join(f"{n}: dim {v['config'].get('dim')}, weights {v['checkpoint']}"
                     for n, v in report["networks"].items())
    return f"Image size (H x W): {', '.join(sizes)}. Networks: {nets}."


def explain_markdown(e: dict, a: str, b: str) -> list[str]:
    lines = ["## Where 13 % comes from: one factor at a time", "",
             f"The authors' energy step: {e['authors_source']}. Their networks here: "
             + "; ".join(f"{n}: {v['config'].get('dim')} wide, weights {v['weights']}"
                         for n, v in e["authors_networks"].items()) + ".", "",
             f"| step | change | {a} (uJ) | {b} (uJ) | ratio | x previous |", "|---|---|---|---|---|---|"]
    for r in e["rows"]:
        ea, eb = r["energy_pj"][a], r["energy_pj"][b]
        fx = f"{r['factor_x']:.3g}" if r["factor_x"] else ""
        lines.append(f"| {r['factor']} | {r['change']} | {ea / 1e6:,.2f} | {eb / 1e6:,.2f} | {r['ratio']:.1%} | "
                     f"{fx} |")
    return lines + ["", e["statement"]]


def write_report(report: dict, out_dir: Path) -> dict[str, str]:
    import json

    from spikerain.jsonsafe import finite_json

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "energy.json", "markdown": out_dir / "energy.md",
             "layers_png": out_dir / "energy_layers.png", "firing_png": out_dir / "firing_rates.png",
             "ratio_png": out_dir / "energy_ratio.png"}
    with atomic_path(files["json"], suffix=".tmp") as tmp:
        Path(tmp).write_text(json.dumps(finite_json(report), indent=1))
    with atomic_path(files["markdown"], suffix=".tmp") as tmp:
        Path(tmp).write_text(markdown(report))
    plot_layers(report, files["layers_png"])
    plot_firing(report, files["firing_png"])
    plot_ratio(report, files["ratio_png"])
    return {k: str(v) for k, v in files.items()}
