"""The main job end to end on a small input, in a temporary directory, and its report in headless Chromium."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from spikerain.converter.artifact import load_artifact
from spikerain.imageio import read_image, write_image
from spikerain.models.rain import PRESETS, render_rain

FILES = {"derained.png", "quantized.png", "side_by_side.png", "model.h5", "report.json", "report.html",
         "energy.json", "energy.md", "energy_layers.png", "firing_rates.png", "energy_ratio.png"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    rng = np.random.default_rng(0)
    clean = np.clip(rng.random((40, 48, 3)) * 0.2 + 0.4, 0, 1).astype(np.float32)
    write_image(tmp / "clean.png", clean)
    write_image(tmp / "rainy.png", render_rain(clean, PRESETS["heavy"], rng))
    out = tmp / "out"
    r = subprocess.run([sys.executable, "-m", "spikerain", "demo", "--input", str(tmp / "rainy.png"),
                        "--target", str(tmp / "clean.png"), "--model", "esdnet", "--out", str(out), "--json"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, json.loads(r.stdout)


def test_demo_writes_every_artefact(demo):
    out, report = demo
    assert {p.name for p in out.iterdir()} == FILES
    assert json.loads((out / "report.json").read_text())["steps"] == report["steps"]
    steps = {s["name"]: s for s in report["steps"]}
    assert list(steps) == ["derain", "convert", "simulate", "verify in Lava", "map", "energy"]
    assert all(s["status"] == "ok" for s in steps.values()), steps
    lava = steps["verify in Lava"]["result"]
    # every node of the artifact is compared (their number follows the calibration: rescales are inserted)
    n_nodes = len(load_artifact(out / "model.h5").nodes)
    assert lava["bit_exact"] and lava["size"] == [16, 16] and lava["layers_compared"] == n_nodes
    assert steps["derain"]["metrics"]["output"]["psnr_y"] > 0
    assert read_image(out / "derained.png").shape == (40, 48, 3)
    assert read_image(out / "quantized.png").shape == (40, 48, 3)
    assert read_image(out / "side_by_side.png").shape[1] == 3 * 48 + 2 * 4
    assert load_artifact(out / "model.h5").meta["model"]["model"] == "esdnet"
    m = report["mapping"]
    assert m["cores"] > 0 and m["chips"] >= 1 and 0 < m["host_op_share"] < 1 and m["steps_per_image"] > 4
    # one stock / custom / host classification, in the Lava check, the mapping, the page and the energy report
    assert lava["realisation"]["misplaced_nodes"] == m["realisation"]["misplaced_nodes"] == 0
    assert lava["realisation"]["on_chip_nodes"] == m["realisation"]["on_chip_nodes"]
    assert "misplaced nodes: <b>0</b>" in (out / "report.html").read_text()
    assert "0 misplaced" in (out / "energy.md").read_text()
    e = report["energy"]
    assert set(e["energy_pj"]) == {"vlifnet", "esdnet"} and len(e["ratio"]) == 7
    x = e["explain"]  # the decomposition towards the authors' accounting, on the whole 40x48 input
    assert [r["factor"] for r in x["rows"]] == ["start", "width", "counting", "sparsity", "energy constants"]
    assert x["crop"] == [40, 48] and x["rows"][0]["ratio"] == pytest.approx(e["ratio"]["paper-45nm"])
    assert 0.10 < x["rows"][-1]["ratio"] < 0.16  # what thop sees of VLIF-Net dim 24 against ESDNet dim 48
    assert "Where 13% comes from" in (out / "report.html").read_text()
    assert all(v > 0 for n in e["energy_pj"].values() for v in n.values())
    for f in ("energy_layers.png", "firing_rates.png", "energy_ratio.png"):
        assert Image.open(out / f).size[0] > 300
    page = (out / "report.html").read_text()
    assert page.count("<img") == 4 and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("SPIKERAIN_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (make .chromium installs Debian's chromium)")
        pytest.skip("chromium is not installed; `make .chromium` installs it")
    return path


# Started with the flags that keep Chromium off the network (this machine's network is closed).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]


def test_report_renders_in_headless_chromium(demo, tmp_path):
    out, _ = demo
    browser = _chromium()
    url = (out / "report.html").as_uri()
    dom = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'p1'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's load handler counts decoded images and tables onto <body>
    assert 'data-images="4"' in dom.stdout and 'data-images-ok="4"' in dom.stdout, dom.stdout[:500]
    tables = int(dom.stdout.split('data-tables="')[1].split('"')[0])
    assert tables >= 10
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console  # the page logs nothing, so any console message is an error
    shot = tmp_path / "shot.png"
    r = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'p2'}", "--window-size=1280,2400",
                        f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), np.float32)
    assert pixels.shape == (2400, 1280) and pixels.std() > 20  # not a blank page
    assert (pixels < 128).mean() > 0.02  # text, tables and pictures drew dark pixels
