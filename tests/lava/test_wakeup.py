"""lava-nc 0.10's command wait can lose its wakeup (hardware/lava/wakeup.py); spikerain's selector cannot.

The script holds open, on a real Lava channel, the window in which Lava's receive-port thread has probed but not
yet queued a second message: Lava's ``CspSelector`` then sleeps with the message waiting (the hang seen in CI, all
processes idle), ``RecheckingSelector`` takes it within ``RECHECK_S``."""

import json
import subprocess
from pathlib import Path

import pytest

from spikerain.lava_env import find_lava_python

pytestmark = pytest.mark.lava

SCRIPT = Path(__file__).with_name("lost_wakeup.py")


def test_lava_selector_loses_the_wakeup_and_the_rechecking_one_does_not(tmp_path):
    py = find_lava_python()
    if py is None:
        pytest.fail("no Lava interpreter: run `make .venv-lava`")
    out = tmp_path / "wakeup.json"
    subprocess.run([str(py), str(SCRIPT), str(out)], check=True, timeout=120, capture_output=True)
    got = json.loads(out.read_text())
    assert got["lava"]["stuck"] >= 1, got  # Lava's own: a command waits and the model sleeps on
    assert got["rechecking"]["stuck"] == 0, got
    # the second message is queued WINDOW_S after the pair is sent; a recheck finds it at most RECHECK_S later
    assert got["rechecking"]["max_wait_s"] < got["window_s"] + got["recheck_s"] + 0.5, got
