"""The main job end to end on a small input, in a temporary directory."""

import json
import subprocess
import sys

import numpy as np

from spikerain.converter.artifact import load_artifact
from spikerain.imageio import read_image, write_image
from spikerain.models.rain import PRESETS, render_rain


def test_demo_writes_every_artefact(tmp_path):
    rng = np.random.default_rng(0)
    clean = np.clip(rng.random((40, 48, 3)) * 0.2 + 0.4, 0, 1).astype(np.float32)
    write_image(tmp_path / "clean.png", clean)
    write_image(tmp_path / "rainy.png", render_rain(clean, PRESETS["heavy"], rng))
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "spikerain", "demo", "--input", str(tmp_path / "rainy.png"),
                        "--target", str(tmp_path / "clean.png"), "--model", "esdnet", "--out", str(out), "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert json.loads((out / "report.json").read_text())["steps"] == report["steps"]
    names = [s["name"] for s in report["steps"]]
    assert names[:3] == ["derain", "convert", "fast simulator"]
    assert all(s["status"] == "ok" for s in report["steps"][:3])
    assert all(s["status"] == "not available yet" for s in report["steps"][3:])
    assert read_image(out / "derained.png").shape == (40, 48, 3)
    assert read_image(out / "quantized.png").shape == (40, 48, 3)
    assert read_image(out / "side_by_side.png").shape[1] == 3 * 48 + 2 * 4
    g = load_artifact(out / "model.h5")
    assert g.meta["model"]["model"] == "esdnet"
    page = (out / "report.html").read_text()
    assert page.count("<img") == 1 and page.count("<table>") >= 4 and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page
    assert {p.name for p in out.iterdir()} == {"derained.png", "quantized.png", "side_by_side.png", "model.h5",
                                               "report.json", "report.html"}
