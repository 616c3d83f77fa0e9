import json
import subprocess
import sys

import pytest
import torch

from spikerain.cli import COMMANDS, main
from spikerain.imageio import read_image
from spikerain.models import VLIFNet


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "spikerain", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_with_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and "spikerain " in out and "--json" in out


def test_usage_error_exit_code_2():
    r = run_cli("derain", "--model", "nonsense")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_doctor_json_reports_both_interpreters():
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["main"]["torch"].startswith("2.13.0")
    assert report["lava"]["lava_nc"] == "0.10.0"
    assert report["lava"]["version"].startswith("3.10")
    assert report["lava"]["torch"] is False
    assert report["loihi2_hw_available"] is False
    assert any("lava-loihi" in m["what"] for m in report["missing"])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "v16.pth"
    torch.save(VLIFNet(dim=16).state_dict(), path)
    return path


def test_derain_writes_output_and_json(tmp_path, ckpt):
    import numpy as np

    from spikerain.imageio import write_image

    write_image(tmp_path / "in.png", np.random.default_rng(0).random((50, 90, 3)))
    r = run_cli("derain", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--checkpoint", str(ckpt),
                "--target", str(tmp_path / "in.png"), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["tiled"] and res["size"] == [50, 90] and res["model"]["dim"] == 16
    assert res["metrics"]["input"]["psnr_y"] == "inf"  # strict JSON has no Infinity
    assert read_image(tmp_path / "out.png").shape == (50, 90, 3)


def test_derain_bad_input_exit_code_3_and_no_output(tmp_path, ckpt):
    (tmp_path / "bad.png").write_bytes(b"junk")
    r = run_cli("derain", str(tmp_path / "bad.png"), str(tmp_path / "out.png"), "--checkpoint", str(ckpt))
    assert r.returncode == 3
    assert "cannot read image" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_derain_refuses_unsafe_checkpoint(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("x",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump(Evil(), f)
    from spikerain.models.samples import sample_pair

    r = run_cli("derain", str(sample_pair()[0]), str(tmp_path / "o.png"), "--checkpoint", str(tmp_path / "evil.pth"))
    assert r.returncode == 3 and "code execution" in r.stderr


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, ckpt):
    import numpy as np

    from spikerain.imageio import write_image

    d = tmp_path_factory.mktemp("art")
    for i in range(2):
        write_image(d / "calib" / f"c{i}.png", np.random.default_rng(i).random((20, 20, 3)))
    out = d / "model.h5"
    r = run_cli("convert", "--checkpoint", str(ckpt), "--calib", str(d / "calib"), "--calib-size", "16", "-o",
                str(out), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["summary"]["nodes"] > 1000 and res["calibration"]["images"] == 2
    return out


def test_inspect_table_and_json(artifact):
    r = run_cli("inspect", str(artifact), "--limit", "5")
    assert r.returncode == 0 and "q_conv2d" in r.stdout and "quantization: output SQNR" in r.stdout
    r = run_cli("inspect", str(artifact), "--json")
    nodes = json.loads(r.stdout)["nodes"]
    assert nodes[0]["op"] == "q_input" and any(n["placement"] == "host" for n in nodes)


def test_simulate_writes_image_and_activity(tmp_path, artifact):
    from spikerain.hardware.fastsim.activity import read_activity

    r = run_cli("simulate", str(artifact), "-o", str(tmp_path / "s.png"), "--record", str(tmp_path / "a.h5"),
                "--json")
    assert r.returncode == 0, r.stderr
    assert read_image(tmp_path / "s.png").shape == (160, 240, 3)
    act = read_activity(tmp_path / "a.h5")
    lif = next(v for v in act.values() if v["op"] == "q_lif")
    assert len(lif["nonzero_per_step"]) == 4


def test_inspect_rejects_a_non_artifact(tmp_path):
    (tmp_path / "x.h5").write_text("nope")
    r = run_cli("inspect", str(tmp_path / "x.h5"))
    assert r.returncode == 3 and "not an HDF5 file" in r.stderr


def test_map_full_size_in_seconds(artifact):
    import time

    t = time.perf_counter()
    r = run_cli("map", str(artifact), "--target", "loihi2", "--size", "321", "481", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["padded_size"] == [328, 488] and m["cores"] > 0 and m["chips"] >= 1
    assert time.perf_counter() - t < 30


def test_map_schedule_gives_every_node_its_first_step(artifact):
    r = run_cli("map", str(artifact), "--size", "16", "16", "--schedule", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    s = m["schedule"]
    assert s["summary"]["steps"] == m["steps_per_image"] and s["summary"]["processes"] > 100
    firsts = {n["node"]: n["first_step"] for n in s["nodes"]}
    assert firsts["image"] == 1
    assert max(v for v in firsts.values() if v) == s["summary"]["output_step"]
    assert s["buffered"]  # the mean over T (and other time-mixing ops) hold frames back


def test_backend_loihi2_without_lava_loihi_is_a_clear_error(artifact, tmp_path):
    r = run_cli("simulate", str(artifact), "--backend", "loihi2", "-o", str(tmp_path / "x.png"))
    assert r.returncode == 4 and "lava-loihi" in r.stderr and "Fix:" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_simulate_lava_backend_on_a_crop_matches_fast(tmp_path):
    """The Lava backend through the CLI on a 16x16 crop, against the fast backend on the same crop, with the
    recorded activity. A small network with a LIF, a host segment and an upsampling keeps this plumbing check
    cheap; the shipped networks' Lava runs are checked bit for bit in tests/lava/test_backend.py."""
    import numpy as np

    from spikerain.converter.artifact import save_artifact
    from tests.lava.test_tiles import tile_graph

    artifact = tmp_path / "small.h5"
    save_artifact(artifact, tile_graph())
    outs = {}
    for backend in ("fast", "lava"):
        r = run_cli("simulate", str(artifact), "--backend", backend, "--crop", "16", "16", "-o",
                    str(tmp_path / f"{backend}.png"), "--record", str(tmp_path / f"{backend}.h5"), "--json")
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout)["backend"] == backend
        outs[backend] = read_image(tmp_path / f"{backend}.png")
    assert outs["fast"].shape == (16, 16, 3)
    np.testing.assert_array_equal(outs["fast"], outs["lava"])
    from spikerain.hardware.fastsim.activity import read_activity

    fast, lava = read_activity(tmp_path / "fast.h5"), read_activity(tmp_path / "lava.h5")
    assert {k: v["nonzero_per_step"] for k, v in fast.items()} == {k: v["nonzero_per_step"] for k, v in lava.items()}
