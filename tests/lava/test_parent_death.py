"""A spikerain process killed outright (SIGKILL) takes its Lava child down with it: no process of the child's
group survives and the shared memory its processes mapped is released. The smallest real Lava run that stays
under way: the smoke network's source and LIF, running continuously."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikerain.lava_env import find_lava_python, group_alive

pytestmark = pytest.mark.lava

PARENT = (
    "from spikerain.lava_env import run_lava_module\n"
    "run_lava_module('spikerain.hardware.lava.smoke', ['unused.json', 'hold'], timeout=120,\n"
    "                stream_stderr=lambda line: print(line, flush=True))\n"
)


def _group(pgid: int) -> tuple[list[int], set[str]]:
    """The live processes of group ``pgid`` and the /dev/shm segments they map."""
    pids, segments = [], set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if fields[0] == "Z" or int(fields[2]) != pgid:
                continue
            pids.append(int(stat.parent.name))
            maps = (stat.parent / "maps").read_text()
        except (OSError, IndexError, ValueError):
            continue
        segments |= {line.split()[-1] for line in maps.splitlines() if "/dev/shm/" in line}
    return pids, segments


def test_sigkill_of_the_parent_ends_the_lava_group_and_frees_shared_memory():
    if find_lava_python() is None:
        pytest.fail("no Lava interpreter: run `make .venv-lava`")
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    pgid = None
    try:
        deadline = time.monotonic() + 90
        for line in parent.stdout:
            if line.startswith("[lava] running"):
                pgid = int(line.split()[-1])
                break
            assert time.monotonic() < deadline, "the Lava run did not start"
        assert pgid is not None, "the Lava child ended before it ran"
        pids, segments = _group(pgid)
        assert len(pids) >= 3 and segments, (pids, segments)  # a real Lava run: runtime, processes, shared memory
        parent.kill()  # SIGKILL: no cleanup code of the parent runs
        parent.wait(timeout=10)
        deadline = time.monotonic() + 30
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(pgid), f"processes of the Lava group {pgid} outlived their parent"
        deadline = time.monotonic() + 10
        while any(os.path.exists(s) for s in segments) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [s for s in segments if os.path.exists(s)], "shared memory left behind"
    finally:
        if parent.poll() is None:
            parent.kill()
        if pgid is not None and group_alive(pgid):  # only if the test failed: leave nothing running
            os.killpg(pgid, 9)
