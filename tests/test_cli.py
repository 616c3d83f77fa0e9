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
    assert res["metrics"]["input"]["psnr_y"] == float("inf")
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
