"""Scale-out on Ray (spikerain/scaleout.py): `--workers 2` gives the same bytes as the in-process run, survives a
worker killed mid-run, and names a corrupt image while the other images' outputs are written.

One local Ray instance (2 CPUs) serves the whole module: the CLI reuses a Ray session that is already running in
the process, so each test pays for its tasks, not for Ray's start-up. Images are tiny; the artifact is the shipped
dim-16 VLIF-Net checkpoint, converted once.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import ray  # the scaleout extra, which `make .venv` installs

from spikerain.cli import main
from spikerain.imageio import write_image


@pytest.fixture(scope="module")
def ray_session():
    from spikerain.scaleout import start_local

    temp_dir = start_local(2)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from spikerain.converter.artifact import save_artifact
    from spikerain.models.checkpoint import load_default_or
    from spikerain.pipeline.convert import convert_model, default_calibration_images

    _, q, _ = convert_model(load_default_or(None, "vlifnet"), calib_images=default_calibration_images(16, 2),
                            report_images=1)
    path = tmp_path_factory.mktemp("art") / "vlif16.h5"
    save_artifact(path, q)
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    for i, (h, w) in enumerate([(16, 24), (20, 16), (16, 16), (24, 16)]):
        write_image(d / f"im{i}.png", np.random.default_rng(i).random((h, w, 3)))
    return d


def simulate(capsys, *args) -> tuple[int, dict | None, str]:
    rc = main(["simulate", *map(str, args), "--backend", "fast", "--json", "-q"])
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out) if rc == 0 else None), cap.err


def without_timings(result: dict, out_dir) -> str:
    """The JSON with the timing left out and the output folder's name replaced, for comparing two runs."""
    result = {k: v for k, v in result.items() if k != "seconds"}
    return json.dumps(result, sort_keys=True).replace(str(out_dir), "OUT")


@pytest.fixture(scope="module")
def in_process(artifact, folder, tmp_path_factory):
    """The reference: the folder simulated in this process, without Ray (its outputs folder and JSON)."""
    out = tmp_path_factory.mktemp("ref")
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        rc = main(["simulate", artifact, "--input", str(folder), "-o", str(out), "--backend", "fast", "--json", "-q"])
    assert rc == 0
    return out, json.loads(stdout.getvalue())


def test_workers_give_the_same_bytes_and_json(ray_session, artifact, folder, in_process, tmp_path, capsys):
    ref_dir, ref = in_process
    rc, res, err = simulate(capsys, artifact, "--input", folder, "-o", tmp_path / "w2", "--workers", "2")
    assert rc == 0, err
    assert [r["name"] for r in res["images"]] == ["im0.png", "im1.png", "im2.png", "im3.png"]
    assert without_timings(res, tmp_path / "w2") == without_timings(ref, ref_dir)
    for r in res["images"]:
        name = Path(r["output"]).name
        assert (tmp_path / "w2" / name).read_bytes() == (ref_dir / name).read_bytes()
    assert sum(r["events"]["clipped"] for r in res["images"]) == res["events"]["clipped"] > 0


def test_tiles_merge_in_place_with_any_worker_count(ray_session, artifact, tmp_path, capsys):
    """A 16x32 image as two 16x16 tiles without overlap: each tile of the merged output is the simulator's output for
    that tile alone (computed here directly), and two workers give the same bytes as one process."""
    from spikerain.converter.artifact import load_artifact
    from spikerain.hardware.fastsim.simulate import dequantized_output
    from spikerain.hardware.fastsim.simulate import simulate as fastsim
    from spikerain.imageio import read_image, to_uint8

    img = np.random.default_rng(7).random((16, 32, 3))
    write_image(tmp_path / "big.png", img)
    img = read_image(tmp_path / "big.png")
    rc, one, _ = simulate(capsys, artifact, "--input", tmp_path / "big.png", "-o", tmp_path / "a.png", "--tile", 16,
                          "--overlap", 0)
    assert rc == 0 and one["tiles"] == 2
    rc, two, err = simulate(capsys, artifact, "--input", tmp_path / "big.png", "-o", tmp_path / "b.png", "--tile",
                            16, "--overlap", 0, "--workers", 2)
    assert rc == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert one["events"] == two["events"]
    g = load_artifact(artifact)
    merged = read_image(tmp_path / "a.png")
    y, x = 0, 16  # the right tile, simulated on its own
    alone = dequantized_output(g, fastsim(g, img[y:y + 16, x:x + 16].transpose(2, 0, 1)[None].copy()))[0]
    assert np.array_equal(to_uint8(merged[y:y + 16, x:x + 16]), to_uint8(alone.transpose(1, 2, 0)))


def _kill_first_worker_running(prefix: bytes, found: list, stop: threading.Event) -> None:
    """SIGKILL the first Ray worker whose process title says it is running a spikerain task."""
    while not stop.is_set():
        for cmd in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if cmd.read_bytes().startswith(prefix):
                    pid = int(cmd.parent.name)
                    os.kill(pid, signal.SIGKILL)
                    found.append(pid)
                    return
            except (OSError, ValueError):
                continue
        time.sleep(0.01)


def test_a_killed_worker_is_retried_and_the_result_is_complete(ray_session, artifact, folder, in_process, tmp_path,
                                                               capsys):
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_worker_running, args=(b"ray::spikerain:simulate_unit", killed, stop))
    killer.start()
    try:
        rc, res, err = simulate(capsys, artifact, "--input", folder, "-o", tmp_path / "k", "--workers", 2)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was found running a task"
    assert rc == 0, err
    assert len(res["images"]) == 4
    for name in ("im0.png", "im1.png", "im2.png", "im3.png"):
        assert (tmp_path / "k" / name).read_bytes() == (in_process[0] / name).read_bytes()


def test_a_corrupt_image_is_named_and_the_others_are_written(ray_session, artifact, folder, in_process, tmp_path,
                                                            capsys):
    d = tmp_path / "in"
    d.mkdir()
    for name in ("im0.png", "im2.png"):
        shutil.copy(folder / name, d / name)
    (d / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    rc, res, err = simulate(capsys, artifact, "--input", d, "-o", tmp_path / "o", "--workers", 2)
    assert rc == 3 and res is None  # no summary for a partial run
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "im1.png" in lines[0] and "cannot read image" in lines[0], err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["im0.png", "im2.png"]  # no temporary files left
    for name in ("im0.png", "im2.png"):
        assert (tmp_path / "o" / name).read_bytes() == (in_process[0] / name).read_bytes()


def test_eval_with_workers_gives_identical_metrics(ray_session, tmp_path, capsys):
    for side in ("input", "target"):
        (tmp_path / "data" / side).mkdir(parents=True)
    for i, name in enumerate(("im0.png", "im2.png")):  # 32x32: large enough for SSIM's window after the crop
        write_image(tmp_path / "data" / "input" / name, np.random.default_rng(40 + i).random((32, 32, 3)))
        write_image(tmp_path / "data" / "target" / name, np.random.default_rng(50 + i).random((32, 32, 3)))
    results = []
    for extra in ([], ["--workers", "2"]):
        assert main(["eval", "--data", str(tmp_path / "data"), "--json", "-q", *extra]) == 0
        results.append(capsys.readouterr().out)
    assert results[0] == results[1]
    res = json.loads(results[0])
    assert [r["name"] for r in res["images"]] == ["im0", "im2"] and res["model"]["dim"] == 16
    assert all(np.isfinite(r[side][k]) for r in res["images"] for side in ("input", "output") for k in r[side])
    assert res["mean"]["output"]["psnr_y"] == pytest.approx(np.mean([r["output"]["psnr_y"] for r in res["images"]]))


def test_workers_and_cluster_exclude_each_other(artifact, folder, tmp_path, capsys):
    rc, _, err = simulate(capsys, artifact, "--input", folder, "-o", tmp_path, "--workers", 2, "--cluster", "auto")
    assert rc == 2 and "exclude each other" in err
