"""``spikerain.heap.release_freed_memory``: freed heap pages glibc keeps resident are handed back (in a fresh
process, so that malloc's state is known: a freed 20 MiB block raises glibc's mmap threshold, after which 1 MiB
buffers come from the heap and stay resident when freed below a live one)."""

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np
from pathlib import Path
from spikerain.heap import release_freed_memory

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

big = np.ones(20 << 20, np.uint8)
del big
bufs = [np.ones(1 << 20, np.uint8) for _ in range(200)]
last = bufs[-1]  # keeps the heap's top in use, so free() itself cannot trim the freed pages below it
del bufs
before = rss()
ok = release_freed_memory()
print(ok, before, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_freed_heap_pages_are_handed_back():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60)
    ok, before, after = out.stdout.split()
    assert ok == "True"
    assert float(before) - float(after) > 150  # of the 199 MiB freed but resident


SLACK_SCRIPT = """
import numpy as np
from spikerain.heap import SlackRelease, idle_resident_bytes

MiB = 1 << 20
big = np.ones(20 << 20, np.uint8)
del big
loose, tight = SlackRelease(400 * MiB), SlackRelease(50 * MiB)
print(loose.check(), tight.check())  # the first check sets the base: never releases
bufs = [np.ones(1 << 20, np.uint8) for _ in range(200)]
last = bufs[-1]
idle_live = idle_resident_bytes()
del bufs
idle = idle_resident_bytes()
print(loose.check(), tight.check(), (idle - idle_live) // MiB, (idle - idle_resident_bytes()) // MiB)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallinfo2 and /proc are Linux's")
def test_freed_pages_handed_back_only_beyond_the_slack():
    out = subprocess.run([sys.executable, "-c", SLACK_SCRIPT], capture_output=True, text=True, check=True, timeout=60)
    first, second = out.stdout.splitlines()
    assert first == "False False"
    loose, tight, freed, released = second.split()
    assert (loose, tight) == ("False", "True")  # 199 MiB freed and resident: over 50 MiB of slack, under 400
    assert int(freed) >= 190  # freeing made them idle (RSS less malloc's live bytes), not gone
    assert int(released) >= 150  # the tight one handed them back
